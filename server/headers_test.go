package server

import (
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/web"
)

// embedRoute is the only page other sites may frame: the widget's.
const embedRoute = "/embed/login"

// crossSiteExempt lists the state-changing routes that are not behind the
// cross-site guard, and why. Every other POST, PUT, PATCH or DELETE route
// must refuse a cross-site browser request.
var crossSiteExempt = map[string]string{
	"/auth/verify":  "forward auth for reverse proxies: it answers for any method and changes nothing",
	"/api/v1/token": "server to server: the client authenticates with HTTP Basic and its secret, no cookie carries authority",
	// OpenID Connect: apps on other sites reach these by design.
	"/oidc/authorize":            "OIDC authorization endpoint: any site may start a sign-in (it only creates a request; the login decides)",
	"/oidc/token":                "OIDC token endpoint: server to server, client credentials or PKCE, no cookie carries authority",
	"/oidc/userinfo":             "OIDC userinfo: bearer token, no cookie carries authority",
	"/oidc/introspect":           "OIDC introspection: client credentials, no cookie carries authority",
	"/oidc/revoke":               "OIDC revocation: client credentials or client_id, no cookie carries authority",
	"/oidc/jwks":                 "OIDC key set: changes nothing",
	"/oidc/device_authorization": "OIDC device authorization: the device has no cookie; approval is behind the guarded /oidc/device",
	"/oidc/end_session":          "RP-initiated logout: a cross-site request without a valid id_token_hint only gets the confirmation page",
}

// routeSample is one request per route of the application, with its
// parameters filled in.
type routeSample struct {
	method, route, path string
}

// routeSamples lists every route echo knows (all methods of e.Any
// routes), sorted, with :params and * replaced by values that reach the
// handler. The group-level not-found routes are skipped.
func routeSamples(app *Server, params map[string]string) []routeSample {
	var out []routeSample
	seen := map[string]bool{}
	for _, r := range app.echo.Routes() {
		if r.Method == echo.RouteNotFound || r.Method == http.MethodConnect {
			continue
		}
		segs := strings.Split(r.Path, "/")
		for i, s := range segs {
			switch {
			case strings.HasPrefix(s, ":"):
				v, ok := params[s[1:]]
				if !ok {
					v = "x"
				}
				segs[i] = v
			case s == "*":
				segs[i] = "x"
			}
		}
		key := r.Method + " " + r.Path
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, routeSample{method: r.Method, route: r.Path, path: strings.Join(segs, "/")})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].route != out[j].route {
			return out[i].route < out[j].route
		}
		return out[i].method < out[j].method
	})
	return out
}

func stateChanging(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// newAdminSession stores a session for a new admin who signed in with a
// password and TOTP, and returns its token.
func newAdminSession(t *testing.T, e *countingEnv) (string, store.User) {
	t.Helper()
	ctx := context.Background()
	now := e.clk.Now()
	u := store.User{ID: account.NewID(), Username: "root-" + strconv.FormatInt(now.UnixNano(), 36), DisplayName: "Admin",
		Role: store.RoleAdmin, EnrolledAt: now, CreatedAt: now, UpdatedAt: now}
	if err := e.Deps.Durable.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok, err := token.New()
	if err != nil {
		t.Fatal(err)
	}
	err = e.Deps.Ephemeral.CreateSession(ctx, store.Session{
		ID: account.NewID()[:16], TokenHash: token.HashHex(tok), UserID: u.ID, Username: u.Username, DisplayName: u.DisplayName,
		Groups: []string{string(store.RoleAdmin)}, AMR: []string{"pwd", "otp"}, AuthTime: now, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(30 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok, u
}

// checkSecurityHeaders asserts the headers every response carries
// (DESIGN.md "Bars"; ASVS 5.0 V3.4).
// checkVerifyGrant checks a 200 of /auth/verify: it goes to the reverse
// proxy alone, so it carries the forward-auth headers and no-store, no
// body, and none of the headers meant for documents in a browser (an
// empty answer has nothing to frame or sniff).
func checkVerifyGrant(t *testing.T, what string, r httpReply) {
	t.Helper()
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, got)
	}
	if r.header.Get("Remote-User") == "" {
		t.Errorf("%s: no Remote-User", what)
	}
	if len(r.body) != 0 {
		t.Errorf("%s: a body of %d bytes", what, len(r.body))
	}
	for name := range r.header {
		switch name {
		case "Cache-Control", "Remote-User", "Remote-Name", "Remote-Groups", "Remote-Amr", "Date", "Content-Length":
		default:
			t.Errorf("%s: unexpected header %s on a grant", what, name)
		}
	}
}

func checkSecurityHeaders(t *testing.T, what string, r httpReply, https bool) {
	t.Helper()
	h := r.header
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors "} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: CSP %q lacks %s", what, csp, d)
		}
	}
	for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s: CSP %q allows %s", what, csp, bad)
		}
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", what, got)
	}
	if got := h.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy %q", what, got)
	}
	hsts := h.Get("Strict-Transport-Security")
	if https {
		age, _ := strconv.Atoi(strings.TrimPrefix(strings.Split(hsts, ";")[0], "max-age="))
		if age < 31536000 || !strings.Contains(hsts, "includeSubDomains") {
			t.Errorf("%s: HSTS %q under https (want max-age of a year or more and includeSubDomains)", what, hsts)
		}
	} else if hsts != "" {
		t.Errorf("%s: HSTS %q under http", what, hsts)
	}
	if h.Get("X-Powered-By") != "" || h.Get("Server") != "" {
		t.Errorf("%s: the server names itself: %q %q", what, h.Get("X-Powered-By"), h.Get("Server"))
	}
	ctype := h.Get("Content-Type")
	if len(r.body) > 0 && ctype == "" {
		t.Errorf("%s: a body without Content-Type", what)
	}
	if strings.HasPrefix(ctype, "text/") && !strings.Contains(strings.ToLower(ctype), "charset=utf-8") {
		t.Errorf("%s: Content-Type %q without charset", what, ctype)
	}
	path, _, _ := strings.Cut(what[strings.IndexByte(what, ' ')+1:], "?")
	if strings.HasPrefix(ctype, "text/html") && h.Get("Cross-Origin-Opener-Policy") != "same-origin" {
		t.Errorf("%s: Cross-Origin-Opener-Policy %q on a document", what, h.Get("Cross-Origin-Opener-Policy"))
	}
	if corp, public := h.Get("Cross-Origin-Resource-Policy"), crossOriginResources[path]; (public && corp != "cross-origin") || (!public && corp != "same-origin") {
		t.Errorf("%s: Cross-Origin-Resource-Policy %q", what, corp)
	}
	if strings.HasPrefix(ctype, "text/html") {
		for _, input := range passwordInput.FindAllString(string(r.body), -1) {
			if !strings.Contains(input, `type="password"`) {
				t.Errorf("%s: a password field that shows what is typed: %s", what, input)
			}
		}
	}
	if (strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/auth/") || (r.status == http.StatusOK && strings.HasPrefix(ctype, "text/html"))) &&
		!strings.Contains(h.Get("Cache-Control"), "no-store") {
		t.Errorf("%s: Cache-Control %q, want no-store", what, h.Get("Cache-Control"))
	}
}

// crossOriginResources may be loaded by other sites (Cross-Origin-Resource-Policy:
// cross-origin): the widget's script and the server's public identity.
var crossOriginResources = map[string]bool{"/widget.js": true, "/.well-known/jwks.json": true, "/.well-known/mutualauth": true}

// passwordInput finds the inputs a browser fills with a password.
var passwordInput = regexp.MustCompile(`<input[^>]*autocomplete="(current|new)-password"[^>]*>`)

// checkNotFramable asserts the clickjacking defence of every page but the
// embed page: frame-ancestors 'none', and X-Frame-Options DENY for old
// browsers.
func checkNotFramable(t *testing.T, what string, r httpReply) {
	t.Helper()
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: CSP %q lets other sites frame it", what, csp)
	}
	if got := r.header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options %q", what, got)
	}
}

// checkCookies asserts the attributes of every cookie the server sets
// (ASVS 5.0 V3.3): HttpOnly, SameSite, no Domain, Secure under https; the
// session cookie is __Host- under https, with Path=/.
func checkCookies(t *testing.T, what string, r httpReply, https bool) {
	t.Helper()
	for _, line := range r.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Errorf("%s: Set-Cookie %q: %v", what, line, err)
			continue
		}
		if !c.HttpOnly || (c.SameSite != http.SameSiteLaxMode && c.SameSite != http.SameSiteStrictMode) || c.Domain != "" {
			t.Errorf("%s: cookie %q lacks HttpOnly or SameSite, or has a Domain", what, line)
		}
		if c.Secure != https {
			t.Errorf("%s: cookie %q: Secure is %v under %s", what, line, c.Secure, map[bool]string{true: "https", false: "http"}[https])
		}
		if strings.HasSuffix(c.Name, "mutualauth_session") {
			want := "mutualauth_session"
			if https {
				want = "__Host-mutualauth_session"
			}
			if c.Name != want || c.Path != "/" {
				t.Errorf("%s: session cookie %q, want the name %s and Path=/", what, line, want)
			}
		}
	}
}

// sweep sends one request per route, anonymous and with an admin's
// session, and checks the headers and cookies of every answer.
func sweep(t *testing.T, scheme string) {
	https := scheme == "https"
	e := newCountingEnv(t, scheme, nil)
	inviteTok, _ := (&testServer{Deps: e.Deps}).invite(t, "sweep", "")
	samples := routeSamples(e.App, map[string]string{"token": inviteTok, "name": "login.js"})
	if len(samples) < 20 {
		t.Fatalf("only %d routes: %v", len(samples), samples)
	}
	cookieName := (&SessionManager{Secure: https}).CookieName()
	sessionTok, _ := newAdminSession(t, e)
	// State-changing requests last, so that a logout or a revocation does
	// not hide the pages behind the session from the sweep.
	sort.SliceStable(samples, func(i, j int) bool { return !stateChanging(samples[i].method) && stateChanging(samples[j].method) })
	for _, withSession := range []bool{false, true} {
		for _, s := range samples {
			var hdr []string
			if withSession {
				hdr = []string{"Cookie", cookieName + "=" + sessionTok}
			}
			var body *strings.Reader
			ctype := ""
			if stateChanging(s.method) {
				body, ctype = strings.NewReader("{}"), "application/json"
			}
			hdr = append(hdr, "Accept", "text/html,application/json")
			before := e.writes()
			var r httpReply
			if body != nil {
				r = e.raw(s.method, s.path, ctype, body, hdr...)
			} else {
				r = e.raw(s.method, s.path, ctype, nil, hdr...)
			}
			what := s.method + " " + s.path
			if r.status >= 500 {
				t.Errorf("%s: %d %s", what, r.status, r.body)
			}
			if !stateChanging(s.method) && e.writes() != before {
				t.Errorf("%s: a %s request wrote to the stores", what, s.method)
			}
			if withSession && r.status == http.StatusOK && strings.HasPrefix(r.header.Get("Content-Type"), "text/html") &&
				(strings.HasPrefix(s.route, "/account") || strings.HasPrefix(s.route, "/admin")) &&
				!strings.Contains(string(r.body), `action="/account/signout"`) && !strings.Contains(string(r.body), `href="/account"`) {
				t.Errorf("%s: a signed-in page without a way to sign out", what)
			}
			checkCookies(t, what, r, https)
			switch {
			case s.route == verifyRoute && r.status == http.StatusOK:
				checkVerifyGrant(t, what, r)
			case s.route == embedRoute && r.status == http.StatusOK:
				checkSecurityHeaders(t, what, r, https)
			default:
				checkSecurityHeaders(t, what, r, https)
				checkNotFramable(t, what, r)
			}
		}
	}
	for _, path := range []string{"/nope", "/api/v1/nope", "/static/nope.js", "/auth/verify", "/auth/verify/"} {
		r := e.raw("GET", path, "", nil, "Accept", "text/html")
		checkSecurityHeaders(t, "GET "+path, r, https)
		checkNotFramable(t, "GET "+path, r)
	}
}

func TestSecurityHeadersOnEveryRoute(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) { sweep(t, scheme) })
	}
}

// TestCookieAttributesThroughLogin follows a whole login and logout under
// https and under http and checks each cookie set, and that the session
// token never appears anywhere but in its cookie.
func TestCookieAttributesThroughLogin(t *testing.T) {
	for _, scheme := range []string{"https", "http"} {
		t.Run(scheme, func(t *testing.T) {
			https := scheme == "https"
			e := newCountingEnv(t, scheme, nil)
			m := e.enroll("cora")
			b := e.client()
			lr, r := b.post("begin", map[string]any{"username": "cora"})
			requireOK(t, "begin", r)
			_, r = b.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
			requireOK(t, "otp", r)
			checkCookies(t, "otp", r, https)
			_, r = b.post("password", map[string]any{"login_id": lr.LoginID, "password": m.Password})
			requireOK(t, "password", r)
			checkCookies(t, "completion", r, https)
			name := (&SessionManager{Secure: https}).CookieName()
			var session, device string
			for _, line := range r.header.Values("Set-Cookie") {
				c, _ := http.ParseSetCookie(line)
				switch c.Name {
				case name:
					session = c.Value
				case DeviceCookie:
					device = c.Value
				}
			}
			if !token.Valid(session) || !token.Valid(device) {
				t.Fatalf("completion set no session (%q) or device (%q) cookie: %v", session, device, r.header.Values("Set-Cookie"))
			}
			if strings.Contains(string(r.body), session) {
				t.Fatal("the session token is in the response body")
			}
			r = e.raw("GET", "/api/v1/session", "", nil, "Cookie", name+"="+session)
			requireOK(t, "session", r)
			r = e.raw("DELETE", "/api/v1/session", "", nil, "Cookie", name+"="+session)
			if r.status != http.StatusNoContent {
				t.Fatalf("logout %d %s", r.status, r.body)
			}
			checkCookies(t, "logout", r, https)
			cleared := false
			for _, line := range r.header.Values("Set-Cookie") {
				c, _ := http.ParseSetCookie(line)
				cleared = cleared || (c.Name == name && c.MaxAge < 0 && c.Value == "")
			}
			if !cleared {
				t.Fatalf("logout did not clear the session cookie: %v", r.header.Values("Set-Cookie"))
			}
			r = e.raw("GET", "/api/v1/session", "", nil, "Cookie", name+"="+session)
			requireProblem(t, "session after logout", r, 401, "unauthenticated")
		})
	}
}

// TestCrossSiteRefusedOnEveryStateChangingRoute sends every state-changing
// route a cross-site form post and a cross-site JSON post, as a page on
// another site would make a browser send them: all are refused before any
// store is touched, with or without a session cookie.
func TestCrossSiteRefusedOnEveryStateChangingRoute(t *testing.T) {
	e := newCountingEnv(t, "http", nil)
	inviteTok, _ := (&testServer{Deps: e.Deps}).invite(t, "csrf", "")
	// A registered widget client: its origin may call the login API, no
	// other route.
	if _, err := account.CreateClient(context.Background(), e.Deps.Durable, e.clk.Now(), "Shop", []string{"https://shop.example"}); err != nil {
		t.Fatal(err)
	}
	sessionTok, _ := newAdminSession(t, e)
	cookie := (&SessionManager{}).CookieName() + "=" + sessionTok
	attacks := []struct {
		name, ctype, body string
		hdr               []string
	}{
		{"cross-site form post", "application/x-www-form-urlencoded", "username=amy&password=x",
			[]string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"cross-site JSON post", "application/json", `{"username":"amy"}`,
			[]string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"cross-site text/plain post", "text/plain", `{"username":"amy"}`,
			[]string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site alone", "application/json", `{}`, []string{"Sec-Fetch-Site", "cross-site"}},
		{"opaque origin", "application/json", `{}`, []string{"Origin", "null"}},
		{"same site, other origin", "application/json", `{}`,
			[]string{"Origin", "http://localhost:1", "Sec-Fetch-Site", "same-site"}},
		{"the issuer's host over another scheme", "application/json", `{}`,
			[]string{"Origin", strings.Replace(e.issuer(), "http://", "https://", 1), "Sec-Fetch-Site", "cross-site"}},
	}
	checked := 0
	for _, s := range routeSamples(e.App, map[string]string{"token": inviteTok, "name": "login.js"}) {
		if !stateChanging(s.method) {
			continue
		}
		if reason, ok := crossSiteExempt[s.route]; ok {
			t.Logf("%s %s: exempt (%s)", s.method, s.route, reason)
			continue
		}
		checked++
		for _, a := range attacks {
			for _, withCookie := range []bool{false, true} {
				hdr := slices.Clone(a.hdr)
				if withCookie {
					hdr = append(hdr, "Cookie", cookie)
				}
				before := e.writes()
				r := e.raw(s.method, s.path, a.ctype, strings.NewReader(a.body), hdr...)
				requireProblem(t, a.name+" to "+s.method+" "+s.path, r, 403, "cross_site_request")
				if e.writes() != before {
					t.Fatalf("%s to %s %s wrote to the stores", a.name, s.method, s.path)
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d state-changing routes checked", checked)
	}
	// The same requests from the issuer's own pages pass the guard.
	r := e.raw("POST", "/api/v1/login/begin", "application/json", strings.NewReader(`{"username":"amy"}`),
		"Origin", e.issuer(), "Sec-Fetch-Site", "same-origin")
	requireOK(t, "same-origin begin", r)
	// The widget client's origin may call the login API, and nothing else.
	r = e.raw("POST", "/api/v1/login/begin", "application/json", strings.NewReader(`{"username":"amy"}`),
		"Origin", "https://shop.example", "Sec-Fetch-Site", "cross-site")
	requireOK(t, "widget client's begin", r)
	r = e.raw("DELETE", "/api/v1/session", "", nil, "Origin", "https://shop.example", "Sec-Fetch-Site", "cross-site", "Cookie", cookie)
	requireProblem(t, "widget client's logout", r, 403, "cross_site_request")
}

// TestEmbedFramedOnlyByClientOrigins: the embed page lists exactly the
// client's registered origins in frame-ancestors and drops X-Frame-Options;
// for an unknown client it is not framable at all.
func TestEmbedFramedOnlyByClientOrigins(t *testing.T) {
	e := newCountingEnv(t, "https", nil)
	if !slices.ContainsFunc(e.App.echo.Routes(), func(r *echo.Route) bool { return r.Path == embedRoute }) {
		t.Skip(embedRoute + " is not routed")
	}
	cl, err := account.CreateClient(context.Background(), e.Deps.Durable, e.clk.Now(), "Shop",
		[]string{"https://shop.example", "https://www.shop.example:8443"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.raw("GET", embedRoute+"?client_id="+cl.Client.ID+"&origin=https://shop.example", "", nil, "Accept", "text/html")
	if r.status != http.StatusOK {
		t.Fatalf("embed page %d %s", r.status, r.body)
	}
	checkSecurityHeaders(t, "GET "+embedRoute, r, true)
	var ancestors []string
	for _, d := range strings.Split(r.header.Get("Content-Security-Policy"), ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "frame-ancestors" {
			ancestors = f[1:]
		}
	}
	sort.Strings(ancestors)
	if !slices.Equal(ancestors, []string{"https://shop.example", "https://www.shop.example:8443"}) {
		t.Fatalf("frame-ancestors %v, want exactly the client's origins", ancestors)
	}
	if r.header.Get("X-Frame-Options") != "" {
		t.Fatalf("X-Frame-Options %q would forbid the client's frame", r.header.Get("X-Frame-Options"))
	}
	for _, q := range []string{"", "?client_id=mac_unknown", "?client_id=" + cl.Client.ID + "x"} {
		r := e.raw("GET", embedRoute+q, "", nil, "Accept", "text/html")
		if r.status == http.StatusOK {
			t.Fatalf("embed page for %q: 200", q)
		}
		checkNotFramable(t, "GET "+embedRoute+q, r)
	}
}

// TestLoginReplacesTheCurrentSession: a login never keeps or upgrades the
// session the client already had (ASVS 5.0 V7.2.4): it gets a new token,
// and the old one stops working, for whoever holds a copy.
func TestLoginReplacesTheCurrentSession(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("wren")
	b := e.client()
	b.login(m, "", "otp")
	first := b.cookie("mutualauth_session")
	requireOK(t, "first session", e.client().call("GET", "/api/v1/session", nil, "Authorization", "Bearer "+first))
	b.login(m, "", "rec")
	second := b.cookie("mutualauth_session")
	if !token.Valid(second) || second == first {
		t.Fatalf("the second login kept the session token")
	}
	requireProblem(t, "the replaced session", e.client().call("GET", "/api/v1/session", nil, "Authorization", "Bearer "+first),
		401, "unauthenticated")
	requireOK(t, "the new session", b.call("GET", "/api/v1/session", nil))
	if sessions, err := e.Deps.Ephemeral.ListSessions(context.Background(), m.User.ID); err != nil || len(sessions) != 1 {
		t.Fatalf("%d sessions after two logins in one browser (%v)", len(sessions), err)
	}
}

// TestPasswordFieldsAllowPaste: no script of the web UI listens for paste
// events (inline handlers cannot run under the CSP), so password managers
// and pasting work in every password field (ASVS 5.0 V6.2.7).
func TestPasswordFieldsAllowPaste(t *testing.T) {
	files, err := fs.Glob(web.Files, "*.js")
	if err != nil || len(files) < 3 {
		t.Fatalf("scripts: %v %v", files, err)
	}
	for _, name := range files {
		b, err := web.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		src := strings.ToLower(string(b))
		for _, hook := range []string{`"paste"`, `'paste'`, "onpaste", `"beforepaste"`} {
			if strings.Contains(src, hook) {
				t.Errorf("%s handles paste events (%s)", name, hook)
			}
		}
	}
}

// TestSecurityMapNamesRealTests keeps docs/SECURITY.md honest: every row
// of its ASVS tables names a test that exists in the file it names, or
// gives a reason (N/A or Deviation) instead.
func TestSecurityMapNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	fileRef := regexp.MustCompile("`([^`]+_test\\.go)`")
	testRef := regexp.MustCompile(`\b(?:Test|Fuzz)[A-Z][A-Za-z0-9_]*`)
	rows, named := 0, 0
	for line := range strings.Lines(string(doc)) {
		if !strings.HasPrefix(line, "| V") {
			continue
		}
		rows++
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		evidence := cells[len(cells)-1]
		refs := fileRef.FindAllStringSubmatchIndex(evidence, -1)
		if len(refs) == 0 {
			if !strings.Contains(line, "N/A") && !strings.Contains(line, "Deviation") {
				t.Errorf("a row with neither a test nor a reason: %s", line)
			}
			continue
		}
		for i, ref := range refs {
			file := evidence[ref[2]:ref[3]]
			end := len(evidence)
			if i+1 < len(refs) {
				end = refs[i+1][0]
			}
			src, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(file)))
			if err != nil {
				t.Errorf("%s: %v", strings.TrimSpace(cells[0]), err)
				continue
			}
			names := testRef.FindAllString(evidence[ref[1]:end], -1)
			if len(names) == 0 {
				t.Errorf("%s names %s but no test in it", strings.TrimSpace(cells[0]), file)
			}
			for _, name := range names {
				named++
				if !strings.Contains(string(src), "\nfunc "+name+"(") {
					t.Errorf("%s: %s has no %s", strings.TrimSpace(cells[0]), file, name)
				}
			}
		}
	}
	if rows < 100 || named < 100 {
		t.Fatalf("%d rows naming %d tests: the tables were not read", rows, named)
	}
}
