package store

import (
	"context"
	"time"
)

// Durable is the relational store (store/sql: SQLite or PostgreSQL).
type Durable interface {
	Users
	Credentials
	RecoveryCodes
	Devices
	ClientCerts
	Invites
	Clients
	Audit
	SigningKeys
	OIDC
	// Ping reports ErrUnavailable when the database cannot be reached.
	Ping(ctx context.Context) error
	Close() error
}

// Users holds accounts.
type Users interface {
	// CreateUser returns ErrAlreadyExists when the id or username is taken,
	// and ErrLookAlike when the username's Skeleton is another user's:
	// atomically, so that of concurrent creates of look-alike usernames
	// exactly one succeeds. Pending users (invited, not yet enrolled) hold
	// their username and its skeleton like any other.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	// UpdateUser reads the user, applies fn and writes the result in one
	// transaction. If fn returns an error nothing is written and that error
	// is returned. ID, CreatedAt and TOTPLastStep are not changed by it.
	// A changed Username is held to CreateUser's rules (ErrAlreadyExists,
	// ErrLookAlike).
	UpdateUser(ctx context.Context, id string, fn func(*User) error) (User, error)
	// ListUsers returns one page ordered by username and the total matching.
	ListUsers(ctx context.Context, q UserQuery) ([]User, int, error)
	// HasAdmin reports whether an admin account that has enrolled and is not
	// disabled exists.
	HasAdmin(ctx context.Context) (bool, error)
	// AcceptTOTPStep records step as the last accepted TOTP time step, only
	// if it is greater than the one stored: atomically, so that of any number
	// of concurrent calls with the same step exactly one succeeds. Otherwise
	// ErrConflict.
	AcceptTOTPStep(ctx context.Context, userID string, step int64) error
}

// Credentials holds WebAuthn credentials.
type Credentials interface {
	// AddCredential returns ErrAlreadyExists for a known credential id.
	AddCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, id []byte) (Credential, error)
	ListCredentials(ctx context.Context, userID string) ([]Credential, error)
	// UpdateCredential writes the mutable fields: SignCount, CloneWarning,
	// flags, Name, LastUsedAt.
	UpdateCredential(ctx context.Context, c Credential) error
	DeleteCredential(ctx context.Context, userID string, id []byte) error
	DeleteUserCredentials(ctx context.Context, userID string) error
}

// RecoveryCodes holds one-time recovery codes as hashes.
type RecoveryCodes interface {
	// ReplaceRecoveryCodes drops the user's codes and stores these.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error
	// UseRecoveryCode marks the unused code with this hash as used at `at`,
	// atomically: of concurrent calls exactly one succeeds. ErrNotFound when
	// no unused code matches.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) error
	// CountRecoveryCodes returns the number of unused codes.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}

// Devices holds recognized devices.
type Devices interface {
	CreateDevice(ctx context.Context, d Device) error
	GetDeviceByTokenHash(ctx context.Context, hash []byte) (Device, error)
	TouchDevice(ctx context.Context, id string, at time.Time) error
	ListDevices(ctx context.Context, userID string) ([]Device, error)
	DeleteDevice(ctx context.Context, userID, id string) error
	DeleteUserDevices(ctx context.Context, userID string) error
}

// ClientCerts holds the client certificates bound to users.
type ClientCerts interface {
	// AddClientCert returns ErrAlreadyExists when the fingerprint is bound
	// (to this user or another), ErrNotFound when the user does not exist.
	AddClientCert(ctx context.Context, c ClientCert) error
	GetClientCert(ctx context.Context, fingerprint string) (ClientCert, error)
	// ListClientCerts returns the user's certificates, oldest first.
	ListClientCerts(ctx context.Context, userID string) ([]ClientCert, error)
	TouchClientCert(ctx context.Context, fingerprint string, at time.Time) error
	// DeleteClientCert returns ErrNotFound when the user has no such certificate.
	DeleteClientCert(ctx context.Context, userID, fingerprint string) error
	DeleteUserClientCerts(ctx context.Context, userID string) error
}

// Invites holds enrollment invitations.
type Invites interface {
	CreateInvite(ctx context.Context, inv Invite) error
	GetInvite(ctx context.Context, tokenHash []byte) (Invite, error)
	// UseInvite sets UsedAt once: ErrConflict if already used, ErrNotFound
	// if unknown.
	UseInvite(ctx context.Context, tokenHash []byte, at time.Time) error
	DeleteUserInvites(ctx context.Context, userID string) error
}

// Clients holds widget clients.
type Clients interface {
	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient writes Name, SecretHash, Origins, RedirectURIs,
	// PostLogoutRedirectURIs, Public and UpdatedAt.
	UpdateClient(ctx context.Context, c Client) error
	DeleteClient(ctx context.Context, id string) error
}

// Audit is the append-only audit log.
type Audit interface {
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns matching events, newest first.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
}

// SigningKeys holds the proof signing key ring shared by all instances.
type SigningKeys interface {
	// AddSigningKey returns ErrAlreadyExists when the generation is taken
	// (another instance created it first).
	AddSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns all keys, highest generation first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	RetireSigningKey(ctx context.Context, generation int, at time.Time) error
	// RevokeSigningKey deletes the key with this kid and, in the same
	// transaction, clears every handover it signed (HandoverFrom = kid);
	// its own incoming handover goes with its row. ErrNotFound when no key
	// has this kid.
	RevokeSigningKey(ctx context.Context, kid string) error
}

// Ephemeral is the store for short-lived state (store/redis, store/memory).
type Ephemeral interface {
	KV
	Sessions
	// Ping reports ErrUnavailable when the store cannot be reached.
	Ping(ctx context.Context) error
	Close() error
}

// KV is a key-value store with TTLs. Keys are logical ("login:<id>"); each
// backend namespaces them. Every operation touches exactly one key, so keys
// may live on different Redis Cluster slots. A ttl must be positive.
type KV interface {
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// PutIfAbsent returns ErrAlreadyExists when the key holds a value.
	PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns ErrNotFound for a missing or expired key.
	Get(ctx context.Context, key string) ([]byte, error)
	// Take returns the value and deletes the key atomically: of concurrent
	// calls exactly one gets the value, the others ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
	// Swap replaces the value with next (and sets ttl) only if it is still
	// prev: ErrNotFound when missing, ErrConflict when different.
	Swap(ctx context.Context, key string, prev, next []byte, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
	// Incr adds one and returns the new value; a new key starts at 0 and
	// gets ttl. The ttl of an existing key is not changed.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	// AllowRate admits one request against key under the generic cell rate
	// algorithm (GCRA, ITU-T I.371 §4.4.2, as github.com/go-redis/redis_rate
	// runs it): on average limit requests per period, at most limit at once,
	// with no window boundary to burst across. It returns 0 when the request
	// is admitted, else how long until the next one would be. Rate keys are
	// apart from the other keys.
	AllowRate(ctx context.Context, key string, limit int, period time.Duration) (time.Duration, error)
}

// Sessions holds login sessions and a per-user index of them.
type Sessions interface {
	// CreateSession stores s; it expires at s.IdleExpiresAt.
	CreateSession(ctx context.Context, s Session) error
	// TouchSession returns the session with this token hash if it is valid
	// at now (before IdleExpiresAt and ExpiresAt), after moving LastSeenAt to
	// now and IdleExpiresAt to min(now+idle, ExpiresAt). A backend may leave
	// both behind by a bounded interval it documents, never ahead; the
	// Redis store writes them at most once a minute. ErrNotFound when it is
	// missing or expired.
	TouchSession(ctx context.Context, tokenHash string, now time.Time, idle time.Duration) (Session, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	// ListSessions returns the user's live sessions, oldest first.
	ListSessions(ctx context.Context, userID string) ([]Session, error)
	// DeleteUserSessions ends all the user's sessions but the one with
	// keepTokenHash (empty: all) and returns how many ended.
	DeleteUserSessions(ctx context.Context, userID, keepTokenHash string) (int, error)
}
