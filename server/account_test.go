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
	"strings"
	"testing"
	"time"

	"mutualauth/server/account"
	"mutualauth/server/audit"
	"mutualauth/server/config"
	"mutualauth/server/login"
	"mutualauth/server/token"
	"mutualauth/store"
)

// ---- helpers -----------------------------------------------------------------

// acctTick moves the clock to the next TOTP time step, so that the next code
// has not been accepted yet (a code works once).
func (e *loginEnv) acctTick() { e.clk.Advance(30 * time.Second) }

// acctSignIn signs m in on a new client with a TOTP code.
func (e *loginEnv) acctSignIn(m *enrolledUser) *loginClient {
	e.t.Helper()
	e.acctTick()
	b := e.client()
	// A recognized device: a passkey user's TOTP code is refused on others
	// (downgrade protection).
	b.login(m, e.device(m), "otp")
	return b
}

// acctReauth re-authenticates b's session with the password and a fresh code.
func (b *loginClient) acctReauth(m *enrolledUser) {
	b.e.t.Helper()
	b.e.acctTick()
	r := b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "code": b.e.code(m)})
	if r.status != http.StatusNoContent {
		b.e.t.Fatalf("reauth: %d %s", r.status, r.body)
	}
}

type accountDoc struct {
	User struct {
		ID          string `json:"id"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		Role        string `json:"role"`
	} `json:"user"`
	Factors struct {
		Password, Phrase, TOTP bool
		Credentials            []struct {
			ID             string     `json:"id"`
			Name           string     `json:"name"`
			CreatedAt      time.Time  `json:"created_at"`
			LastUsedAt     *time.Time `json:"last_used_at"`
			BackupEligible bool       `json:"backup_eligible"`
			BackupState    bool       `json:"backup_state"`
			Transports     []string   `json:"transports"`
		} `json:"credentials"`
		RecoveryCodesLeft int `json:"recovery_codes_left"`
	} `json:"factors"`
	Devices           []accountItemDoc `json:"devices"`
	Sessions          []accountItemDoc `json:"sessions"`
	ReauthUntil       *time.Time       `json:"reauth_until"`
	WebAuthnAvailable bool             `json:"webauthn_available"`
}

// accountItemDoc is a device or a session of accountDoc.
type accountItemDoc struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Device  string `json:"device"`
	Current bool   `json:"current"`
}

func acctIsCurrent(x accountItemDoc) bool { return x.Current }

func (b *loginClient) acctDoc() accountDoc {
	b.e.t.Helper()
	r := b.call("GET", "/api/v1/account", nil)
	requireOK(b.e.t, "account", r)
	var d accountDoc
	r.decode(b.e.t, &d)
	return d
}

func acctStatus(t *testing.T, what string, r httpReply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: %d, want %d: %s", what, r.status, status, r.body)
	}
}

func acctOtherSessions(t *testing.T, r httpReply) int {
	t.Helper()
	var o struct {
		OtherSessions *int `json:"other_sessions"`
	}
	r.decode(t, &o)
	if o.OtherSessions == nil {
		t.Fatalf("no other_sessions in %s", r.body)
	}
	return *o.OtherSessions
}

// acctForm posts an HTML form as a same-origin browser does and does not
// follow the redirect.
func (b *loginClient) acctForm(path string, values url.Values, hdr ...string) httpReply {
	t := b.e.t
	t.Helper()
	req, err := http.NewRequest("POST", b.e.URL+path, strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.acctNoFollow(req)
}

func (b *loginClient) acctGet(path string) httpReply {
	b.e.t.Helper()
	req, err := http.NewRequest("GET", b.e.URL+path, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	return b.acctNoFollow(req)
}

func (b *loginClient) acctNoFollow(req *http.Request) httpReply {
	t := b.e.t
	t.Helper()
	hc := *b.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return httpReply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// acctRedirected requires a 303 to the account page (anchor included) and
// returns the message the page shows next.
func (b *loginClient) acctRedirected(what string, r httpReply, anchor string) string {
	t := b.e.t
	t.Helper()
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account#"+anchor {
		t.Fatalf("%s: %d to %q, want 303 to /account#%s: %s", what, r.status, r.header.Get("Location"), anchor, r.body)
	}
	page := b.acctGet("/account")
	acctStatus(t, "account page after "+what, page, 200)
	m := regexp.MustCompile(`(?s)<p id="flash-text">(.*?)</p>`).FindSubmatch(page.body)
	if m == nil {
		t.Fatalf("%s: the page shows no message", what)
	}
	if again := b.acctGet("/account"); strings.Contains(string(again.body), `id="flash-text"`) {
		t.Fatalf("%s: the message is shown twice", what)
	}
	return string(m[1])
}

// acctAudit lists the audit events of exactly this action (the store
// matches actions by prefix).
func (e *loginEnv) acctAudit(action, result string) []store.AuditEvent {
	var out []store.AuditEvent
	for _, ev := range e.audit(action, result) {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// ---- tests ---------------------------------------------------------------------

func TestAccountNeedsSession(t *testing.T) {
	e := newLoginEnv(t, nil)
	b := e.client()
	for _, rt := range []struct{ method, path string }{
		{"GET", "/api/v1/account"}, {"POST", "/api/v1/account/reauth"}, {"POST", "/api/v1/account/password"},
		{"DELETE", "/api/v1/account/credentials/AAAA"}, {"GET", "/api/v1/account/devices"},
		{"POST", "/api/v1/account/sessions/revoke-others"}, {"POST", "/api/v1/account/recovery-codes"},
	} {
		r := b.call(rt.method, rt.path, map[string]any{})
		requireProblem(t, rt.method+" "+rt.path, r, 401, "unauthenticated")
	}
	for _, r := range []httpReply{b.acctGet("/account"), b.acctForm("/account/signout", nil)} {
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?return_to=%2Faccount" {
			t.Fatalf("page without a session: %d %q", r.status, r.header.Get("Location"))
		}
	}

	// A session of an account disabled since is no way in either.
	m := e.enroll("nils")
	s := e.acctSignIn(m)
	requireOK(t, "account", s.call("GET", "/api/v1/account", nil))
	if _, err := e.Deps.Durable.UpdateUser(context.Background(), m.User.ID, func(u *store.User) error {
		u.Disabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	requireProblem(t, "disabled account", s.call("GET", "/api/v1/account", nil), 401, "unauthenticated")
}

func TestAccountOverview(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("olga")
	key := newSoftKey(t)
	key.register(t, e, m)
	b := e.acctSignIn(m)
	e.acctSignIn(m) // a second session

	d := b.acctDoc()
	if d.User.ID != m.User.ID || d.User.Username != "olga" || d.User.DisplayName != "Display olga" || d.User.Role != "user" {
		t.Fatalf("user %+v", d.User)
	}
	f := d.Factors
	if !f.Password || !f.Phrase || !f.TOTP || f.RecoveryCodesLeft != 10 || len(f.Credentials) != 1 {
		t.Fatalf("factors %+v", f)
	}
	c := f.Credentials[0]
	if c.ID != base64.RawURLEncoding.EncodeToString(key.id) || c.Name != "soft key" || c.LastUsedAt != nil ||
		!slices.Equal(c.Transports, []string{"internal"}) || c.CreatedAt.IsZero() {
		t.Fatalf("credential %+v", c)
	}
	if len(d.Sessions) != 2 || slices.IndexFunc(d.Sessions, acctIsCurrent) < 0 {
		t.Fatalf("sessions %+v", d.Sessions)
	}
	// Each login made its client a recognized device.
	if len(d.Devices) != 2 || slices.IndexFunc(d.Devices, acctIsCurrent) < 0 {
		t.Fatalf("devices %+v", d.Devices)
	}
	if d.ReauthUntil != nil || !d.WebAuthnAvailable {
		t.Fatalf("reauth_until %v, webauthn %v", d.ReauthUntil, d.WebAuthnAvailable)
	}
	b.acctReauth(m)
	if d := b.acctDoc(); d.ReauthUntil == nil || !d.ReauthUntil.Equal(e.clk.Now().Add(ReauthTTL)) {
		t.Fatalf("reauth_until %v, want %v", d.ReauthUntil, e.clk.Now().Add(ReauthTTL))
	}
}

func TestAccountReauthRequiredAndExpiry(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("paul")
	b := e.acctSignIn(m)
	const newPassword = "a brand new passphrase, cobalt"
	change := func() httpReply {
		return b.call("POST", "/api/v1/account/password", map[string]any{"password": newPassword})
	}

	requireProblem(t, "change without reauth", change(), 403, "reauth_required")
	for _, body := range []map[string]any{{"password": m.Password}, {"code": "123456"}, {}} {
		requireProblem(t, "reauth with a missing part", b.call("POST", "/api/v1/account/reauth", body), 400, "bad_request")
	}
	e.acctTick()
	r := b.call("POST", "/api/v1/account/reauth", map[string]any{"password": "not it", "code": e.code(m)})
	requireProblem(t, "wrong password", r, 401, "invalid_credentials")
	r = b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "code": wrongCode(e.code(m))})
	requireProblem(t, "wrong code", r, 401, "invalid_credentials")
	r = b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "code": "aaaa-bbbb-cccc"})
	requireProblem(t, "unknown recovery code", r, 401, "invalid_credentials")
	requireProblem(t, "change after failed reauths", change(), 403, "reauth_required")

	// The right code is accepted once: the code the wrong password came
	// with was not spent.
	r = b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "code": e.code(m)})
	acctStatus(t, "reauth", r, http.StatusNoContent)
	r = b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "code": e.code(m)})
	requireProblem(t, "replayed code", r, 401, "invalid_credentials")

	sid := currentSession(t, b.sessions()).ID
	raw, err := e.Deps.Ephemeral.Get(context.Background(), ReauthKey(sid))
	if err != nil {
		t.Fatalf("no marker under %s: %v", ReauthKey(sid), err)
	}
	var marker struct {
		UserID string    `json:"user_id"`
		At     time.Time `json:"at"`
	}
	if err := json.Unmarshal(raw, &marker); err != nil || marker.UserID != m.User.ID || !marker.At.Equal(e.clk.Now()) {
		t.Fatalf("marker %s: %v", raw, err)
	}

	// Another session of the same user is not re-authenticated by it.
	other := e.acctSignIn(m)
	requireProblem(t, "other session", other.call("POST", "/api/v1/account/password", map[string]any{"password": newPassword}), 403, "reauth_required")

	// Within 5 minutes the change goes through; 5 minutes after the
	// re-authentication it needs another.
	e.clk.Advance(ReauthTTL - 31*time.Second)
	r = change()
	requireOK(t, "change within 5 minutes", r)
	if n := acctOtherSessions(t, r); n != 1 {
		t.Fatalf("other_sessions %d, want 1", n)
	}
	e.clk.Advance(time.Second)
	requireProblem(t, "change after 5 minutes", change(), 403, "reauth_required")

	// A recovery code works as the second factor, once.
	r = b.call("POST", "/api/v1/account/reauth", map[string]any{"password": newPassword, "code": strings.ToUpper(m.Recovery[0])})
	acctStatus(t, "reauth with a recovery code", r, http.StatusNoContent)
	if n, _ := e.Deps.Durable.CountRecoveryCodes(context.Background(), m.User.ID); n != 9 {
		t.Fatalf("%d recovery codes left, want 9", n)
	}
	r = b.call("POST", "/api/v1/account/reauth", map[string]any{"password": newPassword, "code": m.Recovery[0]})
	requireProblem(t, "used recovery code", r, 401, "invalid_credentials")

	if len(e.audit(audit.AccountReauth, "success")) != 2 || len(e.audit(audit.AccountReauth, "failure")) != 5 {
		t.Fatalf("reauth audit: %d successes, %d failures", len(e.audit(audit.AccountReauth, "success")), len(e.audit(audit.AccountReauth, "failure")))
	}
	refused := e.audit(audit.AccountPassword, "failure")
	if len(refused) != 4 || refused[0].Detail != "reauth_required" || refused[0].Actor != m.User.ID || refused[0].Subject != m.User.ID {
		t.Fatalf("refused changes audit %+v", refused)
	}
}

func TestAccountReauthThrottledPerSession(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("quentin")
	b := e.acctSignIn(m)
	e.acctTick()
	for i := range login.FreeFailures {
		r := b.call("POST", "/api/v1/account/reauth", map[string]any{"password": "wrong " + string(rune('a'+i)), "code": e.code(m)})
		requireProblem(t, "failure", r, 401, "invalid_credentials")
	}
	r := b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "code": e.code(m)})
	p := requireProblem(t, "right secret while throttled", r, 429, "too_many_attempts")
	if r.header.Get("Retry-After") != "30" {
		t.Fatalf("Retry-After %q (%s)", r.header.Get("Retry-After"), p.Detail)
	}
	// The counter is the session's (v1.1 "Lockout"): login is not
	// throttled by it.
	lr, r := e.client().post("begin", map[string]any{"username": "quentin"})
	requireOK(t, "begin", r)
	e.acctTick()
	_, r = e.client().post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireOK(t, "login while the session is throttled", r)
	if len(e.audit(audit.AccountReauth, "throttled")) != 1 {
		t.Fatal("throttled reauth not audited")
	}
	e.clk.Advance(login.BaseDelay)
	b.acctReauth(m)
}

func TestAccountReauthWithPasskey(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("rita")
	b := e.acctSignIn(m)
	requireProblem(t, "options without credentials", b.call("POST", "/api/v1/account/reauth/webauthn/options", map[string]any{}), 409, "no_credentials")
	key := newSoftKey(t)
	key.register(t, e, m)
	options := func() []byte {
		r := b.call("POST", "/api/v1/account/reauth/webauthn/options", map[string]any{})
		requireOK(t, "options", r)
		if !strings.Contains(string(r.body), base64.RawURLEncoding.EncodeToString(key.id)) {
			t.Fatalf("options do not list the credential: %s", r.body)
		}
		return r.body
	}
	opts := options()
	good := key.assert(t, opts, "localhost", e.URL, nil)
	r := b.call("POST", "/api/v1/account/reauth", map[string]any{"password": "wrong", "credential": good})
	requireProblem(t, "wrong password with a passkey", r, 401, "invalid_credentials")
	r = b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "credential": good})
	requireProblem(t, "assertion for a spent challenge", r, 401, "invalid_credentials")
	opts = options()
	r = b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "credential": key.assert(t, opts, "localhost", "https://evil.example", nil)})
	requireProblem(t, "assertion for another origin", r, 401, "invalid_credentials")
	opts = options()
	r = b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "credential": key.assert(t, opts, "localhost", e.URL, nil)})
	acctStatus(t, "reauth with a passkey", r, http.StatusNoContent)
	creds, _ := e.Deps.Durable.ListCredentials(context.Background(), m.User.ID)
	if creds[0].SignCount != key.count || creds[0].LastUsedAt.IsZero() {
		t.Fatalf("credential not updated: %+v", creds[0])
	}
	ev := e.audit(audit.AccountReauth, "success")
	if len(ev) != 1 || !strings.HasPrefix(ev[0].Detail, "password+hwk") {
		t.Fatalf("audit %+v", ev)
	}
}

func TestAccountPasswordChange(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("sven")
	b := e.acctSignIn(m)
	b.acctReauth(m)
	for _, weak := range []string{"short", "password1234", "sven sven sven", m.Phrase} {
		r := b.call("POST", "/api/v1/account/password", map[string]any{"password": weak})
		requireProblem(t, "weak password "+weak, r, 422, "weak_password")
	}
	old := m.Password
	m.Password = "violet anchors hum at midnight"
	r := b.call("POST", "/api/v1/account/password", map[string]any{"password": m.Password})
	requireOK(t, "change password", r)
	if n := acctOtherSessions(t, r); n != 0 {
		t.Fatalf("other_sessions %d", n)
	}
	if ev := e.audit(audit.AccountPassword, "success"); len(ev) != 1 || ev[0].Actor != m.User.ID || ev[0].Subject != m.User.ID {
		t.Fatalf("audit %+v", ev)
	}

	// The old password fails at login, the new one works.
	e.acctTick()
	nb := e.client()
	lr, r := nb.post("begin", map[string]any{"username": "sven"})
	requireOK(t, "begin", r)
	_, r = nb.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireOK(t, "otp", r)
	_, r = nb.post("password", map[string]any{"login_id": lr.LoginID, "password": old})
	requireProblem(t, "old password", r, 401, "invalid_credentials")
	e.acctSignIn(m)
}

func TestAccountPhraseChangeShowsInProof(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("tara")
	dev := e.device(m)
	b := e.acctSignIn(m)
	b.acctReauth(m)
	requireProblem(t, "too short", b.call("POST", "/api/v1/account/phrase", map[string]any{"phrase": "ab"}), 422, "invalid_phrase")
	requireProblem(t, "the password", b.call("POST", "/api/v1/account/phrase", map[string]any{"phrase": strings.ToUpper(m.Password)}), 422, "invalid_phrase")
	const fresh = "  amber gulls over quiet water "
	requireOK(t, "change phrase", b.call("POST", "/api/v1/account/phrase", map[string]any{"phrase": fresh}))

	nonce := newClientNonce()
	lr, r := e.client().post("begin", map[string]any{"username": "tara", "device_token": dev, "client_nonce": nonce})
	requireOK(t, "begin", r)
	if !lr.PhraseShown {
		t.Fatalf("begin on a recognized device: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, lr.LoginID, "tara", strings.TrimSpace(fresh))
	if len(e.audit(audit.AccountPhrase, "success")) != 1 || len(e.audit(audit.AccountPhrase, "failure")) != 2 {
		t.Fatal("phrase changes not audited")
	}
}

func TestAccountRecoveryCodesRegenerate(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("ulla")
	b := e.acctSignIn(m)
	requireProblem(t, "without reauth", b.call("POST", "/api/v1/account/recovery-codes", map[string]any{}), 403, "reauth_required")
	b.acctReauth(m)
	r := b.call("POST", "/api/v1/account/recovery-codes", map[string]any{})
	requireOK(t, "regenerate", r)
	var out struct {
		Codes []string `json:"recovery_codes"`
	}
	r.decode(t, &out)
	if len(out.Codes) != account.RecoveryCodeCount || acctOtherSessions(t, r) != 0 {
		t.Fatalf("answer %s", r.body)
	}
	for _, c := range out.Codes {
		if !token.ValidRecoveryCode(c) || slices.Contains(m.Recovery, c) {
			t.Fatalf("code %q", c)
		}
	}
	if d := b.acctDoc(); d.Factors.RecoveryCodesLeft != account.RecoveryCodeCount {
		t.Fatalf("codes left %d", d.Factors.RecoveryCodesLeft)
	}

	// An old code fails at login; a new one works.
	nb := e.client()
	lr, r := nb.post("begin", map[string]any{"username": "ulla"})
	requireOK(t, "begin", r)
	_, r = nb.post("recovery", map[string]any{"login_id": lr.LoginID, "code": m.Recovery[1]})
	requireProblem(t, "old recovery code", r, 401, "invalid_credentials")
	m.Recovery = out.Codes
	e.client().login(m, "", "rec")
}

func TestAccountReplaceTOTP(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("vera")
	b := e.acctSignIn(m)
	requireProblem(t, "without reauth", b.call("POST", "/api/v1/account/totp", map[string]any{}), 403, "reauth_required")
	b.acctReauth(m)
	r := b.call("POST", "/api/v1/account/totp", map[string]any{})
	requireOK(t, "new secret", r)
	var enr struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
		QR     string `json:"qr_png"`
	}
	r.decode(t, &enr)
	if len(enr.Secret) != 32 || !strings.HasPrefix(enr.URI, "otpauth://totp/") || !strings.HasPrefix(enr.QR, "data:image/png;base64,") {
		t.Fatalf("secret %s", r.body)
	}
	if u := e.user(m.User.ID); u.TOTPPending == nil || u.TOTPSecret == nil {
		t.Fatal("the pending secret is not kept beside the current one")
	}
	newCode := func() string { return loginTOTPCode(enr.Secret, e.clk.Now()) }
	requireProblem(t, "wrong code", b.call("POST", "/api/v1/account/totp/confirm", map[string]any{"code": wrongCode(newCode())}), 422, "invalid_otp")
	// The re-authentication accepted this time step: its code cannot confirm.
	requireProblem(t, "code of a used step", b.call("POST", "/api/v1/account/totp/confirm", map[string]any{"code": newCode()}), 422, "invalid_otp")
	e.acctTick()
	r = b.call("POST", "/api/v1/account/totp/confirm", map[string]any{"code": newCode()})
	requireOK(t, "confirm", r)
	if u := e.user(m.User.ID); u.TOTPPending != nil {
		t.Fatal("pending secret left over")
	}

	// Codes of the old secret no longer work; the new one's do.
	e.acctTick()
	nb := e.client()
	lr, r := nb.post("begin", map[string]any{"username": "vera"})
	requireOK(t, "begin", r)
	_, r = nb.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireProblem(t, "old secret", r, 401, "invalid_credentials")
	m.Secret = enr.Secret
	e.acctSignIn(m)
	if len(e.acctAudit(audit.AccountTOTPConfirm, "success")) != 1 || len(e.acctAudit(audit.AccountTOTP, "success")) != 1 {
		t.Fatal("TOTP replacement not audited")
	}
}

func TestAccountCredentials(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("wanda")
	key := newSoftKey(t)
	key.register(t, e, m)
	keyID := base64.RawURLEncoding.EncodeToString(key.id)
	b := e.acctSignIn(m)

	// Renaming needs no re-authentication; names are cleaned.
	r := b.call("PATCH", "/api/v1/account/credentials/"+keyID, map[string]any{"name": "  Blue key\u0007 "})
	requireOK(t, "rename", r)
	if d := b.acctDoc(); d.Factors.Credentials[0].Name != "Blue key" {
		t.Fatalf("name %q", d.Factors.Credentials[0].Name)
	}
	requireProblem(t, "rename unknown", b.call("PATCH", "/api/v1/account/credentials/AAAA", map[string]any{"name": "x"}), 404, "not_found")
	requireProblem(t, "rename malformed id", b.call("PATCH", "/api/v1/account/credentials/%2A%2A", map[string]any{"name": "x"}), 404, "not_found")
	other := e.enroll("xena")
	okey := newSoftKey(t)
	okey.register(t, e, other)
	okeyID := base64.RawURLEncoding.EncodeToString(okey.id)
	requireProblem(t, "rename another user's", b.call("PATCH", "/api/v1/account/credentials/"+okeyID, map[string]any{"name": "mine"}), 404, "not_found")

	// Adding one: options and registration both need re-authentication.
	requireProblem(t, "options without reauth", b.call("POST", "/api/v1/account/webauthn/options", map[string]any{}), 403, "reauth_required")
	b.acctReauth(m)
	var opts creationOptionsDoc
	r = b.call("POST", "/api/v1/account/webauthn/options", map[string]any{})
	requireOK(t, "options", r)
	r.decode(t, &opts)
	if len(opts.PublicKey.ExcludeCredentials) != 1 || opts.PublicKey.ExcludeCredentials[0].ID != keyID || opts.PublicKey.User.Name != "wanda" {
		t.Fatalf("creation options %s", r.body)
	}
	auth := newSoftAuthenticator(t)
	r = b.call("POST", "/api/v1/account/webauthn", map[string]any{"credential": auth.register(t, opts, e.URL), "name": "Laptop"})
	requireOK(t, "add", r)
	var added struct {
		Credential struct {
			ID             string `json:"id"`
			Name           string `json:"name"`
			BackupEligible bool   `json:"backup_eligible"`
			BackupState    bool   `json:"backup_state"`
		} `json:"credential"`
		OtherSessions int `json:"other_sessions"`
	}
	r.decode(t, &added)
	if added.Credential.Name != "Laptop" || added.Credential.ID != base64.RawURLEncoding.EncodeToString(auth.credID) ||
		!added.Credential.BackupEligible || !added.Credential.BackupState {
		t.Fatalf("added %s", r.body)
	}
	r = b.call("POST", "/api/v1/account/webauthn", map[string]any{"credential": auth.register(t, opts, e.URL)})
	requireProblem(t, "spent ceremony", r, 422, "invalid_credential")

	// Removing needs re-authentication and never takes the last second
	// factor.
	e.clk.Advance(ReauthTTL)
	requireProblem(t, "remove without reauth", b.call("DELETE", "/api/v1/account/credentials/"+keyID, nil), 403, "reauth_required")
	b.acctReauth(m)
	requireProblem(t, "remove another user's", b.call("DELETE", "/api/v1/account/credentials/"+okeyID, nil), 404, "not_found")
	if _, err := e.Deps.Durable.UpdateUser(context.Background(), m.User.ID, func(u *store.User) error {
		u.TOTPSecret = nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r = b.call("DELETE", "/api/v1/account/credentials/"+keyID, nil)
	requireOK(t, "remove one of two", r)
	r = b.call("DELETE", "/api/v1/account/credentials/"+added.Credential.ID, nil)
	requireProblem(t, "remove the last factor", r, 409, "last_factor")
	if d := b.acctDoc(); len(d.Factors.Credentials) != 1 || d.Factors.Credentials[0].ID != added.Credential.ID {
		t.Fatalf("credentials after refusal %+v", d.Factors.Credentials)
	}
	if len(e.audit(audit.AccountCredentialRemove, "success")) != 1 || len(e.audit(audit.AccountWebAuthn, "success")) != 1 ||
		len(e.audit(audit.AccountCredentialRename, "success")) != 1 {
		t.Fatal("credential changes not audited")
	}
}

func TestAccountForgetDevice(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("yara")
	dev := e.device(m)
	b := e.client()
	b.setCookie(DeviceCookie, dev)
	e.acctTick()
	b.login(m, "", "otp")

	var list []struct {
		ID      string `json:"id"`
		Current bool   `json:"current"`
	}
	r := b.call("GET", "/api/v1/account/devices", nil)
	requireOK(t, "devices", r)
	r.decode(t, &list)
	if len(list) != 1 || !list[0].Current {
		t.Fatalf("devices %s", r.body)
	}
	other := e.enroll("zoe")
	e.device(other)
	theirs, _ := e.Deps.Durable.ListDevices(context.Background(), other.User.ID)
	requireProblem(t, "another user's device", b.call("DELETE", "/api/v1/account/devices/"+theirs[0].ID, nil), 404, "not_found")
	requireProblem(t, "unknown device", b.call("DELETE", "/api/v1/account/devices/nope", nil), 404, "not_found")

	r = b.call("DELETE", "/api/v1/account/devices/"+list[0].ID, nil)
	acctStatus(t, "forget", r, http.StatusNoContent)
	if b.cookie(DeviceCookie) != "" {
		t.Fatal("the forgotten device's cookie was not cleared")
	}
	lr, r := e.client().post("begin", map[string]any{"username": "yara", "device_token": dev})
	requireOK(t, "begin", r)
	if lr.PhraseShown || !slices.Equal(lr.Next, allSecondFactors) {
		t.Fatalf("a forgotten device is still recognized: %s", r.body)
	}
	if ev := e.audit(audit.AccountDeviceForget, "success"); len(ev) != 1 || ev[0].Actor != m.User.ID {
		t.Fatalf("audit %+v", ev)
	}
}

func TestAccountRevokeOtherSessions(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("abel")
	a, b, c := e.acctSignIn(m), e.acctSignIn(m), e.acctSignIn(m)
	r := a.call("POST", "/api/v1/account/sessions/revoke-others", map[string]any{})
	requireOK(t, "revoke others", r)
	var out struct {
		Ended int `json:"ended"`
	}
	r.decode(t, &out)
	if out.Ended != 2 {
		t.Fatalf("ended %d", out.Ended)
	}
	for _, x := range []*loginClient{b, c} {
		requireProblem(t, "ended session", x.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	}
	requireOK(t, "own session", a.call("GET", "/api/v1/session", nil))
	if ev := e.audit(audit.AccountRevokeOthers, "success"); len(ev) != 1 || ev[0].Detail != "ended 2 other sessions" {
		t.Fatalf("audit %+v", ev)
	}
}

func TestAccountCrossSiteRefused(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("bert")
	a, b := e.acctSignIn(m), e.acctSignIn(m)
	evil := []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}
	r := a.call("POST", "/api/v1/account/sessions/revoke-others", map[string]any{}, evil...)
	requireProblem(t, "cross-site API post", r, 403, "cross_site_request")
	r = a.call("DELETE", "/api/v1/account/devices/x", nil, evil...)
	requireProblem(t, "cross-site API delete", r, 403, "cross_site_request")
	r = a.acctForm("/account/sessions/revoke-others", nil, evil...)
	requireProblem(t, "cross-site form", r, 403, "cross_site_request")
	r = a.acctForm("/account/signout", nil, evil...)
	requireProblem(t, "cross-site sign-out", r, 403, "cross_site_request")
	requireOK(t, "a", a.call("GET", "/api/v1/session", nil))
	requireOK(t, "b", b.call("GET", "/api/v1/session", nil))

	r = a.acctForm("/account/signout", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?signed_out=1" {
		t.Fatalf("sign-out: %d %q", r.status, r.header.Get("Location"))
	}
	requireProblem(t, "after sign-out", a.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	requireOK(t, "b after a signed out", b.call("GET", "/api/v1/session", nil))
}

func TestAccountPageWithoutJavaScript(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("cora")
	key := newSoftKey(t)
	key.register(t, e, m)
	keyID := base64.RawURLEncoding.EncodeToString(key.id)
	b := e.acctSignIn(m)
	other := e.acctSignIn(m)

	page := b.acctGet("/account")
	acctStatus(t, "page", page, 200)
	html := string(page.body)
	for _, want := range []string{"Your account", "cora", "Display cora", `action="/account/reauth"`, `action="/account/password"`,
		`action="/account/credentials/` + keyID + `/rename"`, `action="/account/sessions/revoke-others"`, "soft key",
		`<script src="/static/account.js" defer>`, "10</strong> unused codes", `href="/account"`} {
		if !strings.Contains(html, want) {
			t.Fatalf("page lacks %q", want)
		}
	}
	if !strings.Contains(page.header.Get("Content-Security-Policy"), "script-src 'self'") || page.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", page.header)
	}

	// A change before re-authenticating sends the browser to the form.
	msg := b.acctRedirected("password without reauth", b.acctForm("/account/password", url.Values{"password": {"x"}}), "reauth")
	if !strings.Contains(msg, "Confirm it") {
		t.Fatalf("message %q", msg)
	}
	msg = b.acctRedirected("wrong reauth", b.acctForm("/account/reauth", url.Values{"password": {"nope"}, "code": {"123456"}}), "reauth")
	if !strings.Contains(msg, "didn") {
		t.Fatalf("message %q", msg)
	}
	e.acctTick()
	msg = b.acctRedirected("reauth", b.acctForm("/account/reauth", url.Values{"password": {m.Password}, "code": {e.code(m)}}), "reauth")
	if !strings.Contains(msg, "Confirmed") {
		t.Fatalf("message %q", msg)
	}
	if !strings.Contains(string(b.acctGet("/account").body), `id="reauth-ok"`) {
		t.Fatal("the page does not say the session is confirmed")
	}
	// The page right after a re-authentication says "Confirmed" once (the
	// message), not again in the card.
	e.acctTick()
	acctStatus(t, "reauth again", b.acctForm("/account/reauth", url.Values{"password": {m.Password}, "code": {e.code(m)}}), http.StatusSeeOther)
	after := string(b.acctGet("/account").body)
	if i := strings.Index(after, `<script type="application/json" id="ma-messages">`); i >= 0 {
		after = after[:i] + after[i+strings.Index(after[i:], "</script>"):] // the scripts' messages, not shown
	}
	if n := strings.Count(after, "Confirmed") - strings.Count(after, `data-ok="Confirmed`); n != 1 {
		t.Fatalf("the page after re-authentication says Confirmed %d times", n)
	}

	// A weak password is refused with the reason; a good one is changed and
	// the page offers to end the other session.
	msg = b.acctRedirected("weak password", b.acctForm("/account/password", url.Values{"password": {"short"}}), "password")
	if !strings.Contains(msg, "The password") {
		t.Fatalf("message %q", msg)
	}
	m.Password = "lanterns drift over the harbor"
	r := b.acctForm("/account/password", url.Values{"password": {m.Password}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("password: %d %s", r.status, r.body)
	}
	page = b.acctGet("/account")
	if html := string(page.body); !strings.Contains(html, "Your password was changed.") || !strings.Contains(html, "1 other session") {
		t.Fatalf("no offer to end the other session: %s", regexp.MustCompile(`(?s)<div id="flash".*?</div>`).Find(page.body))
	}

	// New recovery codes are shown once, on their own page.
	r = b.acctForm("/account/recovery-codes", nil)
	acctStatus(t, "recovery codes page", r, 200)
	codes := regexp.MustCompile(`<li>([0-9a-z-]+)</li>`).FindAllStringSubmatch(string(r.body), -1)
	if len(codes) != account.RecoveryCodeCount {
		t.Fatalf("%d codes on the page", len(codes))
	}
	if err := e.Deps.Durable.UseRecoveryCode(context.Background(), m.User.ID, token.HashRecoveryCode(codes[0][1]), e.clk.Now()); err != nil {
		t.Fatalf("a code from the page does not work: %v", err)
	}

	// A new authenticator app: its key on a page of its own, then confirmed.
	r = b.acctForm("/account/totp", nil)
	acctStatus(t, "TOTP page", r, 200)
	if !strings.Contains(string(r.body), `src="data:image/png;base64,`) {
		t.Fatal("the QR code is not shown")
	}
	secret := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindSubmatch(r.body)
	if secret == nil {
		t.Fatal("no key on the TOTP page")
	}
	e.acctTick()
	msg = b.acctRedirected("confirm TOTP", b.acctForm("/account/totp/confirm", url.Values{"code": {loginTOTPCode(string(secret[1]), e.clk.Now())}}), "totp")
	if !strings.Contains(msg, "authenticator app is set up") {
		t.Fatalf("message %q", msg)
	}
	m.Secret = string(secret[1])

	// Renaming (markup is shown as text), removing, forgetting a device.
	b.acctRedirected("rename", b.acctForm("/account/credentials/"+keyID+"/rename", url.Values{"name": {"<b>Key</b>"}}), "passkeys")
	if html := string(b.acctGet("/account").body); strings.Contains(html, "<b>Key</b>") || !strings.Contains(html, "&lt;b&gt;Key&lt;/b&gt;") {
		t.Fatal("a credential name is not escaped")
	}
	b.acctRedirected("remove", b.acctForm("/account/credentials/"+keyID+"/remove", nil), "passkeys")
	if d := b.acctDoc(); len(d.Factors.Credentials) != 0 {
		t.Fatal("credential not removed")
	}
	d := b.acctDoc()
	msg = b.acctRedirected("forget", b.acctForm("/account/devices/"+d.Devices[0].ID+"/forget", nil), "devices")
	if !strings.Contains(msg, "forgotten") || len(b.acctDoc().Devices) != len(d.Devices)-1 {
		t.Fatalf("forget: %q", msg)
	}
	msg = b.acctRedirected("forget unknown", b.acctForm("/account/devices/nope/forget", nil), "devices")
	if !strings.Contains(msg, "nothing here") {
		t.Fatalf("message %q", msg)
	}

	// Sessions: end the other one, then sign out everywhere else.
	third := e.acctSignIn(m)
	otherID := ""
	for _, s := range other.sessions() {
		if s.Current {
			otherID = s.ID
		}
	}
	b.acctRedirected("revoke one", b.acctForm("/account/sessions/"+otherID+"/revoke", nil), "sessions")
	requireProblem(t, "revoked session", other.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	msg = b.acctRedirected("revoke others", b.acctForm("/account/sessions/revoke-others", nil), "sessions")
	if !strings.Contains(msg, "1 session ended") {
		t.Fatalf("message %q", msg)
	}
	requireProblem(t, "third session", third.call("GET", "/api/v1/session", nil), 401, "unauthenticated")

	// Ending the current session signs out.
	r = b.acctForm("/account/sessions/"+currentSession(t, b.sessions()).ID+"/revoke", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Fatalf("revoke current: %d %q", r.status, r.header.Get("Location"))
	}
	requireProblem(t, "after revoking the current session", b.call("GET", "/api/v1/session", nil), 401, "unauthenticated")
	if len(e.audit(audit.SessionRevoke, "success")) != 2 {
		t.Fatal("session revocations not audited")
	}
}

func TestAccountPasskeysOffOnIPIssuer(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true, Env: map[string]string{config.EnvPublicURL: "http://127.0.0.1:8080"}})
	ctx := context.Background()
	_, u := ts.invite(t, "ines", "")
	tok, err := token.New()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = ts.Deps.Ephemeral.CreateSession(ctx, store.Session{
		ID: "s-ines", TokenHash: token.HashHex(tok), UserID: u.ID, Username: u.Username, Groups: []string{"user"},
		AMR: []string{"pwd", "otp"}, AuthTime: now, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	cookie := "Cookie"
	value := "mutualauth_session=" + tok
	var doc accountDoc
	if r := ts.do(t, "GET", "/api/v1/account", nil, &doc, cookie, value); r.StatusCode != 200 || doc.WebAuthnAvailable {
		t.Fatalf("account: %d, webauthn_available %v", r.StatusCode, doc.WebAuthnAvailable)
	}
	expectProblem(t, ts.do(t, "POST", "/api/v1/account/webauthn/options", map[string]any{}, nil, cookie, value), 501, "webauthn_unavailable")
	expectProblem(t, ts.do(t, "POST", "/api/v1/account/reauth/webauthn/options", map[string]any{}, nil, cookie, value), 501, "webauthn_unavailable")
}
