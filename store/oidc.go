package store

import (
	"context"
	"time"
)

// OIDCGrant is one authorization a relying party holds for a user: what
// one code exchange or device grant issued, and every refresh token rotated
// from it (the refresh-token family of OAuth 2.0 Security BCP, RFC 9700
// §4.14.2). Revoking the grant revokes all of its tokens.
type OIDCGrant struct {
	ID        string
	ClientID  string
	UserID    string
	SessionID string // the login session it was made in; "" for none
	Scopes    []string
	AMR       []string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time // end of the refresh tokens' absolute lifetime
	RevokedAt time.Time // zero while the grant is live
}

// OIDCRefreshToken is one refresh token of a grant, stored as its SHA-256.
type OIDCRefreshToken struct {
	TokenHash []byte // unique
	GrantID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until rotated
}

// OIDCKey is an ID-token signing key, kept apart from the proof keys. The
// private key is sealed (PKCS#8 DER).
type OIDCKey struct {
	Alg        string // "RS256" or "ES256"
	Generation int    // unique per Alg, increasing; the highest live one signs
	KID        string // unique
	Sealed     []byte
	CreatedAt  time.Time
	RetiredAt  time.Time // zero while published
}

// OIDC holds the durable state of the OpenID Connect provider.
type OIDC interface {
	// CreateOIDCGrant returns ErrAlreadyExists when the id is taken.
	CreateOIDCGrant(ctx context.Context, g OIDCGrant) error
	GetOIDCGrant(ctx context.Context, id string) (OIDCGrant, error)
	// RevokeOIDCGrant sets RevokedAt unless it is set already; ErrNotFound
	// for an unknown id.
	RevokeOIDCGrant(ctx context.Context, id string, at time.Time) error
	// RevokeUserOIDCGrants revokes every live grant of the user and returns
	// how many it revoked.
	RevokeUserOIDCGrants(ctx context.Context, userID string, at time.Time) (int, error)
	// RevokeSessionOIDCGrants revokes every live grant made in the session.
	RevokeSessionOIDCGrants(ctx context.Context, sessionID string, at time.Time) (int, error)

	// AddOIDCRefreshToken returns ErrAlreadyExists for a known hash.
	AddOIDCRefreshToken(ctx context.Context, t OIDCRefreshToken) error
	GetOIDCRefreshToken(ctx context.Context, hash []byte) (OIDCRefreshToken, error)
	// UseOIDCRefreshToken marks the token used at `at`, atomically: of
	// concurrent calls exactly one succeeds, the others get ErrConflict (as
	// does any later call). ErrNotFound for an unknown hash.
	UseOIDCRefreshToken(ctx context.Context, hash []byte, at time.Time) error

	// AddOIDCKey returns ErrAlreadyExists when the (Alg, Generation) or the
	// KID is taken (another instance created it first).
	AddOIDCKey(ctx context.Context, k OIDCKey) error
	// ListOIDCKeys returns all keys, highest generation first.
	ListOIDCKeys(ctx context.Context) ([]OIDCKey, error)
	RetireOIDCKey(ctx context.Context, alg string, generation int, at time.Time) error
}
