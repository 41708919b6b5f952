// Package e2e holds mutualauth's end-to-end tests: the real server binary,
// real Redis, SQLite or PostgreSQL, and real headless Chromium driven over the
// Chrome DevTools Protocol (chromedp), with the DevTools virtual authenticator
// (WebAuthn domain) standing in for a passkey or security key.
//
// The package has test files only (besides this one). TestMain builds the
// server once from the repository root, with the race detector when the tests
// run with -race, so races in the server fail the tests too. Each test then
// starts its own server on a free port of 127.0.0.1, reached at
// http://localhost:PORT (a secure context, so WebAuthn works without TLS),
// with a fresh data directory and, unless told otherwise, a redis-server of
// its own.
//
// Environment:
//
//	MUTUALAUTH_E2E_CHROME        the Chromium binary; by default the first of
//	                             chromium, chromium-browser, google-chrome on PATH
//	MUTUALAUTH_TEST_REQUIRE=1    fail (not skip) the tests whose browser,
//	                             redis-server or PostgreSQL is missing; CI=true
//	                             and the older MUTUALAUTH_E2E_REQUIRE=1 do the
//	                             same (internal/testenv)
//	MUTUALAUTH_E2E_SCREENSHOTS   where screenshots go; default e2e/screenshots,
//	                             as <TestName>/NN-name.png
//	MUTUALAUTH_TEST_REDIS_URL    a Redis that every test server shares, instead
//	                             of one redis-server per test server
//	MUTUALAUTH_TEST_POSTGRES_URL a PostgreSQL server on which the PostgreSQL
//	                             tests create (and drop) a database each; they
//	                             skip without it, and fail in CI
//
// With -short the browser tests skip. Run them all with `make e2e` or
// `go test -race ./e2e/`.
package e2e
