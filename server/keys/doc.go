// Package keys holds the server's proof signing keys and signs and verifies
// server proofs.
//
// A proof is a JWS in compact serialization (RFC 7515 §7.1) signed with
// ES256 (RFC 7518 §3.4: ECDSA P-256 with SHA-256, the signature being the
// 64-byte R || S). Its protected header is exactly
//
//	{"alg":"ES256","kid":"<thumbprint>","typ":"mutualauth-proof+jwt"}
//
// where kid is the RFC 7638 §3 JWK thumbprint (SHA-256, base64url) of the
// signing key. Its claims are iss, aud (a string), nonce, login_id, username,
// phrase (omitted when empty), iat and exp (RFC 7519 NumericDate seconds, exp
// at most 300 s after iat); see the project's API contract, "Server proof".
//
// A [Ring] holds the published public keys (served as a JWKS, RFC 7517 §5)
// and the active private key. [Load] builds it from the shared store, where
// private keys are kept sealed with server/secretbox, creating the first key
// when there is none; [Rotate] adds a new generation while the previous one
// stays published for an overlap period; [LoadPEM] builds a ring from a
// configured key file instead. A Ring never changes after it is built and
// is safe for concurrent use; to switch rings, swap a pointer.
//
// [Verify] is a reference verifier with the checks a client must make.
package keys
