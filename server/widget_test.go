package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mutualauth/server/account"
	"mutualauth/server/passkey"
	"mutualauth/store"
)

// The widget: the code exchange at /api/v1/token, the login API's
// CORS for registered client origins, the embed page's framing policy and
// the widget script's caching and integrity.

// widgetClient is a registered widget client with its one-time secret.
type widgetClient struct {
	ID, Secret string
	Origins    []string
}

func (e *loginEnv) widgetClient(name string, origins ...string) widgetClient {
	e.t.Helper()
	cl, err := account.CreateClient(context.Background(), e.Deps.Durable, e.clk.Now(), name, origins)
	if err != nil {
		e.t.Fatal(err)
	}
	return widgetClient{ID: cl.Client.ID, Secret: cl.Secret, Origins: cl.Client.Origins}
}

// widgetLogin signs m in through a widget client as the frame does (an
// unrecognized device: a recovery code first, then the password) and
// returns the completion's code.
func (e *loginEnv) widgetLogin(m *enrolledUser, clientID string) string {
	t := e.t
	t.Helper()
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": m.User.Username, "client_id": clientID})
	requireOK(t, "begin", r)
	id := lr.LoginID
	code := m.Recovery[0]
	m.Recovery = m.Recovery[1:]
	_, r = b.post("recovery", map[string]any{"login_id": id, "code": code})
	requireOK(t, "recovery", r)
	lr, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireOK(t, "password", r)
	if !lr.Done || lr.Code == "" {
		t.Fatalf("the widget login gave no code: %s", r.body)
	}
	return lr.Code
}

// exchange posts code to /api/v1/token with HTTP Basic id:secret.
func (e *loginEnv) exchange(id, secret string, body any) httpReply {
	e.t.Helper()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	return e.client().call("POST", "/api/v1/token", body, "Authorization", basic)
}

type tokenReply struct {
	User     userInfo  `json:"user"`
	AMR      []string  `json:"amr"`
	AuthTime time.Time `json:"auth_time"`
}

func TestWidgetTokenExchange(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("tara")
	cl := e.widgetClient("Shop", "https://shop.example")
	loginAt := e.clk.Now()
	code := e.widgetLogin(m, cl.ID)

	e.clk.Advance(30 * time.Second)
	r := e.exchange(cl.ID, cl.Secret, map[string]string{"code": code})
	requireOK(t, "exchange", r)
	var got tokenReply
	r.decode(t, &got)
	want := userInfo{ID: m.User.ID, Username: "tara", DisplayName: "Display tara"}
	if got.User != want || !slices.Equal(got.AMR, []string{"pwd", "rec", "mfa"}) || !got.AuthTime.Equal(loginAt) {
		t.Fatalf("exchange answered %s; want %+v, [pwd rec mfa], auth_time %s", r.body, want, loginAt)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", cc)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("the token endpoint answers with CORS headers; it is for servers only")
	}

	// Single use.
	r = e.exchange(cl.ID, cl.Secret, map[string]string{"code": code})
	requireProblem(t, "second exchange", r, 401, "invalid_grant")
	if bytes := string(r.body); strings.Contains(bytes, m.User.ID) || strings.Contains(bytes, code) {
		t.Fatalf("a refusal tells about the login: %s", r.body)
	}
	if n := len(e.audit("widget.token", "success")); n != 1 {
		t.Fatalf("%d widget.token successes audited, want 1", n)
	}
	if n := len(e.audit("widget.token", "invalid_grant")); n != 1 {
		t.Fatalf("%d widget.token refusals audited, want 1", n)
	}
}

func TestWidgetTokenExpiry(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("uma")
	cl := e.widgetClient("Shop", "https://shop.example")

	code := e.widgetLogin(m, cl.ID)
	e.clk.Advance(WidgetCodeTTL - time.Second)
	requireOK(t, "exchange just in time", e.exchange(cl.ID, cl.Secret, map[string]string{"code": code}))

	code = e.widgetLogin(m, cl.ID)
	e.clk.Advance(WidgetCodeTTL)
	requireProblem(t, "exchange after the code's life", e.exchange(cl.ID, cl.Secret, map[string]string{"code": code}), 401, "invalid_grant")

	// The store forgets the code too: it is kept with a 60 s TTL.
	code = e.widgetLogin(m, cl.ID)
	if err := e.Deps.Ephemeral.Delete(context.Background(), WidgetCodeKey(code)); err != nil {
		t.Fatal(err)
	}
	requireProblem(t, "exchange of a code the store dropped", e.exchange(cl.ID, cl.Secret, map[string]string{"code": code}), 401, "invalid_grant")
}

func TestWidgetTokenBoundToItsClient(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("vic")
	shop := e.widgetClient("Shop", "https://shop.example")
	other := e.widgetClient("Other", "https://other.example")

	code := e.widgetLogin(m, shop.ID)
	requireProblem(t, "another client's exchange", e.exchange(other.ID, other.Secret, map[string]string{"code": code}), 401, "invalid_grant")
	// The attempt spent the code: its own client cannot use it any more.
	requireProblem(t, "own client after the other's attempt", e.exchange(shop.ID, shop.Secret, map[string]string{"code": code}), 401, "invalid_grant")

	// A code of a login without client_id (the hosted page) does not exist.
	lr := e.client().login(m, "", "rec")
	if lr.Code != "" {
		t.Fatalf("a login without client_id got a widget code: %+v", lr)
	}
}

func TestWidgetTokenClientAuthentication(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("wes")
	shop := e.widgetClient("Shop", "https://shop.example")
	other := e.widgetClient("Other", "https://other.example")
	code := e.widgetLogin(m, shop.ID)
	body := map[string]string{"code": code}

	r := e.client().call("POST", "/api/v1/token", body)
	requireProblem(t, "no credentials", r, 401, "invalid_client")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("WWW-Authenticate %q, want a Basic challenge (RFC 7617)", r.header.Get("WWW-Authenticate"))
	}
	// The last character of a 256-bit secret in base64url is one of 16; "A"
	// and "E" differ in it, so one of them makes a wrong secret.
	wrong := shop.Secret[:len(shop.Secret)-1] + "A"
	if wrong == shop.Secret {
		wrong = shop.Secret[:len(shop.Secret)-1] + "E"
	}
	for _, c := range []struct{ what, id, secret string }{
		{"wrong secret", shop.ID, wrong},
		{"another client's secret", shop.ID, other.Secret},
		{"unknown client", "mac_" + strings.Repeat("0", 32), shop.Secret},
		{"empty secret", shop.ID, ""},
	} {
		requireProblem(t, c.what, e.exchange(c.id, c.secret, body), 401, "invalid_client")
	}
	r = e.client().call("POST", "/api/v1/token", body, "Authorization", "Bearer "+shop.Secret)
	requireProblem(t, "not Basic", r, 401, "invalid_client")
	if n := len(e.audit("widget.token", "invalid_client")); n != 6 {
		t.Fatalf("%d invalid_client refusals audited, want 6", n)
	}

	// JSON only, and a malformed code is refused like an unknown one.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(shop.ID+":"+shop.Secret))
	raw := e.client()
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/token", strings.NewReader("code="+code))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basic)
	resp, err := raw.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form body: %d, want 415", resp.StatusCode)
	}
	requireProblem(t, "malformed code", e.exchange(shop.ID, shop.Secret, map[string]string{"code": "not a code"}), 401, "invalid_grant")

	// Failed client authentication did not spend the code.
	requireOK(t, "the right client", e.exchange(shop.ID, shop.Secret, body))
}

func TestWidgetTokenConcurrentExchange(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("xia")
	cl := e.widgetClient("Shop", "https://shop.example")
	code := e.widgetLogin(m, cl.ID)

	const n = 12
	statuses := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i] = e.exchange(cl.ID, cl.Secret, map[string]string{"code": code}).status
		})
	}
	close(start)
	wg.Wait()
	if ok, refused := countStatuses(statuses, 200), countStatuses(statuses, 401); ok != 1 || refused != n-1 {
		t.Fatalf("%d concurrent exchanges of one code: %d succeeded, %d refused (%v); want exactly one success", n, ok, refused, statuses)
	}
}

func TestWidgetTokenRefusedForDisabledAccount(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("yan")
	cl := e.widgetClient("Shop", "https://shop.example")
	code := e.widgetLogin(m, cl.ID)
	if _, err := e.Deps.Durable.UpdateUser(context.Background(), m.User.ID, func(u *store.User) error {
		u.Disabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	requireProblem(t, "exchange for a disabled account", e.exchange(cl.ID, cl.Secret, map[string]string{"code": code}), 401, "invalid_grant")
}

// preflightFrom sends a CORS preflight (Fetch standard §3.2.2) for a JSON
// POST to path.
func (e *loginEnv) preflightFrom(origin, path string) httpReply {
	return e.client().call("OPTIONS", path, nil, "Origin", origin, "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "cors")
}

func TestLoginAPICORSForClientOrigins(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("zoe")
	shop := e.widgetClient("Shop", "https://shop.example", "https://www.shop.example:8443")

	for _, path := range []string{"/api/v1/login/begin", "/api/v1/login/password", "/api/v1/login/otp",
		"/api/v1/login/recovery", "/api/v1/login/webauthn/options", "/api/v1/login/webauthn"} {
		r := e.preflightFrom("https://www.shop.example:8443", path)
		if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "https://www.shop.example:8443" ||
			!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.EqualFold(r.header.Get("Access-Control-Allow-Headers"), "Content-Type") ||
			r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("preflight %s from a client origin: %d %v", path, r.status, r.header)
		}
		if !slices.Contains(r.header.Values("Vary"), "Origin") {
			t.Fatalf("preflight %s: Vary %v lacks Origin", path, r.header.Values("Vary"))
		}
		r = e.preflightFrom("https://evil.example", path)
		requireProblem(t, "preflight "+path+" from another origin", r, 403, "cross_site_request")
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight from another origin got CORS headers: %v", r.header)
		}
	}

	// The actual requests: a whole login from the client's origin.
	b := e.client()
	from := []string{"Origin", "https://shop.example", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "cors"}
	nonce := newClientNonce()
	lr, r := b.post("begin", map[string]any{"username": "zoe", "client_id": shop.ID, "client_nonce": nonce}, from...)
	requireOK(t, "begin from the client origin", r)
	if r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" || r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("begin from the client origin: CORS headers %v", r.header)
	}
	e.checkProof(lr.Proof, "https://shop.example", nonce, lr.LoginID, "zoe", "")
	_, r = b.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)}, from...)
	requireOK(t, "otp from the client origin", r)
	done, r := b.post("password", map[string]any{"login_id": lr.LoginID, "password": m.Password}, from...)
	requireOK(t, "password from the client origin", r)
	requireOK(t, "exchange", e.exchange(shop.ID, shop.Secret, map[string]string{"code": done.Code}))

	// Another origin gets nothing, and the client's origin nothing but
	// the login API.
	_, r = b.post("begin", map[string]any{"username": "zoe"}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	requireProblem(t, "begin from another origin", r, 403, "cross_site_request")
	for _, req := range []struct{ method, path string }{
		{"DELETE", "/api/v1/session"}, {"POST", "/api/v1/enroll/x/password"}, {"DELETE", "/api/v1/sessions/x"},
	} {
		r := b.call(req.method, req.path, map[string]any{}, from...)
		requireProblem(t, req.method+" "+req.path+" from the client origin", r, 403, "cross_site_request")
	}
	r = e.preflightFrom("https://shop.example", "/api/v1/session")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a route outside the login API answers a client origin's preflight: %v", r.header)
	}
}

func TestClientOriginsSeeNewClientsWithinMaxAge(t *testing.T) {
	e := newLoginEnv(t, nil)
	e.widgetClient("Shop", "https://shop.example")
	requireProblem(t, "unregistered origin", e.preflightFrom("https://late.example", "/api/v1/login/begin"), 403, "cross_site_request")

	// Registered while the server runs (as the CLI does), it is allowed
	// once the reading of the client list is ClientOriginsMaxAge old.
	e.widgetClient("Late", "https://late.example")
	requireProblem(t, "new origin before the cache renews", e.preflightFrom("https://late.example", "/api/v1/login/begin"), 403, "cross_site_request")
	e.clk.Advance(ClientOriginsMaxAge)
	if r := e.preflightFrom("https://late.example", "/api/v1/login/begin"); r.status != http.StatusNoContent ||
		r.header.Get("Access-Control-Allow-Origin") != "https://late.example" {
		t.Fatalf("new origin after %s: %d %v", ClientOriginsMaxAge, r.status, r.header)
	}
}

func TestClientOriginsConcurrentChecks(t *testing.T) {
	e := newLoginEnv(t, nil)
	e.widgetClient("Shop", "https://shop.example")
	clk := &loginClock{now: e.clk.Now()}
	checker := &ClientOrigins{Store: e.Deps.Durable, Now: clk.Now}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 32 {
		wg.Go(func() {
			for j := range 20 {
				if i == 0 && j%5 == 0 {
					clk.Advance(ClientOriginsMaxAge)
				}
				ok, err := checker.Allowed(context.Background(), "https://shop.example")
				if err != nil || !ok {
					errs <- "registered origin refused"
					return
				}
				if ok, _ := checker.Allowed(context.Background(), "https://evil.example"); ok {
					errs <- "unregistered origin allowed"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}
	for _, o := range []string{"", "null", "https://shop.example/", "HTTPS://shop.example"} {
		if ok, _ := checker.Allowed(context.Background(), o); ok {
			t.Fatalf("%q allowed: origins are compared exactly", o)
		}
	}
}

func cspDirectives(csp string) map[string]string {
	out := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		if name != "" {
			out[name] = value
		}
	}
	return out
}

func TestEmbedPage(t *testing.T) {
	e := newLoginEnv(t, nil)
	shop := e.widgetClient("Shop <b>", "https://shop.example", "https://www.shop.example:8443")
	other := e.widgetClient("Other", "http://127.0.0.1:9000")
	b := e.client()
	page := func(query string) httpReply { return b.call("GET", "/embed/login?"+query, nil, "Accept", "text/html") }

	r := page("client_id=" + shop.ID + "&origin=https%3A%2F%2Fwww.shop.example%3A8443")
	if r.status != 200 {
		t.Fatalf("embed page: %d %s", r.status, r.body)
	}
	got, want := cspDirectives(r.header.Get("Content-Security-Policy")), cspDirectives(defaultCSP)
	want["frame-ancestors"] = "https://shop.example https://www.shop.example:8443"
	if len(got) != len(want) {
		t.Fatalf("CSP %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("CSP %s = %q, want %q (the default policy but frame-ancestors)", k, got[k], v)
		}
	}
	if r.header.Get("X-Frame-Options") != "" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("embed headers: X-Frame-Options %q, Cache-Control %q", r.header.Get("X-Frame-Options"), r.header.Get("Cache-Control"))
	}
	html := string(r.body)
	for _, s := range []string{`data-mode="embed"`, `data-client-id="` + shop.ID + `"`,
		`data-host-origin="https://www.shop.example:8443"`, `data-refusal=""`, "Sign in to Shop &lt;b&gt;",
		`src="/static/login.js"`, `src="/static/proof.js"`, `src="/static/embed.js"`} {
		if !strings.Contains(html, s) {
			t.Fatalf("embed page lacks %s:\n%s", s, html)
		}
	}

	// Each client gets its own origins.
	r = page("client_id=" + other.ID + "&origin=http%3A%2F%2F127.0.0.1%3A9000&pinned_key=" + strings.Repeat("a", 43))
	if d := cspDirectives(r.header.Get("Content-Security-Policy")); r.status != 200 || d["frame-ancestors"] != "http://127.0.0.1:9000" {
		t.Fatalf("other client's page: %d, frame-ancestors %q", r.status, d["frame-ancestors"])
	}
	if !strings.Contains(string(r.body), `data-pinned-key="`+strings.Repeat("a", 43)+`"`) {
		t.Fatal("the pinned key is not passed to the page")
	}

	// The host origin must be one of the client's: otherwise the page
	// refuses to run and says why.
	for _, q := range []string{
		"client_id=" + shop.ID + "&origin=https%3A%2F%2Fevil.example",
		"client_id=" + shop.ID + "&origin=http%3A%2F%2F127.0.0.1%3A9000",
		"client_id=" + shop.ID,
		"client_id=" + shop.ID + "&origin=https%3A%2F%2Fshop.example&pinned_key=short",
	} {
		r := page(q)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `data-host-origin=""`) ||
			strings.Contains(string(r.body), `data-refusal=""`) {
			t.Fatalf("%s: %d, want 400 with a refusal and no host origin:\n%s", q, r.status, r.body)
		}
	}

	// An unknown client has no page, and nobody may frame the error.
	for _, q := range []string{"client_id=mac_unknown&origin=https%3A%2F%2Fshop.example", "", "client_id="} {
		r := page(q)
		if r.status != http.StatusNotFound || !strings.Contains(r.header.Get("Content-Type"), "text/html") {
			t.Fatalf("%q: %d %s, want a 404 page", q, r.status, r.header.Get("Content-Type"))
		}
		if d := cspDirectives(r.header.Get("Content-Security-Policy")); d["frame-ancestors"] != "'none'" || r.header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%q: the 404 page may be framed: %v", q, r.header)
		}
	}

	// The pop-up keeps its opener (the frame) reachable.
	r = page("client_id=" + shop.ID + "&origin=https%3A%2F%2Fshop.example&popup=1")
	if r.status != 200 || r.header.Get("Cross-Origin-Opener-Policy") != "unsafe-none" || !strings.Contains(string(r.body), `data-mode="popup"`) {
		t.Fatalf("pop-up page: %d COOP %q", r.status, r.header.Get("Cross-Origin-Opener-Policy"))
	}
}

func TestWidgetScript(t *testing.T) {
	e := newLoginEnv(t, nil)
	b := e.client()
	r := b.call("GET", "/widget.js", nil)
	if r.status != 200 {
		t.Fatalf("widget.js: %d", r.status)
	}
	for name, want := range map[string]string{
		"Content-Type":                 "text/javascript; charset=utf-8",
		"Cache-Control":                "public, max-age=86400",
		"Access-Control-Allow-Origin":  "*",
		"Cross-Origin-Resource-Policy": "cross-origin",
		"X-Content-Type-Options":       "nosniff",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(string(r.body), "MutualAuth") || !strings.Contains(string(r.body), "mount") {
		t.Fatal("widget.js does not define MutualAuth.mount")
	}
	etag := r.header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag %q", etag)
	}
	r2 := b.call("GET", "/widget.js", nil, "If-None-Match", etag)
	if r2.status != http.StatusNotModified || len(r2.body) != 0 {
		t.Fatalf("revalidation: %d with %d bytes, want 304", r2.status, len(r2.body))
	}
	if r3 := b.call("GET", "/widget.js", nil, "If-None-Match", `"other"`); r3.status != 200 {
		t.Fatalf("another ETag: %d", r3.status)
	}

	sum := sha512.Sum384(r.body)
	integrity := "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
	var disc map[string]any
	d := b.call("GET", "/.well-known/mutualauth", nil)
	d.decode(t, &disc)
	if disc["widget_integrity"] != integrity {
		t.Fatalf("widget_integrity %v, want %s (SHA-384 of the served bytes)", disc["widget_integrity"], integrity)
	}
}

// crossOriginAssertion is an assertion made in a frame on the issuer's
// origin inside a page of topOrigin (WebAuthn Level 3 §5.8.1: crossOrigin
// and topOrigin in the client data).
func crossOriginAssertion(t *testing.T, k *softKey, options []byte, rpID, origin, topOrigin string, handle []byte) map[string]any {
	t.Helper()
	var opt struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &opt); err != nil || opt.PublicKey.Challenge == "" {
		t.Fatalf("options %s: %v", options, err)
	}
	cdj, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": opt.PublicKey.Challenge,
		"origin": origin, "crossOrigin": true, "topOrigin": topOrigin})
	k.count++
	rpHash := sha256.Sum256([]byte(rpID))
	ad := append(rpHash[:], 0x05)
	ad = binary.BigEndian.AppendUint32(ad, k.count)
	cdHash := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(slices.Clone(ad), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64(cdj), "authenticatorData": b64(ad), "signature": b64(sig), "userHandle": b64(handle)}}
}

func TestWidgetWebAuthnInFrame(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("abe")
	key := newSoftKey(t)
	key.register(t, e, m)
	shop := e.widgetClient("Shop", "https://shop.example")
	handle := passkey.UserHandle(m.User.ID)

	try := func(clientID, topOrigin string) httpReply {
		t.Helper()
		b := e.client()
		body := map[string]any{"username": "abe"}
		if clientID != "" {
			body["client_id"] = clientID
		}
		lr, r := b.post("begin", body)
		requireOK(t, "begin", r)
		r = b.call("POST", "/api/v1/login/webauthn/options", map[string]any{"login_id": lr.LoginID})
		requireOK(t, "options", r)
		_, r = b.post("webauthn", map[string]any{"login_id": lr.LoginID,
			"credential": crossOriginAssertion(t, key, r.body, "localhost", e.URL, topOrigin, handle)})
		return r
	}
	// In the widget's frame on a client's page: the top origin is checked
	// against the client's origins.
	requireOK(t, "frame in the client's page", try(shop.ID, "https://shop.example"))
	requireProblem(t, "frame in another page", try(shop.ID, "https://evil.example"), 401, "invalid_credentials")
	// Without a widget client no frame is allowed at all.
	requireProblem(t, "frame without client", try("", "https://shop.example"), 401, "invalid_credentials")
}

func TestEmbedRefusalNeverEchoesTheOrigin(t *testing.T) {
	e := newLoginEnv(t, nil)
	shop := e.widgetClient("Shop", "https://shop.example")
	b := e.client()
	bait := "https://Call-support-at-555-0100.example"
	r := b.call("GET", "/embed/login?client_id="+shop.ID+"&origin="+url.QueryEscape(bait), nil, "Accept", "text/html")
	if r.status != 400 {
		t.Fatalf("embed page for a foreign origin: %d", r.status)
	}
	if strings.Contains(strings.ToLower(string(r.body)), "call-support") {
		t.Fatalf("the refusal echoes the origin parameter:\n%s", r.body)
	}
	if !strings.Contains(string(r.body), "not one this app registered") {
		t.Fatalf("the refusal does not say why:\n%s", r.body)
	}
}
