package keys

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Sign returns a proof over c signed with the key active at c.IssuedAt.
// Issuer, Audience, Nonce and IssuedAt are required; a zero Expiry means
// IssuedAt plus MaxProofLifetime. Times are truncated to whole seconds. The
// signature is in low-S form (see Verify).
func (r *Ring) Sign(c ProofClaims) (string, error) {
	if c.Issuer == "" || c.Audience == "" || c.Nonce == "" {
		return "", errors.New("keys: a proof needs an issuer, an audience and a nonce")
	}
	if c.IssuedAt.IsZero() {
		return "", errors.New("keys: a proof needs an issue time")
	}
	iat := c.IssuedAt.Unix()
	exp := iat + int64(MaxProofLifetime.Seconds())
	if !c.Expiry.IsZero() {
		exp = c.Expiry.Unix()
	}
	if exp <= iat || exp-iat > int64(MaxProofLifetime.Seconds()) {
		return "", fmt.Errorf("keys: proof expiry must be within %s after its issue time", MaxProofLifetime)
	}
	payload, err := json.Marshal(proofPayload{
		Issuer:   c.Issuer,
		Audience: c.Audience,
		Nonce:    c.Nonce,
		LoginID:  c.LoginID,
		Username: c.Username,
		Phrase:   c.Phrase,
		IssuedAt: iat,
		Expiry:   exp,
	})
	if err != nil {
		return "", fmt.Errorf("keys: encoding proof claims: %w", err)
	}
	return signCompact(r.cur.Load().active(c.IssuedAt).signer, payload)
}

// signCompact signs payload and returns the compact JWS with its ECDSA
// signature in low-S form: crypto/ecdsa picks s or n - s at random, and
// verifiers of this project refuse the high one (it is the malleated twin
// of the low one).
func signCompact(signer jose.Signer, payload []byte) (string, error) {
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("keys: signing: %w", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("keys: serializing: %w", err)
	}
	dot := strings.LastIndexByte(out, '.')
	sig, err := base64.RawURLEncoding.DecodeString(out[dot+1:])
	if err != nil || len(sig) != 64 {
		return "", errors.New("keys: the signer did not produce a 64-byte ES256 signature")
	}
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(halfOrder) > 0 {
		s.Sub(p256Order, s)
		s.FillBytes(sig[32:])
	}
	return out[:dot+1] + base64.RawURLEncoding.EncodeToString(sig), nil
}
