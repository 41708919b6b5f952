package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Errors returned by Verify, each wrapped with detail.
var (
	// ErrMalformed: not a compact JWS with JSON header and claims of the
	// expected shapes, or an unreadable JWKS.
	ErrMalformed = errors.New("keys: malformed proof")
	// ErrBadSignature: the algorithm is not ES256, the signature is not a
	// low-S 64-byte r || s, or it does not verify.
	ErrBadSignature = errors.New("keys: bad proof signature")
	// ErrUnknownKey: the kid is not a P-256 key of the JWKS whose thumbprint is the kid.
	ErrUnknownKey = errors.New("keys: proof signed by an unknown key")
	// ErrPinMismatch: the kid is not the pinned thumbprint, and no valid
	// handover chain leads from the pinned key to it.
	ErrPinMismatch = errors.New("keys: proof key differs from the pinned key")
	// ErrClaims: typ, iss, aud, nonce or login_id differ from what is
	// expected, or the times are inconsistent (issued in the future,
	// lifetime over 300 s).
	ErrClaims = errors.New("keys: proof claims not as expected")
	// ErrExpired: exp has passed, beyond Leeway.
	ErrExpired = errors.New("keys: proof expired")
)

// VerifyOptions are what the client expects of a proof.
type VerifyOptions struct {
	Issuer   string // required: iss must equal it
	Audience string // required: aud must equal it
	Nonce    string // required: nonce must equal it
	LoginID  string // required: login_id must equal it
	// PinnedKID, when set, is the key the client trusts: the proof's kid
	// must be it, or be reached from it through Handovers.
	PinnedKID string
	// Handovers are the issuer's published handovers (key_handovers).
	Handovers []string
	Now       time.Time // zero: time.Now()
}

// Verified is what VerifyProof accepted.
type Verified struct {
	Claims ProofClaims
	KID    string     // the key that signed: the one to pin from now on
	Chain  []Handover // the handovers followed from the pinned key; empty when none
}

// Verify is VerifyProof returning only the claims.
func Verify(jws string, jwks []byte, want VerifyOptions) (ProofClaims, error) {
	v, err := VerifyProof(jws, jwks, want)
	return v.Claims, err
}

// VerifyProof checks a proof as a client must (API contract, "Server
// proof"): alg is ES256; the kid is in jwks as a P-256 key whose RFC 7638
// thumbprint is that kid; with PinnedKID, the kid is the pinned one or is
// reached from it by a chain of valid handovers (FollowHandovers); the
// signature is a low-S r || s that verifies (a high-S twin of a valid
// signature is refused: SEC 1 leaves both valid, this project issues only
// the low one); typ, iss, aud, nonce and login_id are as expected; exp has
// not passed and iat is not in the future, each with Leeway; exp - iat is
// at most MaxProofLifetime.
func VerifyProof(jws string, jwks []byte, want VerifyOptions) (Verified, error) {
	if want.Issuer == "" || want.Audience == "" || want.Nonce == "" || want.LoginID == "" {
		return Verified{}, errors.New("keys: Verify needs the expected issuer, audience, nonce and login id")
	}
	parts, header, err := splitJWS(jws)
	if err != nil {
		return Verified{}, err
	}
	var chain []Handover
	if want.PinnedKID != "" && header.Kid != want.PinnedKID {
		if len(want.Handovers) == 0 {
			return Verified{}, ErrPinMismatch
		}
		if chain, err = FollowHandovers(want.PinnedKID, header.Kid, want.Handovers, jwks, want.Issuer); err != nil {
			return Verified{}, err
		}
	}
	pub, err := findKey(jwks, header.Kid)
	if err != nil {
		return Verified{}, err
	}
	if len(chain) > 0 && !pub.Equal(chain[len(chain)-1].NewKey) {
		return Verified{}, fmt.Errorf("%w: the handover's key differs from the published one", ErrUnknownKey)
	}
	payload, err := verifySignature(jws, parts, pub)
	if err != nil {
		return Verified{}, err
	}
	if header.Typ != ProofType {
		return Verified{}, fmt.Errorf("%w: typ %q is not %q", ErrClaims, header.Typ, ProofType)
	}

	var claims struct {
		Issuer   *string `json:"iss"`
		Audience *string `json:"aud"`
		Nonce    *string `json:"nonce"`
		LoginID  *string `json:"login_id"`
		Username string  `json:"username"`
		Phrase   string  `json:"phrase"`
		IssuedAt *int64  `json:"iat"`
		Expiry   *int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return Verified{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if claims.Issuer == nil || claims.Audience == nil || claims.Nonce == nil || claims.LoginID == nil || claims.IssuedAt == nil || claims.Expiry == nil {
		return Verified{}, fmt.Errorf("%w: claims: iss, aud, nonce, login_id, iat and exp are required", ErrMalformed)
	}
	switch {
	case *claims.Issuer != want.Issuer:
		return Verified{}, fmt.Errorf("%w: iss %q is not %q", ErrClaims, *claims.Issuer, want.Issuer)
	case *claims.Audience != want.Audience:
		return Verified{}, fmt.Errorf("%w: aud %q is not %q", ErrClaims, *claims.Audience, want.Audience)
	case *claims.Nonce != want.Nonce:
		return Verified{}, fmt.Errorf("%w: nonce differs", ErrClaims)
	case *claims.LoginID != want.LoginID:
		return Verified{}, fmt.Errorf("%w: login_id belongs to another login", ErrClaims)
	}
	iat, exp := time.Unix(*claims.IssuedAt, 0).UTC(), time.Unix(*claims.Expiry, 0).UTC()
	now := want.Now
	if now.IsZero() {
		now = time.Now()
	}
	switch {
	case exp.Before(iat) || exp.Sub(iat) > MaxProofLifetime:
		return Verified{}, fmt.Errorf("%w: exp must be within %s after iat", ErrClaims, MaxProofLifetime)
	case now.After(exp.Add(Leeway)):
		return Verified{}, fmt.Errorf("%w: at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	case iat.After(now.Add(Leeway)):
		return Verified{}, fmt.Errorf("%w: iat is in the future", ErrClaims)
	}
	return Verified{
		Claims: ProofClaims{
			Issuer:   *claims.Issuer,
			Audience: *claims.Audience,
			Nonce:    *claims.Nonce,
			LoginID:  *claims.LoginID,
			Username: claims.Username,
			Phrase:   claims.Phrase,
			IssuedAt: iat,
			Expiry:   exp,
		},
		KID:   header.Kid,
		Chain: chain,
	}, nil
}

type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// splitJWS splits a compact JWS and reads its header, which must name ES256
// and a kid and must not carry crit (RFC 7515 §4.1.11: this verifier
// understands no extension).
func splitJWS(jws string) ([]string, jwsHeader, error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, jwsHeader{}, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	var header jwsHeader
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, jwsHeader{}, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if header.Alg != Algorithm {
		return nil, jwsHeader{}, fmt.Errorf("%w: alg %q is not %s", ErrBadSignature, header.Alg, Algorithm)
	}
	if header.Crit != nil {
		return nil, jwsHeader{}, fmt.Errorf("%w: header: crit is not supported", ErrMalformed)
	}
	if header.Kid == "" {
		return nil, jwsHeader{}, fmt.Errorf("%w: no kid", ErrUnknownKey)
	}
	return parts, header, nil
}

// verifySignature checks that the signature is a 64-byte r || s with s in
// the lower half of the group order, and that it verifies under pub; it
// returns the payload.
func verifySignature(jws string, parts []string, pub *ecdsa.PublicKey) ([]byte, error) {
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, fmt.Errorf("%w: not a 64-byte r || s value", ErrBadSignature)
	}
	if new(big.Int).SetBytes(sig[32:]).Cmp(halfOrder) > 0 {
		return nil, fmt.Errorf("%w: high-S signature (malleated)", ErrBadSignature)
	}
	obj, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return payload, nil
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

type jwkFields struct {
	Kty string  `json:"kty"`
	Crv string  `json:"crv"`
	Kid string  `json:"kid"`
	X   string  `json:"x"`
	Y   string  `json:"y"`
	D   *string `json:"d"`
}

// publicKey returns the P-256 public key of k, checking that kid is its
// thumbprint. Keys with private parts are refused.
func (k jwkFields) publicKey(kid string) (*ecdsa.PublicKey, error) {
	if kid == "" {
		return nil, fmt.Errorf("%w: no kid", ErrUnknownKey)
	}
	if k.Kty != "EC" || k.Crv != "P-256" || k.D != nil {
		return nil, fmt.Errorf("%w: key %q is not a public P-256 key", ErrUnknownKey, kid)
	}
	x, errX := base64.RawURLEncoding.Strict().DecodeString(k.X)
	y, errY := base64.RawURLEncoding.Strict().DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("%w: key %q has bad coordinates", ErrUnknownKey, kid)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: %v", ErrUnknownKey, kid, err)
	}
	tp, err := Thumbprint(pub)
	if err != nil || tp != kid {
		return nil, fmt.Errorf("%w: key %q is not the key with that thumbprint", ErrUnknownKey, kid)
	}
	return pub, nil
}

// parsePublicJWK reads one public JWK that must be the key kid names.
func parsePublicJWK(raw []byte, kid string) (*ecdsa.PublicKey, error) {
	var k jwkFields
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("%w: jwk: %v", ErrMalformed, err)
	}
	return k.publicKey(kid)
}

func parseJWKS(jwks []byte) ([]jwkFields, error) {
	var set struct {
		Keys []jwkFields `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("%w: jwks: %v", ErrMalformed, err)
	}
	return set.Keys, nil
}

// publicKeys returns the valid keys of jwks by kid.
func publicKeys(jwks []byte) (map[string]*ecdsa.PublicKey, error) {
	set, err := parseJWKS(jwks)
	if err != nil {
		return nil, err
	}
	out := map[string]*ecdsa.PublicKey{}
	for _, k := range set {
		if pub, err := k.publicKey(k.Kid); err == nil {
			out[k.Kid] = pub
		}
	}
	return out, nil
}

// findKey returns the P-256 public key of jwks with this kid, checking that
// the kid is the key's thumbprint.
func findKey(jwks []byte, kid string) (*ecdsa.PublicKey, error) {
	set, err := parseJWKS(jwks)
	if err != nil {
		return nil, err
	}
	for _, k := range set {
		if k.Kid == kid {
			return k.publicKey(kid)
		}
	}
	return nil, fmt.Errorf("%w: kid %q not in the jwks", ErrUnknownKey, kid)
}
