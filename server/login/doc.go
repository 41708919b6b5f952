// Package login holds the domain logic of the mutual login (API contract,
// "Login", "Throttling" and v1.1 "Phishing resistance"), over the store
// interfaces and nothing else:
//
//   - Transaction and Transactions: the login transaction, its state
//     machine (which step may come next, username-first or passkey-first,
//     and when proofs may carry the phrase) and its storage in the ephemeral
//     key-value store, written with compare-and-set so that of two racing
//     requests on one transaction exactly one moves it forward. A
//     transaction lives at most TTL (5 minutes) from begin, never extended.
//   - Throttle: consecutive-failure counters with a reservation taken
//     before a secret is evaluated, so that however many requests race no
//     more than FreeFailures failures are evaluated before throttling
//     starts; then a delay of BaseDelay doubling per failure up to MaxDelay
//     (NIST SP 800-63B §5.2.2, rate limiting).
//   - RateLimiter: fixed-window per-client-IP request limits per route group.
//   - Policy: the downgrade protection, which relayable codes an
//     unrecognized device may use.
//
// Package login knows nothing of HTTP; the factor checks run under its
// throttle in package factor, and server/signin.go serves the steps.
package login
