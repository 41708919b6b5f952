package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"mutualauth/server/account"
	"mutualauth/server/clientcert"
	"mutualauth/server/config"
	"mutualauth/server/factor"
	"mutualauth/server/keys"
	"mutualauth/server/login"
	"mutualauth/server/passkey"
	"mutualauth/server/password"
	"mutualauth/server/secretbox"
	"mutualauth/store"
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
	// strangerKey is a passkey of the stranger's own account strangerID.
	strangerKey *softKey
	strangerID  string
}

func newTimingServer(tb testing.TB) *timingServer { return newTimingServerOn(tb, nil) }

// timingTLS makes newTimingServerOn serve HTTPS with this configuration,
// accept client certificates from certs, and talk to it with client.
type timingTLS struct {
	server, client *tls.Config
	certs          *clientcert.Source
	bind           bool // MUTUALAUTH_TLS_BIND_SESSIONS
}

func newTimingServerOn(tb testing.TB, tt *timingTLS) *timingServer {
	tb.Helper()
	ctx := context.Background()
	hs := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	issuer := "http://localhost:" + port
	if tt != nil {
		issuer = "https://localhost:" + port
	}
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
	ephemeral := testEphemeral(tb)
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
	client := &http.Client{Timeout: 30 * time.Second}
	if tt != nil {
		d.ClientCerts = tt.certs
		d.Config.TLSClientCAFile, d.Config.TLSBindSessions = "in-memory", tt.bind
		client.Transport = &http.Transport{TLSClientConfig: tt.client, MaxIdleConnsPerHost: 64}
	}
	app, err := New(d)
	if err != nil {
		tb.Fatal(err)
	}
	hs.Config.Handler = app
	if tt != nil {
		hs.TLS = tt.server
		hs.StartTLS()
	} else {
		hs.Start()
	}
	tb.Cleanup(hs.Close)
	ts := &timingServer{url: issuer, deps: d, client: client}
	known := ts.enroll(tb, "known.user")
	// The known user has a passkey; the stranger answers with a passkey of
	// an account of their own.
	ts.addKey(tb, newSoftKey(tb), known)
	ts.strangerKey = newSoftKey(tb)
	ts.strangerID = ts.enroll(tb, "stranger.user")
	ts.addKey(tb, ts.strangerKey, ts.strangerID)
	return ts
}

// addKey registers key as a credential of the account userID.
func (ts *timingServer) addKey(tb testing.TB, key *softKey, userID string) {
	tb.Helper()
	if err := ts.deps.Durable.AddCredential(context.Background(), key.record(tb, userID, time.Now())); err != nil {
		tb.Fatal(err)
	}
}

func (ts *timingServer) enroll(tb testing.TB, name string) string {
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
	return id
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

// timingSteps are the login steps a stranger can time for a username, in
// the order try runs them.
var timingSteps = []string{"begin", "otp", "recovery", "webauthn_options", "webauthn", "total"}

// try runs what a stranger can time for one username: begin with a client
// nonce, a wrong TOTP code, a wrong recovery code, and a WebAuthn assertion
// of the stranger's own passkey (registered to another account) answering
// the transaction's options. It returns the time of each step and their
// total. The throttle counter is cleared afterwards (outside the
// measurement) so that every try is evaluated.
func (ts *timingServer) try(tb testing.TB, username string) map[string]time.Duration {
	out := make(map[string]time.Duration, len(timingSteps))
	timed := func(step, path string, body any, want int) []byte {
		start := time.Now()
		status, raw := ts.post(tb, path, body)
		out[step] = time.Since(start)
		out["total"] += out[step]
		if status != want {
			tb.Fatalf("%s: %d %s", step, status, raw)
		}
		return raw
	}
	raw := timed("begin", "/api/v1/login/begin", map[string]any{"username": username, "client_nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, 200)
	var lr struct {
		LoginID string `json:"login_id"`
	}
	_ = json.Unmarshal(raw, &lr)
	code := wrongCode(loginTOTPCode(timingTOTPSecret, time.Now()))
	timed("otp", "/api/v1/login/otp", map[string]any{"login_id": lr.LoginID, "code": code}, 401)
	timed("recovery", "/api/v1/login/recovery", map[string]any{"login_id": lr.LoginID, "code": "aaaa-bbbb-cccc"}, 401)
	opts := timed("webauthn_options", "/api/v1/login/webauthn/options", map[string]any{"login_id": lr.LoginID}, 200)
	cred := ts.strangerKey.assert(tb, opts, "localhost", ts.url, passkey.UserHandle(ts.strangerID))
	timed("webauthn", "/api/v1/login/webauthn", map[string]any{"login_id": lr.LoginID, "credential": cred}, 401)
	_ = ts.deps.Ephemeral.Delete(context.Background(), login.UsernameCounter(username))
	return out
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// timingMedians are the medians of one measurement, by step.
type timingMedians struct {
	// control is a second series of the known username, interleaved with
	// the others: known against control is the noise floor of the run.
	known, unknown, control map[string]time.Duration
	// verify and dummy: the password check of a known account (a wrong
	// password against its argon2id hash) and of an unknown username (the
	// dummy verification), through factor.Verifier.Password.
	verify, dummy time.Duration
}

// loginTimingMedians interleaves n tries with a known and n with an unknown
// username and returns the medians of every step; then the same for the
// password check itself.
func loginTimingMedians(tb testing.TB, ts *timingServer, n int) timingMedians {
	k := map[string][]time.Duration{}
	u := map[string][]time.Duration{}
	c := map[string][]time.Duration{}
	add := func(into map[string][]time.Duration, got map[string]time.Duration) {
		for step, d := range got {
			into[step] = append(into[step], d)
		}
	}
	series := []struct {
		into map[string][]time.Duration
		name string
	}{{k, "known.user"}, {u, "unknown.user"}, {c, "known.user"}}
	for i := range n {
		// Rotate the order so that no series always runs first.
		for j := range series {
			s := series[(i+j)%len(series)]
			add(s.into, ts.try(tb, s.name))
		}
	}
	m := timingMedians{known: map[string]time.Duration{}, unknown: map[string]time.Duration{}, control: map[string]time.Duration{}}
	for _, step := range timingSteps {
		m.known[step], m.unknown[step], m.control[step] = median(k[step]), median(u[step]), median(c[step])
	}
	ctx := context.Background()
	user, err := ts.deps.Durable.GetUserByUsername(ctx, "known.user")
	if err != nil {
		tb.Fatal(err)
	}
	v := &factor.Verifier{Users: ts.deps.Durable, Hasher: ts.deps.Hasher, Log: ts.deps.Log, Now: time.Now}
	var real, dm []time.Duration
	check := func(u *store.User, into *[]time.Duration) {
		start := time.Now()
		res, err := v.Password(ctx, u, "a wrong password")
		if err != nil || res.OK {
			tb.Fatalf("password check: %+v %v", res, err)
		}
		*into = append(*into, time.Since(start))
	}
	for i := range max(n/4, 5) {
		if i%2 == 0 {
			check(&user, &real)
			check(nil, &dm)
		} else {
			check(nil, &dm)
			check(&user, &real)
		}
	}
	m.verify, m.dummy = median(real), median(dm)
	return m
}

// TestLoginTimingMedians prints, for every login step a stranger can
// reach, the median time for a known and an unknown username in the same
// run. It is a measurement (docs/login.md), not a timed check.
func TestLoginTimingMedians(t *testing.T) {
	if os.Getenv("MUTUALAUTH_LOGIN_TIMING") == "" {
		t.Skip("a measurement, not a check: set MUTUALAUTH_LOGIN_TIMING=1 to print the medians")
	}
	ts := newTimingServer(t)
	for range 20 {
		ts.try(t, "known.user")
		ts.try(t, "unknown.user")
	}
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("MUTUALAUTH_LOGIN_TIMING")); err == nil && v > 1 {
		n = v
	}
	m := loginTimingMedians(t, ts, n)
	t.Logf("median of %d interleaved tries each | known | unknown | known - unknown | known again (control) | known - control |", n)
	pct := func(a, b time.Duration) string {
		return fmt.Sprintf("%+v (%+.1f %%)", (a - b).Round(100*time.Nanosecond), 100*float64(a-b)/float64(a))
	}
	for _, step := range timingSteps {
		k, u, c := m.known[step], m.unknown[step], m.control[step]
		t.Logf("| %s | %v | %v | %s | %v | %s |", step, k.Round(100*time.Nanosecond), u.Round(100*time.Nanosecond), pct(k, u),
			c.Round(100*time.Nanosecond), pct(k, c))
	}
	t.Logf("| password check (median of %d) | %v | %v | %s | | |", max(n/4, 5), m.verify.Round(time.Microsecond),
		m.dummy.Round(time.Microsecond), pct(m.verify, m.dummy))
}

func BenchmarkLoginTiming(b *testing.B) {
	ts := newTimingServer(b)
	for _, name := range []string{"known.user", "unknown.user"} {
		b.Run(name, func(b *testing.B) {
			var d []time.Duration
			for b.Loop() {
				d = append(d, ts.try(b, name)["total"])
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
