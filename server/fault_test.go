package server

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mutualauth/store/redis/redistest"
)

// TestNoSilentLogoutOnAnyRoute stops the session store and sends every
// route of the application a request with a live session: each route that
// needs a session (anonymous: 401, or a redirect to /login) must now answer
// 503 store_unavailable, never 401, a redirect to /login or 200, and no
// route may fail with another 5xx or take longer than a few seconds. The
// session is still there when Redis is back (AOF). The real-process
// version, with logins running, is e2e/fault_test.go.
func TestNoSilentLogoutOnAnyRoute(t *testing.T) {
	rs := redistest.StartT(t, "--appendonly", "yes", "--appendfsync", "always")
	t.Setenv(redistest.EnvURL, rs.URL())
	e := newCountingEnv(t, "http", nil)
	inviteTok, _ := (&testServer{Deps: e.Deps}).invite(t, "outage", "")
	samples := routeSamples(e.App, map[string]string{"token": inviteTok, "name": "login.js"})
	sessionTok, _ := newAdminSession(t, e)
	cookie := (&SessionManager{}).CookieName() + "=" + sessionTok

	// send may run on any goroutine: it reports a failed request in the
	// reply's status (0) instead of failing the test.
	send := func(s routeSample, hdr ...string) httpReply {
		var body io.Reader
		if stateChanging(s.method) {
			body = strings.NewReader("{}")
		}
		req, err := http.NewRequest(s.method, e.URL+s.path, body)
		if err != nil {
			return httpReply{body: []byte(err.Error())}
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "text/html,application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
		resp, err := client.Do(req)
		if err != nil {
			return httpReply{body: []byte(err.Error())}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return httpReply{status: resp.StatusCode, header: resp.Header, body: b}
	}
	samples = slices.DeleteFunc(samples, func(s routeSample) bool {
		switch s.method {
		case "PROPFIND", "REPORT", http.MethodTrace:
			return true
		}
		return false
	})
	needsSession := map[string]bool{}
	for _, s := range samples {
		r := send(s)
		var p Problem
		_ = json.Unmarshal(r.body, &p)
		if (r.status == http.StatusUnauthorized && (p.Code == "unauthenticated" || len(r.body) == 0)) ||
			(r.status == http.StatusSeeOther && strings.HasPrefix(r.header.Get("Location"), "/login")) {
			needsSession[s.method+" "+s.path] = true
		}
	}
	if len(needsSession) < 4 {
		t.Fatalf("only %d routes need a session: %v", len(needsSession), needsSession)
	}

	if err := rs.Stop(); err != nil {
		t.Fatal(err)
	}
	replies := make([]httpReply, len(samples))
	took := make([]time.Duration, len(samples))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8)
	for i, s := range samples {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			start := time.Now()
			replies[i] = send(s, "Cookie", cookie)
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i, s := range samples {
		what, r := s.method+" "+s.path, replies[i]
		if took[i] > 3*time.Second {
			t.Errorf("%s with Redis down took %s", what, took[i])
		}
		if r.status == 0 {
			t.Errorf("%s with Redis down: %s", what, r.body)
		}
		if r.status >= 500 && r.status != http.StatusServiceUnavailable && r.status != http.StatusNotImplemented {
			t.Errorf("%s with Redis down: %d %s", what, r.status, r.body)
		}
		if needsSession[what] {
			var p Problem
			isJSON := json.Unmarshal(r.body, &p) == nil
			if r.status != http.StatusServiceUnavailable || (isJSON && p.Code != "store_unavailable") {
				t.Errorf("%s with Redis down and a live session: %d %s (want 503 store_unavailable)", what, r.status,
					r.header.Get("Location"))
			}
		}
	}

	if err := rs.Restart(); err != nil {
		t.Fatal(err)
	}
	r := e.raw("GET", "/api/v1/session", "", nil, "Cookie", cookie)
	for deadline := time.Now().Add(20 * time.Second); r.status == http.StatusServiceUnavailable && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		r = e.raw("GET", "/api/v1/session", "", nil, "Cookie", cookie)
	}
	requireOK(t, "the session once Redis is back", r)
}
