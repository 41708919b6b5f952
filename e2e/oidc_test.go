package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OpenID Connect in headless Chromium against the real binary: an app (a
// relying party written with coreos/go-oidc and x/oauth2, running in this
// test) sends the browser to the provider, the hosted login page names the
// app and runs the mutual login (TOTP, or password and passkey), the app
// gets its code, exchanges it and verifies the ID token; a second app then
// signs in through single sign-on without any login page.

// oidcApp is a relying party: /start begins a code flow with PKCE, state and
// nonce; /callback checks iss and state, exchanges the code, verifies the ID
// token and shows who signed in.
type oidcApp struct {
	t      *testing.T
	name   string
	srv    *httptest.Server
	oauth  oauth2.Config
	verify *gooidc.IDTokenVerifier
	issuer string

	mu      sync.Mutex
	pending map[string][2]string // state -> nonce, verifier
	signed  []map[string]any     // the verified ID tokens' claims
}

func newOIDCApp(t *testing.T, s *Server, name string) *oidcApp {
	t.Helper()
	a := &oidcApp{t: t, name: name, issuer: s.URL(), pending: map[string][2]string{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	out := s.Command(t, "admin", "client", "create", "--name", name, "--redirect-uri", a.srv.URL+"/callback")
	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ClientSecret == "" {
		t.Fatalf("admin client create printed %q: %v", out, err)
	}
	p, err := gooidc.NewProvider(context.Background(), s.URL())
	if err != nil {
		t.Fatal(err)
	}
	a.oauth = oauth2.Config{ClientID: created.ClientID, ClientSecret: created.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: a.srv.URL + "/callback", Scopes: []string{gooidc.ScopeOpenID, "profile", "email"}}
	a.verify = p.Verifier(&gooidc.Config{ClientID: created.ClientID})
	return a
}

func oidcRandom() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *oidcApp) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/start":
		state, nonce, verifier := oidcRandom(), oidcRandom(), oauth2.GenerateVerifier()
		a.mu.Lock()
		a.pending[state] = [2]string{nonce, verifier}
		a.mu.Unlock()
		http.Redirect(w, r, a.oauth.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	case "/callback":
		q := r.URL.Query()
		a.mu.Lock()
		p, ok := a.pending[q.Get("state")]
		delete(a.pending, q.Get("state"))
		a.mu.Unlock()
		fail := func(format string, args ...any) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<p id="app-error">%s</p>`, html.EscapeString(fmt.Sprintf(format, args...)))
		}
		if !ok || q.Get("iss") != a.issuer || q.Get("code") == "" {
			fail("bad authorization response: %s", r.URL.RawQuery)
			return
		}
		tok, err := a.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(p[1]))
		if err != nil {
			fail("code exchange: %v", err)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := a.verify.Verify(r.Context(), raw)
		if err != nil || idt.Nonce != p[0] {
			fail("ID token: %v", err)
			return
		}
		var claims map[string]any
		_ = idt.Claims(&claims)
		a.mu.Lock()
		a.signed = append(a.signed, claims)
		a.mu.Unlock()
		fmt.Fprintf(w, `<!doctype html><title>%s</title><h1>%s</h1><p>Signed in as <b id="app-user">%s</b></p>`,
			html.EscapeString(a.name), html.EscapeString(a.name), html.EscapeString(fmt.Sprint(claims["preferred_username"])))
	default:
		http.NotFound(w, r)
	}
}

func (a *oidcApp) lastClaims() map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.signed) == 0 {
		return nil
	}
	return a.signed[len(a.signed)-1]
}

// oidcWaitApp waits until the browser shows the app's signed-in page.
func oidcWaitApp(t *testing.T, ctx context.Context, a *oidcApp) string {
	t.Helper()
	var user string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if strings.HasPrefix(loc, a.srv.URL+"/callback") {
			errText, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("app-error")||{}).textContent||""`))
			if errText != "" {
				t.Fatalf("the app refused the sign-in: %s", errText)
			}
			user, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("app-user")||{}).textContent||""`))
			if user != "" {
				return user
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the browser did not come back to %s signed in", a.name)
	return ""
}

func oidcLoginApp(t *testing.T, ctx context.Context) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("no login page: %v", err)
	}
	app, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("login-app")))
	if err != nil {
		t.Fatalf("the login page does not name the app: %v", err)
	}
	return app
}

func TestOIDCCodeFlowThroughTheLoginPage(t *testing.T) {
	s := startServer(t, ServerOptions{})
	grafana := newOIDCApp(t, s, "Grafana")
	gitea := newOIDCApp(t, s, "Gitea")

	t.Run("TOTP and single sign-on", func(t *testing.T) {
		ctx := newBrowser(t)
		alice := loginEnroll(t, s, ctx, "alice", "quiet amber lantern", loginTOTP)
		if err := chromedp.Do(ctx, chromedp.Navigate(grafana.srv.URL+"/start")); err != nil {
			t.Fatal(err)
		}
		if app := oidcLoginApp(t, ctx); !strings.Contains(app, "Grafana") {
			t.Fatalf("the login page names %q, want Grafana", app)
		}
		screenshot(t, ctx, "login-names-the-app")
		oidcPhoneScreenshot(t, ctx, "login-names-the-app-phone")
		loginType(t, ctx, "username", "alice")
		loginWaitFor(t, ctx, "password", "stop")
		loginType(t, ctx, "password", loginPassword)
		loginWaitFor(t, ctx, "otp", "stop")
		loginType(t, ctx, "otp", loginTOTPCode(t, alice.TOTPSecret, time.Now()))
		if user := oidcWaitApp(t, ctx, grafana); user != "alice" {
			t.Fatalf("Grafana signed in %q, want alice", user)
		}
		screenshot(t, ctx, "back-in-the-app")
		c := grafana.lastClaims()
		if amr, _ := json.Marshal(c["amr"]); string(amr) != `["pwd","otp","mfa"]` {
			t.Errorf("amr %s", amr)
		}

		// Single sign-on: the second app gets a code without a login page.
		if err := chromedp.Do(ctx, chromedp.Navigate(gitea.srv.URL+"/start")); err != nil {
			t.Fatal(err)
		}
		if user := oidcWaitApp(t, ctx, gitea); user != "alice" {
			t.Fatalf("Gitea signed in %q, want alice", user)
		}
		if g := gitea.lastClaims(); g["sub"] != c["sub"] || g["auth_time"] != c["auth_time"] {
			t.Errorf("SSO: sub %v auth_time %v, want %v %v", g["sub"], g["auth_time"], c["sub"], c["auth_time"])
		}

		oidcDeviceFlow(t, ctx, s)
		oidcLogout(t, ctx, s, grafana)
	})

	t.Run("passkey", func(t *testing.T) {
		ctx := newBrowser(t)
		enableVirtualAuthenticator(t, ctx)
		noAutofill(t, ctx) // it signs in by username
		loginEnroll(t, s, ctx, "carol", "copper kettle singing", loginPasskey)
		if err := chromedp.Do(ctx, chromedp.Navigate(gitea.srv.URL+"/start")); err != nil {
			t.Fatal(err)
		}
		if app := oidcLoginApp(t, ctx); !strings.Contains(app, "Gitea") {
			t.Fatalf("the login page names %q, want Gitea", app)
		}
		loginType(t, ctx, "username", "carol")
		loginWaitFor(t, ctx, "password", "stop")
		loginType(t, ctx, "password", loginPassword)
		loginWaitFor(t, ctx, "webauthn-button", "stop")
		loginClick(t, ctx, "webauthn-button")
		if user := oidcWaitApp(t, ctx, gitea); user != "carol" {
			t.Fatalf("Gitea signed in %q, want carol", user)
		}
		if amr, _ := json.Marshal(gitea.lastClaims()["amr"]); string(amr) != `["pwd","hwk","mfa"]` {
			t.Errorf("amr %s", amr)
		}
	})
}

// oidcDeviceFlow runs the device authorization grant (RFC 8628) with a
// public client from Go and approves it on the verification page in the
// signed-in browser.
func oidcDeviceFlow(t *testing.T, ctx context.Context, s *Server) {
	t.Helper()
	out := s.Command(t, "admin", "client", "create", "--name", "Living room TV", "--public", "--redirect-uri", "http://127.0.0.1/callback")
	var created struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("admin client create printed %q: %v", out, err)
	}
	p, err := gooidc.NewProvider(context.Background(), s.URL())
	if err != nil {
		t.Fatal(err)
	}
	tv := oauth2.Config{ClientID: created.ClientID, Endpoint: p.Endpoint(), Scopes: []string{gooidc.ScopeOpenID, "profile"}}
	da, err := tv.DeviceAuth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(da.VerificationURIComplete), chromedp.WaitVisible(chromedp.ID("user_code"))); err != nil {
		t.Fatalf("verification page: %v", err)
	}
	screenshot(t, ctx, "device-code")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#device button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("device-approve"))); err != nil {
		t.Fatalf("submit the code: %v", err)
	}
	app, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("device-app")))
	if app != "Living room TV" {
		t.Fatalf("the verification page names %q, want the app", app)
	}
	screenshot(t, ctx, "device-confirm")
	oidcPhoneScreenshot(t, ctx, "device-confirm-phone")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("device-approve")), chromedp.WaitVisible(chromedp.ID("device-done"))); err != nil {
		t.Fatalf("approve: %v", err)
	}
	screenshot(t, ctx, "device-done")
	tok, err := tv.DeviceAccessToken(context.Background(), da)
	if err != nil {
		t.Fatalf("device token: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&gooidc.Config{ClientID: created.ClientID}).Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("device ID token: %v", err)
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	if claims["preferred_username"] != "alice" {
		t.Errorf("device signed in %v, want alice", claims["preferred_username"])
	}
}

// oidcLogout runs RP-initiated logout without id_token_hint: the user
// confirms on our page, the session ends and the browser goes to the app's
// registered post-logout URI... which this app has none of, so the
// provider's default (the login page) follows.
func oidcLogout(t *testing.T, ctx context.Context, s *Server, a *oidcApp) {
	t.Helper()
	p, err := gooidc.NewProvider(context.Background(), s.URL())
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&d); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(d.EndSession+"?client_id="+a.oauth.ClientID),
		chromedp.WaitVisible(chromedp.ID("logout-confirm"))); err != nil {
		t.Fatalf("logout confirmation: %v", err)
	}
	screenshot(t, ctx, "logout-confirm")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("logout-confirm")), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatalf("confirm logout: %v", err)
	}
	status := loginJS[int](t, ctx, `return (await fetch("/api/v1/session", {credentials: "same-origin"})).status;`)
	if status != http.StatusUnauthorized {
		t.Fatalf("session after logout: %d, want 401", status)
	}
}

// oidcPhoneScreenshot takes a screenshot at a 390 px phone width, then
// goes back to the desktop width.
func oidcPhoneScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, name)
	if _, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
}
