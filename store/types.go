package store

import "time"

// Role is a user's role.
type Role string

const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// User is an account and the factors stored on its row. Secret material is
// kept sealed (AES-GCM, see server/secretbox) or hashed; the store never sees
// it in the clear.
type User struct {
	ID          string
	Username    string // normalized (lower case, trimmed); unique
	DisplayName string
	Email       string // optional, set by an admin (so verified); "" when none
	Role        Role
	Disabled    bool
	Locked      bool

	PasswordHash string // PHC string (argon2id); empty until set
	Phrase       []byte // sealed security phrase; nil until set

	TOTPSecret   []byte // sealed, confirmed TOTP secret; nil when none
	TOTPLastStep int64  // last accepted RFC 6238 time step; 0 when none
	TOTPPending  []byte // sealed secret offered but not yet confirmed

	EnrolledAt time.Time // zero until enrollment completed
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// UserQuery selects users for listing.
type UserQuery struct {
	Search string // substring of username or display name; empty = all
	Offset int
	Limit  int // 0 = backend default (50)
}

// Credential is a WebAuthn credential (passkey or security key).
// Fields follow WebAuthn Level 3 §6.1 (authenticator data) and §5.8.
type Credential struct {
	ID              []byte // credential id, unique
	UserID          string
	PublicKey       []byte // COSE_Key
	AttestationType string
	AAGUID          []byte
	SignCount       uint32
	CloneWarning    bool
	UserPresent     bool
	UserVerified    bool
	BackupEligible  bool
	BackupState     bool
	Transports      []string
	Attachment      string
	Name            string
	CreatedAt       time.Time
	LastUsedAt      time.Time // zero = never used
}

// Device is a recognized device: the holder of a random device token (kept
// here only as its hash) bound to one user.
type Device struct {
	ID         string // public id
	UserID     string
	TokenHash  []byte // unique
	Name       string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// ClientCert is a TLS client certificate bound to one user, named by the
// lowercase hex SHA-256 of its DER. The other fields describe the
// certificate for people (what it was when it was bound); whether it is
// valid now is checked at every use against the CAs and CRLs.
type ClientCert struct {
	Fingerprint string // unique
	UserID      string
	Subject     string
	Issuer      string
	Serial      string // hex
	NotBefore   time.Time
	NotAfter    time.Time
	CreatedAt   time.Time
	LastUsedAt  time.Time // zero = never used
}

// Invite is an enrollment invitation, stored by the hash of its token.
type Invite struct {
	TokenHash []byte // unique
	UserID    string
	CreatedBy string // acting admin's user id, or "cli" / "system"
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until enrollment completed
}

// Client is a registered client: a widget client (Origins), an OpenID
// Connect relying party (RedirectURIs), or both.
type Client struct {
	ID         string
	Name       string
	SecretHash []byte   // nil for a public client
	Origins    []string // exact origins, scheme://host[:port]
	// RedirectURIs are the OIDC redirection endpoints, matched exactly
	// (RFC 6749 §3.1.2; a loopback one on any port, RFC 8252 §7.3).
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may return to.
	PostLogoutRedirectURIs []string
	// Public clients (native and browser apps) hold no secret and must use
	// PKCE (RFC 7636).
	Public    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID      int64 // assigned by the store, increasing
	Time    time.Time
	Actor   string // user id of who acted; empty for anonymous
	Subject string // user id (or attempted username) acted upon
	Action  string // e.g. "login.password", "enroll.totp", "admin.disable"
	Result  string // "success", "failure", "throttled", ...
	IP      string
	Detail  string // never a secret
}

// AuditQuery filters the audit log. Zero fields do not filter.
type AuditQuery struct {
	Actor    string
	Subject  string
	Action   string // prefix match
	Result   string
	Since    time.Time
	Until    time.Time
	BeforeID int64 // paging: only events with ID < BeforeID; 0 = newest
	Limit    int   // 0 = backend default (50)
}

// SigningKey is a server proof signing key. The private key is sealed.
type SigningKey struct {
	Generation int    // unique, increasing; the highest is the active signer
	KID        string // RFC 7638 thumbprint of the public key
	Sealed     []byte // sealed private key (PKCS#8 DER)
	CreatedAt  time.Time
	RetiredAt  time.Time // zero while published; set when it leaves the JWKS
	// Handover is the compact JWS, signed by the key HandoverFrom names,
	// that introduces this key (API.md, "Key continuity"); empty for a first
	// key, a key that replaced a revoked one, or when the signer was revoked.
	Handover     string
	HandoverFrom string // kid of the key that signed Handover
}

// Session is a login session. The token itself is never stored: the session
// is keyed by the hex SHA-256 of the token.
type Session struct {
	ID            string // public, random id used to list and revoke
	TokenHash     string // hex SHA-256 of the session token
	UserID        string
	Username      string // copied at login so /auth/verify needs no database read
	DisplayName   string
	Groups        []string // the user's role(s), for Remote-Groups
	AMR           []string
	AuthTime      time.Time
	CreatedAt     time.Time
	LastSeenAt    time.Time
	ExpiresAt     time.Time // absolute timeout
	IdleExpiresAt time.Time // idle timeout, never after ExpiresAt
	IP            string
	UserAgent     string
	// ClientCert is the fingerprint of the client certificate the session
	// was made with, if any (MUTUALAUTH_TLS_BIND_SESSIONS binds to it).
	ClientCert string
}
