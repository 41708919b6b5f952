// Command bench is the load benchmark of mutualauth (`go run ./bench`,
// `make bench`). It measures the real server binary against a real Redis on
// this machine and compares each figure with the limit it is bounded by,
// measured in the same run (DESIGN.md, "Performance"):
//
//   - GET /auth/verify with a valid session at 32 connections (the session
//     in the server's client-side cache), against a bare net/http server
//     (this binary run again with -serve-bare: a trivial handler answering
//     200) loaded the same way, and against the GET throughput
//     redis-benchmark gets from the same Redis at the same concurrency;
//     and the same on a second instance without the client-side cache;
//   - the revocation lag between two instances: logouts on one while the
//     other verifies the session back to back (instances.go);
//   - POST /api/v1/login/begin with a client_nonce (one ES256 signature, one
//     Redis write) at 32 connections, against the ES256 signing ceiling;
//   - full logins on an unrecognized device (begin, otp or recovery,
//     password: API.md "Login") for distinct users at 2 × cores, against
//     what the cores deliver hashing cores argon2id hashes at once at the
//     server's parameters (RFC 9106 §3.1);
//   - the server's peak resident memory (VmHWM, proc(5)) under 256
//     concurrent logins, against the bound the hash semaphore sets;
//   - the OpenID Connect token endpoint (oidc.go): code exchanges per second
//     (codes made beforehand through the authorization endpoint with a live
//     session, each exchanged once) and refreshes per second (one grant per
//     worker, rotated back to back), against the RSA-2048 signing ceiling of
//     the RS256 ID token (-oidc-codes sets how many codes).
//
// Setup enrolls users through the enrollment JSON API, confirming TOTP with
// codes computed here (RFC 6238 §4, SHA-1, 6 digits, 30 s). Each user can
// log in with TOTP twice per 30 s step (the server accepts the current step
// and the one before, each once) and then with each of its ten recovery
// codes, so logins do not wait for the clock (login.go, pool).
//
// The load generator is a closed loop: each worker sends its next request
// when the previous answer is in, and every latency is kept, so p50 and
// p99 are exact (nearest rank). verify and begin go over a minimal
// HTTP/1.1 keep-alive client (rawhttp.go, RFC 9112), one connection per
// worker, which costs the shared cores far less than net/http's client;
// the multi-step logins use net/http. -loadgen wrk uses wrk(1) for verify
// and begin instead. Everything runs on the same cores as the server and
// Redis, and the CPU time each of them used is reported per phase.
//
// -perf DIR records the server with perf(1) during each load phase.
//
// The table goes to stdout and the same figures as JSON to -out.
package main
