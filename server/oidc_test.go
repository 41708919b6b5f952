package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"mutualauth/server/account"
	"mutualauth/server/config"
	"mutualauth/server/oidc"
	"mutualauth/server/token"
	"mutualauth/store"
)

// ---- an independent relying party: coreos/go-oidc + x/oauth2 ------------

// relyingParty is one registered client driven by go-oidc and x/oauth2.
type relyingParty struct {
	e        *loginEnv
	client   store.Client
	secret   string
	provider *gooidc.Provider
	oauth    oauth2.Config
}

const rpRedirect = "https://app.example/callback"

// newRP registers a client and discovers the provider the way any app does.
func (e *loginEnv) newRP(name string, edit func(*store.Client)) *relyingParty {
	t := e.t
	t.Helper()
	secret, err := token.New()
	if err != nil {
		t.Fatal(err)
	}
	c := store.Client{ID: account.NewID(), Name: name, SecretHash: token.Hash(secret),
		RedirectURIs: []string{rpRedirect}, PostLogoutRedirectURIs: []string{"https://app.example/bye"}}
	if edit != nil {
		edit(&c)
	}
	if c.Public {
		c.SecretHash, secret = nil, ""
	}
	if err := e.Deps.Durable.CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	p, err := gooidc.NewProvider(context.Background(), e.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := &relyingParty{e: e, client: c, secret: secret, provider: p}
	rp.oauth = oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: p.Endpoint(),
		RedirectURL: c.RedirectURIs[0], Scopes: []string{gooidc.ScopeOpenID, "profile", "email", "groups"}}
	return rp
}

// authorization is one authorization request as the RP starts it.
type authorization struct {
	state, nonce, verifier string
	opts                   []oauth2.AuthCodeOption
}

func newAuthorization(extra ...oauth2.AuthCodeOption) authorization {
	a := authorization{state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier()}
	a.opts = append([]oauth2.AuthCodeOption{gooidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier)}, extra...)
	return a
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// browse follows redirects with b's cookies until one leaves for the RP's
// redirect URI (or any URL with the prefix stop), and returns that URL, or
// the final response when none did.
func (b *loginClient) browse(t *testing.T, start, stop string) (*url.URL, *http.Response) {
	t.Helper()
	hc := &http.Client{Jar: b.hc.Jar, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), stop) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	resp, err := hc.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "" && strings.HasPrefix(loc, stop) {
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		return u, resp
	}
	return nil, resp
}

// authorize runs the front channel with b and returns the redirect to the RP.
func (rp *relyingParty) authorize(b *loginClient, a authorization) url.Values {
	t := rp.e.t
	t.Helper()
	u, resp := b.browse(t, rp.oauth.AuthCodeURL(a.state, a.opts...), rp.oauth.RedirectURL)
	if u == nil {
		t.Fatalf("authorization did not come back to the app: %d %s", resp.StatusCode, resp.Request.URL)
	}
	return u.Query()
}

// code runs the front channel and checks the response is a code with the
// state and iss.
func (rp *relyingParty) code(b *loginClient, a authorization) string {
	t := rp.e.t
	t.Helper()
	q := rp.authorize(b, a)
	if q.Get("error") != "" {
		t.Fatalf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != a.state {
		t.Fatalf("state %q, want %q", q.Get("state"), a.state)
	}
	if q.Get("iss") != rp.e.URL {
		t.Fatalf("iss %q, want %q (RFC 9207)", q.Get("iss"), rp.e.URL)
	}
	return q.Get("code")
}

func (rp *relyingParty) exchange(code string, a authorization) (*oauth2.Token, error) {
	return rp.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(a.verifier))
}

// verify checks the ID token of tok with go-oidc and returns its claims.
func (rp *relyingParty) verify(tok *oauth2.Token, a authorization) (*gooidc.IDToken, map[string]any) {
	t := rp.e.t
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token in the token response")
	}
	idt, err := rp.provider.Verifier(&gooidc.Config{ClientID: rp.client.ID}).Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("ID token does not verify: %v", err)
	}
	if idt.Nonce != a.nonce {
		t.Fatalf("nonce %q, want %q", idt.Nonce, a.nonce)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return idt, claims
}

// signedIn returns a browser with a live session of a newly enrolled user.
func (e *loginEnv) signedIn(name string) (*loginClient, *enrolledUser) {
	e.t.Helper()
	m := e.enroll(name)
	b := e.client()
	b.login(m, "", "otp")
	return b, m
}

// ---- discovery and the code flow ------------------------------------------

func TestOIDCDiscovery(t *testing.T) {
	e := newLoginEnv(t, nil)
	r := e.client().call("GET", "/.well-known/openid-configuration", nil)
	requireOK(t, "discovery", r)
	var d map[string]any
	r.decode(t, &d)
	if d["issuer"] != e.URL {
		t.Fatalf("issuer %v, want %s", d["issuer"], e.URL)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"revocation_endpoint", "introspection_endpoint", "end_session_endpoint", "device_authorization_endpoint"} {
		v, _ := d[k].(string)
		if !strings.HasPrefix(v, e.URL+"/") {
			t.Errorf("%s = %q, want an endpoint under the issuer", k, v)
		}
	}
	if d["authorization_response_iss_parameter_supported"] != true {
		t.Error("authorization_response_iss_parameter_supported is not true (RFC 9207)")
	}
	var grants []string
	for _, g := range d["grant_types_supported"].([]any) {
		grants = append(grants, g.(string))
	}
	slices.Sort(grants)
	want := []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"}
	if !slices.Equal(grants, want) {
		t.Errorf("grant_types_supported %v, want %v", grants, want)
	}
	if m, _ := json.Marshal(d["code_challenge_methods_supported"]); string(m) != `["S256"]` {
		t.Errorf("code_challenge_methods_supported %s, want [\"S256\"]", m)
	}
	// The ID-token keys are published at jwks_uri and never at the proof
	// key set that browsers and widget hosts pin.
	jr := e.client().call("GET", strings.TrimPrefix(d["jwks_uri"].(string), e.URL), nil)
	requireOK(t, "jwks_uri", jr)
	var oidcKeys, proofKeys struct {
		Keys []struct {
			Kid string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	jr.decode(t, &oidcKeys)
	if err := json.Unmarshal(e.jwks, &proofKeys); err != nil {
		t.Fatal(err)
	}
	algs := map[string]bool{}
	for _, k := range oidcKeys.Keys {
		algs[k.Alg] = true
		for _, pk := range proofKeys.Keys {
			if pk.Kid == k.Kid {
				t.Fatalf("ID-token key %s is also a proof key", k.Kid)
			}
		}
	}
	if !algs["RS256"] || !algs["ES256"] {
		t.Errorf("jwks_uri algorithms %v, want RS256 and ES256", algs)
	}
	if len(proofKeys.Keys) == 0 {
		t.Fatal("no proof keys")
	}
	for _, pk := range proofKeys.Keys {
		if pk.Alg != "ES256" && pk.Alg != "" {
			t.Errorf("proof key set holds a %s key", pk.Alg)
		}
	}
}

func TestOIDCCodeFlowIDToken(t *testing.T) {
	e := newLoginEnv(t, nil)
	b, m := e.signedIn("ada")
	if _, err := e.Deps.Durable.UpdateUser(context.Background(), m.User.ID, func(u *store.User) error {
		u.Email = "ada@example.org"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rp := e.newRP("Grafana", nil)
	a := newAuthorization()
	code := rp.code(b, a)
	tok, err := rp.exchange(code, a)
	if err != nil {
		t.Fatal(err)
	}
	idt, claims := rp.verify(tok, a)
	if idt.Subject != m.User.ID {
		t.Errorf("sub %q, want the user id %q", idt.Subject, m.User.ID)
	}
	if idt.Issuer != e.URL || !slices.Equal(idt.Audience, []string{rp.client.ID}) {
		t.Errorf("iss %q aud %v", idt.Issuer, idt.Audience)
	}
	for _, k := range []string{"exp", "iat", "auth_time"} {
		if _, ok := claims[k].(float64); !ok {
			t.Errorf("claim %s missing: %v", k, claims)
		}
	}
	if amr, _ := json.Marshal(claims["amr"]); string(amr) != `["pwd","otp","mfa"]` {
		t.Errorf("amr %s, want [\"pwd\",\"otp\",\"mfa\"]", amr)
	}
	if claims["preferred_username"] != "ada" || claims["name"] != "Display ada" {
		t.Errorf("profile claims %v %v", claims["preferred_username"], claims["name"])
	}
	if claims["email"] != "ada@example.org" || claims["email_verified"] != true {
		t.Errorf("email claims %v %v", claims["email"], claims["email_verified"])
	}
	if g, _ := json.Marshal(claims["groups"]); string(g) != `["user"]` {
		t.Errorf("groups %s", g)
	}
	hdr := strings.SplitN(tok.Extra("id_token").(string), ".", 2)[0]
	rawHdr, _ := base64.RawURLEncoding.DecodeString(hdr)
	if !strings.Contains(string(rawHdr), `"RS256"`) {
		t.Errorf("ID token header %s, want RS256", rawHdr)
	}
	// userinfo with the access token, through go-oidc
	ui, err := rp.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if ui.Subject != m.User.ID || ui.Email != "ada@example.org" || !ui.EmailVerified {
		t.Errorf("userinfo %+v", ui)
	}
	if n := len(e.audit("oidc.authorize", "success")); n != 1 {
		t.Errorf("%d oidc.authorize audit events, want 1", n)
	}
	if n := len(e.audit("oidc.token", "success")); n != 1 {
		t.Errorf("%d oidc.token audit events, want 1", n)
	}
}

func hashHex(s string) string { return token.HashHex(s) }

func TestOIDCES256IDTokensAndKeyRotation(t *testing.T) {
	e := newLoginEnv(t, map[string]string{config.EnvOIDCIDTokenAlg: "ES256"})
	b, _ := e.signedIn("eli")
	rp := e.newRP("App", nil)
	a := newAuthorization()
	tok, err := rp.exchange(rp.code(b, a), a)
	if err != nil {
		t.Fatal(err)
	}
	rp.verify(tok, a)
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.SplitN(tok.Extra("id_token").(string), ".", 2)[0])
	if !strings.Contains(string(hdr), `"ES256"`) {
		t.Fatalf("ID token header %s, want ES256", hdr)
	}
	// A rotation publishes the new key next to the old one.
	ring := &oidc.KeyRing{Store: e.Deps.Durable, Box: e.Deps.Box, Alg: "ES256", Now: e.clk.Now}
	if err := ring.Rotate(context.Background(), "ES256"); err != nil {
		t.Fatal(err)
	}
	keys, err := ring.KeySet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	es := 0
	for _, k := range keys {
		if k.Algorithm() == "ES256" {
			es++
		}
	}
	if es != 2 {
		t.Fatalf("%d ES256 keys published after a rotation, want 2", es)
	}
}
