package keys

import (
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Handover is a verified handover: the key OldKID introduced NewKID
// (API.md, "Key continuity").
type Handover struct {
	Issuer   string
	OldKID   string
	NewKID   string
	NewKey   *ecdsa.PublicKey
	IssuedAt time.Time
}

// handoverPayload fixes the claim names on the wire.
type handoverPayload struct {
	Issuer string          `json:"iss"`
	OldKID string          `json:"old_kid"`
	NewKID string          `json:"new_kid"`
	NewJWK json.RawMessage `json:"new_jwk"`
	IAT    int64           `json:"iat"`
}

// signHandover returns the handover from old to pub, signed by old: header
// {"alg":"ES256","kid":<old kid>,"typ":"mutualauth-handover+jwt"}.
func signHandover(old *ecdsa.PrivateKey, issuer string, pub *ecdsa.PublicKey, now time.Time) (string, error) {
	oldKID, err := Thumbprint(&old.PublicKey)
	if err != nil {
		return "", err
	}
	newKID, err := Thumbprint(pub)
	if err != nil {
		return "", err
	}
	jwk, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: newKID, Algorithm: Algorithm, Use: "sig"})
	if err != nil {
		return "", fmt.Errorf("keys: encoding the new key: %w", err)
	}
	payload, err := json.Marshal(handoverPayload{Issuer: issuer, OldKID: oldKID, NewKID: newKID, NewJWK: jwk, IAT: now.Unix()})
	if err != nil {
		return "", fmt.Errorf("keys: encoding the handover: %w", err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: old, KeyID: oldKID}},
		(&jose.SignerOptions{}).WithType(HandoverType),
	)
	if err != nil {
		return "", fmt.Errorf("keys: building the handover signer: %w", err)
	}
	return signCompact(signer, payload)
}

// VerifyHandover checks one handover against the public key of the key it
// claims to come from (whose thumbprint is oldKID): header alg ES256, kid
// oldKID and typ mutualauth-handover+jwt; a low-S signature by that key;
// iss equal to issuer; old_kid equal to the header's kid; new_jwk a public
// P-256 key whose RFC 7638 thumbprint is new_kid; iat present.
func VerifyHandover(jws string, oldKID string, oldKey *ecdsa.PublicKey, issuer string) (Handover, error) {
	parts, header, err := splitJWS(jws)
	if err != nil {
		return Handover{}, err
	}
	if header.Typ != HandoverType {
		return Handover{}, fmt.Errorf("%w: typ %q is not %q", ErrClaims, header.Typ, HandoverType)
	}
	if header.Kid != oldKID {
		return Handover{}, fmt.Errorf("%w: handover signed by %q, not %q", ErrUnknownKey, header.Kid, oldKID)
	}
	payload, err := verifySignature(jws, parts, oldKey)
	if err != nil {
		return Handover{}, err
	}
	var c struct {
		Issuer *string          `json:"iss"`
		OldKID *string          `json:"old_kid"`
		NewKID *string          `json:"new_kid"`
		NewJWK *json.RawMessage `json:"new_jwk"`
		IAT    *int64           `json:"iat"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return Handover{}, fmt.Errorf("%w: handover claims: %v", ErrMalformed, err)
	}
	if c.Issuer == nil || c.OldKID == nil || c.NewKID == nil || c.NewJWK == nil || c.IAT == nil {
		return Handover{}, fmt.Errorf("%w: handover claims: iss, old_kid, new_kid, new_jwk and iat are required", ErrMalformed)
	}
	switch {
	case *c.Issuer != issuer:
		return Handover{}, fmt.Errorf("%w: handover iss %q is not %q", ErrClaims, *c.Issuer, issuer)
	case *c.OldKID != oldKID:
		return Handover{}, fmt.Errorf("%w: handover old_kid is not its signer", ErrClaims)
	}
	pub, err := parsePublicJWK(*c.NewJWK, *c.NewKID)
	if err != nil {
		return Handover{}, err
	}
	return Handover{Issuer: *c.Issuer, OldKID: oldKID, NewKID: *c.NewKID, NewKey: pub, IssuedAt: time.Unix(*c.IAT, 0).UTC()}, nil
}

// FollowHandovers finds a chain of valid handovers from the key pinnedKID
// to the key targetKID and returns it, first link first. Every key along
// the chain, the pinned one included, must be published in jwks (a revoked
// key is not, so an old copy of a chain through it leads nowhere), and each
// handover's new_jwk must be that published key. The error wraps
// ErrPinMismatch when no such chain exists.
func FollowHandovers(pinnedKID, targetKID string, handovers []string, jwks []byte, issuer string) ([]Handover, error) {
	pool, err := publicKeys(jwks)
	if err != nil {
		return nil, err
	}
	type step struct {
		kid   string
		chain []Handover
	}
	seen := map[string]bool{pinnedKID: true}
	queue := []step{{kid: pinnedKID}}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur.kid == targetKID {
			return cur.chain, nil
		}
		pub, ok := pool[cur.kid]
		if !ok {
			continue
		}
		for _, h := range handovers {
			ho, err := VerifyHandover(h, cur.kid, pub, issuer)
			if err != nil || seen[ho.NewKID] {
				continue
			}
			if published, ok := pool[ho.NewKID]; !ok || !published.Equal(ho.NewKey) {
				continue
			}
			seen[ho.NewKID] = true
			queue = append(queue, step{kid: ho.NewKID, chain: append(append([]Handover(nil), cur.chain...), ho)})
		}
	}
	return nil, fmt.Errorf("%w: no valid handover chain leads from the pinned key %s to key %s", ErrPinMismatch, pinnedKID, targetKID)
}
