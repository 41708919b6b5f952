// Package secretbox seals secrets at rest (security phrases, TOTP secrets,
// signing keys) with AES-256-GCM (NIST SP 800-38D).
//
// A sealed value is
//
//	version (1 byte, currently 1) || nonce (12 random bytes) || GCM ciphertext and tag
//
// The version byte and the caller's additional data are both authenticated.
// Callers pass additional data naming the owner of the secret (for example
// "phrase:"+userID), so a ciphertext copied onto another row does not open.
// With random 96-bit nonces a key should seal fewer than 2^32 values
// (SP 800-38D §8.3), far above what this server stores.
//
// [LoadKey] finds the 32-byte key: from MUTUALAUTH_ENCRYPTION_KEY when set,
// else from the file encryption.key in the data directory, which it creates
// on first use. Every instance sharing a database must use the same key.
package secretbox
