// Package factor checks the authentication factors of an existing account,
// the same way for a sign-in (the login transaction) and for a
// re-authentication of a signed-in session, and knows nothing of HTTP.
//
// Verifier holds one copy of every factor check: the password (argon2id,
// with the rehash of hashes made with older parameters), a TOTP code
// (RFC 6238 §5.2, each time step accepted once), a recovery code (single
// use), a WebAuthn assertion (WebAuthn L3 §7.2, with the clone warning of
// §6.1.1), and the rules around them: the failure counter reserved before a
// secret is looked at (NIST SP 800-63B §5.2.2), the account lock after
// login.LockAfter consecutive failures (which bars unrecognized devices
// only), passkey-first assertions that name their account, and checks of
// the same cost for usernames that name no account, so that timing does
// not tell them apart.
//
// A failed check is a Result with the reason for the audit log; the reason
// is never sent to the client. A throttled attempt is a
// *login.ThrottledError, which the server's error handler answers with
// 429 too_many_attempts.
package factor
