// Package passkey is the glue between mutualauth's store and
// github.com/go-webauthn/webauthn: the relying party configuration (RP ID
// and origin from the public URL, §5.1.4 and §13.4.9 of WebAuthn Level 3),
// the user adapter (§5.4.3, user handle = the user id's 16 random bytes),
// and the conversion of credential records (§4 "credential record") to and
// from store.Credential.
//
// Ceremonies is the one ceremony store of the server: it begins and
// finishes registrations (§7.1) and authentications (§7.2) for every flow,
// keyed by scope (enrollment, account, login, re-authentication) and the
// flow's id under one key scheme, "wa:<scope>:<id>". The ceremony data (the
// library's SessionData) lives in the ephemeral store, single use
// (read-and-delete before a response is verified) and expiring.
package passkey
