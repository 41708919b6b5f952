// Package account holds the rules for usernames and the issuing of
// enrollment invites, shared by the command line, the first-start bootstrap
// and the admin API.
//
// Usernames are prepared and compared with the PRECIS UsernameCaseMapped
// profile (RFC 8265 §3.3): case-folded, width-mapped, normalized to NFC, with
// no spaces or control characters, so "Alice" and "alice" are one account.
package account
