package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mutualauth/server/secretbox"
	"mutualauth/store"
)

// ErrEncryptionKeyMismatch is returned by Load and Rotate when a stored
// signing key does not open with the configured encryption key.
var ErrEncryptionKeyMismatch = errors.New("keys: the stored signing key was sealed with a different encryption key; " +
	"MUTUALAUTH_ENCRYPTION_KEY (or the data directory's encryption.key) must be the same on every instance")

// Ring is the set of published proof keys and the active signer.
type Ring struct {
	activeKID  string
	generation int
	signer     jose.Signer
	kids       []string
	jwks       []byte
}

// ActiveKID returns the thumbprint of the key that signs.
func (r *Ring) ActiveKID() string { return r.activeKID }

// Generation returns the store generation of the active key (0 for LoadPEM).
func (r *Ring) Generation() int { return r.generation }

// KIDs returns the thumbprints of the published keys, the active one first.
func (r *Ring) KIDs() []string { return append([]string(nil), r.kids...) }

// JWKS returns the published public keys as an encoded JWK Set,
// {"keys":[...]}, the active key first. The slice is shared: do not modify it.
func (r *Ring) JWKS() []byte { return r.jwks }

// sealAD is the additional data binding a sealed private key to its kid.
func sealAD(kid string) []byte { return []byte("signing-key:" + kid) }

// Load returns the ring stored in st. When no key is published it creates
// one (generation 1, or one above the highest retired) with a fresh P-256
// key sealed by box; when another instance creates it first, that key is used.
func Load(ctx context.Context, st store.SigningKeys, box *secretbox.Box, now time.Time) (*Ring, error) {
	for range 5 {
		stored, err := listKeys(ctx, st)
		if err != nil {
			return nil, err
		}
		if len(published(stored)) > 0 {
			return ringFromStore(stored, box)
		}
		err = addKey(ctx, st, box, nextGeneration(stored), now)
		if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			return nil, err
		}
	}
	return nil, errors.New("keys: could not create a signing key: its generation was taken again and again")
}

// Rotate adds a new active key one generation above the highest, keeps the
// previous generation published so proofs signed with it still verify and
// clients pinned to it can be moved over, and retires every older key. When
// another instance adds that generation first, its key is used.
func Rotate(ctx context.Context, st store.SigningKeys, box *secretbox.Box, now time.Time) (*Ring, error) {
	stored, err := listKeys(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(published(stored)) == 0 {
		return Load(ctx, st, box, now)
	}
	err = addKey(ctx, st, box, nextGeneration(stored), now)
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return nil, err
	}
	stored, err = listKeys(ctx, st)
	if err != nil {
		return nil, err
	}
	for i, k := range published(stored) {
		if i < 2 {
			continue
		}
		if err := st.RetireSigningKey(ctx, k.Generation, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("keys: retiring signing key generation %d: %w", k.Generation, err)
		}
	}
	stored, err = listKeys(ctx, st)
	if err != nil {
		return nil, err
	}
	return ringFromStore(stored, box)
}

// listKeys returns the stored keys, highest generation first.
func listKeys(ctx context.Context, st store.SigningKeys) ([]store.SigningKey, error) {
	stored, err := st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: listing signing keys: %w", err)
	}
	sort.SliceStable(stored, func(i, j int) bool { return stored[i].Generation > stored[j].Generation })
	return stored, nil
}

func published(stored []store.SigningKey) []store.SigningKey {
	var out []store.SigningKey
	for _, k := range stored {
		if k.RetiredAt.IsZero() {
			out = append(out, k)
		}
	}
	return out
}

func nextGeneration(stored []store.SigningKey) int {
	if len(stored) == 0 {
		return 1
	}
	return stored[0].Generation + 1
}

func addKey(ctx context.Context, st store.SigningKeys, box *secretbox.Box, generation int, now time.Time) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("keys: generating a P-256 key: %w", err)
	}
	kid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("keys: encoding the private key: %w", err)
	}
	sealed, err := box.Seal(der, sealAD(kid))
	clear(der)
	if err != nil {
		return fmt.Errorf("keys: sealing the private key: %w", err)
	}
	err = st.AddSigningKey(ctx, store.SigningKey{
		Generation: generation,
		KID:        kid,
		Sealed:     sealed,
		CreatedAt:  now,
	})
	if err != nil {
		return fmt.Errorf("keys: storing signing key generation %d: %w", generation, err)
	}
	return nil
}

// ringFromStore opens the published keys; the highest generation signs.
func ringFromStore(stored []store.SigningKey, box *secretbox.Box) (*Ring, error) {
	pub := published(stored)
	var active *ecdsa.PrivateKey
	others := make([]*ecdsa.PublicKey, 0, len(pub)-1)
	for i, k := range pub {
		priv, err := openKey(k, box)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			active = priv
		} else {
			others = append(others, &priv.PublicKey)
		}
	}
	return newRing(active, pub[0].Generation, others)
}

func openKey(k store.SigningKey, box *secretbox.Box) (*ecdsa.PrivateKey, error) {
	der, err := box.Open(k.Sealed, sealAD(k.KID))
	if errors.Is(err, secretbox.ErrDecrypt) {
		return nil, fmt.Errorf("%w (generation %d)", ErrEncryptionKeyMismatch, k.Generation)
	}
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("keys: stored signing key generation %d: %w", k.Generation, err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || !isP256(&priv.PublicKey) {
		return nil, fmt.Errorf("keys: stored signing key generation %d is not a P-256 key", k.Generation)
	}
	kid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	if kid != k.KID {
		return nil, fmt.Errorf("keys: stored signing key generation %d does not match its kid", k.Generation)
	}
	return priv, nil
}

// LoadPEM returns a ring whose only key is the P-256 private key in
// pemBytes, a PKCS#8 "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY" block (an "EC
// PARAMETERS" block before it, as openssl writes, is skipped).
func LoadPEM(pemBytes []byte) (*Ring, error) {
	rest := pemBytes
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New(`keys: signing key file: no "PRIVATE KEY" or "EC PRIVATE KEY" PEM block found`)
		}
		var parsed any
		var err error
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			parsed, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("keys: signing key file: PEM block %q is not a private key; "+
				`want "PRIVATE KEY" (PKCS#8) or "EC PRIVATE KEY" (SEC 1) holding a P-256 key`, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("keys: signing key file: %w", err)
		}
		priv, ok := parsed.(*ecdsa.PrivateKey)
		if !ok || !isP256(&priv.PublicKey) {
			return nil, errors.New("keys: signing key file: the key is not an ECDSA P-256 key (ES256 needs P-256)")
		}
		return newRing(priv, 0, nil)
	}
}

func newRing(active *ecdsa.PrivateKey, generation int, others []*ecdsa.PublicKey) (*Ring, error) {
	kid, err := Thumbprint(&active.PublicKey)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: active, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(ProofType),
	)
	if err != nil {
		return nil, fmt.Errorf("keys: building the signer: %w", err)
	}
	r := &Ring{activeKID: kid, generation: generation, signer: signer}
	set := struct {
		Keys []jose.JSONWebKey `json:"keys"`
	}{}
	for _, pub := range append([]*ecdsa.PublicKey{&active.PublicKey}, others...) {
		k, err := Thumbprint(pub)
		if err != nil {
			return nil, err
		}
		r.kids = append(r.kids, k)
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: pub, KeyID: k, Algorithm: Algorithm, Use: "sig"})
	}
	r.jwks, err = json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("keys: encoding the JWKS: %w", err)
	}
	return r, nil
}
