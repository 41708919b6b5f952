package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"mutualauth/server/secretbox"
	"mutualauth/store"
)

// Algorithms are the ID-token signature algorithms offered: RS256, which
// OpenID Connect Core 1.0 §15.1 requires, and ES256.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// keyRefresh is how often the ring reads the key table again, so that a key
// rotated by another instance is published and used here too.
const keyRefresh = time.Minute

// KeyRing holds the ID-token signing keys: one live generation per
// algorithm signs, every key not retired is published at the provider's
// jwks_uri. They are never the proof keys (server/keys): browsers and
// widget hosts pin those, and an ID-token key must be free to rotate.
type KeyRing struct {
	Store store.OIDC
	Box   *secretbox.Box
	// Alg is the algorithm ID tokens are signed with (RS256 by default).
	Alg jose.SignatureAlgorithm
	Now func() time.Time

	mu     sync.Mutex
	loaded time.Time
	sign   map[jose.SignatureAlgorithm]signingKey
	public []op.Key
}

func sealAD(kid string) []byte { return []byte("oidc-key:" + kid) }

// Load makes sure every algorithm has a live key (creating generation 1 in
// the database if none: an insert only one instance wins) and reads them.
func (k *KeyRing) Load(ctx context.Context) error {
	stored, err := k.Store.ListOIDCKeys(ctx)
	if err != nil {
		return err
	}
	for _, alg := range Algorithms {
		if live(stored, alg) == nil {
			if err := k.add(ctx, alg, nextGeneration(stored, alg)); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
				return err
			}
		}
	}
	return k.reload(ctx)
}

// Rotate adds the next generation for alg. The previous key stays
// published (and still verifies the ID tokens it signed) until Retire.
func (k *KeyRing) Rotate(ctx context.Context, alg jose.SignatureAlgorithm) error {
	stored, err := k.Store.ListOIDCKeys(ctx)
	if err != nil {
		return err
	}
	if err := k.add(ctx, alg, nextGeneration(stored, alg)); err != nil {
		return err
	}
	return k.reload(ctx)
}

// Retire stops publishing every key of alg older than the live one.
func (k *KeyRing) Retire(ctx context.Context, alg jose.SignatureAlgorithm) error {
	stored, err := k.Store.ListOIDCKeys(ctx)
	if err != nil {
		return err
	}
	cur := live(stored, alg)
	for _, s := range stored {
		if cur != nil && s.Alg == string(alg) && s.Generation < cur.Generation && s.RetiredAt.IsZero() {
			if err := k.Store.RetireOIDCKey(ctx, s.Alg, s.Generation, k.Now()); err != nil {
				return err
			}
		}
	}
	return k.reload(ctx)
}

func (k *KeyRing) add(ctx context.Context, alg jose.SignatureAlgorithm, generation int) error {
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return fmt.Errorf("oidc: unsupported key algorithm %s", alg)
	}
	if err != nil {
		return err
	}
	kid, err := thumbprint(priv.Public())
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	sealed, err := k.Box.Seal(der, sealAD(kid))
	if err != nil {
		return err
	}
	return k.Store.AddOIDCKey(ctx, store.OIDCKey{Alg: string(alg), Generation: generation, KID: kid, Sealed: sealed, CreatedAt: k.Now()})
}

// thumbprint is the RFC 7638 JWK thumbprint, the key's kid.
func thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

func live(stored []store.OIDCKey, alg jose.SignatureAlgorithm) *store.OIDCKey {
	for i, s := range stored { // highest generation first
		if s.Alg == string(alg) && s.RetiredAt.IsZero() {
			return &stored[i]
		}
	}
	return nil
}

func nextGeneration(stored []store.OIDCKey, alg jose.SignatureAlgorithm) int {
	for _, s := range stored {
		if s.Alg == string(alg) {
			return s.Generation + 1
		}
	}
	return 1
}

func (k *KeyRing) reload(ctx context.Context) error {
	stored, err := k.Store.ListOIDCKeys(ctx)
	if err != nil {
		return err
	}
	sign := map[jose.SignatureAlgorithm]signingKey{}
	var public []op.Key
	for _, s := range stored {
		if !s.RetiredAt.IsZero() {
			continue
		}
		der, err := k.Box.Open(s.Sealed, sealAD(s.KID))
		if err != nil {
			return fmt.Errorf("oidc: open key %s: %w", s.KID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("oidc: parse key %s: %w", s.KID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return fmt.Errorf("oidc: key %s cannot sign", s.KID)
		}
		alg := jose.SignatureAlgorithm(s.Alg)
		if _, have := sign[alg]; !have {
			sign[alg] = signingKey{id: s.KID, alg: alg, key: signer}
		}
		public = append(public, publicKey{id: s.KID, alg: alg, key: signer.Public()})
	}
	k.mu.Lock()
	k.sign, k.public, k.loaded = sign, public, k.Now()
	k.mu.Unlock()
	return nil
}

func (k *KeyRing) current(ctx context.Context) (map[jose.SignatureAlgorithm]signingKey, []op.Key, error) {
	k.mu.Lock()
	stale := k.sign == nil || k.Now().Sub(k.loaded) >= keyRefresh
	k.mu.Unlock()
	if stale {
		if err := k.reload(ctx); err != nil {
			return nil, nil, err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.sign, k.public, nil
}

// SigningKey is the live key of the configured algorithm.
func (k *KeyRing) SigningKey(ctx context.Context) (op.SigningKey, error) {
	sign, _, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	key, ok := sign[k.alg()]
	if !ok {
		return nil, fmt.Errorf("oidc: no live %s key", k.alg())
	}
	return key, nil
}

// KeySet is every published key.
func (k *KeyRing) KeySet(ctx context.Context) ([]op.Key, error) {
	_, public, err := k.current(ctx)
	return public, err
}

func (k *KeyRing) alg() jose.SignatureAlgorithm {
	if k.Alg == "" {
		return jose.RS256
	}
	return k.Alg
}

type signingKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func (s signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return s.alg }
func (s signingKey) Key() any                                    { return s.key }
func (s signingKey) ID() string                                  { return s.id }

type publicKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key crypto.PublicKey
}

func (p publicKey) ID() string                         { return p.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.key }
