// Package passkey is the glue between mutualauth's store and
// github.com/go-webauthn/webauthn: the relying party configuration (RP ID
// and origin from the public URL, §5.1.4 and §13.4.9 of WebAuthn Level 3),
// the user adapter (§5.4.3, user handle = the user id's 16 random bytes),
// and the conversion of credential records (§4 "credential record") to and
// from store.Credential.
//
// Ceremony data (the library's SessionData) is stored by callers in the
// ephemeral store, single use (read-and-delete) and expiring.
package passkey
