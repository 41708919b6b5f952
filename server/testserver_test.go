package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/server/config"
	"mutualauth/server/keys"
	"mutualauth/server/password"
	"mutualauth/server/secretbox"
	"mutualauth/store"
	"mutualauth/store/memory"
	redisstore "mutualauth/store/redis"
	"mutualauth/store/redis/redistest"
	sqlstore "mutualauth/store/sql"
)

// testServer is the real application on an httptest server, with real
// SQLite (fresh per test) and the ephemeral store of testEphemeral.
type testServer struct {
	*httptest.Server
	Deps   Deps
	App    *Server
	Client *http.Client // keeps cookies
}

type testOptions struct {
	// Env overrides configuration variables (config.Env*).
	Env map[string]string
	// FastHash uses cheap argon2id parameters so tests run quickly.
	FastHash bool
}

// testEphemeral is a fresh ephemeral store: Redis under a new key prefix
// when redistest.Wanted (MUTUALAUTH_TEST_REDIS_URL set, CI=true,
// MUTUALAUTH_TEST_REQUIRE=1), else the in-memory store, so that the tests
// need no redis-server on a developer's machine.
func testEphemeral(tb testing.TB) store.Ephemeral {
	tb.Helper()
	var e store.Ephemeral
	if redistest.Wanted() {
		ropts, err := redis.ParseURL(redistest.URL(tb))
		if err != nil {
			tb.Fatal(err)
		}
		e = redisstore.NewFromClient(redis.NewClient(ropts), redistest.NewPrefix())
	} else {
		e = memory.New()
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

func newTestServer(t *testing.T, opts testOptions) *testServer {
	t.Helper()
	ctx := context.Background()
	ts := &testServer{}
	ts.Server = httptest.NewUnstartedServer(nil)
	// WebAuthn needs a domain as RP ID, never an IP: use localhost.
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	issuer := "http://localhost:" + port
	env := map[string]string{
		config.EnvPublicURL:   issuer,
		config.EnvDataDir:     t.TempDir(),
		config.EnvIPRateLimit: "0",
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	durable, err := sqlstore.Open(ctx, "", cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { durable.Close() })
	ephemeral := testEphemeral(t)

	key, err := secretbox.LoadKey("", cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keys.Load(ctx, durable, box, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	params := password.DefaultParams
	if opts.FastHash {
		params.Memory, params.Time = 1024, 1
	}
	hasher, err := password.NewHasher(params, 4)
	if err != nil {
		t.Fatal(err)
	}
	logLevel := slog.LevelError
	if os.Getenv("MUTUALAUTH_TEST_LOG") != "" {
		logLevel = slog.LevelDebug
	}
	ts.Deps = Deps{
		Config: cfg, Durable: durable, Ephemeral: ephemeral, Keys: ring, Box: box, Hasher: hasher,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel})),
	}
	srv, err := New(ts.Deps)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server.Config.Handler = srv
	ts.Server.Start()
	ts.URL = issuer
	t.Cleanup(ts.Close)
	jar, _ := cookiejar.New(nil)
	ts.Client = &http.Client{Jar: jar, Timeout: 30 * time.Second}
	return ts
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (when non-nil). It returns the response with its body read.
func (ts *testServer) do(t *testing.T, method, path string, body any, out any, hdr ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = bytes.NewBufferString(b)
		case []byte:
			rd = bytes.NewReader(b)
		default:
			j, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp
}

// cookie returns the value of the named cookie held for the server.
func (ts *testServer) cookie(name string) string {
	u, _ := url.Parse(ts.URL)
	for _, c := range ts.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
