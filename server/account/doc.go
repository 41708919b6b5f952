// Package account holds the operations on accounts and widget clients,
// over the store interfaces and with no HTTP:
//
//   - usernames, prepared and compared with the PRECIS UsernameCaseMapped
//     profile (RFC 8265 §3.3): case-folded, width-mapped, normalized to NFC,
//     with no spaces or control characters, so "Alice" and "alice" are one
//     account; display names; enrollment invites (IssueInvite), shared by
//     the command line, the first-start bootstrap and the admin center;
//   - FactorRules: the rules a new password (NIST SP 800-63B §5.1.1.2),
//     security phrase or TOTP secret (RFC 6238) passes, at enrollment and on
//     the account page, and recovery codes;
//   - Self: the changes signed-in users make to their own account;
//   - Admin: the admin center's operations on users, sessions, devices,
//     credentials and widget clients (the client name and origin rules are
//     the same for the command line);
//   - Error: their refusals, each with a stable code that the server's one
//     error handler turns into a problem document (RFC 9457) and that the
//     audit log records.
//
// Every operation of Self and Admin takes a context and the actor, and
// audits its outcome through package audit.
package account
