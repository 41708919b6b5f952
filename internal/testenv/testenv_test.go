package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestRequired(t *testing.T) {
	cases := []struct {
		ci, require, browser string
		want                 bool
	}{
		{"", "", "", false},
		{"false", "", "", false},
		{"true", "", "", true},
		{"1", "", "", true},
		{"", "1", "", true},
		{"", "0", "", false},
		{"", "", "1", true},
	}
	for _, c := range cases {
		t.Setenv("CI", c.ci)
		t.Setenv(EnvRequire, c.require)
		t.Setenv(EnvRequireBrowser, c.browser)
		if got := Required(); got != c.want {
			t.Errorf("CI=%q %s=%q %s=%q: Required() = %v, want %v",
				c.ci, EnvRequire, c.require, EnvRequireBrowser, c.browser, got, c.want)
		}
	}
}

// TestMissingSkipsOrFails runs TestMissingHelper in a child test process,
// once as on a developer's machine and once as in CI.
func TestMissingSkipsOrFails(t *testing.T) {
	for _, c := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "skipped: needs redis-server (apt-get install redis-server) — set CI=true or " + EnvRequire + "=1 to fail instead"},
		{"true", true, "needs redis-server (apt-get install redis-server); it is required here"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingHelper$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_HELPER=1", "CI="+c.ci, EnvRequire+"=", EnvRequireBrowser+"=")
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != c.wantFail || !strings.Contains(string(out), c.want) {
			t.Errorf("CI=%q: failed=%v, want %v, output:\n%s", c.ci, failed, c.wantFail, out)
		}
	}
}

func TestMissingHelper(t *testing.T) {
	if os.Getenv("TESTENV_HELPER") != "1" {
		t.Skip("run by TestMissingSkipsOrFails")
	}
	Missing(t, "redis-server", "apt-get install redis-server")
	t.Error("Missing returned")
}

func TestPostgresURL(t *testing.T) {
	t.Setenv(EnvPostgresURL, "postgres://x@127.0.0.1/db")
	if got := PostgresURL(t); got != "postgres://x@127.0.0.1/db" {
		t.Errorf("PostgresURL = %q", got)
	}
}
