package server

import (
	"strings"
	"testing"
)

func TestRootSendsToSignInOrAccount(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("rita")
	stranger := e.client().adminNoRedirects()
	if r := stranger.call("GET", "/", nil); r.status != 303 || r.header.Get("Location") != "/login" {
		t.Fatalf("GET / signed out: %d %q", r.status, r.header.Get("Location"))
	}
	b := e.client()
	b.login(m, "", "otp")
	b.adminNoRedirects()
	if r := b.call("GET", "/", nil); r.status != 303 || r.header.Get("Location") != "/account" {
		t.Fatalf("GET / signed in: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestFaviconServed(t *testing.T) {
	e := newLoginEnv(t, nil)
	r := e.client().call("GET", "/favicon.ico", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(r.body), "<svg") {
		t.Fatalf("favicon: %d %q", r.status, r.header.Get("Content-Type"))
	}
	page := e.client().call("GET", "/login", nil, "Accept", "text/html")
	if !strings.Contains(string(page.body), `rel="icon" href="/static/favicon.svg"`) {
		t.Fatal("the pages do not name their icon")
	}
	if r := e.client().call("GET", "/static/favicon.svg", nil); r.status != 200 {
		t.Fatalf("/static/favicon.svg: %d", r.status)
	}
}

func TestTOTPIssuerNamesTheProduct(t *testing.T) {
	for host, want := range map[string]string{
		"localhost": "mutualauth", "127.0.0.1": "mutualauth", "::1": "mutualauth",
		"login.example.com": "mutualauth (login.example.com)",
	} {
		if got := totpIssuer(host); got != want {
			t.Errorf("totpIssuer(%q) = %q, want %q", host, got, want)
		}
	}
}
