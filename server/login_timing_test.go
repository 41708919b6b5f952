package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/server/account"
	"mutualauth/server/config"
	"mutualauth/server/factor"
	"mutualauth/server/keys"
	"mutualauth/server/password"
	"mutualauth/server/secretbox"
	"mutualauth/store"
	redisstore "mutualauth/store/redis"
	"mutualauth/store/redis/redistest"
	sqlstore "mutualauth/store/sql"
)

// The timing of unknown and known usernames (API contract, "Login": "similar
// timing"). On an unrecognized device every username, known or not, is
// asked for a second factor first, and the password step is reachable only
// after it succeeded (or on a recognized device, which only a known user
// has). So what a stranger can time is begin plus failed second-factor
// steps; the dummy argon2id verification keeps the password step itself at
// the same cost as well (measured separately below).
//
//	MUTUALAUTH_LOGIN_TIMING=1 go test ./server -run TestLoginTimingMedians -v   (prints the medians)
//	go test ./server -run '^$' -bench LoginTiming                               (per try)

// timingServer is the application with the default argon2id parameters,
// built for benchmarks (newTestServer takes a *testing.T).
type timingServer struct {
	url    string
	deps   Deps
	client *http.Client
}

func newTimingServer(tb testing.TB) *timingServer {
	tb.Helper()
	ctx := context.Background()
	hs := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	issuer := "http://localhost:" + port
	dir := tb.TempDir()
	env := map[string]string{config.EnvPublicURL: issuer, config.EnvDataDir: dir, config.EnvIPRateLimit: "0"}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	durable, err := sqlstore.Open(ctx, "", dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { durable.Close() })
	ropts, err := redis.ParseURL(redistest.URL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	ephemeral := redisstore.NewFromClient(redis.NewClient(ropts), redistest.NewPrefix())
	tb.Cleanup(func() { ephemeral.Close() })
	key, err := secretbox.LoadKey("", dir)
	if err != nil {
		tb.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := keys.Load(ctx, durable, box, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	hasher, err := password.NewHasher(password.DefaultParams, 0)
	if err != nil {
		tb.Fatal(err)
	}
	d := Deps{Config: cfg, Durable: durable, Ephemeral: ephemeral, Keys: ring, Box: box, Hasher: hasher,
		Log: slog.New(slog.DiscardHandler), Now: time.Now}
	app, err := New(d)
	if err != nil {
		tb.Fatal(err)
	}
	hs.Config.Handler = app
	hs.Start()
	tb.Cleanup(hs.Close)
	ts := &timingServer{url: issuer, deps: d, client: &http.Client{Timeout: 30 * time.Second}}
	ts.enroll(tb, "known.user")
	return ts
}

func (ts *timingServer) enroll(tb testing.TB, name string) {
	ctx := context.Background()
	id := account.NewID()
	phc, err := ts.deps.Hasher.Hash(ctx, "a long and correct password")
	if err != nil {
		tb.Fatal(err)
	}
	phrase, _ := ts.deps.Box.Seal([]byte("a phrase"), factor.PhraseAD(id))
	secret, _ := ts.deps.Box.Seal([]byte(timingTOTPSecret), factor.TOTPAD(id))
	now := time.Now()
	err = ts.deps.Durable.CreateUser(ctx, store.User{
		ID: id, Username: name, DisplayName: name, Role: store.RoleUser, PasswordHash: phc, Phrase: phrase,
		TOTPSecret: secret, EnrolledAt: now, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		tb.Fatal(err)
	}
}

const timingTOTPSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

func (ts *timingServer) post(tb testing.TB, path string, body any) (int, []byte) {
	raw, _ := json.Marshal(body)
	resp, err := ts.client.Post(ts.url+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// try runs what a stranger can time for one username: begin with a client
// nonce, a wrong TOTP code and a wrong recovery code. The throttle counter
// is cleared afterwards (outside the measurement) so that every try is
// evaluated.
func (ts *timingServer) try(tb testing.TB, username string) time.Duration {
	start := time.Now()
	status, raw := ts.post(tb, "/api/v1/login/begin", map[string]any{"username": username, "client_nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
	if status != 200 {
		tb.Fatalf("begin: %d %s", status, raw)
	}
	var lr struct {
		LoginID string `json:"login_id"`
	}
	_ = json.Unmarshal(raw, &lr)
	code := wrongCode(loginTOTPCode(timingTOTPSecret, time.Now()))
	if s, raw := ts.post(tb, "/api/v1/login/otp", map[string]any{"login_id": lr.LoginID, "code": code}); s != 401 {
		tb.Fatalf("otp: %d %s", s, raw)
	}
	if s, raw := ts.post(tb, "/api/v1/login/recovery", map[string]any{"login_id": lr.LoginID, "code": "aaaa-bbbb-cccc"}); s != 401 {
		tb.Fatalf("recovery: %d %s", s, raw)
	}
	elapsed := time.Since(start)
	_ = ts.deps.Ephemeral.Delete(context.Background(), "thr:u:"+username)
	return elapsed
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// loginTimingMedians interleaves n tries with a known and n with an unknown
// username and returns the medians; then the same for the password check
// itself: a wrong password against a real hash and the dummy verification.
func loginTimingMedians(tb testing.TB, ts *timingServer, n int) (known, unknown, verify, dummy time.Duration) {
	var k, u, v, dm []time.Duration
	for i := range n {
		// Alternate the order so that neither side always runs warm.
		if i%2 == 0 {
			k = append(k, ts.try(tb, "known.user"))
			u = append(u, ts.try(tb, "unknown.user"))
		} else {
			u = append(u, ts.try(tb, "unknown.user"))
			k = append(k, ts.try(tb, "known.user"))
		}
	}
	ctx := context.Background()
	user, err := ts.deps.Durable.GetUserByUsername(ctx, "known.user")
	if err != nil {
		tb.Fatal(err)
	}
	realVerify := func() {
		start := time.Now()
		if _, _, err := ts.deps.Hasher.Verify(ctx, user.PasswordHash, "a wrong password"); err != nil {
			tb.Fatal(err)
		}
		v = append(v, time.Since(start))
	}
	dummyVerify := func() {
		start := time.Now()
		if err := ts.deps.Hasher.VerifyDummy(ctx, "a wrong password"); err != nil {
			tb.Fatal(err)
		}
		dm = append(dm, time.Since(start))
	}
	for i := range max(n/4, 5) {
		if i%2 == 0 {
			realVerify()
			dummyVerify()
		} else {
			dummyVerify()
			realVerify()
		}
	}
	return median(k), median(u), median(v), median(dm)
}

func TestLoginTimingMedians(t *testing.T) {
	if os.Getenv("MUTUALAUTH_LOGIN_TIMING") == "" {
		t.Skip("a measurement, not a check: set MUTUALAUTH_LOGIN_TIMING=1 to print the medians")
	}
	ts := newTimingServer(t)
	for range 20 {
		ts.try(t, "known.user")
		ts.try(t, "unknown.user")
	}
	const n = 1000
	known, unknown, verify, dummy := loginTimingMedians(t, ts, n)
	diff := known - unknown
	t.Logf("begin + wrong otp + wrong recovery, median of %d tries each: known %v, unknown %v, difference %v (%.1f%%)",
		n, known, unknown, diff, 100*float64(diff)/float64(known))
	t.Logf("password check, median: argon2id verify %v, dummy verify %v, difference %v", verify, dummy, verify-dummy)
}

func BenchmarkLoginTiming(b *testing.B) {
	ts := newTimingServer(b)
	for _, name := range []string{"known.user", "unknown.user"} {
		b.Run(name, func(b *testing.B) {
			var d []time.Duration
			for b.Loop() {
				d = append(d, ts.try(b, name))
			}
			b.ReportMetric(float64(median(d).Microseconds()), "median-µs/try")
		})
	}
}

// BenchmarkLoginBegin measures begin (a user read, one signature, one Redis
// write, one audit row) from parallel clients.
func BenchmarkLoginBegin(b *testing.B) {
	ts := newTimingServer(b)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	body := []byte(`{"username":"known.user","client_nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(ts.url+"/api/v1/login/begin", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("begin: %d", resp.StatusCode)
				return
			}
		}
	})
}
