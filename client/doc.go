// Package client is a Go client of a mutualauth server that proves the
// server before any secret leaves it (API.md, "Login", "Server proof", "Key
// continuity", "Command-line client"). The `mutualauth login|whoami|logout`
// commands are built on it; other Go programs can import it as
// mutualauth/client.
//
// A [Client] talks to one server, the issuer (scheme://host[:port]). Every
// login step sends a fresh 32-byte client nonce, and the answer's proof is
// checked with server/keys.VerifyProof — ES256 over raw r || s in low-S form,
// a key that is pinned or reached from the pinned key through valid
// handovers, typ, iss = the server URL, aud = the issuer (a non-browser
// client sends no Origin), the nonce, the login id and exp — before the
// caller sees anything the server said:
//
//	c, _ := client.New("https://login.example.com", store)
//	l, err := c.Begin(ctx, "alice", deviceToken) // proof checked
//	// l.Phrase is set only from a verified proof; l.Next says what to ask.
//	step, err := l.OTP(ctx, code)                 // proof checked again
//	step, err = l.Password(ctx, password)         // step.Done on completion
//
// Pins live in a [PinStore]; [FileStore] keeps them, with device tokens (per
// server and user) and sessions, in files 0600 under a directory 0700 (see
// [StateDir]). A proof by a key other than the pinned one is accepted only
// through the discovery document's key_handovers, and the store is then
// re-pinned to the new key. Without a pin, [Client.Confirm] decides whether
// to trust the key on first contact; with none, the client refuses.
//
// Errors: a [*NotProvenError] means the server did not prove itself (nothing
// more was sent); a [*Problem] is the server's RFC 9457 refusal.
package client
