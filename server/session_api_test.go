package server

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/server/token"
	"mutualauth/store/redis/redistest"
)

type sessionItem struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

func (b *loginClient) sessions() []sessionItem {
	t := b.e.t
	t.Helper()
	r := b.call("GET", "/api/v1/sessions", nil)
	requireOK(t, "list sessions", r)
	var out []sessionItem
	r.decode(t, &out)
	return out
}

func currentSession(t *testing.T, items []sessionItem) sessionItem {
	t.Helper()
	for _, s := range items {
		if s.Current {
			return s
		}
	}
	t.Fatalf("no current session in %+v", items)
	return sessionItem{}
}

func TestSessionsListRevokeLogout(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("sara")
	a, b := e.client(), e.client()
	a.login(m, "", "otp")
	b.login(m, "", "rec")

	r := e.client().call("GET", "/api/v1/sessions", nil)
	requireProblem(t, "sessions without a session", r, 401, "unauthenticated")

	list := a.sessions()
	if len(list) != 2 {
		t.Fatalf("%d sessions, want 2: %+v", len(list), list)
	}
	mine := currentSession(t, list)
	var theirs sessionItem
	for _, s := range list {
		if !s.Current {
			theirs = s
		}
		if s.ID == "" || s.IP != "127.0.0.1" || !strings.HasPrefix(s.UserAgent, "Go-http-client") || s.CreatedAt.IsZero() || s.LastSeenAt.IsZero() {
			t.Fatalf("session item %+v", s)
		}
	}
	if theirs.ID == "" || theirs.ID == mine.ID || currentSession(t, b.sessions()).ID != theirs.ID {
		t.Fatalf("sessions are not told apart: %+v", list)
	}

	// Another user's session cannot be named.
	other := e.enroll("tom")
	c := e.client()
	c.login(other, "", "otp")
	cs := currentSession(t, c.sessions())
	requireProblem(t, "revoke another user's session", a.call("DELETE", "/api/v1/sessions/"+cs.ID, nil), 404, "not_found")
	requireProblem(t, "revoke an unknown session", a.call("DELETE", "/api/v1/sessions/nope", nil), 404, "not_found")
	requireOK(t, "the other user's session lives", c.call("GET", "/api/v1/session", nil))

	// Revoke B from A: B is signed out at once.
	if r := a.call("DELETE", "/api/v1/sessions/"+theirs.ID, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	requireProblem(t, "revoked session", b.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	if list := a.sessions(); len(list) != 1 || !list[0].Current {
		t.Fatalf("after revoke: %+v", list)
	}

	// A cross-site logout is refused (CSRF).
	requireProblem(t, "cross-site logout", a.call("DELETE", "/api/v1/session", nil, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"),
		403, "cross_site_request")

	tok := a.cookie("mutualauth_session")
	if r := a.call("DELETE", "/api/v1/session", nil); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if a.cookie("mutualauth_session") != "" {
		t.Fatal("logout did not clear the cookie")
	}
	if _, err := e.Deps.Ephemeral.TouchSession(context.Background(), token.HashHex(tok), e.clk.Now(), time.Minute); err == nil {
		t.Fatal("the session is still in the store after logout")
	}
	a.setCookie("mutualauth_session", tok)
	requireProblem(t, "old cookie after logout", a.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	if r := e.client().call("DELETE", "/api/v1/session", nil); r.status != 204 {
		t.Fatalf("logout without a session: %d", r.status)
	}
	if len(e.audit("session.revoke", "success")) != 1 || len(e.audit("session.logout", "success")) != 1 {
		t.Fatal("revoke and logout not audited")
	}
}

func TestSessionIdleAndAbsoluteTimeouts(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("uma")
	b := e.client()
	b.login(m, "", "otp")
	idle := e.Deps.Config.SessionIdle

	e.clk.Advance(idle - time.Minute)
	requireOK(t, "within the idle timeout", b.call("GET", "/api/v1/session", nil))
	e.clk.Advance(idle - time.Minute)
	requireOK(t, "activity extends the idle timeout", b.call("GET", "/api/v1/session", nil))
	e.clk.Advance(idle)
	requireProblem(t, "idle", b.call("GET", "/api/v1/session", nil), 401, "unauthenticated")

	b = e.client()
	b.login(m, "", "rec")
	start := e.clk.Now()
	abs := e.Deps.Config.SessionAbsolute
	for e.clk.Now().Add(idle - 5*time.Minute).Before(start.Add(abs)) {
		e.clk.Advance(idle - 5*time.Minute)
		requireOK(t, "active session at "+e.clk.Now().Sub(start).String(), b.call("GET", "/api/v1/session", nil))
	}
	e.clk.Advance(idle - 5*time.Minute)
	if !e.clk.Now().After(start.Add(abs)) {
		t.Fatal("test clock not past the absolute timeout")
	}
	requireProblem(t, "absolute timeout", b.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
}

// TestSessionStoredHashed scans every key and value in Redis: the session
// token appears nowhere, its SHA-256 does. It runs on Redis even where the
// other tests use the in-memory store.
func TestSessionStoredHashed(t *testing.T) {
	t.Setenv(redistest.EnvURL, redistest.URL(t))
	e := newLoginEnv(t, nil)
	m := e.enroll("vera")
	b := e.client()
	done := b.login(m, "", "otp")
	tok := b.cookie("mutualauth_session")
	if !token.Valid(tok) {
		t.Fatalf("session token %q", tok)
	}
	opts, err := redis.ParseURL(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	ctx := context.Background()
	hashSeen := false
	secrets := []string{tok, done.DeviceToken}
	iter := rc.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		var vals []string
		switch rc.Type(ctx, key).Val() {
		case "string":
			vals = []string{rc.Get(ctx, key).Val()}
		case "hash":
			for k, v := range rc.HGetAll(ctx, key).Val() {
				vals = append(vals, k, v)
			}
		case "zset":
			vals = rc.ZRange(ctx, key, 0, -1).Val()
		case "set":
			vals = rc.SMembers(ctx, key).Val()
		case "list":
			vals = rc.LRange(ctx, key, 0, -1).Val()
		}
		all := key + "\x00" + strings.Join(vals, "\x00")
		for _, s := range secrets {
			if strings.Contains(all, s) {
				t.Fatalf("a token is stored in the clear under %s", key)
			}
		}
		hashSeen = hashSeen || strings.Contains(key, token.HashHex(tok))
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if !hashSeen {
		t.Fatal("the session's hash is not in Redis: the scan saw nothing")
	}
}

// TestStoreUnavailableFailsClosed stops the Redis the server uses: the
// session endpoints answer 503 (never 200, never a silent logout), and
// recover by themselves when Redis returns.
func TestStoreUnavailableFailsClosed(t *testing.T) {
	srv := redistest.StartT(t, "--appendonly", "yes")
	t.Setenv(redistest.EnvURL, srv.URL())
	e := newLoginEnv(t, nil)
	m := e.enroll("wes")
	b := e.client()
	b.login(m, "", "otp")
	requireOK(t, "session", b.call("GET", "/api/v1/session", nil))

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/v1/session"}, {"GET", "/auth/verify"}, {"GET", "/api/v1/sessions"}, {"DELETE", "/api/v1/session"},
	} {
		r := b.call(req.method, req.path, nil)
		p := requireProblem(t, req.method+" "+req.path+" with Redis down", r, 503, "store_unavailable")
		if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 || p.Status != 503 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	_, r := e.client().post("begin", map[string]any{"username": "wes"})
	requireProblem(t, "begin with Redis down", r, 503, "store_unavailable")
	if b.cookie("mutualauth_session") == "" {
		t.Fatal("an outage logged the client out")
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The client's pool redials in the background; the server recovers
	// without a restart once it has.
	r = b.call("GET", "/api/v1/session", nil)
	for deadline := time.Now().Add(30 * time.Second); r.status == 503 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		r = b.call("GET", "/api/v1/session", nil)
	}
	requireOK(t, "session after Redis returns", r)
	requireOK(t, "verify after Redis returns", b.call("GET", "/auth/verify", nil))
	_, r = e.client().post("begin", map[string]any{"username": "wes"})
	requireOK(t, "begin after Redis returns", r)
}
