package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// Algorithm is the only proof signature algorithm.
	Algorithm = "ES256"
	// ProofType is the proof's "typ" header.
	ProofType = "mutualauth-proof+jwt"
	// HandoverType is the "typ" header of a handover.
	HandoverType = "mutualauth-handover+jwt"
	// MaxProofLifetime bounds exp - iat.
	MaxProofLifetime = 300 * time.Second
	// Leeway is the clock skew Verify tolerates for exp and iat.
	Leeway = 60 * time.Second
)

// ProofClaims are the claims of a server proof.
type ProofClaims struct {
	Issuer   string // iss
	Audience string // aud
	Nonce    string // nonce: the client's nonce, verbatim
	LoginID  string // login_id
	Username string // username
	Phrase   string // phrase: omitted when empty
	IssuedAt time.Time
	Expiry   time.Time
}

// proofPayload fixes the claim names and order on the wire.
type proofPayload struct {
	Issuer   string `json:"iss"`
	Audience string `json:"aud"`
	Nonce    string `json:"nonce"`
	LoginID  string `json:"login_id"`
	Username string `json:"username"`
	Phrase   string `json:"phrase,omitempty"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
}

// Thumbprint returns the RFC 7638 §3 thumbprint of pub: the base64url
// (unpadded) SHA-256 of {"crv":…,"kty":"EC","x":…,"y":…}.
func Thumbprint(pub *ecdsa.PublicKey) (string, error) {
	//lint:ignore SA1019 only a nil check: go-jose reads the coordinates and would panic on nil ones.
	if pub == nil || pub.Curve == nil || pub.X == nil || pub.Y == nil {
		return "", errors.New("keys: no public key to thumbprint")
	}
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

var (
	p256Order = elliptic.P256().Params().N
	// halfOrder is (n-1)/2: a low-S signature has s <= halfOrder.
	halfOrder = new(big.Int).Rsh(p256Order, 1)
)

func isP256(pub *ecdsa.PublicKey) bool {
	return pub != nil && pub.Curve == elliptic.P256()
}
