// Package oidc is the OpenID Connect provider: github.com/zitadel/oidc/v3
// (pkg/op) does the protocol, this package gives it our stores and our
// login.
//
//   - Storage implements op.Storage and op.DeviceAuthorizationStorage on
//     store.Durable (clients, grants = refresh-token families, ID-token
//     keys) and store.KV (auth requests, codes, access tokens, device
//     codes, all with TTLs).
//   - KeyRing holds the ID-token signing keys (RS256, ES256), sealed in the
//     database like the proof key ring and kept apart from it.
//   - Provider wraps op.LegacyServer and overrides the few places where
//     our contract asks for more than the library does: `iss` in every
//     authorization response (RFC 9207), PKCE S256 required of public
//     clients, the PKCE verifier required whenever a challenge was sent,
//     userinfo answering 401 for a revoked grant, RP-initiated logout
//     ending our session, and failed client authentication throttled.
//
// The browser part (the hand-off to the hosted login page and back, and the
// device verification page) lives in package server, which calls the
// Provider's methods.
package oidc
