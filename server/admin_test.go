package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/audit"
	"mutualauth/server/login"
	"mutualauth/server/token"
	"mutualauth/store"
)

// ---- helpers -----------------------------------------------------------------

// enrollAdmin is e.enroll with the admin role.
func (e *loginEnv) enrollAdmin(name string) *enrolledUser {
	e.t.Helper()
	m := e.enroll(name)
	u, err := e.Deps.Durable.UpdateUser(context.Background(), m.User.ID, func(u *store.User) error {
		u.Role = store.RoleAdmin
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	m.User = u
	return m
}

// adminSignIn returns a client with a fresh session of m, signed in with the
// password and the current TOTP code. The clock moves on a step first, so
// that the code is never one m has used.
func (e *loginEnv) adminSignIn(m *enrolledUser) *loginClient {
	e.t.Helper()
	e.clk.Advance(30 * time.Second)
	b := e.client()
	b.login(m, "", "otp")
	return b
}

// adminNoRedirects makes b stop at redirects, so that tests see the 303s.
func (b *loginClient) adminNoRedirects() *loginClient {
	b.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return b
}

// adminFollow follows the 303 of a form post as a browser does and
// returns the page it leads to (remembered in lastLocation).
func (b *loginClient) adminFollow(t *testing.T, what string, r httpReply) httpReply {
	t.Helper()
	adminRequireStatus(t, what, r, 303)
	b.lastLocation = r.header.Get("Location")
	page := b.adminPage(b.lastLocation)
	requireOK(t, what+": the page after the redirect", page)
	return page
}

// adminForm posts an HTML form as a browser does from one of the admin pages
// (which are served with Referrer-Policy: no-referrer): Origin null,
// Sec-Fetch-Site same-origin.
func (b *loginClient) adminForm(path string, vals url.Values) httpReply {
	t := b.e.t
	t.Helper()
	req, err := http.NewRequest("POST", b.e.URL+path, strings.NewReader(vals.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Origin", "null")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpReply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// adminPage GETs an HTML page.
func (b *loginClient) adminPage(path string) httpReply {
	b.e.t.Helper()
	return b.call("GET", path, nil, "Accept", "text/html")
}

func adminRequireStatus(t *testing.T, what string, r httpReply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %.600s", what, r.status, status, r.body)
	}
}

var adminEnrollURLPattern = regexp.MustCompile(`http://localhost:\d+/enroll/([A-Za-z0-9_-]{43})`)

// adminInviteToken returns the invite token of the one enrollment URL in s.
func adminInviteToken(t *testing.T, e *loginEnv, s string) string {
	t.Helper()
	all := adminEnrollURLPattern.FindAllStringSubmatch(s, -1)
	if len(all) == 0 {
		t.Fatalf("no enrollment URL in %.400s", s)
	}
	for _, m := range all[1:] {
		if m[1] != all[0][1] {
			t.Fatalf("two different enrollment URLs in the answer")
		}
	}
	if !strings.HasPrefix(all[0][0], e.URL+"/enroll/") {
		t.Fatalf("enrollment URL %s is not on %s", all[0][0], e.URL)
	}
	return all[0][1]
}

type adminUserJSON struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
	Disabled    bool   `json:"disabled"`
	Locked      bool   `json:"locked"`
	Enrolled    bool   `json:"enrolled"`
	CreatedAt   string `json:"created_at"`
}

type adminInviteJSON struct {
	User          adminUserJSON `json:"user"`
	EnrollURL     string        `json:"enroll_url"`
	ExpiresAt     string        `json:"expires_at"`
	SessionsEnded int           `json:"sessions_ended"`
}

type adminDetailJSON struct {
	User    adminUserJSON `json:"user"`
	Factors struct {
		Password          bool `json:"password"`
		Phrase            bool `json:"phrase"`
		TOTP              bool `json:"totp"`
		RecoveryCodesLeft int  `json:"recovery_codes_left"`
		Credentials       []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"credentials"`
	} `json:"factors"`
	Devices []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"devices"`
	Sessions []struct {
		ID        string   `json:"id"`
		IP        string   `json:"ip"`
		UserAgent string   `json:"user_agent"`
		AMR       []string `json:"amr"`
		Current   bool     `json:"current"`
	} `json:"sessions"`
}

type adminAuditJSON struct {
	Events []struct {
		ID              int64  `json:"id"`
		Time            string `json:"time"`
		Actor           string `json:"actor"`
		ActorUsername   string `json:"actor_username"`
		Subject         string `json:"subject"`
		SubjectUsername string `json:"subject_username"`
		Action          string `json:"action"`
		Result          string `json:"result"`
		Detail          string `json:"detail"`
	} `json:"events"`
	NextBefore int64 `json:"next_before"`
}

func (b *loginClient) adminDetail(id string) adminDetailJSON {
	b.e.t.Helper()
	r := b.call("GET", "/api/v1/admin/users/"+id, nil)
	requireOK(b.e.t, "user detail", r)
	var d adminDetailJSON
	r.decode(b.e.t, &d)
	return d
}

func (b *loginClient) adminAudit(q string) adminAuditJSON {
	b.e.t.Helper()
	r := b.call("GET", "/api/v1/admin/audit?"+q, nil)
	requireOK(b.e.t, "audit "+q, r)
	var a adminAuditJSON
	r.decode(b.e.t, &a)
	return a
}

// adminRequireAudited checks that exactly one event of action on subject was
// recorded with this result and the admin as actor.
func adminRequireAudited(t *testing.T, e *loginEnv, action, result, actor, subject string) store.AuditEvent {
	t.Helper()
	var found []store.AuditEvent
	for _, ev := range e.audit(action, result) {
		if ev.Action == action && ev.Subject == subject {
			found = append(found, ev)
		}
	}
	if len(found) != 1 || found[0].Actor != actor {
		t.Fatalf("audit %s %s on %s: %+v (want one, by %s)", action, result, subject, found, actor)
	}
	return found[0]
}

// adminEnrollAPI enrolls with an invite token through the enrollment
// API, as the enrollment page does, and returns the enrolled user.
func (e *loginEnv) adminEnrollAPI(tok, username string) *enrolledUser {
	t := e.t
	t.Helper()
	b := e.client()
	api := "/api/v1/enroll/" + tok
	m := &enrolledUser{Password: "a new start for " + username + " today", Phrase: "violet kites over " + username}
	adminRequireStatus(t, "enroll password", b.call("POST", api+"/password", map[string]string{"password": m.Password}), 204)
	adminRequireStatus(t, "enroll phrase", b.call("POST", api+"/phrase", map[string]string{"phrase": m.Phrase}), 204)
	r := b.call("POST", api+"/totp", nil)
	requireOK(t, "enroll totp", r)
	var setup struct{ Secret string }
	r.decode(t, &setup)
	m.Secret = setup.Secret
	adminRequireStatus(t, "enroll totp confirm", b.call("POST", api+"/totp/confirm", map[string]string{"code": e.code(m)}), 204)
	r = b.call("POST", api+"/complete", nil)
	requireOK(t, "enroll complete", r)
	var done struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	r.decode(t, &done)
	m.Recovery = done.RecoveryCodes
	u, err := e.Deps.Durable.GetUserByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	m.User = u
	return m
}

// adminRouteURL fills an echo route's parameters with a placeholder.
func adminRouteURL(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "x" + p[1:]
		}
		if p == "*" {
			parts[i] = "anything"
		}
	}
	return strings.Join(parts, "/")
}

// adminRoutes lists the registered admin routes (pages and API).
func adminRoutes(e *loginEnv) []*echo.Route {
	var out []*echo.Route
	for _, r := range e.App.echo.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		if r.Path == "/admin" || strings.HasPrefix(r.Path, "/admin/") || strings.HasPrefix(r.Path, "/api/v1/admin/") {
			out = append(out, r)
		}
	}
	return out
}

// ---- access ------------------------------------------------------------------

func TestAdminRoutesRefuseNonAdmins(t *testing.T) {
	e := newLoginEnv(t, nil)
	e.enrollAdmin("root")
	user := e.adminSignIn(e.enroll("pat"))

	// An admin session without a second factor (no login makes one, but
	// RequireAdmin must hold on its own).
	tok, err := token.New()
	if err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now()
	err = e.Deps.Ephemeral.CreateSession(context.Background(), store.Session{
		ID: "onefactor", TokenHash: token.HashHex(tok), UserID: "someone", Username: "someone",
		Groups: []string{"admin"}, AMR: []string{"pwd"}, AuthTime: now, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	oneFactor := e.client()
	oneFactor.setCookie("mutualauth_session", tok)
	anonymous := e.client().adminNoRedirects()

	routes := adminRoutes(e)
	var pages, apis int
	for _, r := range routes {
		if strings.HasPrefix(r.Path, "/api/") {
			apis++
		} else {
			pages++
		}
	}
	// Every endpoint of docs/admin.md: 16 API routes, 17 page routes.
	if apis < 16 || pages < 17 {
		t.Fatalf("found %d admin API and %d admin page routes; the iteration would miss some: %v", apis, pages, routes)
	}
	for _, r := range routes {
		path := adminRouteURL(r.Path)
		isPage := !strings.HasPrefix(path, "/api/")
		var body any
		if r.Method == "POST" || r.Method == "PATCH" {
			body = map[string]any{"username": "eve", "admin": true, "name": "x", "origins": []string{"https://x.example"}}
		}
		for _, who := range []struct {
			name string
			b    *loginClient
		}{{"a user", user}, {"an admin without a second factor", oneFactor}} {
			rep := who.b.call(r.Method, path, body, "Accept", "text/html")
			if rep.status != http.StatusForbidden {
				t.Errorf("%s: %s %s: %d, want 403: %.200s", who.name, r.Method, path, rep.status, rep.body)
				continue
			}
			ct := rep.header.Get("Content-Type")
			if isPage && r.Method == "GET" {
				if !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(rep.body), "Forbidden") {
					t.Errorf("%s: GET %s: a browser gets %q, want the 403 page", who.name, path, ct)
				}
			} else if p := rep.problem(t); p.Code != "forbidden" || !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("%s: %s %s: %s %+v, want a forbidden problem", who.name, r.Method, path, ct, p)
			}
		}
		rep := anonymous.call(r.Method, path, body, "Accept", "text/html")
		switch {
		case isPage && r.Method == "GET":
			if rep.status != http.StatusSeeOther || !strings.HasPrefix(rep.header.Get("Location"), "/login?return_to=") {
				t.Errorf("anonymous GET %s: %d %q, want a redirect to the login page", path, rep.status, rep.header.Get("Location"))
			}
		case rep.status != http.StatusUnauthorized:
			t.Errorf("anonymous %s %s: %d, want 401", r.Method, path, rep.status)
		}
	}
	// Nothing was changed by the refused requests.
	if _, err := e.Deps.Durable.GetUserByUsername(context.Background(), "eve"); err == nil {
		t.Fatal("a refused request created a user")
	}
	if ev := e.audit("admin.", ""); len(ev) != 0 {
		t.Fatalf("refused requests reached the admin actions: %+v", ev)
	}
}

func TestAdminCrossSiteRefused(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	victim := e.enroll("vic")
	b := e.adminSignIn(root).adminNoRedirects()

	r := b.call("POST", "/api/v1/admin/users/"+victim.User.ID+"/disable", nil, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	requireProblem(t, "cross-site API post", r, 403, "cross_site_request")
	r = b.call("POST", "/api/v1/admin/users/"+victim.User.ID+"/disable", nil, "Origin", "null", "Sec-Fetch-Site", "cross-site")
	requireProblem(t, "cross-site API post from an opaque origin", r, 403, "cross_site_request")
	for _, hdr := range [][]string{
		{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"},
		{"Origin", "null", "Sec-Fetch-Site", "cross-site"},
		{"Origin", "null", "Sec-Fetch-Site", "same-site"},
		{"Origin", "https://evil.example"},
	} {
		r = b.call("POST", "/admin/users/"+victim.User.ID+"/disable?confirm=yes", nil, hdr...)
		requireProblem(t, "cross-site form post "+strings.Join(hdr, " "), r, 403, "cross_site_request")
	}
	if e.user(victim.User.ID).Disabled {
		t.Fatal("a cross-site request disabled the user")
	}
	// The browser's own form post (Origin null under no-referrer, but
	// Sec-Fetch-Site same-origin) and the issuer's origin pass.
	r = b.adminForm("/admin/users/"+victim.User.ID+"/disable", url.Values{"confirm": {"yes"}})
	adminRequireStatus(t, "same-origin form post", r, 303)
	if !e.user(victim.User.ID).Disabled {
		t.Fatal("the same-origin form post did not disable the user")
	}
	r = b.call("POST", "/api/v1/admin/users/"+victim.User.ID+"/enable", nil, "Origin", e.URL, "Sec-Fetch-Site", "same-origin")
	requireOK(t, "same-origin API post", r)
}

// ---- users -------------------------------------------------------------------

func TestAdminAPICreateAndListUsers(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	b := e.adminSignIn(root)

	var inv adminInviteJSON
	r := b.call("POST", "/api/v1/admin/users", map[string]any{"username": "  Zoe.Quinn ", "display_name": "Zoë Quinn"})
	adminRequireStatus(t, "create", r, 201)
	r.decode(t, &inv)
	if inv.User.Username != "zoe.quinn" || inv.User.DisplayName != "Zoë Quinn" || inv.User.Role != "user" || inv.User.Enrolled ||
		inv.User.Disabled || inv.User.ID == "" {
		t.Fatalf("created %+v", inv.User)
	}
	first := adminInviteToken(t, e, inv.EnrollURL)
	if exp, err := time.Parse(time.RFC3339, inv.ExpiresAt); err != nil || !exp.Equal(e.clk.Now().Add(e.Deps.Config.InviteTTL)) {
		t.Fatalf("expires_at %q", inv.ExpiresAt)
	}
	requireOK(t, "the invite works", e.client().call("GET", "/api/v1/enroll/"+first, nil))
	ev := adminRequireAudited(t, e, audit.AdminUserCreate, "success", root.User.ID, inv.User.ID)
	if strings.Contains(ev.Detail, first) {
		t.Fatal("the audit log holds the invite token")
	}

	// Again for a user who has not enrolled: a new link replaces the old.
	r = b.call("POST", "/api/v1/admin/users", map[string]any{"username": "zoe.quinn", "admin": true})
	adminRequireStatus(t, "re-invite", r, 201)
	var again adminInviteJSON
	r.decode(t, &again)
	second := adminInviteToken(t, e, again.EnrollURL)
	if second == first || again.User.ID != inv.User.ID || again.User.Role != "admin" {
		t.Fatalf("re-invite %+v", again)
	}
	requireProblem(t, "the replaced invite", e.client().call("GET", "/api/v1/enroll/"+first, nil), 404, "invalid_token")
	adminRequireAudited(t, e, audit.AdminUserInvite, "success", root.User.ID, inv.User.ID)

	// An enrolled user is reset, not re-invited.
	pat := e.enroll("pat")
	r = b.call("POST", "/api/v1/admin/users", map[string]any{"username": "PAT"})
	requireProblem(t, "enrolled user", r, 409, "already_enrolled")
	adminRequireAudited(t, e, audit.AdminUserInvite, "failure", root.User.ID, pat.User.ID)

	for _, bad := range []map[string]any{{"username": ""}, {"username": "two words"}, {"username": strings.Repeat("a", 65)}, {"username": "bell\u0007"}} {
		requireProblem(t, "bad username "+bad["username"].(string), b.call("POST", "/api/v1/admin/users", bad), 422, "invalid_username")
	}
	requireProblem(t, "bad display name", b.call("POST", "/api/v1/admin/users",
		map[string]any{"username": "ok", "display_name": "tab\there"}), 422, "invalid_display_name")
	requireProblem(t, "wrong type", b.call("POST", "/api/v1/admin/users", map[string]any{"username": 7}), 400, "bad_request")
	requireProblem(t, "no JSON", b.call("POST", "/api/v1/admin/users", nil), 415, "unsupported_media_type")
	if _, err := e.Deps.Durable.GetUserByUsername(context.Background(), "ok"); err == nil {
		t.Fatal("a refused request created a user")
	}

	// Listing: search, paging, total.
	for _, n := range []string{"amy", "ann", "bob"} {
		e.enroll(n)
	}
	var list struct {
		Users  []adminUserJSON `json:"users"`
		Total  int             `json:"total"`
		Offset int             `json:"offset"`
		Limit  int             `json:"limit"`
	}
	r = b.call("GET", "/api/v1/admin/users", nil)
	requireOK(t, "list", r)
	r.decode(t, &list)
	names := func() []string {
		var out []string
		for _, u := range list.Users {
			out = append(out, u.Username)
		}
		return out
	}
	if want := []string{"amy", "ann", "bob", "pat", "root", "zoe.quinn"}; !slices.Equal(names(), want) || list.Total != 6 || list.Limit != 50 {
		t.Fatalf("list %v total %d limit %d, want %v", names(), list.Total, list.Limit, want)
	}
	r = b.call("GET", "/api/v1/admin/users?q=A&limit=2&offset=1", nil)
	requireOK(t, "search", r)
	r.decode(t, &list)
	// "a" matches amy, ann, pat and zoe.quinn (and "Display ..." names).
	if list.Total < 4 || len(list.Users) != 2 || list.Offset != 1 || list.Users[0].Username != "ann" {
		t.Fatalf("search page %v total %d", names(), list.Total)
	}
	r = b.call("GET", "/api/v1/admin/users?q=zo", nil)
	requireOK(t, "search by display name", r)
	r.decode(t, &list)
	if !slices.Equal(names(), []string{"zoe.quinn"}) || list.Users[0].Enrolled {
		t.Fatalf("search zo: %v", names())
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "offset=-1", "q=" + strings.Repeat("q", 201)} {
		requireProblem(t, q, b.call("GET", "/api/v1/admin/users?"+q, nil), 400, "bad_request")
	}
}

func TestAdminAPIUserDetail(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	b := e.adminSignIn(root)
	ivy := e.enroll("ivy")
	e.device(ivy)
	e.adminSignIn(ivy)
	cred := store.Credential{ID: []byte("credential-of-ivy"), UserID: ivy.User.ID, PublicKey: []byte{1}, Name: "Ivy's key",
		CreatedAt: e.clk.Now(), BackupEligible: true, Transports: []string{"internal"}}
	if err := e.Deps.Durable.AddCredential(context.Background(), cred); err != nil {
		t.Fatal(err)
	}

	d := b.adminDetail(ivy.User.ID)
	if d.User.Username != "ivy" || !d.User.Enrolled || !d.Factors.Password || !d.Factors.Phrase || !d.Factors.TOTP ||
		d.Factors.RecoveryCodesLeft != 10 || len(d.Factors.Credentials) != 1 || d.Factors.Credentials[0].Name != "Ivy's key" ||
		d.Factors.Credentials[0].ID != base64.RawURLEncoding.EncodeToString(cred.ID) {
		t.Fatalf("detail %+v", d)
	}
	if len(d.Devices) != 2 || len(d.Sessions) != 1 || d.Sessions[0].Current || !slices.Equal(d.Sessions[0].AMR, []string{"pwd", "otp", "mfa"}) ||
		d.Sessions[0].IP == "" || !strings.Contains(d.Sessions[0].UserAgent, "Go-http-client") {
		t.Fatalf("devices %+v sessions %+v", d.Devices, d.Sessions)
	}
	if own := b.adminDetail(root.User.ID); len(own.Sessions) != 1 || !own.Sessions[0].Current {
		t.Fatalf("the admin's own session is not marked current: %+v", own.Sessions)
	}
	requireProblem(t, "unknown user", b.call("GET", "/api/v1/admin/users/nobody", nil), 404, "not_found")
	// The detail never carries secrets.
	raw := b.call("GET", "/api/v1/admin/users/"+ivy.User.ID, nil).body
	for _, secret := range []string{ivy.Password, ivy.Phrase, ivy.Secret, ivy.Recovery[0], e.user(ivy.User.ID).PasswordHash} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("the user detail leaks %q", secret)
		}
	}
}

func TestAdminDisableEndsAllSessions(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root)
	dan := e.enroll("dan")
	laptop, phone := e.adminSignIn(dan), e.adminSignIn(dan)
	for _, s := range []*loginClient{laptop, phone} {
		requireOK(t, "session before", s.call("GET", "/api/v1/session", nil))
	}

	r := admin.call("POST", "/api/v1/admin/users/"+dan.User.ID+"/disable", nil)
	requireOK(t, "disable", r)
	var out struct {
		User          adminUserJSON `json:"user"`
		SessionsEnded int           `json:"sessions_ended"`
	}
	r.decode(t, &out)
	if !out.User.Disabled || out.SessionsEnded != 2 {
		t.Fatalf("disable answered %s", r.body)
	}
	for _, s := range []*loginClient{laptop, phone} {
		requireProblem(t, "session after", s.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
		if v := s.call("GET", "/auth/verify", nil); v.status != 401 {
			t.Fatalf("forward auth after disable: %d", v.status)
		}
	}
	if live, err := e.Deps.Ephemeral.ListSessions(context.Background(), dan.User.ID); err != nil || len(live) != 0 {
		t.Fatalf("sessions left in the store: %v %v", live, err)
	}
	ev := adminRequireAudited(t, e, audit.AdminUserDisable, "success", root.User.ID, dan.User.ID)
	if !strings.Contains(ev.Detail, "sessions ended: 2") {
		t.Fatalf("audit detail %q", ev.Detail)
	}

	// A disabled user cannot sign in.
	e.clk.Advance(30 * time.Second)
	stranger := e.client()
	lr, rr := stranger.post("begin", map[string]any{"username": "dan"})
	requireOK(t, "begin", rr)
	_, rr = stranger.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(dan)})
	requireProblem(t, "disabled login", rr, 401, "invalid_credentials")

	// Not oneself.
	requireProblem(t, "self disable", admin.call("POST", "/api/v1/admin/users/"+root.User.ID+"/disable", nil), 409, "self_action")
	if e.user(root.User.ID).Disabled {
		t.Fatal("the admin disabled themselves")
	}
	adminRequireAudited(t, e, audit.AdminUserDisable, "failure", root.User.ID, root.User.ID)
	requireProblem(t, "unknown user", admin.call("POST", "/api/v1/admin/users/nobody/disable", nil), 404, "not_found")

	// Enabled again, the same factors work.
	r = admin.call("POST", "/api/v1/admin/users/"+dan.User.ID+"/enable", nil)
	requireOK(t, "enable", r)
	adminRequireAudited(t, e, audit.AdminUserEnable, "success", root.User.ID, dan.User.ID)
	requireOK(t, "session after enable", e.adminSignIn(dan).call("GET", "/api/v1/session", nil))
}

func TestAdminUnlock(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root)
	lou := e.enroll("lou")
	dev := e.device(lou)
	devRec, err := e.Deps.Durable.GetDeviceByTokenHash(context.Background(), token.Hash(dev))
	if err != nil {
		t.Fatal(err)
	}
	// Locked, as after 100 failures, with both counters still throttling.
	if _, err := e.Deps.Durable.UpdateUser(context.Background(), lou.User.ID, func(u *store.User) error {
		u.Locked = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	th := &login.Throttle{KV: e.Deps.Ephemeral, Now: e.clk.Now}
	for _, key := range []string{login.UsernameCounter("lou"), login.DeviceCounter(devRec.ID)} {
		for range login.FreeFailures {
			if _, err := th.Reserve(context.Background(), key); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "lou"})
	requireOK(t, "begin", r)
	_, r = b.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(lou)})
	requireProblem(t, "locked and throttled", r, 429, "too_many_attempts")

	r = admin.call("POST", "/api/v1/admin/users/"+lou.User.ID+"/unlock", nil)
	requireOK(t, "unlock", r)
	var out struct{ User adminUserJSON }
	r.decode(t, &out)
	if out.User.Locked || e.user(lou.User.ID).Locked {
		t.Fatalf("still locked: %s", r.body)
	}
	adminRequireAudited(t, e, audit.AdminUserUnlock, "success", root.User.ID, lou.User.ID)
	// The next attempts, per username and on the device, go through at once
	// (the clock has not moved: both counters would still throttle).
	// The refused attempt above did not spend the current code.
	now := e.client()
	now.login(lou, "", "otp")
	requireOK(t, "session after unlock", now.call("GET", "/api/v1/session", nil))
	onDevice := e.client()
	onDevice.login(lou, dev, "rec")
	requireProblem(t, "unknown user", admin.call("POST", "/api/v1/admin/users/nobody/unlock", nil), 404, "not_found")
}

func TestAdminResetThenReenroll(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root)
	rex := e.enroll("rex")
	e.device(rex)
	session := e.adminSignIn(rex)
	if err := e.Deps.Durable.AddCredential(context.Background(), store.Credential{ID: []byte("rex-key"), UserID: rex.User.ID,
		PublicKey: []byte{1}, Name: "key", CreatedAt: e.clk.Now()}); err != nil {
		t.Fatal(err)
	}

	requireProblem(t, "self reset", admin.call("POST", "/api/v1/admin/users/"+root.User.ID+"/reset", nil), 409, "self_action")
	if !e.user(root.User.ID).EnrolledAt.Equal(root.User.EnrolledAt) {
		t.Fatal("the self reset changed the admin")
	}

	r := admin.call("POST", "/api/v1/admin/users/"+rex.User.ID+"/reset", nil)
	requireOK(t, "reset", r)
	var inv adminInviteJSON
	r.decode(t, &inv)
	tok := adminInviteToken(t, e, inv.EnrollURL)
	if inv.SessionsEnded != 1 || inv.User.Enrolled || inv.User.ID != rex.User.ID {
		t.Fatalf("reset answered %s", r.body)
	}
	requireProblem(t, "session after reset", session.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	u := e.user(rex.User.ID)
	if u.PasswordHash != "" || u.Phrase != nil || u.TOTPSecret != nil || u.TOTPPending != nil || !u.EnrolledAt.IsZero() {
		t.Fatalf("factors left after reset: %+v", u)
	}
	d := admin.adminDetail(rex.User.ID)
	if len(d.Devices) != 0 || len(d.Sessions) != 0 || len(d.Factors.Credentials) != 0 || d.Factors.RecoveryCodesLeft != 0 ||
		d.Factors.Password || d.Factors.Phrase || d.Factors.TOTP {
		t.Fatalf("detail after reset: %+v", d)
	}
	ev := adminRequireAudited(t, e, audit.AdminUserReset, "success", root.User.ID, rex.User.ID)
	if strings.Contains(ev.Detail, tok) {
		t.Fatal("the audit log holds the invite token")
	}

	// The old factors are useless now.
	e.clk.Advance(30 * time.Second)
	old := e.client()
	lr, rr := old.post("begin", map[string]any{"username": "rex"})
	requireOK(t, "begin", rr)
	_, rr = old.post("recovery", map[string]any{"login_id": lr.LoginID, "code": rex.Recovery[0]})
	requireProblem(t, "old recovery code", rr, 401, "invalid_credentials")

	// The new invite re-enrolls the user, who then signs in.
	e.clk.Advance(30 * time.Second)
	again := e.adminEnrollAPI(tok, "rex")
	requireOK(t, "session after re-enrollment", e.adminSignIn(again).call("GET", "/api/v1/session", nil))
	if d := admin.adminDetail(rex.User.ID); !d.User.Enrolled || d.Factors.RecoveryCodesLeft != 10 {
		t.Fatalf("after re-enrollment: %+v", d)
	}
	requireProblem(t, "unknown user", admin.call("POST", "/api/v1/admin/users/nobody/reset", nil), 404, "not_found")
}

func TestAdminRevokeSessionDeviceAndCredential(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root)
	sam := e.enroll("sam")
	kept, revoked := e.adminSignIn(sam), e.adminSignIn(sam)
	if err := e.Deps.Durable.AddCredential(context.Background(), store.Credential{ID: []byte("sam-key"), UserID: sam.User.ID,
		PublicKey: []byte{1}, Name: "key", CreatedAt: e.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	d := admin.adminDetail(sam.User.ID)
	if len(d.Sessions) != 2 {
		t.Fatalf("sessions %+v", d.Sessions)
	}
	// Find the session of `revoked` by elimination: the list is oldest first.
	sid := d.Sessions[1].ID
	r := admin.call("DELETE", "/api/v1/admin/users/"+sam.User.ID+"/sessions/"+sid, nil)
	adminRequireStatus(t, "revoke", r, 204)
	requireProblem(t, "revoked session", revoked.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	requireOK(t, "other session", kept.call("GET", "/api/v1/session", nil))
	adminRequireAudited(t, e, audit.AdminSessionRevoke, "success", root.User.ID, sam.User.ID)
	requireProblem(t, "again", admin.call("DELETE", "/api/v1/admin/users/"+sam.User.ID+"/sessions/"+sid, nil), 404, "not_found")
	// A session id of another user does not work under this user.
	rootSID := admin.adminDetail(root.User.ID).Sessions[0].ID
	requireProblem(t, "another user's session", admin.call("DELETE", "/api/v1/admin/users/"+sam.User.ID+"/sessions/"+rootSID, nil), 404, "not_found")
	requireOK(t, "admin still signed in", admin.call("GET", "/api/v1/session", nil))

	devices := admin.adminDetail(sam.User.ID).Devices
	if len(devices) != 2 {
		t.Fatalf("devices %+v", devices)
	}
	adminRequireStatus(t, "forget device", admin.call("DELETE", "/api/v1/admin/users/"+sam.User.ID+"/devices/"+devices[0].ID, nil), 204)
	requireProblem(t, "forget again", admin.call("DELETE", "/api/v1/admin/users/"+sam.User.ID+"/devices/"+devices[0].ID, nil), 404, "not_found")
	requireProblem(t, "another user's device", admin.call("DELETE", "/api/v1/admin/users/"+root.User.ID+"/devices/"+devices[1].ID, nil), 404, "not_found")
	if left := admin.adminDetail(sam.User.ID).Devices; len(left) != 1 || left[0].ID != devices[1].ID {
		t.Fatalf("devices left %+v", left)
	}
	adminRequireAudited(t, e, audit.AdminDeviceDelete, "success", root.User.ID, sam.User.ID)

	cid := base64.RawURLEncoding.EncodeToString([]byte("sam-key"))
	requireProblem(t, "bad credential id", admin.call("DELETE", "/api/v1/admin/users/"+sam.User.ID+"/credentials/%21%21", nil), 404, "not_found")
	requireProblem(t, "another user's credential", admin.call("DELETE", "/api/v1/admin/users/"+root.User.ID+"/credentials/"+cid, nil), 404, "not_found")
	adminRequireStatus(t, "remove credential", admin.call("DELETE", "/api/v1/admin/users/"+sam.User.ID+"/credentials/"+cid, nil), 204)
	if left := admin.adminDetail(sam.User.ID).Factors.Credentials; len(left) != 0 {
		t.Fatalf("credentials left %+v", left)
	}
	adminRequireAudited(t, e, audit.AdminCredentialDelete, "success", root.User.ID, sam.User.ID)
}

// ---- audit -------------------------------------------------------------------

func TestAdminAuditFilters(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root)
	amy := e.enroll("amy")
	start := e.clk.Now()
	e.clk.Advance(time.Minute)
	e.adminSignIn(amy)
	e.clk.Advance(time.Minute)
	mid := e.clk.Now()
	requireOK(t, "disable", admin.call("POST", "/api/v1/admin/users/"+amy.User.ID+"/disable", nil))
	requireProblem(t, "self disable", admin.call("POST", "/api/v1/admin/users/"+root.User.ID+"/disable", nil), 409, "self_action")
	e.clk.Advance(time.Minute)
	requireOK(t, "enable", admin.call("POST", "/api/v1/admin/users/"+amy.User.ID+"/enable", nil))

	all := admin.adminAudit("limit=500")
	if len(all.Events) < 8 || all.NextBefore != 0 {
		t.Fatalf("%d events, next %d", len(all.Events), all.NextBefore)
	}
	for i := 1; i < len(all.Events); i++ {
		if all.Events[i].ID >= all.Events[i-1].ID {
			t.Fatal("events are not newest first")
		}
	}

	byUser := admin.adminAudit("user=AMY")
	for _, ev := range byUser.Events {
		if ev.Subject != amy.User.ID || ev.SubjectUsername != "amy" {
			t.Fatalf("user filter let through %+v", ev)
		}
	}
	var actions []string
	for _, ev := range byUser.Events {
		actions = append(actions, ev.Action)
	}
	for _, want := range []string{"admin.user.enable", "admin.user.disable", "login.complete"} {
		if !slices.Contains(actions, want) {
			t.Fatalf("user filter: %v lacks %s", actions, want)
		}
	}
	if same := admin.adminAudit("user=" + amy.User.ID); len(same.Events) != len(byUser.Events) {
		t.Fatal("filtering by id and by username differ")
	}

	byActor := admin.adminAudit("actor=root&action=admin.")
	if len(byActor.Events) != 3 {
		t.Fatalf("actor+action: %+v", byActor.Events)
	}
	for _, ev := range byActor.Events {
		if ev.Actor != root.User.ID || ev.ActorUsername != "root" || !strings.HasPrefix(ev.Action, "admin.") {
			t.Fatalf("actor filter let through %+v", ev)
		}
	}
	failures := admin.adminAudit("action=admin.&result=failure")
	if len(failures.Events) != 1 || failures.Events[0].Action != "admin.user.disable" || failures.Events[0].Subject != root.User.ID ||
		!strings.Contains(failures.Events[0].Detail, "self_action") {
		t.Fatalf("result filter: %+v", failures.Events)
	}

	// Time range: since is inclusive, until exclusive; datetime-local works.
	window := admin.adminAudit("since=" + url.QueryEscape(mid.Format(time.RFC3339)) + "&until=" + url.QueryEscape(mid.Add(time.Minute).Format(time.RFC3339)))
	if len(window.Events) != 2 {
		t.Fatalf("window: %+v", window.Events)
	}
	for _, ev := range window.Events {
		if !strings.HasPrefix(ev.Action, "admin.user.disable") {
			t.Fatalf("window let through %+v", ev)
		}
	}
	local := admin.adminAudit("since=" + mid.UTC().Format("2006-01-02T15:04") + "&until=" + mid.Add(time.Minute).UTC().Format("2006-01-02T15:04"))
	if len(local.Events) != len(window.Events) {
		t.Fatalf("datetime-local window: %d events, want %d", len(local.Events), len(window.Events))
	}
	if before := admin.adminAudit("until=" + url.QueryEscape(start.Format(time.RFC3339))); len(before.Events) != 0 {
		t.Fatalf("events before the start: %+v", before.Events)
	}

	// Paging with before.
	page1 := admin.adminAudit("limit=3")
	if len(page1.Events) != 3 || page1.NextBefore != page1.Events[2].ID {
		t.Fatalf("page 1: %+v", page1)
	}
	page2 := admin.adminAudit("limit=3&before=" + strconv.FormatInt(page1.NextBefore, 10))
	if len(page2.Events) != 3 || page2.Events[0].ID != all.Events[3].ID {
		t.Fatalf("page 2 starts at %d, want %d", page2.Events[0].ID, all.Events[3].ID)
	}

	for _, q := range []string{"since=yesterday", "until=2024-13-01", "limit=0", "limit=501", "before=-1", "before=x",
		"since=2025-01-02&until=2025-01-01", "action=" + strings.Repeat("a", 201)} {
		requireProblem(t, q, admin.call("GET", "/api/v1/admin/audit?"+q, nil), 400, "bad_request")
	}
}

// ---- clients -----------------------------------------------------------------

func TestAdminClients(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root)

	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Client       struct {
			Name    string   `json:"name"`
			Origins []string `json:"origins"`
		} `json:"client"`
	}
	r := admin.call("POST", "/api/v1/admin/clients", map[string]any{"name": " Shop ",
		"origins": []string{"HTTPS://Shop.Example:443/", "https://shop.example", "http://localhost:3000"}})
	adminRequireStatus(t, "create client", r, 201)
	r.decode(t, &created)
	if !strings.HasPrefix(created.ClientID, "mac_") || !token.Valid(created.ClientSecret) || created.Client.Name != "Shop" ||
		!slices.Equal(created.Client.Origins, []string{"https://shop.example", "http://localhost:3000"}) {
		t.Fatalf("created %s", r.body)
	}
	stored, err := e.Deps.Durable.GetClient(context.Background(), created.ClientID)
	if err != nil || !token.Equal(stored.SecretHash, token.Hash(created.ClientSecret)) {
		t.Fatalf("stored client %+v %v", stored, err)
	}
	ev := adminRequireAudited(t, e, audit.AdminClientCreate, "success", root.User.ID, created.ClientID)
	if strings.Contains(ev.Detail, created.ClientSecret) {
		t.Fatal("the audit log holds the secret")
	}
	for _, bad := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"name": "", "origins": []string{"https://a.example"}}, "invalid_name"},
		{map[string]any{"name": strings.Repeat("n", 101), "origins": []string{"https://a.example"}}, "invalid_name"},
		{map[string]any{"name": "A", "origins": []string{}}, "invalid_origin"},
		{map[string]any{"name": "A"}, "invalid_origin"},
		{map[string]any{"name": "A", "origins": []string{"https://a.example/path"}}, "invalid_origin"},
		{map[string]any{"name": "A", "origins": []string{"ftp://a.example"}}, "invalid_origin"},
		{map[string]any{"name": "A", "origins": []string{"https://*.a.example"}}, "invalid_origin"},
		{map[string]any{"name": "A", "origins": []string{"https://*"}}, "invalid_origin"},
		{map[string]any{"name": "A", "origins": []string{"https://a.example/*"}}, "invalid_origin"},
		{map[string]any{"name": "A", "origins": []string{"https://a.example/embed/"}}, "invalid_origin"},
	} {
		requireProblem(t, "bad client "+bad.code, admin.call("POST", "/api/v1/admin/clients", bad.body), 422, bad.code)
	}

	var list struct {
		Clients []struct {
			ClientID string   `json:"client_id"`
			Name     string   `json:"name"`
			Origins  []string `json:"origins"`
		} `json:"clients"`
	}
	r = admin.call("GET", "/api/v1/admin/clients", nil)
	requireOK(t, "list clients", r)
	r.decode(t, &list)
	if len(list.Clients) != 1 || list.Clients[0].ClientID != created.ClientID || strings.Contains(string(r.body), created.ClientSecret) {
		t.Fatalf("list %s", r.body)
	}

	// A widget login's code: the old secret stops working at /api/v1/token
	// after the rotation, the new one works.
	omar := e.enroll("omar")
	b := e.client()
	e.clk.Advance(30 * time.Second)
	lr, rr := b.post("begin", map[string]any{"username": "omar", "client_id": created.ClientID})
	requireOK(t, "begin", rr)
	_, rr = b.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(omar)})
	requireOK(t, "otp", rr)
	lr, rr = b.post("password", map[string]any{"login_id": lr.LoginID, "password": omar.Password})
	requireOK(t, "password", rr)
	code := lr.Code

	r = admin.call("POST", "/api/v1/admin/clients/"+created.ClientID+"/rotate", nil)
	requireOK(t, "rotate", r)
	var rotated struct {
		ClientSecret string `json:"client_secret"`
	}
	r.decode(t, &rotated)
	if !token.Valid(rotated.ClientSecret) || rotated.ClientSecret == created.ClientSecret {
		t.Fatalf("rotate %s", r.body)
	}
	adminRequireAudited(t, e, audit.AdminClientRotate, "success", root.User.ID, created.ClientID)
	exchange := func(secret string) httpReply {
		return e.client().call("POST", "/api/v1/token", map[string]string{"code": code}, "Authorization",
			"Basic "+base64.StdEncoding.EncodeToString([]byte(created.ClientID+":"+secret)))
	}
	requireProblem(t, "old secret", exchange(created.ClientSecret), 401, "invalid_client")
	requireOK(t, "new secret", exchange(rotated.ClientSecret))

	name := "Shop 2"
	r = admin.call("PATCH", "/api/v1/admin/clients/"+created.ClientID, map[string]any{"name": name})
	requireOK(t, "rename", r)
	if cl, _ := e.Deps.Durable.GetClient(context.Background(), created.ClientID); cl.Name != name || len(cl.Origins) != 2 ||
		!token.Equal(cl.SecretHash, token.Hash(rotated.ClientSecret)) {
		t.Fatalf("after rename %+v", cl)
	}
	r = admin.call("PATCH", "/api/v1/admin/clients/"+created.ClientID, map[string]any{"origins": []string{"https://new.example"}})
	requireOK(t, "new origins", r)
	if cl, _ := e.Deps.Durable.GetClient(context.Background(), created.ClientID); cl.Name != name || !slices.Equal(cl.Origins, []string{"https://new.example"}) {
		t.Fatalf("after origins %+v", cl)
	}
	requireProblem(t, "patch no origins", admin.call("PATCH", "/api/v1/admin/clients/"+created.ClientID, map[string]any{"origins": []string{}}), 422, "invalid_origin")
	requireProblem(t, "patch bad name", admin.call("PATCH", "/api/v1/admin/clients/"+created.ClientID, map[string]any{"name": " "}), 422, "invalid_name")
	requireProblem(t, "patch unknown", admin.call("PATCH", "/api/v1/admin/clients/mac_nope", map[string]any{"name": "x"}), 404, "not_found")
	requireProblem(t, "rotate unknown", admin.call("POST", "/api/v1/admin/clients/mac_nope/rotate", nil), 404, "not_found")
	adminRequireAudited(t, e, audit.AdminClientUpdate, "failure", root.User.ID, "mac_nope")

	adminRequireStatus(t, "delete", admin.call("DELETE", "/api/v1/admin/clients/"+created.ClientID, nil), 204)
	requireProblem(t, "delete again", admin.call("DELETE", "/api/v1/admin/clients/"+created.ClientID, nil), 404, "not_found")
	if _, err := e.Deps.Durable.GetClient(context.Background(), created.ClientID); err == nil {
		t.Fatal("the client is still stored")
	}
	adminRequireAudited(t, e, audit.AdminClientDelete, "success", root.User.ID, created.ClientID)
}

// ---- pages -------------------------------------------------------------------

func TestAdminPagesUsers(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root).adminNoRedirects()

	r := admin.adminPage("/admin")
	requireOK(t, "users page", r)
	body := string(r.body)
	for _, want := range []string{`<main id="main" class="wide"`, `aria-current="page">Users`, `data-user="root"`, `action="/admin/users"`,
		`src="/static/admin.js"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("users page lacks %q", want)
		}
	}
	if r.header.Get("Cache-Control") != "no-store" || !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("headers %v", r.header)
	}

	// Create a user with the form: post/redirect/get, and the page it
	// redirects to shows the link.
	r = admin.adminFollow(t, "create form", admin.adminForm("/admin/users", url.Values{"username": {"Nina"}, "display_name": {"Nina <b>Nash</b>"}}))
	body = string(r.body)
	tok := adminInviteToken(t, e, body)
	if !strings.Contains(body, `id="invite-url"`) || !strings.Contains(body, "Nina &lt;b&gt;Nash&lt;/b&gt;") || strings.Contains(body, "<b>Nash") {
		t.Fatalf("create answer: %.2000s", body)
	}
	requireOK(t, "the page's invite works", e.client().call("GET", "/api/v1/enroll/"+tok, nil))
	// Reloading that page shows the same link and invites nobody again.
	if again := admin.adminPage(admin.lastLocation); adminInviteToken(t, e, string(again.body)) != tok {
		t.Fatal("a reload showed another link")
	}
	requireOK(t, "the link after the reload", e.client().call("GET", "/api/v1/enroll/"+tok, nil))
	// Another admin session cannot read it.
	if other := e.adminSignIn(root).adminPage(admin.lastLocation); adminEnrollURLPattern.Match(other.body) {
		t.Fatal("another session sees the invite link")
	}
	// The list itself has no link.
	if again := admin.adminPage("/admin"); adminEnrollURLPattern.Match(again.body) {
		t.Fatal("the invite link is shown again")
	}
	nina, err := e.Deps.Durable.GetUserByUsername(context.Background(), "nina")
	if err != nil {
		t.Fatal(err)
	}
	adminRequireAudited(t, e, audit.AdminUserCreate, "success", root.User.ID, nina.ID)

	// Refused input keeps the form and says why.
	r = admin.adminForm("/admin/users", url.Values{"username": {"two words"}, "display_name": {"Kept Name"}})
	adminRequireStatus(t, "bad username form", r, 422)
	if !strings.Contains(string(r.body), `id="new-user-error"`) || !strings.Contains(string(r.body), `value="Kept Name"`) {
		t.Fatalf("form error page: %.1500s", r.body)
	}

	// Search and paging.
	for i := range 30 {
		e.enroll("user" + strconv.Itoa(100+i))
	}
	r = admin.adminPage("/admin?q=user1")
	requireOK(t, "search", r)
	if n := strings.Count(string(r.body), `data-user="user1`); n != 25 || !strings.Contains(string(r.body), "of 30") ||
		!strings.Contains(string(r.body), `href="/admin?offset=25&amp;q=user1"`) {
		t.Fatalf("search page 1: %d rows: %.3000s", n, r.body)
	}
	r = admin.adminPage("/admin?q=user1&offset=25")
	if n := strings.Count(string(r.body), `data-user="user1`); n != 5 || !strings.Contains(string(r.body), `href="/admin?q=user1"`) {
		t.Fatalf("search page 2: %d rows", n)
	}
	r = admin.adminPage("/admin?q=zzz")
	if !strings.Contains(string(r.body), `id="users-empty"`) {
		t.Fatal("no empty state")
	}
	r = admin.adminPage("/admin?limit=abc")
	adminRequireStatus(t, "bad paging", r, 400)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatal("a bad query is not a page")
	}
}

func TestAdminPagesUserActions(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root).adminNoRedirects()
	ken := e.enroll("ken")
	kenSession := e.adminSignIn(ken)
	e.device(ken)
	base := "/admin/users/" + ken.User.ID

	r := admin.adminPage(base)
	requireOK(t, "user page", r)
	body := string(r.body)
	sessions := regexp.MustCompile(`data-session="([^"]+)"`).FindAllStringSubmatch(body, -1)
	// Two recognized devices: one from the login, one made here.
	if len(sessions) != 1 || !strings.Contains(body, `id="confirm-disable"`) || !strings.Contains(body, `id="confirm-reset"`) ||
		strings.Count(body, `data-device="`) != 2 || !strings.Contains(body, "Go-http-client") {
		t.Fatalf("user page: %.4000s", body)
	}
	if own := admin.adminPage("/admin/users/" + root.User.ID); !strings.Contains(string(own.body), `id="self-note"`) ||
		strings.Contains(string(own.body), `id="action-disable"`) || !strings.Contains(string(own.body), "This session") {
		t.Fatal("the admin's own page offers disable/reset or misses the current session")
	}
	adminRequireStatus(t, "unknown user page", admin.adminPage("/admin/users/nobody"), 404)

	// Revoke the session (PRG with a flash message).
	r = admin.adminForm(base+"/sessions/"+sessions[0][1]+"/revoke", nil)
	if r.status != 303 || r.header.Get("Location") != base {
		t.Fatalf("revoke: %d %q", r.status, r.header.Get("Location"))
	}
	requireProblem(t, "revoked", kenSession.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	r = admin.adminPage(base)
	if !strings.Contains(string(r.body), "The session was ended.") || !strings.Contains(string(r.body), `id="sessions-empty"`) {
		t.Fatalf("after revoke: %.3000s", r.body)
	}
	if again := admin.adminPage(base); strings.Contains(string(again.body), "The session was ended.") {
		t.Fatal("the flash message shows twice")
	}

	// Disable needs the confirmation box.
	kenSession = e.adminSignIn(ken)
	r = admin.adminForm(base+"/disable", nil)
	adminRequireStatus(t, "disable unconfirmed", r, 303)
	if e.user(ken.User.ID).Disabled {
		t.Fatal("disabled without confirmation")
	}
	if p := admin.adminPage(base); !strings.Contains(string(p.body), "Tick the confirmation box") {
		t.Fatal("no reason given for the refused disable")
	}
	adminRequireStatus(t, "disable", admin.adminForm(base+"/disable", url.Values{"confirm": {"yes"}}), 303)
	if !e.user(ken.User.ID).Disabled {
		t.Fatal("not disabled")
	}
	requireProblem(t, "session after disable", kenSession.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	p := admin.adminPage(base)
	if !strings.Contains(string(p.body), "ken is disabled; 1 session was ended.") || !strings.Contains(string(p.body), `id="action-enable"`) {
		t.Fatalf("after disable: %.3000s", p.body)
	}
	adminRequireStatus(t, "enable", admin.adminForm(base+"/enable", nil), 303)
	if e.user(ken.User.ID).Disabled {
		t.Fatal("still disabled")
	}

	// Self actions are refused with a message.
	adminRequireStatus(t, "self disable", admin.adminForm("/admin/users/"+root.User.ID+"/disable", url.Values{"confirm": {"yes"}}), 303)
	if p := admin.adminPage("/admin/users/" + root.User.ID); !strings.Contains(string(p.body), "Ask another administrator") || e.user(root.User.ID).Disabled {
		t.Fatal("self disable not refused with a message")
	}

	// Unlock.
	if _, err := e.Deps.Durable.UpdateUser(context.Background(), ken.User.ID, func(u *store.User) error {
		u.Locked = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if p := admin.adminPage(base); !strings.Contains(string(p.body), `id="action-unlock"`) {
		t.Fatal("no unlock button for a locked user")
	}
	adminRequireStatus(t, "unlock", admin.adminForm(base+"/unlock", nil), 303)
	if e.user(ken.User.ID).Locked {
		t.Fatal("still locked")
	}

	// Forget the device.
	devices := regexp.MustCompile(`data-device="([^"]+)"`).FindAllStringSubmatch(string(admin.adminPage(base).body), -1)
	adminRequireStatus(t, "forget device", admin.adminForm(base+"/devices/"+devices[0][1]+"/delete", nil), 303)
	left := admin.adminDetail(ken.User.ID).Devices
	if len(left) != len(devices)-1 || slices.ContainsFunc(left, func(d struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}) bool {
		return d.ID == devices[0][1]
	}) {
		t.Fatal("device not forgotten")
	}

	// Reset shows the new link once in its own answer.
	adminRequireStatus(t, "reset unconfirmed", admin.adminForm(base+"/reset", nil), 303)
	if e.user(ken.User.ID).EnrolledAt.IsZero() {
		t.Fatal("reset without confirmation")
	}
	r = admin.adminFollow(t, "reset", admin.adminForm(base+"/reset", url.Values{"confirm": {"yes"}}))
	tok := adminInviteToken(t, e, string(r.body))
	if !strings.Contains(string(r.body), "New invite link") || !e.user(ken.User.ID).EnrolledAt.IsZero() {
		t.Fatal("reset page")
	}
	requireOK(t, "reset invite works", e.client().call("GET", "/api/v1/enroll/"+tok, nil))
	// Not enrolled: a new link can be made, which replaces the other.
	r = admin.adminFollow(t, "new invite", admin.adminForm(base+"/invite", nil))
	if tok2 := adminInviteToken(t, e, string(r.body)); tok2 == tok {
		t.Fatal("the same link twice")
	}
	requireProblem(t, "replaced link", e.client().call("GET", "/api/v1/enroll/"+tok, nil), 404, "invalid_token")
	if p := admin.adminPage(base); !strings.Contains(string(p.body), `id="action-invite"`) || adminEnrollURLPattern.Match(p.body) {
		t.Fatal("user page after reset")
	}
	for _, a := range []string{audit.AdminSessionRevoke, audit.AdminUserDisable, audit.AdminUserEnable, audit.AdminUserUnlock,
		audit.AdminDeviceDelete, audit.AdminUserReset, audit.AdminUserInvite} {
		adminRequireAudited(t, e, a, "success", root.User.ID, ken.User.ID)
	}
}

func TestAdminPagesCredentialRemoval(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root).adminNoRedirects()
	kim := e.enroll("kim")
	if err := e.Deps.Durable.AddCredential(context.Background(), store.Credential{ID: []byte("kim-key"), UserID: kim.User.ID,
		PublicKey: []byte{1}, Name: "Kim's <key>", CreatedAt: e.clk.Now(), Attachment: "cross-platform"}); err != nil {
		t.Fatal(err)
	}
	base := "/admin/users/" + kim.User.ID
	body := string(admin.adminPage(base).body)
	cid := base64.RawURLEncoding.EncodeToString([]byte("kim-key"))
	if !strings.Contains(body, `data-credential="`+cid+`"`) || !strings.Contains(body, "Kim&#39;s &lt;key&gt;") || !strings.Contains(body, "Security key") {
		t.Fatalf("credential row: %.4000s", body)
	}
	adminRequireStatus(t, "remove unconfirmed", admin.adminForm(base+"/credentials/"+cid+"/delete", nil), 303)
	if creds, _ := e.Deps.Durable.ListCredentials(context.Background(), kim.User.ID); len(creds) != 1 {
		t.Fatal("removed without confirmation")
	}
	adminRequireStatus(t, "remove", admin.adminForm(base+"/credentials/"+cid+"/delete", url.Values{"confirm": {"yes"}}), 303)
	if creds, _ := e.Deps.Durable.ListCredentials(context.Background(), kim.User.ID); len(creds) != 0 {
		t.Fatal("not removed")
	}
}

func TestAdminPagesAudit(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root).adminNoRedirects()
	ava := e.enroll("ava")
	requireOK(t, "disable", admin.call("POST", "/api/v1/admin/users/"+ava.User.ID+"/disable", nil))
	for range 60 {
		e.clk.Advance(time.Second)
		e.Deps.Durable.AppendAudit(context.Background(), store.AuditEvent{Time: e.clk.Now(), Subject: "ghost", Action: "login.otp", Result: "failure"})
	}

	r := admin.adminPage("/admin/audit")
	requireOK(t, "audit page", r)
	body := string(r.body)
	if n := strings.Count(body, `data-action="`); n != 50 || !strings.Contains(body, `id="audit-older"`) {
		t.Fatalf("first page: %d rows", n)
	}
	older := regexp.MustCompile(`id="audit-older"|href="(/admin/audit\?before=\d+)"`).FindAllStringSubmatch(body, -1)
	var next string
	for _, m := range older {
		if m[1] != "" {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if next == "" {
		t.Fatal("no older link")
	}
	r = admin.adminPage(next)
	requireOK(t, "older page", r)
	if n := strings.Count(string(r.body), `data-action="`); n == 0 || strings.Contains(string(r.body), `id="audit-older"`) {
		t.Fatalf("second page: %d rows", n)
	}

	r = admin.adminPage("/admin/audit?user=ava&action=admin.")
	requireOK(t, "filtered", r)
	body = string(r.body)
	if strings.Count(body, `data-action="admin.user.disable"`) != 1 || strings.Count(body, `data-action="`) != 1 ||
		!strings.Contains(body, `value="ava"`) || !strings.Contains(body, `href="/admin/users/`+ava.User.ID+`"`) {
		t.Fatalf("filtered page: %.3000s", body)
	}
	r = admin.adminPage("/admin/audit?result=throttled")
	if !strings.Contains(string(r.body), `id="audit-empty"`) || !strings.Contains(string(r.body), "No events match") {
		t.Fatal("no empty state")
	}
	r = admin.adminPage("/admin/audit?since=soon")
	adminRequireStatus(t, "bad since", r, 400)
	if !strings.Contains(string(r.body), `id="audit-error"`) || !strings.Contains(string(r.body), `value="soon"`) {
		t.Fatal("bad filter not explained on the page")
	}
}

func TestAdminPagesClients(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root).adminNoRedirects()

	r := admin.adminPage("/admin/clients")
	requireOK(t, "clients page", r)
	if !strings.Contains(string(r.body), `id="clients-empty"`) {
		t.Fatal("no empty state")
	}
	r = admin.adminForm("/admin/clients", url.Values{"name": {"Blog"}, "origins": {"https://blog.example\r\nhttp://localhost:4000\r\n"}})
	requireOK(t, "create", r)
	body := string(r.body)
	secret := regexp.MustCompile(`id="client-secret-out" class="mono" value="([A-Za-z0-9_-]+)"`).FindStringSubmatch(body)
	id := regexp.MustCompile(`id="client-id-out" class="mono" value="(mac_[0-9a-f]+)"`).FindStringSubmatch(body)
	if secret == nil || id == nil {
		t.Fatalf("create answer: %.3000s", body)
	}
	cl, err := e.Deps.Durable.GetClient(context.Background(), id[1])
	if err != nil || !token.Equal(cl.SecretHash, token.Hash(secret[1])) || !slices.Equal(cl.Origins, []string{"https://blog.example", "http://localhost:4000"}) {
		t.Fatalf("stored %+v %v", cl, err)
	}
	if list := admin.adminPage("/admin/clients"); strings.Contains(string(list.body), secret[1]) || !strings.Contains(string(list.body), "https://blog.example") {
		t.Fatal("the list shows the secret, or not the client")
	}

	r = admin.adminForm("/admin/clients", url.Values{"name": {"Bad"}, "origins": {"blog.example/path"}})
	adminRequireStatus(t, "bad origin", r, 422)
	if !strings.Contains(string(r.body), `id="new-client-error"`) || !strings.Contains(string(r.body), `value="Bad"`) {
		t.Fatal("bad origin not explained")
	}

	adminRequireStatus(t, "update", admin.adminForm("/admin/clients/"+id[1], url.Values{"name": {"Blog 2"}, "origins": {"https://b2.example"}}), 303)
	if cl, _ := e.Deps.Durable.GetClient(context.Background(), id[1]); cl.Name != "Blog 2" || !slices.Equal(cl.Origins, []string{"https://b2.example"}) {
		t.Fatalf("after update %+v", cl)
	}
	adminRequireStatus(t, "update without origins", admin.adminForm("/admin/clients/"+id[1], url.Values{"name": {"Blog 3"}}), 303)
	if p := admin.adminPage("/admin/clients"); !strings.Contains(string(p.body), "1 to 20 allowed origins") {
		t.Fatal("refused update not explained")
	}

	adminRequireStatus(t, "rotate unconfirmed", admin.adminForm("/admin/clients/"+id[1]+"/rotate", nil), 303)
	if cl, _ := e.Deps.Durable.GetClient(context.Background(), id[1]); !token.Equal(cl.SecretHash, token.Hash(secret[1])) {
		t.Fatal("rotated without confirmation")
	}
	r = admin.adminForm("/admin/clients/"+id[1]+"/rotate", url.Values{"confirm": {"yes"}})
	requireOK(t, "rotate", r)
	newSecret := regexp.MustCompile(`id="client-secret-out" class="mono" value="([A-Za-z0-9_-]+)"`).FindStringSubmatch(string(r.body))
	if newSecret == nil || newSecret[1] == secret[1] || !strings.Contains(string(r.body), "The old secret has stopped working") {
		t.Fatal("rotate answer")
	}
	if cl, _ := e.Deps.Durable.GetClient(context.Background(), id[1]); !token.Equal(cl.SecretHash, token.Hash(newSecret[1])) {
		t.Fatal("stored hash is not the new secret's")
	}

	adminRequireStatus(t, "delete unconfirmed", admin.adminForm("/admin/clients/"+id[1]+"/delete", nil), 303)
	if _, err := e.Deps.Durable.GetClient(context.Background(), id[1]); err != nil {
		t.Fatal("deleted without confirmation")
	}
	adminRequireStatus(t, "delete", admin.adminForm("/admin/clients/"+id[1]+"/delete", url.Values{"confirm": {"yes"}}), 303)
	if _, err := e.Deps.Durable.GetClient(context.Background(), id[1]); err == nil {
		t.Fatal("not deleted")
	}
}

func TestAdminFlashCookieIsNotTrusted(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root)
	for _, v := range []string{"%%%", base64.RawURLEncoding.EncodeToString([]byte(`{"k":"info","t":"x"}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`{"k":"error","t":"<script>alert(1)</script>"}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`{"k":"error","m":{"k":"flash.admin-enabled","a":["<script>alert(1)</script>"]}}`))} {
		u, _ := url.Parse(e.URL + "/admin")
		admin.hc.Jar.SetCookies(u, []*http.Cookie{{Name: adminFlashCookie, Value: v, Path: "/admin"}})
		r := admin.adminPage("/admin")
		requireOK(t, "page with a flash cookie", r)
		if strings.Contains(string(r.body), "<script>alert") || strings.Contains(string(r.body), `class="flash info"`) {
			t.Fatalf("flash %q rendered unsafely", v)
		}
	}
}

func TestAdminJSONShapes(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root)
	r := admin.call("GET", "/api/v1/admin/users", nil)
	requireOK(t, "list", r)
	var raw map[string]json.RawMessage
	r.decode(t, &raw)
	var users []map[string]any
	if err := json.Unmarshal(raw["users"], &users); err != nil || len(users) != 1 {
		t.Fatalf("users %s", raw["users"])
	}
	for _, k := range []string{"id", "username", "display_name", "role", "disabled", "locked", "enrolled", "created_at"} {
		if _, ok := users[0][k]; !ok {
			t.Fatalf("user lacks %s: %v", k, users[0])
		}
	}
	if _, ok := raw["total"]; !ok {
		t.Fatal("no total")
	}
	if _, err := time.Parse(time.RFC3339, users[0]["created_at"].(string)); err != nil {
		t.Fatal(err)
	}
}
