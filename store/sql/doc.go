// Package sqlstore implements [store.Durable] on SQLite (modernc.org/sqlite,
// the embedded default) and PostgreSQL (pgx through database/sql), with one
// code base.
//
// # Choosing the database
//
// [Open] takes the configured database URL and data dir:
//   - postgres://... or postgresql://...: PostgreSQL (any libpq URL option
//     pgx accepts, e.g. sslmode, search_path);
//   - empty: the SQLite file mutualauth.db in the data dir, which is created
//     with mode 0700 when missing;
//   - sqlite://PATH or file:PATH[?params]: another SQLite file.
//
// Open pings the database and fails with an error wrapping
// [store.ErrUnavailable] that names the database (never with the password
// of the URL), then applies the pending migrations.
//
// # Dialects
//
// Queries are written once with `?` placeholders and rebound to `$n` for
// PostgreSQL. The other differences are column types, chosen in the
// migration files of each dialect:
//   - times are TIMESTAMPTZ on PostgreSQL and INTEGER unix microseconds on
//     SQLite, NULL for the zero time, always UTC. Times are truncated to
//     microseconds (PostgreSQL's precision) on both, so they round-trip
//     identically; integer microseconds cover years far beyond 9999;
//   - byte strings are BYTEA / BLOB, NULL when empty (they read back as nil);
//   - booleans are BOOLEAN / INTEGER 0-1;
//   - string lists (credential transports, client origins) are JSON text;
//   - audit ids are an identity column / INTEGER PRIMARY KEY AUTOINCREMENT.
//
// SQLite connections run with busy_timeout (waits for the write lock instead
// of failing with SQLITE_BUSY), WAL (readers never block the writer),
// foreign_keys (ON DELETE CASCADE) and BEGIN IMMEDIATE for transactions, so
// a read-modify-write transaction holds the write lock from its start. On
// PostgreSQL UpdateUser locks the row with SELECT ... FOR UPDATE.
//
// # Atomic one-time operations
//
// AcceptTOTPStep, UseRecoveryCode and UseInvite are single conditional
// UPDATEs (for example `... WHERE id = ? AND totp_last_step < ?`); the
// number of affected rows decides, so of concurrent calls exactly one wins
// (RFC 6238 §5.2: a code is accepted at most once).
//
// # Errors
//
// classify maps driver errors to the store's sentinels, keeping the driver
// error in the chain: unique violations (SQLite extended codes 2067 and
// 1555, PostgreSQL SQLSTATE 23505) become [store.ErrAlreadyExists]; foreign
// key violations (SQLite 787, SQLSTATE 23503: the user does not exist)
// [store.ErrNotFound]; network errors, closed pools and connections,
// deadlines, SQLSTATE classes 08 and 53, server shutdown and SQLite
// BUSY/LOCKED/IOERR/CANTOPEN/FULL/READONLY [store.ErrUnavailable]. Updates
// and deletes of a single unknown record return [store.ErrNotFound].
//
// # Schema
//
// Tables (see migrations/<dialect>/NNNN_name.sql):
//   - users: unique username; totp_last_step for TOTP replay protection;
//   - credentials (WebAuthn, id is the credential id), recovery_codes
//     (primary key user_id + code_hash), devices (unique token_hash),
//     invites (primary key token_hash): each references users(id) ON
//     DELETE CASCADE and is indexed by user_id;
//   - clients: widget clients, origins as JSON;
//   - audit_events: append-only, indexed by time, actor, subject and action;
//   - signing_keys: primary key generation, unique kid (RFC 7638
//     thumbprint);
//   - schema_migrations(version, applied_at).
//
// Store.DeleteUser, beyond the interface, deletes a user with everything
// that references it; audit events stay.
//
// # Migrations
//
// Each dialect has its embedded, numbered migration files with the same
// versions. At Open every file whose version is not in schema_migrations is
// applied in its own transaction together with its schema_migrations row.
// On PostgreSQL each of these transactions first takes a transaction-scoped
// advisory lock (pg_advisory_xact_lock), so instances starting at once apply
// each migration exactly once; on SQLite BEGIN IMMEDIATE serializes them.
// Migrations are never edited once released: a change is a new file, in
// both dialects.
package sqlstore
