package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mutualauth/server/account"
	"mutualauth/server/config"
	"mutualauth/server/phrase"
	"mutualauth/server/token"
	"mutualauth/store"
)

// rfc6238 computes a TOTP code (RFC 6238 §4 with RFC 4226 §5.3 truncation:
// HMAC-SHA-1, 30 s steps, 6 digits) independently of the server's library.
func rfc6238(t *testing.T, secret string, at time.Time) (code string, step int64) {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		t.Fatalf("secret %q is not base32: %v", secret, err)
	}
	step = at.Unix() / 30
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", bin%1_000_000), step
}

// invite creates a user with a fresh invite and returns the token and user.
func (ts *testServer) invite(t *testing.T, username, display string) (string, store.User) {
	t.Helper()
	inv, err := account.IssueInvite(context.Background(), ts.Deps.Durable, time.Now(), account.InviteRequest{
		Username: username, DisplayName: display, CreatedBy: "cli",
	})
	if err != nil {
		t.Fatal(err)
	}
	return inv.Token, inv.User
}

// problemOf decodes a problem document and checks status and code.
func expectProblem(t *testing.T, r *http.Response, status int, code string) Problem {
	t.Helper()
	var p Problem
	raw := readBody(t, r)
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, raw)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("%s: content type %q, want a problem document", r.Request.URL.Path, ct)
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p.Code != code || p.Status != status || p.Detail == "" {
		t.Fatalf("%s: problem %+v, want code %s", r.Request.URL.Path, p, code)
	}
	return p
}

func readBody(t *testing.T, r *http.Response) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		t.Fatal(err)
	}
	r.Body = nopCloser{bytes.NewReader(buf.Bytes())}
	return buf.Bytes()
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// rawDB opens the test server's SQLite file directly, to see what is stored.
func (ts *testServer) rawDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.Deps.Config.DataDir, "mutualauth.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type enrollStatusDoc struct {
	Username          string          `json:"username"`
	DisplayName       string          `json:"display_name"`
	Done              map[string]bool `json:"done"`
	ExpiresAt         time.Time       `json:"expires_at"`
	WebAuthnAvailable bool            `json:"webauthn_available"`
}

type totpDoc struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRPNG      string `json:"qr_png"`
}

type completeDoc struct {
	RecoveryCodes []string `json:"recovery_codes"`
	DeviceToken   string   `json:"device_token"`
	ServerKey     struct {
		KID     string `json:"kid"`
		JWKSURI string `json:"jwks_uri"`
	} `json:"server_key"`
}

func TestEnrollWithPasswordPhraseAndTOTP(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	ctx := context.Background()
	tok, user := ts.invite(t, "alice", "Alice Liddell")
	api := "/api/v1/enroll/" + tok

	var st enrollStatusDoc
	if r := ts.do(t, "GET", api, nil, &st); r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	if st.Username != "alice" || st.DisplayName != "Alice Liddell" || len(st.Done) != 4 ||
		st.Done["password"] || st.Done["phrase"] || st.Done["totp"] || st.Done["webauthn"] {
		t.Fatalf("fresh status %+v", st)
	}
	if st.ExpiresAt.Before(time.Now().Add(71*time.Hour)) || st.ExpiresAt.After(time.Now().Add(73*time.Hour)) {
		t.Errorf("expires_at %v, want about 72 h from now", st.ExpiresAt)
	}

	// Completing needs every factor.
	p := expectProblem(t, ts.do(t, "POST", api+"/complete", nil, nil), 409, "incomplete")
	for _, want := range []string{"password", "phrase", "second factor"} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("incomplete detail %q does not name %q", p.Detail, want)
		}
	}

	// Weak passwords.
	weak := map[string]string{
		"password123456":    "common",
		"short":             "at least 12",
		"alice-liddell-1":   "username",
		"xxAliceLiddellxx":  "username",
		"MutualAuth2024!!":  "service",
		"abcdefghijklmnopq": "consecutive",
	}
	for pw, why := range weak {
		p := expectProblem(t, ts.do(t, "POST", api+"/password", map[string]string{"password": pw}, nil), 422, "weak_password")
		if !strings.Contains(p.Detail, why) {
			t.Errorf("password %q refused with %q, want a reason mentioning %q", pw, p.Detail, why)
		}
		if strings.Contains(p.Detail, pw) {
			t.Errorf("detail %q echoes the password", p.Detail)
		}
	}
	expectProblem(t, ts.do(t, "POST", api+"/password", `{"password": 5}`, nil), 400, "bad_request")
	expectProblem(t, ts.do(t, "POST", api+"/password", "password=x", nil, "Content-Type", "text/plain"), 415, "unsupported_media_type")

	const password = "velvet harbor quietly sings"
	if r := ts.do(t, "POST", api+"/password", map[string]string{"password": password}, nil); r.StatusCode != 204 {
		t.Fatalf("password: %d %s", r.StatusCode, readBody(t, r))
	}
	u, err := ts.Deps.Durable.GetUser(ctx, user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$") {
		t.Fatalf("password hash %q is not an argon2id PHC string", u.PasswordHash)
	}
	if ok, _, err := ts.Deps.Hasher.Verify(ctx, u.PasswordHash, password); err != nil || !ok {
		t.Fatalf("stored hash does not verify the password: %v %v", ok, err)
	}

	// Phrase rules.
	for _, bad := range []string{"", "  ab  ", strings.Repeat("p", 65), "line\nbreak", "right\u202eleft"} {
		expectProblem(t, ts.do(t, "POST", api+"/phrase", map[string]string{"phrase": bad}, nil), 422, "invalid_phrase")
	}
	for _, same := range []string{password, "  " + password + " ", strings.ToUpper(password)} {
		p := expectProblem(t, ts.do(t, "POST", api+"/phrase", map[string]string{"phrase": same}, nil), 422, "invalid_phrase")
		if !strings.Contains(p.Detail, "password") {
			t.Errorf("phrase equal to the password refused with %q", p.Detail)
		}
	}
	var sugg struct{ Phrase string }
	if r := ts.do(t, "GET", api+"/phrase/suggestion", nil, &sugg); r.StatusCode != 200 {
		t.Fatalf("suggestion %d", r.StatusCode)
	}
	if words := strings.Fields(sugg.Phrase); len(words) != phrase.SuggestionWords {
		t.Fatalf("suggestion %q", sugg.Phrase)
	}
	const myPhrase = "  purple otter at dawn "
	if r := ts.do(t, "POST", api+"/phrase", map[string]string{"phrase": myPhrase}, nil); r.StatusCode != 204 {
		t.Fatalf("phrase: %d %s", r.StatusCode, readBody(t, r))
	}
	var rawPhrase []byte
	if err := ts.rawDB(t).QueryRow("SELECT phrase FROM users WHERE id = ?", user.ID).Scan(&rawPhrase); err != nil {
		t.Fatal(err)
	}
	if len(rawPhrase) == 0 || bytes.Contains(rawPhrase, []byte("otter")) {
		t.Fatalf("phrase stored as %q: not sealed", rawPhrase)
	}
	opened, err := ts.Deps.Box.Open(rawPhrase, []byte("phrase:"+user.ID))
	if err != nil || string(opened) != "purple otter at dawn" {
		t.Fatalf("sealed phrase opens to %q, %v", opened, err)
	}
	if _, err := ts.Deps.Box.Open(rawPhrase, []byte("phrase:someone-else")); err == nil {
		t.Fatal("phrase is not bound to its user")
	}
	// The password may not become the phrase either.
	p = expectProblem(t, ts.do(t, "POST", api+"/password", map[string]string{"password": "PURPLE OTTER AT DAWN"}, nil), 422, "weak_password")
	if !strings.Contains(p.Detail, "phrase") {
		t.Errorf("password equal to the phrase refused with %q", p.Detail)
	}

	p = expectProblem(t, ts.do(t, "POST", api+"/complete", nil, nil), 409, "incomplete")
	if !strings.Contains(p.Detail, "second factor") || strings.Contains(p.Detail, "password,") {
		t.Errorf("incomplete detail %q", p.Detail)
	}

	// TOTP: no pending secret yet.
	expectProblem(t, ts.do(t, "POST", api+"/totp/confirm", map[string]string{"code": "123456"}, nil), 422, "invalid_otp")
	var td totpDoc
	if r := ts.do(t, "POST", api+"/totp", nil, &td); r.StatusCode != 200 {
		t.Fatalf("totp: %d", r.StatusCode)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(td.Secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret %q: %d bytes, %v; want 160 bits", td.Secret, len(raw), err)
	}
	uri, err := url.Parse(td.OTPAuthURI)
	if err != nil || uri.Scheme != "otpauth" || uri.Host != "totp" {
		t.Fatalf("otpauth uri %q", td.OTPAuthURI)
	}
	host := ts.Deps.Config.RPID()
	q := uri.Query()
	if q.Get("secret") != td.Secret || q.Get("issuer") != host || uri.Path != "/"+host+":alice" ||
		(q.Get("algorithm") != "" && q.Get("algorithm") != "SHA1") || (q.Get("digits") != "" && q.Get("digits") != "6") ||
		(q.Get("period") != "" && q.Get("period") != "30") {
		t.Fatalf("otpauth uri %q", td.OTPAuthURI)
	}
	png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(td.QRPNG, "data:image/png;base64,"))
	if !strings.HasPrefix(td.QRPNG, "data:image/png;base64,") || err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("qr_png is not a PNG data URI")
	}
	u, _ = ts.Deps.Durable.GetUser(ctx, user.ID)
	if u.TOTPSecret != nil || len(u.TOTPPending) == 0 || bytes.Contains(u.TOTPPending, []byte(td.Secret)) {
		t.Fatalf("pending secret not stored sealed: secret %x pending %x", u.TOTPSecret, u.TOTPPending)
	}

	now := time.Now()
	good, step := rfc6238(t, td.Secret, now)
	wrong := fmt.Sprintf("%06d", (atoi(good)+500_000)%1_000_000)
	expectProblem(t, ts.do(t, "POST", api+"/totp/confirm", map[string]string{"code": wrong}, nil), 422, "invalid_otp")
	expectProblem(t, ts.do(t, "POST", api+"/totp/confirm", map[string]string{"code": "12345"}, nil), 422, "invalid_otp")
	stale, _ := rfc6238(t, td.Secret, now.Add(-5*time.Minute))
	if stale != good {
		expectProblem(t, ts.do(t, "POST", api+"/totp/confirm", map[string]string{"code": stale}, nil), 422, "invalid_otp")
	}
	if r := ts.do(t, "POST", api+"/totp/confirm", map[string]string{"code": good[:3] + " " + good[3:]}, nil); r.StatusCode != 204 {
		t.Fatalf("totp confirm: %d %s", r.StatusCode, readBody(t, r))
	}
	// The confirming code's step is spent: it cannot log in later.
	if err := ts.Deps.Durable.AcceptTOTPStep(ctx, user.ID, step); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("AcceptTOTPStep with the confirming step: %v, want ErrConflict", err)
	}
	u, _ = ts.Deps.Durable.GetUser(ctx, user.ID)
	if u.TOTPLastStep != step || u.TOTPPending != nil || len(u.TOTPSecret) == 0 {
		t.Fatalf("after confirm: last step %d (want %d), pending %x, secret %d bytes", u.TOTPLastStep, step, u.TOTPPending, len(u.TOTPSecret))
	}
	if s, err := ts.Deps.Box.Open(u.TOTPSecret, []byte("totp:"+user.ID)); err != nil || string(s) != td.Secret {
		t.Fatalf("sealed TOTP secret opens to %q, %v", s, err)
	}
	expectProblem(t, ts.do(t, "POST", api+"/totp/confirm", map[string]string{"code": good}, nil), 422, "invalid_otp")

	ts.do(t, "GET", api, nil, &st)
	if !st.Done["password"] || !st.Done["phrase"] || !st.Done["totp"] || st.Done["webauthn"] {
		t.Fatalf("status before completion %+v", st.Done)
	}

	var done completeDoc
	r := ts.do(t, "POST", api+"/complete", nil, &done)
	if r.StatusCode != 200 {
		t.Fatalf("complete: %d %s", r.StatusCode, readBody(t, r))
	}
	if len(done.RecoveryCodes) != 10 {
		t.Fatalf("%d recovery codes", len(done.RecoveryCodes))
	}
	seen := map[string]bool{}
	for _, c := range done.RecoveryCodes {
		if !token.ValidRecoveryCode(c) || seen[c] {
			t.Fatalf("recovery codes %v: %q invalid or repeated", done.RecoveryCodes, c)
		}
		seen[c] = true
	}
	if n, err := ts.Deps.Durable.CountRecoveryCodes(ctx, user.ID); err != nil || n != 10 {
		t.Fatalf("%d stored recovery codes, %v", n, err)
	}
	rows, err := ts.rawDB(t).Query("SELECT code_hash FROM recovery_codes WHERE user_id = ?", user.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		stored[string(h)] = true
	}
	rows.Close()
	for _, c := range done.RecoveryCodes {
		if !stored[string(token.Hash(token.NormalizeRecoveryCode(c)))] {
			t.Fatalf("code %q is not stored as the hash of its normalized form", c)
		}
		if stored[c] || stored[token.NormalizeRecoveryCode(c)] {
			t.Fatalf("code %q stored in the clear", c)
		}
	}
	if err := ts.Deps.Durable.UseRecoveryCode(ctx, user.ID, token.HashRecoveryCode(strings.ToUpper(done.RecoveryCodes[3])), time.Now()); err != nil {
		t.Fatalf("a shown recovery code does not work: %v", err)
	}

	if !token.Valid(done.DeviceToken) || ts.cookie(DeviceCookie) != done.DeviceToken {
		t.Fatalf("device token %q, cookie %q", done.DeviceToken, ts.cookie(DeviceCookie))
	}
	dev, err := ts.Deps.Durable.GetDeviceByTokenHash(ctx, token.Hash(done.DeviceToken))
	if err != nil || dev.UserID != user.ID || !dev.ExpiresAt.After(time.Now()) {
		t.Fatalf("device %+v, %v", dev, err)
	}
	var deviceCookie *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == DeviceCookie {
			deviceCookie = c
		}
	}
	if deviceCookie == nil || !deviceCookie.HttpOnly || deviceCookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("device cookie %+v", deviceCookie)
	}
	if done.ServerKey.KID != ts.Deps.Keys.ActiveKID() || done.ServerKey.JWKSURI != ts.URL+"/.well-known/jwks.json" {
		t.Fatalf("server key %+v", done.ServerKey)
	}
	var set struct{ Keys []struct{ Kid string } }
	ts.do(t, "GET", "/.well-known/jwks.json", nil, &set)
	found := false
	for _, k := range set.Keys {
		found = found || k.Kid == done.ServerKey.KID
	}
	if !found {
		t.Fatalf("kid %s not in the JWKS %+v", done.ServerKey.KID, set)
	}
	u, _ = ts.Deps.Durable.GetUser(ctx, user.ID)
	if u.EnrolledAt.IsZero() {
		t.Fatal("EnrolledAt not set")
	}

	// The token is spent.
	expectProblem(t, ts.do(t, "GET", api, nil, nil), 404, "invalid_token")
	expectProblem(t, ts.do(t, "POST", api+"/complete", nil, nil), 404, "invalid_token")
	expectProblem(t, ts.do(t, "POST", api+"/password", map[string]string{"password": "another fine passphrase"}, nil), 404, "invalid_token")

	// The audit log has every step, and no secret.
	events, err := ts.Deps.Durable.ListAudit(ctx, store.AuditQuery{Subject: user.ID, Action: "enroll.", Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range events {
		got[e.Action+" "+e.Result] = true
		if e.Subject != user.ID || e.IP == "" || e.Time.IsZero() {
			t.Errorf("audit event %+v lacks subject, ip or time", e)
		}
		secrets := append([]string{password, "otter", td.Secret, good, done.DeviceToken, tok}, done.RecoveryCodes...)
		for _, s := range secrets {
			if strings.Contains(e.Detail, s) {
				t.Errorf("audit event %+v contains a secret", e)
			}
		}
	}
	for _, want := range []string{
		"enroll.password failure", "enroll.password success", "enroll.phrase failure", "enroll.phrase success",
		"enroll.totp success", "enroll.totp_confirm failure", "enroll.totp_confirm success",
		"enroll.complete failure", "enroll.complete success",
	} {
		if !got[want] {
			t.Errorf("no audit event %q in %v", want, got)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestEnrollInvalidTokens(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	ctx := context.Background()

	unknown, _ := token.New()
	expired, _ := token.New()
	_, user := ts.invite(t, "bob", "")
	err := ts.Deps.Durable.CreateInvite(ctx, store.Invite{
		TokenHash: token.Hash(expired), UserID: user.ID, CreatedBy: "cli",
		CreatedAt: time.Now().Add(-73 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	disabledTok, disabled := ts.invite(t, "carol", "")
	if _, err := ts.Deps.Durable.UpdateUser(ctx, disabled.ID, func(u *store.User) error {
		u.Disabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	detail := ""
	for name, tok := range map[string]string{"unknown": unknown, "expired": expired, "malformed": "not-a-token", "disabled": disabledTok} {
		api := "/api/v1/enroll/" + tok
		for _, req := range []struct{ method, path, body string }{
			{"GET", "", ""},
			{"POST", "/password", `{"password":"a perfectly fine passphrase"}`},
			{"POST", "/phrase", `{"phrase":"blue tulip"}`},
			{"GET", "/phrase/suggestion", ""},
			{"POST", "/totp", `{}`},
			{"POST", "/totp/confirm", `{"code":"123456"}`},
			{"POST", "/webauthn/options", `{}`},
			{"POST", "/webauthn", `{"credential":{}}`},
			{"POST", "/complete", `{}`},
		} {
			var body any
			if req.body != "" {
				body = req.body
			}
			p := expectProblem(t, ts.do(t, req.method, api+req.path, body, nil), 404, "invalid_token")
			if detail == "" {
				detail = p.Detail
			}
			if p.Detail != detail {
				t.Errorf("%s token %s %s: detail %q differs from %q: invalid tokens are told apart", name, req.method, req.path, p.Detail, detail)
			}
		}
		// The page shows the error page.
		r := ts.do(t, "GET", "/enroll/"+tok, nil, nil, "Accept", "text/html")
		if b := readBody(t, r); r.StatusCode != 404 || !strings.Contains(r.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(b), "enrollment link is not valid") {
			t.Errorf("%s page: %d %s", name, r.StatusCode, b)
		}
	}
	events, err := ts.Deps.Durable.ListAudit(ctx, store.AuditQuery{Subject: user.ID, Action: "enroll.password", Result: "failure"})
	if err != nil || len(events) == 0 {
		t.Errorf("expired invite attempt not audited: %v %v", events, err)
	}
}

func TestEnrollPage(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true, Env: map[string]string{config.EnvPasswordMinLen: "14"}})
	tok, _ := ts.invite(t, "dave", "Dave <Example>")
	r := ts.do(t, "GET", "/enroll/"+tok, nil, nil, "Accept", "text/html")
	body := string(readBody(t, r))
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`data-api="/api/v1/enroll/` + tok + `"`,
		`<script src="/static/enroll.js" defer>`,
		`autocomplete="new-password"`,
		`autocomplete="one-time-code"`,
		`inputmode="numeric"`,
		`minlength="14"`,
		`Dave &lt;Example&gt;`,
		`id="phrase-suggest"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
		t.Error("page has inline script or style")
	}
	if r.Header.Get("Cache-Control") != "no-store" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("headers %v", r.Header)
	}
	js := ts.do(t, "GET", "/static/enroll.js", nil, nil)
	if b := readBody(t, js); js.StatusCode != 200 || !strings.Contains(string(b), "mutualauth:pinned_kid") {
		t.Fatalf("enroll.js %d", js.StatusCode)
	}
}

func TestEnrollCrossSiteRefused(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	tok, _ := ts.invite(t, "erin", "")
	r := ts.do(t, "POST", "/api/v1/enroll/"+tok+"/password", map[string]string{"password": "a perfectly fine passphrase"}, nil,
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	expectProblem(t, r, 403, "cross_site_request")
	var st enrollStatusDoc
	ts.do(t, "GET", "/api/v1/enroll/"+tok, nil, &st)
	if st.Done["password"] {
		t.Fatal("a cross-site request set the password")
	}
}

// enrollBasics sets a password and a phrase.
func (ts *testServer) enrollBasics(t *testing.T, api string) {
	t.Helper()
	if r := ts.do(t, "POST", api+"/password", map[string]string{"password": "velvet harbor quietly sings"}, nil); r.StatusCode != 204 {
		t.Fatalf("password %d", r.StatusCode)
	}
	if r := ts.do(t, "POST", api+"/phrase", map[string]string{"phrase": "green kettle"}, nil); r.StatusCode != 204 {
		t.Fatalf("phrase %d", r.StatusCode)
	}
}

func (ts *testServer) enrollTOTP(t *testing.T, api string) {
	t.Helper()
	var td totpDoc
	ts.do(t, "POST", api+"/totp", nil, &td)
	code, _ := rfc6238(t, td.Secret, time.Now())
	if r := ts.do(t, "POST", api+"/totp/confirm", map[string]string{"code": code}, nil); r.StatusCode != 204 {
		t.Fatalf("totp confirm %d", r.StatusCode)
	}
}

func TestEnrollCompleteOnce(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	tok, user := ts.invite(t, "frank", "")
	api := "/api/v1/enroll/" + tok
	ts.enrollBasics(t, api)
	ts.enrollTOTP(t, api)

	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	bodies := make([]completeDoc, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", ts.URL+api+"/complete", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			statuses[i] = resp.StatusCode
			_ = json.NewDecoder(resp.Body).Decode(&bodies[i])
		})
	}
	wg.Wait()
	winners := 0
	var codes []string
	for i, s := range statuses {
		switch s {
		case 200:
			winners++
			codes = bodies[i].RecoveryCodes
		case 404:
		default:
			t.Errorf("concurrent complete answered %d", s)
		}
	}
	if winners != 1 {
		t.Fatalf("%d completions succeeded, want exactly 1 (%v)", winners, statuses)
	}
	// The winner's codes are the ones stored.
	for _, c := range codes {
		if err := ts.Deps.Durable.UseRecoveryCode(context.Background(), user.ID, token.HashRecoveryCode(c), time.Now()); err != nil {
			t.Fatalf("winner's code %q not stored: %v", c, err)
		}
	}
}

func TestEnrollTOTPReplacedBeforeConfirm(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	tok, _ := ts.invite(t, "grace", "")
	api := "/api/v1/enroll/" + tok
	var first, second totpDoc
	ts.do(t, "POST", api+"/totp", nil, &first)
	ts.do(t, "POST", api+"/totp", nil, &second)
	if first.Secret == second.Secret {
		t.Fatal("a new TOTP setup reused the secret")
	}
	old, _ := rfc6238(t, first.Secret, time.Now())
	if cur, _ := rfc6238(t, second.Secret, time.Now()); cur != old {
		expectProblem(t, ts.do(t, "POST", api+"/totp/confirm", map[string]string{"code": old}, nil), 422, "invalid_otp")
	}
	cur, _ := rfc6238(t, second.Secret, time.Now())
	if r := ts.do(t, "POST", api+"/totp/confirm", map[string]string{"code": cur}, nil); r.StatusCode != 204 {
		t.Fatalf("confirm with the newest secret: %d %s", r.StatusCode, readBody(t, r))
	}
}
