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
// A [Ring] holds the published public keys (served as a JWKS, RFC 7517 §5),
// their private keys and the handovers. [Load] builds it from the shared
// store, where private keys are kept sealed with server/secretbox, creating
// the first key when there is none; [LoadPEM] builds a ring from a
// configured key file instead. [Rotate] adds a key together with a handover
// signed by the previous one (API.md, "Key continuity": a compact JWS with
// typ mutualauth-handover+jwt and claims iss, old_kid, new_kid, new_jwk,
// iat); the new key signs from [ActivationDelay] on, and every earlier key
// stays published. [Revoke] removes a key and the handovers it signed.
// [Ring.Refresh] and [Ring.Watch] reread the store, so every instance that
// shares it follows a rotation or revocation made anywhere; the state is
// swapped atomically and a Ring is safe for concurrent use. Signatures are
// always in low-S form.
//
// [VerifyProof] is the reference verifier with the checks a client must
// make, [FollowHandovers] the handover-chain rule it applies when a proof's
// key is not the pinned one; the command-line client (package
// mutualauth/client) uses both, and web/proof.js implements the same rules.
package keys
