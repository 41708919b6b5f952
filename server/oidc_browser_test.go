package server

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"mutualauth/store"
)

// page fetches a page of the provider with b's cookies (redirects followed).
func (b *loginClient) page(t *testing.T, method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := path
	if strings.HasPrefix(path, "/") {
		u = b.e.URL + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, raw := b.send(t, req, hdr)
	return resp, string(raw)
}

func TestOIDCPromptNoneWithoutSessionIsLoginRequired(t *testing.T) {
	e := newLoginEnv(t, nil)
	rp := e.newRP("App", nil)
	a := newAuthorization(oauth2.SetAuthURLParam("prompt", "none"))
	q := rp.authorize(e.client(), a)
	if q.Get("error") != "login_required" || q.Get("state") != a.state || q.Get("iss") != e.URL {
		t.Fatalf("prompt=none without a session: %v", q)
	}
	// With a session prompt=none answers with a code.
	b, _ := e.signedIn("ivy")
	if code := rp.code(b, newAuthorization(oauth2.SetAuthURLParam("prompt", "none"))); code == "" {
		t.Fatal("no code for prompt=none with a session")
	}
}

func TestOIDCLoginHandOffNamesTheAppAndSSO(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("jo")
	b := e.client()
	rp := e.newRP("Grafana", nil)
	a := newAuthorization(oauth2.SetAuthURLParam("login_hint", "jo"))
	// Without a session the browser lands on the hosted login page, which
	// names the app asking and fills in login_hint.
	u, resp := b.browse(t, rp.oauth.AuthCodeURL(a.state, a.opts...), rpRedirect)
	if u != nil || resp.Request.URL.Path != "/login" {
		t.Fatalf("no session: ended at %v %v", u, resp.Request.URL)
	}
	_, body := b.page(t, "GET", resp.Request.URL.RequestURI(), nil)
	if !strings.Contains(body, `id="login-app"`) || !strings.Contains(body, "Grafana") {
		t.Fatal("the login page does not name the app")
	}
	if !strings.Contains(body, `value="jo"`) {
		t.Error("the login page does not fill in login_hint")
	}
	returnTo := resp.Request.URL.Query().Get("return_to")
	if !strings.HasPrefix(returnTo, "/oidc/continue?id=") {
		t.Fatalf("return_to %q", returnTo)
	}
	// The mutual login runs, then the page goes back to return_to.
	b.login(m, "", "otp")
	u, _ = b.browse(t, e.URL+returnTo, rpRedirect)
	if u == nil || u.Query().Get("code") == "" || u.Query().Get("iss") != e.URL {
		t.Fatalf("after the login: %v", u)
	}
	tok, err := rp.exchange(u.Query().Get("code"), a)
	if err != nil {
		t.Fatal(err)
	}
	first, firstClaims := rp.verify(tok, a)
	firstAuth := firstClaims["auth_time"].(float64)

	// Single sign-on into a second app: no login page.
	second := e.newRP("Gitea", nil)
	a2 := newAuthorization()
	tok2, err := second.exchange(second.code(b, a2), a2)
	if err != nil {
		t.Fatal(err)
	}
	idt2, c2 := second.verify(tok2, a2)
	if idt2.Subject != first.Subject || c2["auth_time"].(float64) != firstAuth {
		t.Errorf("SSO: sub %s auth_time %v, want %s %v", idt2.Subject, c2["auth_time"], first.Subject, firstAuth)
	}

	// prompt=login asks for a fresh login even with a session.
	e.clk.Advance(time.Second)
	a3 := newAuthorization(oauth2.SetAuthURLParam("prompt", "login"))
	u, resp = b.browse(t, second.oauth.AuthCodeURL(a3.state, a3.opts...), rpRedirect)
	if u != nil || resp.Request.URL.Path != "/login" {
		t.Fatalf("prompt=login: ended at %v %v", u, resp.Request.URL)
	}
	e.clk.Advance(31 * time.Second)
	b.login(m, "", "otp")
	u, _ = b.browse(t, e.URL+resp.Request.URL.Query().Get("return_to"), rpRedirect)
	if u == nil || u.Query().Get("code") == "" {
		t.Fatalf("after the fresh login: %v", u)
	}
	tok3, err := second.exchange(u.Query().Get("code"), a3)
	if err != nil {
		t.Fatal(err)
	}
	_, c3 := second.verify(tok3, a3)
	if c3["auth_time"].(float64) <= firstAuth {
		t.Errorf("prompt=login: auth_time %v not after %v", c3["auth_time"], firstAuth)
	}

	// max_age: a login older than max_age seconds needs a new one.
	e.clk.Advance(20 * time.Second)
	a4 := newAuthorization(oauth2.SetAuthURLParam("max_age", "10"))
	u, resp = b.browse(t, rp.oauth.AuthCodeURL(a4.state, a4.opts...), rpRedirect)
	if u != nil || resp.Request.URL.Path != "/login" {
		t.Fatalf("max_age=10 with a 20 s old login: ended at %v %v", u, resp.Request.URL)
	}
	a5 := newAuthorization(oauth2.SetAuthURLParam("max_age", "3600"))
	if code := rp.code(b, a5); code == "" {
		t.Fatal("max_age=3600: no code")
	}
}

func TestOIDCLogout(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, _ := e.signedIn("kai")
	rp := e.newRP("App", nil)
	a := newAuthorization()
	tok, err := rp.exchange(rp.code(b, a), a)
	if err != nil {
		t.Fatal(err)
	}
	idToken := tok.Extra("id_token").(string)
	endpoint := rp.discovered("end_session_endpoint")

	// An unregistered post-logout URI is refused, not followed.
	u, resp := b.browse(t, e.URL+endpoint+"?"+url.Values{"id_token_hint": {idToken},
		"post_logout_redirect_uri": {"https://evil.example/"}}.Encode(), "https://")
	if u != nil || resp.StatusCode < 400 {
		t.Fatalf("unregistered post_logout_redirect_uri: %v %d", u, resp.StatusCode)
	}
	if r := b.call("GET", "/api/v1/session", nil); r.status != 200 {
		t.Fatal("a refused logout ended the session")
	}

	// Without id_token_hint another site only gets the confirmation page.
	_, body := b.page(t, "GET", endpoint+"?"+url.Values{"client_id": {rp.client.ID},
		"post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"st"}}.Encode(), nil)
	if !strings.Contains(body, `id="logout-confirm"`) || !strings.Contains(body, "App") {
		t.Fatal("no confirmation page")
	}
	if r := b.call("GET", "/api/v1/session", nil); r.status != 200 {
		t.Fatal("the confirmation page ended the session")
	}

	// With id_token_hint: the session ends, the browser goes to the
	// registered post-logout URI with state.
	u, _ = b.browse(t, e.URL+endpoint+"?"+url.Values{"id_token_hint": {idToken},
		"post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"xyz"}}.Encode(), "https://app.example/")
	if u == nil || u.Path != "/bye" || u.Query().Get("state") != "xyz" {
		t.Fatalf("logout redirect: %v", u)
	}
	if r := b.call("GET", "/api/v1/session", nil); r.status != 401 {
		t.Fatalf("session after logout: %d, want 401", r.status)
	}
	if len(e.audit("oidc.logout", "success")) != 1 {
		t.Error("logout not audited")
	}

	// The confirmation form (same origin) ends a session too.
	b2, _ := e.signedIn("lea")
	hc := *b2.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	b2c := &loginClient{e: e, hc: &hc}
	resp, _ = b2c.page(t, "POST", endpoint, url.Values{"client_id": {rp.client.ID},
		"post_logout_redirect_uri": {"https://app.example/bye"}}, "Origin", e.URL, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "https://app.example/bye") {
		t.Fatalf("confirmed logout: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if r := b2.call("GET", "/api/v1/session", nil); r.status != 401 {
		t.Fatalf("session after confirmed logout: %d, want 401", r.status)
	}
}

func TestOIDCDeviceFlow(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, m := e.signedIn("max")
	rp := e.newRP("TV app", func(c *store.Client) { c.Public = true }) // x/oauth2 sends no secret here
	rp.oauth.Scopes = append(rp.oauth.Scopes, "offline_access")
	ctx := context.Background()
	da, err := rp.oauth.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if da.UserCode == "" || !strings.HasPrefix(da.VerificationURI, e.URL+"/oidc/device") {
		t.Fatalf("device authorization: %+v", da)
	}
	// Polling before the user answered: authorization_pending.
	status, _, out := rp.form(strings.TrimPrefix(rp.oauth.Endpoint.TokenURL, e.URL), url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode},
		"client_id": {rp.client.ID}})
	if status != 400 || out["error"] != "authorization_pending" {
		t.Fatalf("early poll: %d %v", status, out)
	}
	// Behind the login: the page asks for the code, then names the app.
	_, body := b.page(t, "GET", da.VerificationURIComplete, nil)
	if !strings.Contains(body, da.UserCode) {
		t.Fatal("verification_uri_complete does not prefill the code")
	}
	same := []string{"Origin", e.URL, "Sec-Fetch-Site", "same-origin"}
	_, body = b.page(t, "POST", "/oidc/device", url.Values{"user_code": {strings.ToLower(da.UserCode)}}, same...)
	if !strings.Contains(body, `id="device-app"`) || !strings.Contains(body, "TV app") {
		t.Fatal("the confirmation does not name the app")
	}
	_, body = b.page(t, "POST", "/oidc/device", url.Values{"user_code": {da.UserCode}, "decision": {"approve"}}, same...)
	if !strings.Contains(body, `id="device-done"`) {
		t.Fatalf("approval: %s", body)
	}
	tok, err := rp.oauth.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	idt, _ := rp.verify(tok, authorization{})
	if idt.Subject != m.User.ID || tok.RefreshToken == "" {
		t.Fatalf("device tokens: sub %s refresh %q", idt.Subject, tok.RefreshToken)
	}
	// The device code yields tokens once.
	status, _, out = rp.form(strings.TrimPrefix(rp.oauth.Endpoint.TokenURL, e.URL), url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode},
		"client_id": {rp.client.ID}})
	if status == 200 {
		t.Fatalf("device code used twice: %v", out)
	}
	if len(e.audit("oidc.device", "approved")) != 1 {
		t.Error("device consent not audited")
	}

	// Denied: access_denied.
	da, err = rp.oauth.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.page(t, "POST", "/oidc/device", url.Values{"user_code": {da.UserCode}, "decision": {"deny"}}, same...)
	status, _, out = rp.form(strings.TrimPrefix(rp.oauth.Endpoint.TokenURL, e.URL), url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode},
		"client_id": {rp.client.ID}})
	if out["error"] != "access_denied" {
		t.Fatalf("denied device: %d %v", status, out)
	}
	// Without a session the verification page sends the browser to the login.
	resp, _ := e.client().page(t, "GET", "/oidc/device", nil)
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("device page without a session: %s", resp.Request.URL)
	}
}

func TestOIDCClientAuthenticationThrottled(t *testing.T) {
	e := newLoginEnv(t, nil)
	rp := e.newRP("App", nil)
	rp.secret = "wrong secret"
	token := rp.discovered("token_endpoint")
	try := func() (int, http.Header) {
		status, hdr, _ := rp.form(token, url.Values{"grant_type": {"authorization_code"}, "code": {"x"},
			"redirect_uri": {rpRedirect}})
		return status, hdr
	}
	for i := range 5 {
		if status, hdr := try(); status != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("failure %d: %d %q, want 401 with a Basic challenge", i+1, status, hdr.Get("WWW-Authenticate"))
		}
	}
	status, hdr := try()
	if status != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d Retry-After %q, want 429 with Retry-After", status, hdr.Get("Retry-After"))
	}
	// The IP is throttled too: another client id from the same IP.
	other := e.newRP("Other", nil)
	other.secret = "also wrong"
	if status, _, _ := other.form(token, url.Values{"grant_type": {"authorization_code"}, "code": {"x"},
		"redirect_uri": {rpRedirect}}); status != 429 {
		t.Fatalf("another client from the throttled IP: %d, want 429", status)
	}
	if len(e.audit("oidc.client_auth", "throttled")) == 0 || len(e.audit("oidc.client_auth", "invalid_client")) != 5 {
		t.Error("client authentication failures not audited")
	}
}
