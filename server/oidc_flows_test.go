package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"mutualauth/store"
)

// tokenError returns the OAuth error code of a failed token request.
func tokenError(t *testing.T, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want an OAuth error, got %v", err)
	}
	return re.ErrorCode
}

// form posts a form to the provider with the client's Basic credentials.
func (rp *relyingParty) form(path string, v url.Values) (int, http.Header, map[string]any) {
	t := rp.e.t
	t.Helper()
	req, err := http.NewRequest("POST", rp.e.URL+path, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if rp.secret != "" {
		req.SetBasicAuth(url.QueryEscape(rp.client.ID), url.QueryEscape(rp.secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, resp.Header, out
}

func (rp *relyingParty) discovered(key string) string {
	var d map[string]any
	if err := rp.provider.Claims(&d); err != nil {
		rp.e.t.Fatal(err)
	}
	return strings.TrimPrefix(d[key].(string), rp.e.URL)
}

func (rp *relyingParty) userinfoStatus(accessToken string) int {
	req, _ := http.NewRequest("GET", rp.e.URL+rp.discovered("userinfo_endpoint"), nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rp.e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func offline() authorization {
	return newAuthorization()
}

// login with offline_access and return the token response.
func (rp *relyingParty) offlineTokens(b *loginClient) (*oauth2.Token, authorization) {
	t := rp.e.t
	t.Helper()
	rp.oauth.Scopes = append(rp.oauth.Scopes, gooidc.ScopeOfflineAccess)
	a := offline()
	tok, err := rp.exchange(rp.code(b, a), a)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}
	return tok, a
}

func (rp *relyingParty) refresh(rt string) (*oauth2.Token, error) {
	return rp.oauth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
}

func TestOIDCCodeSingleUseReplayRevokes(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, _ := e.signedIn("bob")
	rp := e.newRP("App", nil)
	rp.oauth.Scopes = append(rp.oauth.Scopes, gooidc.ScopeOfflineAccess)
	a := newAuthorization()
	code := rp.code(b, a)
	tok, err := rp.exchange(code, a)
	if err != nil {
		t.Fatal(err)
	}
	if rp.userinfoStatus(tok.AccessToken) != 200 {
		t.Fatal("userinfo refused a fresh access token")
	}
	_, err = rp.exchange(code, a)
	if got := tokenError(t, err); got != "invalid_grant" {
		t.Fatalf("code replay: %s, want invalid_grant", got)
	}
	// What the first exchange issued is revoked.
	if s := rp.userinfoStatus(tok.AccessToken); s != 401 {
		t.Errorf("userinfo after code replay: %d, want 401", s)
	}
	if _, err := rp.refresh(tok.RefreshToken); err == nil || tokenError(t, err) != "invalid_grant" {
		t.Errorf("refresh after code replay: %v, want invalid_grant", err)
	}
	if len(e.audit("oidc.token", "code_reuse")) != 1 {
		t.Error("code reuse not audited")
	}
}

func TestOIDCCodeExpiresAfter60s(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, _ := e.signedIn("cy")
	rp := e.newRP("App", nil)
	a := newAuthorization()
	code := rp.code(b, a)
	// Codes live in the ephemeral store with a 60 s TTL; wait it out.
	if testing.Short() {
		raw, err := e.Deps.Ephemeral.Get(context.Background(), "oidc:code:"+hashHex(code))
		if err != nil || len(raw) == 0 {
			t.Fatalf("code not stored: %v", err)
		}
		if err := e.Deps.Ephemeral.Delete(context.Background(), "oidc:code:"+hashHex(code)); err != nil {
			t.Fatal(err)
		}
	} else {
		time.Sleep(61 * time.Second)
	}
	_, err := rp.exchange(code, a)
	if got := tokenError(t, err); got != "invalid_grant" {
		t.Fatalf("expired code: %s, want invalid_grant", got)
	}
}

func TestOIDCCodeBoundToClientRedirectAndPKCE(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, _ := e.signedIn("dee")
	rp := e.newRP("App", nil)
	other := e.newRP("Other", nil)

	a := newAuthorization()
	_, err := other.exchange(rp.code(b, a), a)
	if got := tokenError(t, err); got != "invalid_grant" {
		t.Errorf("code of another client: %s, want invalid_grant", got)
	}
	a = newAuthorization()
	code := rp.code(b, a)
	wrong := rp.oauth
	wrong.RedirectURL = "https://app.example/elsewhere"
	_, err = wrong.Exchange(context.Background(), code, oauth2.VerifierOption(a.verifier))
	if got := tokenError(t, err); got != "invalid_grant" {
		t.Errorf("other redirect_uri: %s, want invalid_grant", got)
	}
	// A confidential client that sent a challenge must send its verifier.
	a = newAuthorization()
	_, err = rp.oauth.Exchange(context.Background(), rp.code(b, a))
	if got := tokenError(t, err); got != "invalid_request" && got != "invalid_grant" {
		t.Errorf("missing code_verifier: %s, want invalid_request", got)
	}
	a = newAuthorization()
	_, err = rp.oauth.Exchange(context.Background(), rp.code(b, a), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	if got := tokenError(t, err); got != "invalid_grant" {
		t.Errorf("wrong code_verifier: %s, want invalid_grant", got)
	}
}

func TestOIDCPublicClientNeedsPKCES256(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, _ := e.signedIn("eve")
	rp := e.newRP("CLI", func(c *store.Client) {
		c.Public = true
		c.RedirectURIs = []string{"http://127.0.0.1/callback"}
	})
	// No challenge: refused at the redirect URI.
	a := authorization{state: "s1", nonce: "n1"}
	q := rp.authorize(b, a)
	if q.Get("error") != "invalid_request" || q.Get("iss") != e.URL || q.Get("state") != "s1" {
		t.Errorf("public client without PKCE: %v", q)
	}
	// plain is refused for everyone.
	a = authorization{state: "s2", opts: []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("code_challenge", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq"),
		oauth2.SetAuthURLParam("code_challenge_method", "plain")}}
	if q := rp.authorize(b, a); q.Get("error") != "invalid_request" {
		t.Errorf("plain PKCE: %v", q)
	}
	// With S256 the public client gets tokens without a secret.
	a = newAuthorization()
	tok, err := rp.exchange(rp.code(b, a), a)
	if err != nil {
		t.Fatal(err)
	}
	rp.verify(tok, a)
}

func TestOIDCLoopbackAnyPortForNativeClients(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, _ := e.signedIn("fay")
	native := e.newRP("CLI", func(c *store.Client) {
		c.Public = true
		c.RedirectURIs = []string{"http://127.0.0.1/callback"}
	})
	native.oauth.RedirectURL = "http://127.0.0.1:53682/callback"
	a := newAuthorization()
	tok, err := native.exchange(native.code(b, a), a)
	if err != nil {
		t.Fatal(err)
	}
	native.verify(tok, a)
	// Another path on the loopback is not registered: an error page.
	native.oauth.RedirectURL = "http://127.0.0.1:53682/other"
	u, resp := b.browse(t, native.oauth.AuthCodeURL("s", newAuthorization().opts...), "http://127.0.0.1")
	if u != nil || resp.StatusCode != 400 {
		t.Errorf("unregistered loopback path: redirected to %v / %d", u, resp.StatusCode)
	}
	// A web client's redirect URIs match exactly, ports included.
	web := e.newRP("Web", func(c *store.Client) { c.RedirectURIs = []string{"http://127.0.0.1:8080/cb"} })
	web.oauth.RedirectURL = "http://127.0.0.1:8081/cb"
	u, resp = b.browse(t, web.oauth.AuthCodeURL("s", newAuthorization().opts...), "http://127.0.0.1")
	if u != nil || resp.StatusCode != 400 {
		t.Errorf("web client on another port: redirected to %v / %d", u, resp.StatusCode)
	}
}

func TestOIDCUnknownClientOrRedirectShowsErrorPage(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, _ := e.signedIn("gus")
	rp := e.newRP("App", nil)
	for name, mod := range map[string]func(*oauth2.Config){
		"unknown client":        func(c *oauth2.Config) { c.ClientID = "no-such-client" },
		"unregistered redirect": func(c *oauth2.Config) { c.RedirectURL = "https://evil.example/callback" },
		"redirect with suffix":  func(c *oauth2.Config) { c.RedirectURL = rpRedirect + "/x" },
	} {
		cfg := rp.oauth
		mod(&cfg)
		u, resp := b.browse(t, cfg.AuthCodeURL("s", newAuthorization().opts...), "https://")
		if u != nil {
			t.Errorf("%s: redirected to %s", name, u)
			continue
		}
		if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s, want an HTML error page", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

func TestOIDCRefreshRotationAndReuse(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, _ := e.signedIn("hal")
	rp := e.newRP("App", nil)
	tok, a := rp.offlineTokens(b)
	t2, err := rp.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if t2.RefreshToken == "" || t2.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh token not rotated")
	}
	// A refreshed ID token verifies and names the same user; it carries no
	// nonce (OpenID Connect Core 1.0 §12.2).
	idt, _ := rp.verify(t2, authorization{})
	if first, _ := rp.verify(tok, a); first.Subject != idt.Subject {
		t.Errorf("refreshed ID token sub %q, want %q", idt.Subject, first.Subject)
	}
	t3, err := rp.refresh(t2.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if rp.userinfoStatus(t3.AccessToken) != 200 {
		t.Fatal("userinfo refused a refreshed access token")
	}
	// Reusing a rotated token revokes the whole family.
	_, err = rp.refresh(tok.RefreshToken)
	if got := tokenError(t, err); got != "invalid_grant" {
		t.Fatalf("reused refresh token: %s, want invalid_grant", got)
	}
	if _, err := rp.refresh(t3.RefreshToken); err == nil {
		t.Error("the newest refresh token still works after a reuse")
	}
	if s := rp.userinfoStatus(t3.AccessToken); s != 401 {
		t.Errorf("userinfo after reuse: %d, want 401", s)
	}
	if len(e.audit("oidc.refresh", "refresh_reuse")) != 1 || len(e.audit("oidc.refresh", "success")) != 2 {
		t.Error("refresh and reuse not audited")
	}
	// A refresh token works only for its own client.
	tok, _ = rp.offlineTokens(b)
	other := e.newRP("Other", nil)
	if _, err := other.refresh(tok.RefreshToken); err == nil {
		t.Error("another client used the refresh token")
	}
}

func TestOIDCRevocationAndIntrospection(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, m := e.signedIn("ida")
	rp := e.newRP("App", nil)
	tok, _ := rp.offlineTokens(b)

	status, _, in := rp.form(rp.discovered("introspection_endpoint"), url.Values{"token": {tok.AccessToken}})
	if status != 200 || in["active"] != true || in["sub"] != m.User.ID || in["client_id"] != rp.client.ID {
		t.Fatalf("introspection: %d %v", status, in)
	}
	// RFC 7009: revoking the access token ends it.
	status, _, _ = rp.form(rp.discovered("revocation_endpoint"), url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}})
	if status != 200 {
		t.Fatalf("revocation: %d", status)
	}
	if s := rp.userinfoStatus(tok.AccessToken); s != 401 {
		t.Errorf("userinfo after revocation: %d, want 401", s)
	}
	_, _, in = rp.form(rp.discovered("introspection_endpoint"), url.Values{"token": {tok.AccessToken}})
	if in["active"] != false {
		t.Errorf("revoked token introspects as %v", in)
	}
	// Revoking the refresh token ends the grant.
	t2, err := rp.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	status, _, _ = rp.form(rp.discovered("revocation_endpoint"), url.Values{"token": {t2.RefreshToken}})
	if status != 200 {
		t.Fatalf("revocation: %d", status)
	}
	if _, err := rp.refresh(t2.RefreshToken); err == nil {
		t.Error("revoked refresh token still works")
	}
	if s := rp.userinfoStatus(t2.AccessToken); s != 401 {
		t.Errorf("userinfo after revoking the grant: %d, want 401", s)
	}
	// Unknown tokens are not an error (RFC 7009 §2.2).
	if status, _, _ := rp.form(rp.discovered("revocation_endpoint"), url.Values{"token": {"nonsense"}}); status != 200 {
		t.Errorf("revoking an unknown token: %d, want 200", status)
	}
	if len(e.audit("oidc.revoke", "success")) != 2 {
		t.Error("revocations not audited")
	}
}

func TestOIDCDisableResetAndSessionRevocationRevokeGrants(t *testing.T) {
	e := newLoginEnv(t, nil)
	admin := e.enroll("root")
	if _, err := e.Deps.Durable.UpdateUser(context.Background(), admin.User.ID, func(u *store.User) error {
		u.Role = store.RoleAdmin
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ab := e.client()
	ab.login(admin, "", "otp")

	for _, action := range []string{"disable", "reset", "revoke-sessions", "admin-revoke-session"} {
		b, m := e.signedIn("u-" + action)
		rp := e.newRP("App", nil)
		tok, _ := rp.offlineTokens(b)
		switch action {
		case "disable", "reset":
			r := ab.call("POST", "/api/v1/admin/users/"+m.User.ID+"/"+action, nil)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", action, r.status, r.body)
			}
		case "admin-revoke-session":
			var list []struct {
				ID string `json:"id"`
			}
			lr := b.call("GET", "/api/v1/sessions", nil)
			lr.decode(t, &list)
			if len(list) != 1 {
				t.Fatalf("sessions: %s", lr.body)
			}
			r := ab.call("DELETE", "/api/v1/admin/users/"+m.User.ID+"/sessions/"+list[0].ID, nil)
			if r.status != 200 && r.status != 204 {
				t.Fatalf("admin revoke session: %d %s", r.status, r.body)
			}
		case "revoke-sessions":
			r := b.call("POST", "/api/v1/account/sessions/revoke-others", nil)
			if r.status != 200 {
				t.Fatalf("revoke others: %d %s", r.status, r.body)
			}
			// The grant came from the session that stays: still live.
			if rp.userinfoStatus(tok.AccessToken) != 200 {
				t.Fatal("the kept session's grant was revoked")
			}
			other := e.client()
			e.clk.Advance(30 * time.Second) // a fresh TOTP step
			other.login(m, "", "otp")
			tok2, _ := rp.offlineTokens(other)
			if r := b.call("POST", "/api/v1/account/sessions/revoke-others", nil); r.status != 200 {
				t.Fatalf("revoke others: %d %s", r.status, r.body)
			}
			tok = tok2
		}
		if s := rp.userinfoStatus(tok.AccessToken); s != 401 {
			t.Errorf("%s: userinfo %d, want 401", action, s)
		}
		if _, err := rp.refresh(tok.RefreshToken); err == nil {
			t.Errorf("%s: refresh token still works", action)
		}
	}
}

// Bad parameters get the OAuth error at the redirect URI (with iss), or a
// 4xx at the token endpoint; never a 500.
func TestOIDCBadParameters(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, _ := e.signedIn("ned")
	rp := e.newRP("App", nil)
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"implicit":     {oauth2.SetAuthURLParam("response_type", "token")},
		"hybrid":       {oauth2.SetAuthURLParam("response_type", "code id_token")},
		"form_post":    {oauth2.SetAuthURLParam("response_mode", "form_post")},
		"request obj":  {oauth2.SetAuthURLParam("request", "eyJhbGciOiJub25lIn0.e30.")},
		"bad prompt":   {oauth2.SetAuthURLParam("prompt", "none login")},
		"bad max_age":  {oauth2.SetAuthURLParam("max_age", "soon")},
		"bad pkce alg": {oauth2.SetAuthURLParam("code_challenge", "x"), oauth2.SetAuthURLParam("code_challenge_method", "S512")},
	} {
		u, resp := b.browse(t, rp.oauth.AuthCodeURL("st", opts...), "https://app.example/")
		switch {
		case u != nil:
			if u.Query().Get("error") == "" || u.Query().Get("code") != "" || u.Query().Get("iss") != e.URL {
				t.Errorf("%s: redirected with %v", name, u.Query())
			}
		case resp.StatusCode < 400 || resp.StatusCode >= 500:
			t.Errorf("%s: %d, want an OAuth error", name, resp.StatusCode)
		}
	}
	token := rp.discovered("token_endpoint")
	for name, form := range map[string]url.Values{
		"password grant":    {"grant_type": {"password"}, "username": {"ned"}, "password": {"x"}},
		"client credential": {"grant_type": {"client_credentials"}},
		"jwt bearer":        {"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"x.y.z"}},
		"no grant":          {},
		"garbage code":      {"grant_type": {"authorization_code"}, "code": {"%%%"}, "redirect_uri": {rpRedirect}},
		"garbage refresh":   {"grant_type": {"refresh_token"}, "refresh_token": {"nope"}},
	} {
		status, _, out := rp.form(token, form)
		if status < 400 || status >= 500 || out["error"] == nil {
			t.Errorf("%s: %d %v", name, status, out)
		}
	}
}

// Access tokens end after AccessTokenLifetime, a grant's refresh tokens
// RefreshLifetime after the code exchange, however often they rotate.
func TestOIDCTokenLifetimes(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, _ := e.signedIn("ola")
	rp := e.newRP("App", nil)
	tok, _ := rp.offlineTokens(b)
	e.clk.Advance(14 * time.Minute)
	if s := rp.userinfoStatus(tok.AccessToken); s != 200 {
		t.Fatalf("userinfo at 14 min: %d", s)
	}
	e.clk.Advance(2 * time.Minute)
	if s := rp.userinfoStatus(tok.AccessToken); s != 401 {
		t.Errorf("userinfo at 16 min: %d, want 401", s)
	}
	rt := tok.RefreshToken
	for range 3 {
		e.clk.Advance(9 * 24 * time.Hour)
		next, err := rp.refresh(rt)
		if err != nil {
			t.Fatalf("refresh within 30 days: %v", err)
		}
		rt = next.RefreshToken
	}
	e.clk.Advance(4 * 24 * time.Hour) // 31 days after the exchange
	if _, err := rp.refresh(rt); err == nil || tokenError(t, err) != "invalid_grant" {
		t.Errorf("refresh after 31 days: %v, want invalid_grant", err)
	}
}
