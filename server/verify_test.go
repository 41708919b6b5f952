package server

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestForwardAuthVerify(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("xena")
	b := e.client()

	r := b.call("GET", "/auth/verify", nil)
	requireProblem(t, "no session", r, 401, "unauthenticated")
	if r.header.Get("Remote-User") != "" || r.header.Get("X-Mutualauth-Login") != "" {
		t.Fatalf("401 carries %v", r.header)
	}
	r = b.call("GET", "/auth/verify", nil,
		"X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example", "X-Forwarded-Uri", "/docs?page=2")
	requireProblem(t, "no session behind a proxy", r, 401, "unauthenticated")
	want := e.URL + "/login?return_to=" + url.QueryEscape("https://app.example/docs?page=2")
	if got := r.header.Get("X-Mutualauth-Login"); got != want {
		t.Fatalf("login hint %q, want %q", got, want)
	}

	b.login(m, "", "otp")
	var sess struct {
		AMR []string `json:"amr"`
	}
	if r := b.call("GET", "/api/v1/session", nil); r.status != 200 || json.Unmarshal(r.body, &sess) != nil || len(sess.AMR) < 2 {
		t.Fatalf("session: %d %s", r.status, r.body)
	}
	for _, method := range []string{"GET", "HEAD", "POST"} {
		r = b.call(method, "/auth/verify", nil)
		if r.status != 200 || r.header.Get("Remote-User") != "xena" || r.header.Get("Remote-Name") != "Display xena" ||
			r.header.Get("Remote-Groups") != "user" || r.header.Get("Remote-Amr") != strings.Join(sess.AMR, ",") {
			t.Fatalf("%s verify: %d %v", method, r.status, r.header)
		}
	}

	// A non-browser client may present the token as a bearer token.
	tok := b.cookie("mutualauth_session")
	r = e.client().call("GET", "/auth/verify", nil, "Authorization", "Bearer "+tok)
	if r.status != 200 || r.header.Get("Remote-User") != "xena" {
		t.Fatalf("bearer verify: %d", r.status)
	}
	last := "A"
	if tok[len(tok)-1] == 'A' {
		last = "E"
	}
	r = e.client().call("GET", "/auth/verify", nil, "Authorization", "Bearer "+tok[:len(tok)-1]+last)
	requireProblem(t, "wrong bearer", r, 401, "unauthenticated")

	// The answer comes from the session alone: it holds with the
	// database closed.
	if err := e.Deps.Durable.Close(); err != nil {
		t.Fatal(err)
	}
	r = b.call("GET", "/auth/verify", nil)
	if r.status != 200 || r.header.Get("Remote-User") != "xena" {
		t.Fatalf("verify with the database closed: %d %s", r.status, r.body)
	}

	if r := b.call("DELETE", "/api/v1/session", nil); r.status != 204 {
		t.Fatalf("logout: %d", r.status)
	}
	requireProblem(t, "after logout", e.client().call("GET", "/auth/verify", nil, "Authorization", "Bearer "+tok), 401, "unauthenticated")
}
