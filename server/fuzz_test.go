package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/config"
	"mutualauth/server/factor"
	"mutualauth/server/keys"
	"mutualauth/server/password"
	"mutualauth/server/secretbox"
	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/store/memory"
	sqlstore "mutualauth/store/sql"
)

// fuzzIssuer is the public URL of the in-process server the fuzz targets
// drive (a domain name, so passkeys are on).
const fuzzIssuer = "http://localhost:8080"

// fuzzApp is the real application with SQLite in a temporary directory and
// in-memory sessions, served in process (no network), with an enrolled
// admin, a signed-in session of theirs and an open invite.
type fuzzApp struct {
	app      *Server
	deps     Deps
	user     store.User
	password string
	session  string // session token
	invite   string // invite token
}

func newFuzzApp(tb testing.TB) *fuzzApp {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	env := map[string]string{config.EnvPublicURL: fuzzIssuer, config.EnvDataDir: dir, config.EnvIPRateLimit: "0"}
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	durable, err := sqlstore.Open(ctx, "", dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { durable.Close() })
	key, err := secretbox.LoadKey("", dir)
	if err != nil {
		tb.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := keys.Load(ctx, durable, box, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	params := password.DefaultParams
	params.Memory, params.Time = 1024, 1
	hasher, err := password.NewHasher(params, 4)
	if err != nil {
		tb.Fatal(err)
	}
	d := Deps{Config: cfg, Durable: durable, Ephemeral: memory.New(), Keys: ring, Box: box, Hasher: hasher,
		Log: slog.New(slog.DiscardHandler)}
	app, err := New(d)
	if err != nil {
		tb.Fatal(err)
	}
	fa := &fuzzApp{app: app, deps: d, password: "correct horse fuzz battery staple"}

	now := time.Now()
	id := account.NewID()
	phc, err := hasher.Hash(ctx, fa.password)
	if err != nil {
		tb.Fatal(err)
	}
	raw := make([]byte, 20)
	_, _ = rand.Read(raw)
	phrase, _ := box.Seal([]byte("seven fuzzy otters"), factor.PhraseAD(id))
	secret, _ := box.Seal([]byte(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)), factor.TOTPAD(id))
	fa.user = store.User{ID: id, Username: "fuzzadmin", DisplayName: "Fuzz Admin", Role: store.RoleAdmin,
		PasswordHash: phc, Phrase: phrase, TOTPSecret: secret, EnrolledAt: now, CreatedAt: now, UpdatedAt: now}
	if err := durable.CreateUser(ctx, fa.user); err != nil {
		tb.Fatal(err)
	}
	inv, err := account.IssueInvite(ctx, durable, now, account.InviteRequest{Username: "fuzzinvitee", CreatedBy: "cli"})
	if err != nil {
		tb.Fatal(err)
	}
	fa.invite = inv.Token
	if fa.session, err = token.New(); err != nil {
		tb.Fatal(err)
	}
	fa.ensureSession(tb)
	return fa
}

// ensureSession (re)creates the admin's session when a fuzzed request
// ended it.
func (fa *fuzzApp) ensureSession(tb testing.TB) {
	ctx := context.Background()
	now := time.Now()
	hash := token.HashHex(fa.session)
	if _, err := fa.deps.Ephemeral.TouchSession(ctx, hash, now, 30*time.Minute); err == nil {
		return
	}
	err := fa.deps.Ephemeral.CreateSession(ctx, store.Session{
		ID: account.NewID()[:16], TokenHash: hash, UserID: fa.user.ID, Username: fa.user.Username,
		DisplayName: fa.user.DisplayName, Groups: []string{string(store.RoleAdmin)}, AMR: []string{"pwd", "otp"},
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(30 * time.Minute),
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// serve runs one request in process.
func (fa *fuzzApp) serve(method, path, ctype string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Host = "localhost:8080"
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	req.AddCookie(&http.Cookie{Name: "mutualauth_session", Value: fa.session})
	rec := httptest.NewRecorder()
	fa.app.ServeHTTP(rec, req)
	return rec
}

// loginID begins a login for the admin and returns its id.
func (fa *fuzzApp) loginID(tb testing.TB) string {
	rec := fa.serve("POST", "/api/v1/login/begin", "application/json", []byte(`{"username":"fuzzadmin"}`))
	var lr struct {
		LoginID string `json:"login_id"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &lr) != nil {
		tb.Fatalf("begin: %d %s", rec.Code, rec.Body)
	}
	return lr.LoginID
}

// bodyRoutes are the application's routes that read a body, sorted, with
// their parameters filled in.
func (fa *fuzzApp) bodyRoutes() []routeSample {
	var out []routeSample
	for _, s := range routeSamples(fa.app, map[string]string{"token": fa.invite, "id": fa.user.ID}) {
		if stateChanging(s.method) {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].route+out[i].method < out[j].route+out[j].method })
	return out
}

// FuzzAPIBodies posts fuzzed bodies to every route that reads one (login,
// enrollment, sessions, account, admin, widget: whatever routes.go lists),
// with an admin's session cookie. "$LOGIN" in a body becomes the id of a
// fresh login transaction, so the factor steps get past the transaction
// lookup to their fields. No input may cause a 5xx or a panic (the Recover
// middleware would turn one into a 500), every answer carries the security
// headers, and every refusal of the JSON API is a problem document (form
// pages answer with HTML).
func FuzzAPIBodies(f *testing.F) {
	fa := newFuzzApp(f)
	routes := fa.bodyRoutes()
	seeds := []string{
		`{}`, `{"username":"fuzzadmin"}`, `{"username":"fuzzadmin","client_nonce":"AAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"login_id":"$LOGIN","password":"correct horse fuzz battery staple"}`, `{"login_id":"$LOGIN","code":"123456"}`,
		`{"login_id":"$LOGIN","code":"abcd-efgh-jkmn"}`, `{"login_id":"$LOGIN"}`,
		`{"login_id":"$LOGIN","credential":{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}}`,
		`{"password":"velvet harbor quietly sings"}`, `{"phrase":"green kettle"}`, `{"code":"000000"}`,
		`{"credential":{"id":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}},"name":"key"}`,
		`{"username":"new.user","display_name":"New","admin":true}`, `{"name":"Shop","origins":["https://shop.example"]}`,
		`{"disabled":true}`, `{"locked":false}`, `{"current_password":"x","code":"123456"}`, `[]`, `null`, `{"a":{"a":{"a":[[[[]]]]}}}`,
		"{\"username\":\"\\u0000\"}", `{"username":"a","username":"b"}`, `{"code":1e999}`, `"` + strings.Repeat("x", 100) + `"`,
	}
	// Every route once with an empty object, and every seed once, on
	// routes in turn: a few seeds each, so that the baseline run before
	// fuzzing stays short.
	for i := range routes {
		f.Add(uint8(i), []byte(`{}`))
	}
	for i, s := range seeds {
		f.Add(uint8(i*7%len(routes)), []byte(s))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		routes := fa.bodyRoutes()
		r := routes[int(route)%len(routes)]
		fa.ensureSession(t)
		if bytes.Contains(body, []byte("$LOGIN")) {
			body = bytes.ReplaceAll(body, []byte("$LOGIN"), []byte(fa.loginID(t)))
		}
		rec := fa.serve(r.method, r.path, "application/json", body)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", r.method, r.path, body, rec.Code, rec.Body)
		}
		grant := r.path == verifyRoute && rec.Code == http.StatusOK
		if grant && (rec.Header().Get("Cache-Control") != "no-store" || rec.Body.Len() != 0) {
			t.Fatalf("%s %s: a grant with Cache-Control %q and %d body bytes", r.method, r.path, rec.Header().Get("Cache-Control"), rec.Body.Len())
		}
		if !grant && (rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff") {
			t.Fatalf("%s %s: %d without the security headers", r.method, r.path, rec.Code)
		}
		if rec.Code >= 400 && strings.HasPrefix(r.path, "/api/") {
			var p Problem
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") ||
				json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != rec.Code || p.Code == "" {
				t.Fatalf("%s %s: %d is not a problem document: %s", r.method, r.path, rec.Code, rec.Body)
			}
		}
	})
}

// bindOnce runs bindJSON on body as a request's.
func bindOnce(body []byte, dst any) error {
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return bindJSON(echo.New().NewContext(req, httptest.NewRecorder()), dst)
}

// jsonDepth is the deepest nesting of arrays and objects in body, counted
// over the bytes outside strings.
func jsonDepth(body []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, b := range body {
		switch {
		case inString && escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case b == '"':
			inString = !inString
		case !inString && (b == '[' || b == '{'):
			depth++
			deepest = max(deepest, depth)
		case !inString && (b == ']' || b == '}'):
			depth--
		}
	}
	return deepest
}

// FuzzBindJSON: bindJSON accepts exactly one valid JSON value of valid
// UTF-8, nested at most maxJSONDepth deep, and then fills the request
// struct as encoding/json would; everything else is a 4xx problem.
func FuzzBindJSON(f *testing.F) {
	for _, s := range []string{`{"username":"amy","client_nonce":"AAAAAAAAAAAAAAAAAAAAAA"}`, `{"username":"a","USERNAME":"b"}`,
		`{"credential":{"id":"a","id":"b"}}`, `{"a":1}{"b":2}`, `{"a":1} `, "{\"a\":\"\xff\"}", `[` + strings.Repeat("[", 40),
		`{"code":"12","Code":"13"}`, `{"a":1}]`, `{"a":1}}`, `{"x":{"y":[1,2,{"z":null}]},"x2":true}`, `{"username":"\u0000"}`, `{"code":1e999}`, ``, `nul`,
		`{"login_id":"a","login_id":"a"}`, `{"k":"v","K":"v"}`, `{"\u212a":1,"k":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got loginRequest
		err := bindOnce(body, &got)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || p.Status < 400 || p.Status >= 500 {
				t.Fatalf("bindJSON(%q) = %v, not a 4xx problem", body, err)
			}
			if p.Code == "duplicate_key" && !json.Valid(body) {
				t.Fatalf("bindJSON(%q) reports a duplicate key in invalid JSON", body)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("bindJSON accepted %q, which is not valid JSON", body)
		}
		if d := jsonDepth(body); d > maxJSONDepth {
			t.Fatalf("bindJSON accepted %q, nested %d deep", body, d)
		}
		var want loginRequest
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("bindJSON accepted %q, json.Unmarshal refuses it: %v", body, err)
		}
		if !bytes.Equal(mustJSON(t, got), mustJSON(t, want)) {
			t.Fatalf("bindJSON read %q as %+v, json.Unmarshal as %+v", body, got, want)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzCheckNonce: a client_nonce is accepted exactly when it is the
// canonical unpadded base64url of 16 to 64 bytes (API contract, "Login").
func FuzzCheckNonce(f *testing.F) {
	for _, s := range []string{"", "AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAB", "AAAAAAAAAAAAAAAAAAAAAA==", strings.Repeat("_", 86),
		strings.Repeat("-", 87), "+/+/+/+/+/+/+/+/+/+/+A", "AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAA\nAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkNonce(s)
		raw, derr := base64.RawURLEncoding.DecodeString(s)
		canonical := derr == nil && base64.RawURLEncoding.EncodeToString(raw) == s
		want := s == "" || (canonical && len(raw) >= minNonceBytes && len(raw) <= maxNonceBytes)
		if (err == nil) != want {
			t.Fatalf("checkNonce(%q) = %v; canonical %v, %d bytes", s, err, canonical, len(raw))
		}
		var p *Problem
		if err != nil && (!errors.As(err, &p) || p.Code != "invalid_nonce" || p.Status != 400) {
			t.Fatalf("checkNonce(%q) = %v", s, err)
		}
	})
}

// FuzzSameOriginURL: whatever sameOriginURL lets through as a redirect
// target resolves, against the issuer, to the issuer's own origin, and
// holds nothing a browser would read differently from Go (white space,
// controls, backslashes).
func FuzzSameOriginURL(f *testing.F) {
	for _, s := range []string{"/account", "/account?x=1#f", fuzzIssuer + "/a", "//evil.example", "/\\evil.example", "https://evil.example",
		"javascript:alert(1)", "/%2f%2fevil.example", "/ok\r\nSet-Cookie: x", " /a", "/\t/evil", fuzzIssuer + "@evil.example",
		"http://localhost:8080.evil.example/", "HTTP://LOCALHOST:8080/x", "/..//evil.example", "///evil.example", "http:/evil.example"} {
		f.Add(s)
	}
	base, _ := url.Parse(fuzzIssuer + "/login")
	f.Fuzz(func(t *testing.T, raw string) {
		out, ok := sameOriginURL(fuzzIssuer, raw)
		if !ok {
			return
		}
		path, _, _ := strings.Cut(out, "?")
		for i := 0; i < len(out); i++ {
			if c := out[i]; c < ' ' || c == 0x7f || (i < len(path) && (c == ' ' || c == '\\')) {
				t.Fatalf("sameOriginURL(%q) = %q holds byte %#x", raw, out, c)
			}
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("sameOriginURL(%q) = %q, which does not parse: %v", raw, out, err)
		}
		if r := base.ResolveReference(u); r.Scheme+"://"+r.Host != fuzzIssuer || r.User != nil {
			t.Fatalf("sameOriginURL(%q) = %q leads to %s", raw, out, r)
		}
		if strings.HasPrefix(out, "//") {
			t.Fatalf("sameOriginURL(%q) = %q is scheme-relative", raw, out)
		}
	})
}

// TestFuzzAppServes keeps FuzzAPIBodies honest: its fixtures work, so the
// seeds reach the handlers.
func TestFuzzAppServes(t *testing.T) {
	fa := newFuzzApp(t)
	if rec := fa.serve("GET", "/api/v1/session", "", nil); rec.Code != 200 {
		t.Fatalf("the fuzz session: %d %s", rec.Code, rec.Body)
	}
	rec := fa.serve("POST", "/api/v1/login/password", "application/json",
		[]byte(`{"login_id":"`+fa.loginID(t)+`","password":"wrong"}`))
	if rec.Code != 409 {
		t.Fatalf("a password step on an unrecognized device: %d %s", rec.Code, rec.Body)
	}
	rec = fa.serve("GET", "/api/v1/enroll/"+fa.invite, "", nil)
	if rec.Code != 200 {
		t.Fatalf("the fuzz invite: %d %s", rec.Code, rec.Body)
	}
	if n := len(fa.bodyRoutes()); n < 15 {
		t.Fatalf("only %d routes with a body", n)
	}
}
