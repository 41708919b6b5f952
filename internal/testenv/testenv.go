// Package testenv decides what a test does when a program or service it
// needs is missing from the machine (redis-server, PostgreSQL, Chromium).
// On a developer's machine the test skips with one line naming what to
// install, so `go test ./...` passes where only Go is installed; where
// [Required] holds (CI=true, MUTUALAUTH_TEST_REQUIRE=1) it fails instead, so
// that CI skips nothing.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// Environment variables read here.
const (
	// EnvRequire=1 makes missing programs and services fail the tests.
	EnvRequire = "MUTUALAUTH_TEST_REQUIRE"
	// EnvRequireBrowser=1 is the older, browser-only name of EnvRequire; it
	// has the same effect.
	EnvRequireBrowser = "MUTUALAUTH_E2E_REQUIRE"
	// EnvPostgresURL points the PostgreSQL tests at a server on which they
	// may create schemas and databases.
	EnvPostgresURL = "MUTUALAUTH_TEST_POSTGRES_URL"
)

// Required reports whether tests must fail rather than skip when something
// they need is missing: CI=true (any value strconv.ParseBool takes as true),
// MUTUALAUTH_TEST_REQUIRE=1 or MUTUALAUTH_E2E_REQUIRE=1.
func Required() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci || os.Getenv(EnvRequire) == "1" || os.Getenv(EnvRequireBrowser) == "1"
}

// Missing ends t because it needs what, which this machine lacks; install
// says how to get it. It skips the test, or fails it when [Required] holds.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if Required() {
		t.Fatalf("needs %s (%s); it is required here (CI=true or %s=1)", what, install, EnvRequire)
	}
	t.Skipf("skipped: needs %s (%s) — set CI=true or %s=1 to fail instead", what, install, EnvRequire)
}

// PostgresURL returns MUTUALAUTH_TEST_POSTGRES_URL, or ends the test with
// [Missing] when it is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvPostgresURL)
	if u == "" {
		Missing(t, "PostgreSQL", "apt-get install postgresql, then set "+EnvPostgresURL+
			"=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return u
}
