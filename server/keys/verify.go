package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Errors returned by Verify, each wrapped with detail.
var (
	// ErrMalformed: not a compact JWS with JSON header and claims of the
	// expected shapes, or an unreadable JWKS.
	ErrMalformed = errors.New("keys: malformed proof")
	// ErrBadSignature: the algorithm is not ES256 or the signature does not verify.
	ErrBadSignature = errors.New("keys: bad proof signature")
	// ErrUnknownKey: the kid is not a P-256 key of the JWKS whose thumbprint is the kid.
	ErrUnknownKey = errors.New("keys: proof signed by an unknown key")
	// ErrPinMismatch: the kid is not the pinned thumbprint.
	ErrPinMismatch = errors.New("keys: proof key differs from the pinned key")
	// ErrClaims: typ, iss, aud or nonce differ from what is expected, or the
	// times are inconsistent (issued in the future, lifetime over 300 s).
	ErrClaims = errors.New("keys: proof claims not as expected")
	// ErrExpired: exp has passed, beyond Leeway.
	ErrExpired = errors.New("keys: proof expired")
)

// VerifyOptions are what the client expects of a proof.
type VerifyOptions struct {
	Issuer    string    // required: iss must equal it
	Audience  string    // required: aud must equal it
	Nonce     string    // required: nonce must equal it
	PinnedKID string    // when set, kid must equal it
	Now       time.Time // zero: time.Now()
}

// Verify checks a proof as a client must (API contract, "Server proof") and
// returns its claims: alg is ES256; kid is pinned (when PinnedKID is set) and
// is in jwks as a P-256 key whose RFC 7638 thumbprint is that kid; the
// signature verifies; typ, iss, aud and nonce are as expected; exp has not
// passed and iat is not in the future, each with Leeway; exp - iat is at
// most MaxProofLifetime.
func Verify(jws string, jwks []byte, want VerifyOptions) (ProofClaims, error) {
	if want.Issuer == "" || want.Audience == "" || want.Nonce == "" {
		return ProofClaims{}, errors.New("keys: Verify needs the expected issuer, audience and nonce")
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return ProofClaims{}, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return ProofClaims{}, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if header.Alg != Algorithm {
		return ProofClaims{}, fmt.Errorf("%w: alg %q is not %s", ErrBadSignature, header.Alg, Algorithm)
	}
	if want.PinnedKID != "" && header.Kid != want.PinnedKID {
		return ProofClaims{}, ErrPinMismatch
	}
	pub, err := findKey(jwks, header.Kid)
	if err != nil {
		return ProofClaims{}, err
	}
	obj, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return ProofClaims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return ProofClaims{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if header.Typ != ProofType {
		return ProofClaims{}, fmt.Errorf("%w: typ %q is not %q", ErrClaims, header.Typ, ProofType)
	}

	var claims struct {
		Issuer   *string `json:"iss"`
		Audience *string `json:"aud"`
		Nonce    *string `json:"nonce"`
		LoginID  string  `json:"login_id"`
		Username string  `json:"username"`
		Phrase   string  `json:"phrase"`
		IssuedAt *int64  `json:"iat"`
		Expiry   *int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return ProofClaims{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if claims.Issuer == nil || claims.Audience == nil || claims.Nonce == nil || claims.IssuedAt == nil || claims.Expiry == nil {
		return ProofClaims{}, fmt.Errorf("%w: claims: iss, aud, nonce, iat and exp are required", ErrMalformed)
	}
	switch {
	case *claims.Issuer != want.Issuer:
		return ProofClaims{}, fmt.Errorf("%w: iss %q is not %q", ErrClaims, *claims.Issuer, want.Issuer)
	case *claims.Audience != want.Audience:
		return ProofClaims{}, fmt.Errorf("%w: aud %q is not %q", ErrClaims, *claims.Audience, want.Audience)
	case *claims.Nonce != want.Nonce:
		return ProofClaims{}, fmt.Errorf("%w: nonce differs", ErrClaims)
	}
	iat, exp := time.Unix(*claims.IssuedAt, 0).UTC(), time.Unix(*claims.Expiry, 0).UTC()
	now := want.Now
	if now.IsZero() {
		now = time.Now()
	}
	switch {
	case exp.Before(iat) || exp.Sub(iat) > MaxProofLifetime:
		return ProofClaims{}, fmt.Errorf("%w: exp must be within %s after iat", ErrClaims, MaxProofLifetime)
	case now.After(exp.Add(Leeway)):
		return ProofClaims{}, fmt.Errorf("%w: at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	case iat.After(now.Add(Leeway)):
		return ProofClaims{}, fmt.Errorf("%w: iat is in the future", ErrClaims)
	}
	return ProofClaims{
		Issuer:   *claims.Issuer,
		Audience: *claims.Audience,
		Nonce:    *claims.Nonce,
		LoginID:  claims.LoginID,
		Username: claims.Username,
		Phrase:   claims.Phrase,
		IssuedAt: iat,
		Expiry:   exp,
	}, nil
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// findKey returns the P-256 public key of jwks with this kid, checking that
// the kid is the key's thumbprint. Entries with private parts are refused.
func findKey(jwks []byte, kid string) (*ecdsa.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string  `json:"kty"`
			Crv string  `json:"crv"`
			Kid string  `json:"kid"`
			X   string  `json:"x"`
			Y   string  `json:"y"`
			D   *string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("%w: jwks: %v", ErrMalformed, err)
	}
	if kid == "" {
		return nil, fmt.Errorf("%w: no kid", ErrUnknownKey)
	}
	for _, k := range set.Keys {
		if k.Kid != kid {
			continue
		}
		if k.Kty != "EC" || k.Crv != "P-256" || k.D != nil {
			return nil, fmt.Errorf("%w: jwks entry %q is not a public P-256 key", ErrUnknownKey, kid)
		}
		x, errX := base64.RawURLEncoding.Strict().DecodeString(k.X)
		y, errY := base64.RawURLEncoding.Strict().DecodeString(k.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("%w: jwks entry %q has bad coordinates", ErrUnknownKey, kid)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("%w: jwks entry %q: %v", ErrUnknownKey, kid, err)
		}
		tp, err := Thumbprint(pub)
		if err != nil || tp != kid {
			return nil, fmt.Errorf("%w: jwks entry %q is not the key with that thumbprint", ErrUnknownKey, kid)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("%w: kid %q not in the jwks", ErrUnknownKey, kid)
}
