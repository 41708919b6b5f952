package keys

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Sign returns a proof over c signed with the active key. Issuer, Audience,
// Nonce and IssuedAt are required; a zero Expiry means IssuedAt plus
// MaxProofLifetime. Times are truncated to whole seconds.
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
	jws, err := r.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("keys: signing proof: %w", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("keys: serializing proof: %w", err)
	}
	return out, nil
}
