package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mutualauth/store"
)

// ---- stores that count their writes ------------------------------------

// countingDurable passes every call to the real durable store and counts
// the calls that write, so a test can show that a refused request changed
// nothing.
type countingDurable struct {
	store.Durable
	writes atomic.Int64
}

func (d *countingDurable) w() { d.writes.Add(1) }

func (d *countingDurable) CreateUser(ctx context.Context, u store.User) error {
	d.w()
	return d.Durable.CreateUser(ctx, u)
}

func (d *countingDurable) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	d.w()
	return d.Durable.UpdateUser(ctx, id, fn)
}

func (d *countingDurable) AcceptTOTPStep(ctx context.Context, userID string, step int64) error {
	d.w()
	return d.Durable.AcceptTOTPStep(ctx, userID, step)
}

func (d *countingDurable) AddCredential(ctx context.Context, c store.Credential) error {
	d.w()
	return d.Durable.AddCredential(ctx, c)
}

func (d *countingDurable) UpdateCredential(ctx context.Context, c store.Credential) error {
	d.w()
	return d.Durable.UpdateCredential(ctx, c)
}

func (d *countingDurable) DeleteCredential(ctx context.Context, userID string, id []byte) error {
	d.w()
	return d.Durable.DeleteCredential(ctx, userID, id)
}

func (d *countingDurable) DeleteUserCredentials(ctx context.Context, userID string) error {
	d.w()
	return d.Durable.DeleteUserCredentials(ctx, userID)
}

func (d *countingDurable) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	d.w()
	return d.Durable.ReplaceRecoveryCodes(ctx, userID, hashes)
}

func (d *countingDurable) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) error {
	d.w()
	return d.Durable.UseRecoveryCode(ctx, userID, hash, at)
}

func (d *countingDurable) CreateDevice(ctx context.Context, dev store.Device) error {
	d.w()
	return d.Durable.CreateDevice(ctx, dev)
}

// TouchDevice records when a recognized device was last seen; it is not
// counted as a write.
func (d *countingDurable) TouchDevice(ctx context.Context, id string, at time.Time) error {
	return d.Durable.TouchDevice(ctx, id, at)
}

func (d *countingDurable) DeleteDevice(ctx context.Context, userID, id string) error {
	d.w()
	return d.Durable.DeleteDevice(ctx, userID, id)
}

func (d *countingDurable) DeleteUserDevices(ctx context.Context, userID string) error {
	d.w()
	return d.Durable.DeleteUserDevices(ctx, userID)
}

func (d *countingDurable) CreateInvite(ctx context.Context, inv store.Invite) error {
	d.w()
	return d.Durable.CreateInvite(ctx, inv)
}

func (d *countingDurable) UseInvite(ctx context.Context, tokenHash []byte, at time.Time) error {
	d.w()
	return d.Durable.UseInvite(ctx, tokenHash, at)
}

func (d *countingDurable) DeleteUserInvites(ctx context.Context, userID string) error {
	d.w()
	return d.Durable.DeleteUserInvites(ctx, userID)
}

func (d *countingDurable) CreateClient(ctx context.Context, c store.Client) error {
	d.w()
	return d.Durable.CreateClient(ctx, c)
}

func (d *countingDurable) UpdateClient(ctx context.Context, c store.Client) error {
	d.w()
	return d.Durable.UpdateClient(ctx, c)
}

func (d *countingDurable) DeleteClient(ctx context.Context, id string) error {
	d.w()
	return d.Durable.DeleteClient(ctx, id)
}

func (d *countingDurable) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	d.w()
	return d.Durable.AppendAudit(ctx, e)
}

func (d *countingDurable) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	d.w()
	return d.Durable.AddSigningKey(ctx, k)
}

func (d *countingDurable) RetireSigningKey(ctx context.Context, generation int, at time.Time) error {
	d.w()
	return d.Durable.RetireSigningKey(ctx, generation, at)
}

// countingEphemeral does the same for the session store. Refreshing a
// session's idle time (TouchSession) is counted apart, in touches: every
// request with a session does it.
type countingEphemeral struct {
	store.Ephemeral
	writes  atomic.Int64
	touches atomic.Int64
}

func (e *countingEphemeral) w() { e.writes.Add(1) }

func (e *countingEphemeral) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	e.w()
	return e.Ephemeral.Put(ctx, key, value, ttl)
}

func (e *countingEphemeral) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	e.w()
	return e.Ephemeral.PutIfAbsent(ctx, key, value, ttl)
}

func (e *countingEphemeral) Take(ctx context.Context, key string) ([]byte, error) {
	e.w()
	return e.Ephemeral.Take(ctx, key)
}

func (e *countingEphemeral) Swap(ctx context.Context, key string, prev, next []byte, ttl time.Duration) error {
	e.w()
	return e.Ephemeral.Swap(ctx, key, prev, next, ttl)
}

func (e *countingEphemeral) Delete(ctx context.Context, key string) error {
	e.w()
	return e.Ephemeral.Delete(ctx, key)
}

func (e *countingEphemeral) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	e.w()
	return e.Ephemeral.Incr(ctx, key, ttl)
}

func (e *countingEphemeral) CreateSession(ctx context.Context, s store.Session) error {
	e.w()
	return e.Ephemeral.CreateSession(ctx, s)
}

func (e *countingEphemeral) TouchSession(ctx context.Context, tokenHash string, now time.Time, idle time.Duration) (store.Session, error) {
	e.touches.Add(1)
	return e.Ephemeral.TouchSession(ctx, tokenHash, now, idle)
}

func (e *countingEphemeral) DeleteSession(ctx context.Context, tokenHash string) error {
	e.w()
	return e.Ephemeral.DeleteSession(ctx, tokenHash)
}

func (e *countingEphemeral) DeleteUserSessions(ctx context.Context, userID, keepTokenHash string) (int, error) {
	e.w()
	return e.Ephemeral.DeleteUserSessions(ctx, userID, keepTokenHash)
}

// countingEnv is a loginEnv whose stores count their writes.
type countingEnv struct {
	*loginEnv
	durable   *countingDurable
	ephemeral *countingEphemeral
}

func (c *countingEnv) writes() int64 { return c.durable.writes.Load() + c.ephemeral.writes.Load() }

// newCountingEnv serves the real application (real SQLite and Redis from
// newTestServer, the settable clock of the login tests) with counting
// stores. scheme is the public URL's: "https" makes the server set Secure
// and __Host- cookies and HSTS, although the test server speaks plain HTTP.
func newCountingEnv(t *testing.T, scheme string, env map[string]string) *countingEnv {
	t.Helper()
	base := newTestServer(t, testOptions{FastHash: true, Env: env})
	clk := &loginClock{now: time.Now().UTC().Truncate(time.Second)}
	hs := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	d := base.Deps
	pub, err := url.Parse(scheme + "://localhost:" + port)
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.Config
	cfg.PublicURL = pub
	d.Config = cfg
	d.Now = clk.Now
	ce := &countingEnv{
		durable:   &countingDurable{Durable: d.Durable},
		ephemeral: &countingEphemeral{Ephemeral: d.Ephemeral},
	}
	d.Durable, d.Ephemeral = ce.durable, ce.ephemeral
	app, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = app
	hs.Start()
	t.Cleanup(hs.Close)
	// Requests go to the plain HTTP listener; the issuer keeps its scheme.
	ce.loginEnv = &loginEnv{t: t, URL: "http://localhost:" + port, Deps: d, App: app, clk: clk}
	r := ce.client().call("GET", "/.well-known/jwks.json", nil)
	if r.status != 200 {
		t.Fatalf("jwks: %d", r.status)
	}
	ce.jwks = r.body
	return ce
}

// issuer is the public URL the server believes it has.
func (c *countingEnv) issuer() string { return c.Deps.Config.Issuer() }

// raw sends a request with exactly this body and content type (none when
// ctype is empty) and returns the answer.
func (c *countingEnv) raw(method, path, ctype string, body io.Reader, hdr ...string) httpReply {
	t := c.t
	t.Helper()
	req, err := http.NewRequest(method, c.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpReply{status: resp.StatusCode, header: resp.Header, body: b}
}

// ---- the abuse table ----------------------------------------------------

// nested returns a JSON body whose username is n levels deep, each level
// opened by open and closed by close.
func nested(n int, open, close string) string {
	return `{"username":` + strings.Repeat(open, n) + `1` + strings.Repeat(close, n) + `}`
}

// TestAbuseRefusedWithoutStoreChanges sends hostile requests (oversized,
// mistyped, deeply nested, ambiguous, malformed text, bad tokens,
// traversal) and requires each to get its 4xx problem without one write to
// either store; enrollment steps may record the refused attempt in the
// audit log, nothing else.
func TestAbuseRefusedWithoutStoreChanges(t *testing.T) {
	e := newCountingEnv(t, "http", nil)
	e.enroll("amy")
	inviteTok, _ := (&testServer{Deps: e.Deps}).invite(t, "bob", "Bob")
	lr, r := e.client().post("begin", map[string]any{"username": "amy"})
	requireOK(t, "begin", r)
	loginID := lr.LoginID

	const jsonType = "application/json"
	big := `{"username":"` + strings.Repeat("a", 64*1024) + `"}`
	cases := []struct {
		name          string
		method, path  string
		ctype, body   string
		status        int
		code          string
		mayWriteAudit bool // enrollment steps record their failures (an attempt)
	}{
		{name: "body over 64 KiB", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: big, status: 413, code: "body_too_large"},
		{name: "body over 64 KiB on a factor step", method: "POST", path: "/api/v1/login/password", ctype: jsonType, body: big, status: 413, code: "body_too_large"},
		{name: "body over 64 KiB on enrollment", method: "POST", path: "/api/v1/enroll/" + inviteTok + "/password", ctype: jsonType, body: big, status: 413, code: "body_too_large"},
		{name: "text/plain", method: "POST", path: "/api/v1/login/begin", ctype: "text/plain", body: `{"username":"amy"}`, status: 415, code: "unsupported_media_type"},
		{name: "form post", method: "POST", path: "/api/v1/login/begin", ctype: "application/x-www-form-urlencoded", body: "username=amy", status: 415, code: "unsupported_media_type"},
		{name: "multipart", method: "POST", path: "/api/v1/login/password", ctype: "multipart/form-data; boundary=x", body: "--x--", status: 415, code: "unsupported_media_type"},
		{name: "no content type", method: "POST", path: "/api/v1/login/otp", body: `{"login_id":"` + loginID + `","code":"123456"}`, status: 415, code: "unsupported_media_type"},
		{name: "json lookalike type", method: "POST", path: "/api/v1/login/begin", ctype: "application/json-seq", body: `{"username":"amy"}`, status: 415, code: "unsupported_media_type"},
		{name: "malformed content type", method: "POST", path: "/api/v1/login/begin", ctype: "application/json; charset", body: `{"username":"amy"}`, status: 415, code: "unsupported_media_type"},
		{name: "wrong content type on enrollment", method: "POST", path: "/api/v1/enroll/" + inviteTok + "/password", ctype: "text/plain", body: `{"password":"x"}`, status: 415, code: "unsupported_media_type", mayWriteAudit: true},
		{name: "10,000 nested arrays", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: nested(10000, "[", "]"), status: 400, code: "bad_request"},
		{name: "10,000 nested objects", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: nested(10000, `{"a":`, "}"), status: 400, code: "bad_request"},
		{name: "33 nested arrays", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: nested(33, "[", "]"), status: 400, code: "bad_request"},
		{name: "duplicate key", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy","username":"eve"}`, status: 400, code: "duplicate_key"},
		{name: "duplicate key by case", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy","USERNAME":"eve"}`, status: 400, code: "duplicate_key"},
		{name: "duplicate key by Unicode folding", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy","u\u017Fername":"eve"}`, status: 400, code: "duplicate_key"},
		{name: "duplicate key nested in a credential", method: "POST", path: "/api/v1/login/webauthn", ctype: jsonType,
			body: `{"login_id":"` + loginID + `","credential":{"id":"a","id":"b"}}`, status: 400, code: "duplicate_key"},
		{name: "duplicate password on a factor step", method: "POST", path: "/api/v1/login/password", ctype: jsonType,
			body: `{"login_id":"` + loginID + `","password":"x","password":"y"}`, status: 400, code: "duplicate_key"},
		{name: "duplicate key on enrollment", method: "POST", path: "/api/v1/enroll/" + inviteTok + "/password", ctype: jsonType,
			body: `{"password":"velvet harbor quietly sings","password":"x"}`, status: 400, code: "duplicate_key", mayWriteAudit: true},
		{name: "invalid UTF-8", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: "{\"username\":\"am\xff\xfey\"}", status: 400, code: "invalid_request"},
		{name: "overlong UTF-8 encoding", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: "{\"username\":\"\xc0\xafetc\"}", status: 400, code: "invalid_request"},
		{name: "raw NUL byte", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: "{\"username\":\"a\x00my\"}", status: 400, code: "bad_request"},
		{name: "NUL between tokens", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: "{\"username\":\"amy\"}\x00", status: 400, code: "bad_request"},
		{name: "trailing JSON", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy"} {"username":"eve"}`, status: 400, code: "bad_request"},
		{name: "not an object", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `["amy"]`, status: 400, code: "bad_request"},
		{name: "empty body", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: ``, status: 400, code: "bad_request"},
		{name: "truncated", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"am`, status: 400, code: "bad_request"},
		{name: "wrong type", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":["amy"]}`, status: 400, code: "bad_request"},
		{name: "huge username", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"` + strings.Repeat("a", 60*1024) + `"}`, status: 400, code: "bad_request"},
		{name: "username of 257 bytes", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"` + strings.Repeat("é", 128) + `a"}`, status: 400, code: "bad_request"},
		{name: "blank username", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":" \t "}`, status: 400, code: "bad_request"},
		{name: "padded nonce", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy","client_nonce":"AAAAAAAAAAAAAAAAAAAAAA=="}`, status: 400, code: "invalid_nonce"},
		{name: "standard base64 nonce", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy","client_nonce":"+/+/+/+/+/+/+/+/+/+/+A"}`, status: 400, code: "invalid_nonce"},
		{name: "short nonce", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy","client_nonce":"AAAAAAAAAAAAAAAAAAAA"}`, status: 400, code: "invalid_nonce"},
		{name: "long nonce", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy","client_nonce":"` + strings.Repeat("A", 88) + `"}`, status: 400, code: "invalid_nonce"},
		{name: "nonce with NUL", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy","client_nonce":"AAAAAAAAAAAAAAAAAAAAAA\u0000"}`, status: 400, code: "invalid_nonce"},
		{name: "unknown client id", method: "POST", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy","client_id":"mac_nope"}`, status: 400, code: "invalid_client"},
		{name: "login id of the wrong shape", method: "POST", path: "/api/v1/login/otp", ctype: jsonType, body: `{"login_id":"../../x","code":"123456"}`, status: 404, code: "unknown_login"},
		{name: "login id with SQL", method: "POST", path: "/api/v1/login/password", ctype: jsonType, body: `{"login_id":"' OR '1'='1","password":"x"}`, status: 404, code: "unknown_login"},
		{name: "invite token with NUL", method: "POST", path: "/api/v1/enroll/" + url.PathEscape(inviteTok[:42]+"\x00") + "/password", ctype: jsonType, body: `{"password":"x"}`, status: 404, code: "invalid_token", mayWriteAudit: true},
		{name: "invite token with traversal", method: "GET", path: "/api/v1/enroll/..%2F..%2Fhealthz", status: 404, code: "invalid_token"},
		// echo answers an unknown method under a group with middleware as
		// an unknown route.
		{name: "unknown method", method: "PUT", path: "/api/v1/login/begin", ctype: jsonType, body: `{"username":"amy"}`, status: 404, code: "not_found"},
		{name: "static traversal", method: "GET", path: "/static/..%2F..%2Fgo.mod", status: 404, code: "not_found"},
		{name: "static traversal, dots encoded", method: "GET", path: "/static/%2e%2e%2fweb.go", status: 404, code: "not_found"},
		{name: "static traversal, backslash", method: "GET", path: "/static/..%5Cweb.go", status: 404, code: "not_found"},
		{name: "static traversal, two segments", method: "GET", path: "/static/../web/web.go", status: 404, code: "not_found"},
		{name: "static hidden file", method: "GET", path: "/static/.gitignore", status: 404, code: "not_found"},
		{name: "static source file", method: "GET", path: "/static/web.go", status: 404, code: "not_found"},
		{name: "static NUL", method: "GET", path: "/static/login.js%00.png", status: 404, code: "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auditBefore := len(e.audit("", ""))
			before := e.writes()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := e.raw(tc.method, tc.path, tc.ctype, body)
			p := requireProblem(t, tc.name, r, tc.status, tc.code)
			if p.Detail == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("not a problem document: %s %s", r.header.Get("Content-Type"), r.body)
			}
			if bytes.Contains(r.body, []byte("eve")) || bytes.Contains(r.body, []byte("aaaaaaaa")) {
				t.Fatalf("the answer echoes the request: %s", r.body)
			}
			after := e.writes()
			if tc.mayWriteAudit {
				if grew := len(e.audit("", "")) - auditBefore; after-before != int64(grew) || grew > 1 {
					t.Fatalf("%d writes, %d of them audit events; want at most the one audit event", after-before, grew)
				}
				return
			}
			if after != before {
				t.Fatalf("the refused request wrote to the stores %d times", after-before)
			}
		})
	}
}

// TestAbuseChunkedOversizedBody sends a body over the limit without a
// Content-Length, so only the reading stops it.
func TestAbuseChunkedOversizedBody(t *testing.T) {
	e := newCountingEnv(t, "http", nil)
	before := e.writes()
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(`{"username":"`))
		chunk := bytes.Repeat([]byte("a"), 4096)
		for range 20 {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		_, _ = pw.Write([]byte(`"}`))
		_ = pw.Close()
	}()
	r := e.raw("POST", "/api/v1/login/begin", "application/json", pr)
	requireProblem(t, "chunked body over 64 KiB", r, 413, "body_too_large")
	if e.writes() != before {
		t.Fatal("the refused request wrote to the stores")
	}
}

// TestAbuseInvalidUsernamesLookUnknown: a username that is not valid
// (a bidi control, too many code points, SQL) is answered exactly as an
// unknown one is, so validity reveals nothing either; its second factor
// fails like any other. Control characters and invalid UTF-8 are a syntax
// error instead (400 invalid_request: TestBeginRefusesControlCharacters...).
func TestAbuseInvalidUsernamesLookUnknown(t *testing.T) {
	e := newCountingEnv(t, "http", nil)
	e.enroll("amy")
	unknown, r := e.client().post("begin", map[string]any{"username": "nobody-here"})
	requireOK(t, "unknown username", r)
	for _, name := range []string{"amy\u202e", strings.Repeat("x", 65), "amy' OR '1'='1", "amy\"; DROP TABLE users; --"} {
		lr, r := e.client().post("begin", map[string]any{"username": name})
		requireOK(t, "begin "+name, r)
		if lr.PhraseShown || strings.Join(lr.Next, ",") != strings.Join(unknown.Next, ",") {
			t.Fatalf("%q: %+v, an unknown username gets %+v", name, lr, unknown)
		}
		_, r = e.client().post("otp", map[string]any{"login_id": lr.LoginID, "code": "123456"})
		requireProblem(t, "otp for "+name, r, 401, "invalid_credentials")
	}
	// The attempts are in the audit log, stored as sent (the store keeps
	// NUL-free text: U+FFFD stands in).
	var sawSQL bool
	for _, ev := range e.audit("login.otp", "failure") {
		sawSQL = sawSQL || ev.Subject == "amy' OR '1'='1"
	}
	if !sawSQL {
		t.Fatal("the attempt with an SQL string is not in the audit log as sent")
	}
	if _, n, err := e.Deps.Durable.ListUsers(context.Background(), store.UserQuery{Limit: 10}); err != nil || n != 1 {
		t.Fatalf("users after the injection attempts: %d %v", n, err)
	}
}

// TestAbuseInjectionStoredLiterallyRenderedEscaped: SQL and template
// syntax in a username and display name is stored as typed and shown
// escaped.
func TestAbuseInjectionStoredLiterallyRenderedEscaped(t *testing.T) {
	e := newCountingEnv(t, "http", nil)
	const username = "robert');drop-table-users;--"
	const display = `<script>alert(1)</script> {{.Body}} {{template "layout"}} ' OR 1=1 --`
	tok, u := (&testServer{Deps: e.Deps}).invite(t, username, display)
	got, err := e.Deps.Durable.GetUserByUsername(context.Background(), username)
	if err != nil || got.ID != u.ID || got.DisplayName != display {
		t.Fatalf("stored as %+v, %v", got, err)
	}
	r := e.raw("GET", "/enroll/"+tok, "", nil, "Accept", "text/html")
	if r.status != 200 {
		t.Fatalf("enrollment page %d", r.status)
	}
	page := string(r.body)
	if strings.Contains(page, "<script>alert") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("display name not escaped:\n%s", page)
	}
	if !strings.Contains(page, "{{.Body}}") || !strings.Contains(page, "{{template &#34;layout&#34;}}") {
		t.Fatalf("template syntax in data was interpreted instead of shown:\n%s", page)
	}
	if !strings.Contains(page, "robert&#39;);drop-table-users;--") {
		t.Fatalf("username not shown escaped:\n%s", page)
	}
	var st struct {
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
	}
	r = e.client().call("GET", "/api/v1/enroll/"+tok, nil)
	r.decode(t, &st)
	if st.Username != username || st.DisplayName != display {
		t.Fatalf("API shows %+v", st)
	}
	if _, n, err := e.Deps.Durable.ListUsers(context.Background(), store.UserQuery{Limit: 10}); err != nil || n != 1 {
		t.Fatalf("users table after the injection: %d %v", n, err)
	}
}

// TestAbuseReturnTo: header injection and open redirects through
// return_to never reach a header or the page.
func TestAbuseReturnTo(t *testing.T) {
	e := newCountingEnv(t, "http", nil)
	for rt, want := range map[string]string{
		"/ok\r\nSet-Cookie: evil=1":                "",
		"\r\nLocation: https://evil.example/":      "",
		"//evil.example/x":                         "",
		"https://evil.example/":                    "",
		"/\\evil.example":                          "",
		"\\\\evil.example":                         "",
		"javascript:alert(document.domain)":        "",
		"JaVaScRiPt:alert(1)":                      "",
		"data:text/html,<script>alert(1)</script>": "",
		"https://localhost@evil.example/":          "",
		"http://evil.example%2f@localhost/":        "",
		"/\t/evil.example":                         "",
		" //evil.example":                          "",
		"/%2fevil.example/ ":                       "",
		"/%2f%2fevil.example/x y":                  "",
		"/ok%0d%0aSet-Cookie:%20evil=1":            "/ok%0d%0aSet-Cookie:%20evil=1",
		"/account?next=https://evil.example/#frag": "/account?next=https://evil.example/",
	} {
		before := e.writes()
		r := e.raw("GET", "/login?return_to="+url.QueryEscape(rt), "", nil, "Accept", "text/html")
		if r.status != 200 {
			t.Fatalf("return_to %q: %d", rt, r.status)
		}
		if r.header.Get("Location") != "" || len(r.header.Values("Set-Cookie")) != 0 {
			t.Fatalf("return_to %q reached the headers: %v", rt, r.header)
		}
		attr := `data-return-to="` + strings.ReplaceAll(want, "&", "&amp;") + `"`
		if !bytes.Contains(r.body, []byte(attr)) {
			t.Fatalf("return_to %q: the page lacks %s:\n%s", rt, attr, r.body)
		}
		if want == "" && bytes.Contains(r.body, []byte("evil")) {
			t.Fatalf("return_to %q reached the page:\n%s", rt, r.body)
		}
		if e.writes() != before {
			t.Fatalf("return_to %q wrote to the stores", rt)
		}
	}
	// A session-protected page sends a browser to /login with the path as
	// return_to, percent-encoded.
	for _, path := range []string{"/account", "/admin"} {
		r := e.raw("GET", path+"?x=%0d%0aSet-Cookie:evil=1", "", nil, "Accept", "text/html")
		if r.status == http.StatusSeeOther {
			loc := r.header.Get("Location")
			if !strings.HasPrefix(loc, "/login?return_to=") || strings.ContainsAny(loc, "\r\n") || len(r.header.Values("Set-Cookie")) != 0 {
				t.Fatalf("%s redirects to %q", path, loc)
			}
		}
	}
}
