package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	sqlstore "mutualauth/store/sql"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls base/healthz until it answers 200; it fails the test
// when run (done) ends first or nothing answers within 20 s.
func waitHealthy(t *testing.T, client *http.Client, base string, done <-chan error, out *syncBuffer) *http.Response {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return resp
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before serving: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become healthy: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestRunServesAndShutsDown runs the whole program in process on the
// embedded defaults (SQLite, in-memory sessions), polls /healthz, then
// cancels the context and expects a clean shutdown.
func TestRunServesAndShutsDown(t *testing.T) {
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	env := envOf(map[string]string{
		"MUTUALAUTH_LISTEN":     addr,
		"MUTUALAUTH_PUBLIC_URL": "http://localhost:" + port,
		"MUTUALAUTH_DATA_DIR":   t.TempDir(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"mutualauth"}, env, &out) }()

	waitHealthy(t, http.DefaultClient, "http://"+addr, done, &out)
	if !regexp.MustCompile(`enroll_url=http://localhost:` + port + `/enroll/[A-Za-z0-9_-]{43}`).MatchString(out.String()) {
		t.Errorf("first start did not log an admin enrollment URL:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "sessions are kept in memory") {
		t.Errorf("no warning about in-memory sessions:\n%s", out.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("no shutdown")
	}
}

func TestAdminInvitePrintsURL(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"MUTUALAUTH_DATA_DIR": dir, "MUTUALAUTH_PUBLIC_URL": "https://login.example"})
	var out bytes.Buffer
	if err := run(context.Background(), []string{"mutualauth", "admin", "invite", "--username", "Alice", "--display-name", "Alice A"}, env, &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^https://login\.example/enroll/[A-Za-z0-9_-]{43}\n$`).MatchString(out.String()) {
		t.Fatalf("output %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"mutualauth", "admin", "client", "create", "--name", "shop", "--origin", "https://shop.example", "--origin", "http://127.0.0.1:9000"}, env, &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\{"client_id":"mac_[0-9a-f]{32}","client_secret":"[A-Za-z0-9_-]{43}"\}\n$`).MatchString(out.String()) {
		t.Fatalf("client output %q", out.String())
	}
}

func TestAdminOIDCClientAndEmail(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"MUTUALAUTH_DATA_DIR": dir, "MUTUALAUTH_PUBLIC_URL": "https://login.example"})
	var out bytes.Buffer
	args := []string{"mutualauth", "admin", "client", "create", "--name", "Grafana",
		"--redirect-uri", "https://grafana.example/login/generic_oauth", "--post-logout-redirect-uri", "https://grafana.example/login"}
	if err := run(context.Background(), args, env, &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\{"client_id":"mac_[0-9a-f]{32}","client_secret":"[A-Za-z0-9_-]{43}"\}\n$`).MatchString(out.String()) {
		t.Fatalf("client output %q", out.String())
	}
	out.Reset()
	args = []string{"mutualauth", "admin", "client", "create", "--name", "CLI", "--public", "--redirect-uri", "http://127.0.0.1/callback"}
	if err := run(context.Background(), args, env, &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\{"client_id":"mac_[0-9a-f]{32}"\}\n$`).MatchString(out.String()) {
		t.Fatalf("public client output %q (want no secret)", out.String())
	}
	out.Reset()
	args = []string{"mutualauth", "admin", "invite", "--username", "ada", "--email", "ada@example.org"}
	if err := run(context.Background(), args, env, &out); err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUserByUsername(context.Background(), "ada")
	if err != nil || u.Email != "ada@example.org" {
		t.Fatalf("invited user: %+v %v", u, err)
	}
	clients, err := st.ListClients(context.Background())
	if err != nil || len(clients) != 2 {
		t.Fatalf("clients: %v %v", clients, err)
	}
	for _, c := range clients {
		if c.Name == "CLI" && (!c.Public || c.SecretHash != nil || c.RedirectURIs[0] != "http://127.0.0.1/callback") {
			t.Errorf("public client stored as %+v", c)
		}
		if c.Name == "Grafana" && (c.Public || len(c.PostLogoutRedirectURIs) != 1) {
			t.Errorf("client stored as %+v", c)
		}
	}
}

func TestAdminOIDCKeyRotateAndRetire(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"MUTUALAUTH_DATA_DIR": dir})
	published := func(args ...string) []string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"mutualauth", "admin", "oidc-key"}, args...), env, &out); err != nil {
			t.Fatal(err)
		}
		var r struct {
			Published []string `json:"published"`
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%q: %v", out.String(), err)
		}
		return r.Published
	}
	if got := published("rotate"); len(got) != 2 {
		t.Fatalf("after the first rotation %v, want the new and the old key", got)
	}
	first := published("rotate", "--alg", "ES256")
	if len(first) != 2 {
		t.Fatalf("ES256 after rotation %v", first)
	}
	if got := published("retire"); len(got) != 1 {
		t.Fatalf("after retire %v, want the live key only", got)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"mutualauth"}, map[string]string{"MUTUALAUTH_PUBLIC_URL": "not a url", "MUTUALAUTH_DATA_DIR": dir}, "MUTUALAUTH_PUBLIC_URL"},
		{[]string{"mutualauth"}, map[string]string{"MUTUALAUTH_REDIS_URL": "redis://127.0.0.1:1", "MUTUALAUTH_DATA_DIR": dir, "MUTUALAUTH_LISTEN": "127.0.0.1:0"}, "MUTUALAUTH_REDIS_URL"},
		{[]string{"mutualauth"}, map[string]string{"MUTUALAUTH_DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/x", "MUTUALAUTH_DATA_DIR": dir}, "MUTUALAUTH_DATABASE_URL"},
		{[]string{"mutualauth", "admin", "invite"}, map[string]string{"MUTUALAUTH_DATA_DIR": dir}, "--username"},
		{[]string{"mutualauth", "admin", "invite", "--username", "a b"}, map[string]string{"MUTUALAUTH_DATA_DIR": dir}, "invalid username"},
		{[]string{"mutualauth", "admin", "client", "create", "--name", "x", "--origin", "https://x.example/path"}, map[string]string{"MUTUALAUTH_DATA_DIR": dir}, "invalid origin"},
		// The command line applies the admin API's client name rules.
		{[]string{"mutualauth", "admin", "client", "create", "--name", "shop\x1b[2J", "--origin", "https://x.example"}, map[string]string{"MUTUALAUTH_DATA_DIR": dir}, "without control characters"},
		{[]string{"mutualauth", "admin", "client", "create", "--name", "x"}, map[string]string{"MUTUALAUTH_DATA_DIR": dir}, "redirect URIs"},
		{[]string{"mutualauth", "admin", "client", "create", "--name", "x", "--redirect-uri", "https://x.example/cb#frag"}, map[string]string{"MUTUALAUTH_DATA_DIR": dir}, "invalid redirect URI"},
		{[]string{"mutualauth", "admin", "client", "create", "--name", "x", "--redirect-uri", "https://*.x.example/cb"}, map[string]string{"MUTUALAUTH_DATA_DIR": dir}, "invalid redirect URI"},
		{[]string{"mutualauth", "admin", "invite", "--username", "bob", "--email", "not an address"}, map[string]string{"MUTUALAUTH_DATA_DIR": dir}, "invalid email"},
		{[]string{"mutualauth", "frobnicate"}, nil, "unknown command"},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, c.args, envOf(c.env), &bytes.Buffer{})
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %v, want it to mention %q", c.args, c.env, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks a password: %v", err)
		}
	}
}

func TestHelpListsClientCommands(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"mutualauth", "help"}, envOf(nil), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mutualauth login --server URL", "mutualauth whoami", "mutualauth logout", "admin users --server URL",
		"admin keys rotate", "admin keys list", "admin keys revoke --kid KID", "Exit codes: 0 done, 1 refused, 2 usage, 3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestAdminKeys rotates, lists and revokes keys in the local database, and
// refuses bad use with the usage exit code.
func TestAdminKeys(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"MUTUALAUTH_DATA_DIR": dir, "MUTUALAUTH_PUBLIC_URL": "https://login.example"})
	ctx := context.Background()
	cmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"mutualauth", "admin", "keys"}, args...), env, &out)
		return out.String(), err
	}
	first, err := cmd("rotate") // with no key yet: the first one
	if err != nil {
		t.Fatal(err)
	}
	second, err := cmd("rotate")
	if err != nil || first == second || !regexp.MustCompile(`^[A-Za-z0-9_-]{43}\n$`).MatchString(second) {
		t.Fatalf("rotate printed %q then %q (%v)", first, second, err)
	}
	list, err := cmd("list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"kid":"`+strings.TrimSpace(second)+`"`) ||
		!strings.Contains(lines[0], `"handover_from":"`+strings.TrimSpace(first)+`"`) {
		t.Fatalf("list printed %q", list)
	}
	after, err := cmd("revoke", "--kid", strings.TrimSpace(second))
	if err != nil || after == second || after == first {
		t.Fatalf("revoking the newest key printed %q (%v), want a fresh key", after, err)
	}
	if _, err := cmd("revoke", "--kid", "no-such-kid"); err == nil || !strings.Contains(err.Error(), "no published signing key") {
		t.Errorf("revoking an unknown kid: %v", err)
	}
	withFile := envOf(map[string]string{"MUTUALAUTH_DATA_DIR": dir, "MUTUALAUTH_SIGNING_KEY_FILE": dir + "/signing.pem"})
	if err := run(ctx, []string{"mutualauth", "admin", "keys", "rotate"}, withFile, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "MUTUALAUTH_SIGNING_KEY_FILE") {
		t.Errorf("rotate with a key file: %v", err)
	}
	for _, bad := range [][]string{{"revoke"}, {"spin"}, {"list", "--nope"}} {
		_, err := cmd(bad...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage {
			t.Errorf("admin keys %v: %v, want the usage exit code", bad, err)
		}
	}
}
