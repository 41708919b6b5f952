package server

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"

	"mutualauth/server/config"
	"mutualauth/server/login"
	"mutualauth/server/passkey"
)

// The phishing-resistance rules of the API contract (v1.1): passkey-first
// sign-in, user-verified passkeys completing a login, the downgrade
// protection, trust_device, and the WebAuthn step counted like the others.

const rpID = "localhost"

func (b *loginClient) webauthnOptions(id string) []byte {
	b.e.t.Helper()
	r := b.call("POST", "/api/v1/login/webauthn/options", map[string]any{"login_id": id})
	requireOK(b.e.t, "webauthn options", r)
	return r.body
}

// passkeyUser is an enrolled user (password, phrase, TOTP, recovery codes)
// who also has a passkey.
func (e *loginEnv) passkeyUser(name string) (*enrolledUser, *softKey) {
	m := e.enroll(name)
	key := newSoftKey(e.t)
	key.register(e.t, e, m)
	return m, key
}

func TestPasskeyFirst(t *testing.T) {
	e := newLoginEnv(t, nil)
	m, key := e.passkeyUser("paula")
	handle := passkey.UserHandle(m.User.ID)

	// No username and no "passkey": refused.
	_, r := e.client().post("begin", map[string]any{"client_nonce": newClientNonce()})
	requireProblem(t, "begin without username", r, 400, "bad_request")

	// With user verification the passkey alone completes the login.
	b := e.client()
	nonce := newClientNonce()
	lr, r := b.post("begin", map[string]any{"passkey": true, "client_nonce": nonce})
	requireOK(t, "passkey-first begin", r)
	if !slices.Equal(lr.Next, []string{"webauthn"}) || lr.PhraseShown {
		t.Fatalf("passkey-first begin: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, lr.LoginID, "", "")
	id := lr.LoginID
	for _, step := range []string{"password", "otp", "recovery"} {
		_, r := b.post(step, map[string]any{"login_id": id, "code": e.code(m), "password": m.Password})
		requireProblem(t, step+" in a passkey-first login", r, 409, "wrong_step")
	}
	opts := b.webauthnOptions(id)
	if bytes.Contains(opts, []byte("allowCredentials")) {
		t.Fatalf("passkey-first options list credentials: %s", opts)
	}
	nonce = newClientNonce()
	lr, r = b.post("webauthn", map[string]any{"login_id": id, "credential": key.assert(t, opts, rpID, e.URL, handle), "client_nonce": nonce})
	requireOK(t, "passkey-first assertion", r)
	if !lr.Done || !slices.Equal(lr.AMR, []string{"hwk", "mfa"}) || lr.User.ID != m.User.ID || lr.DeviceToken == "" {
		t.Fatalf("passkey-first completion: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, id, "paula", m.Phrase)
	sess := b.call("GET", "/api/v1/session", nil)
	requireOK(t, "session", sess)
	if !bytes.Contains(sess.body, []byte(`"amr":["hwk","mfa"]`)) {
		t.Fatalf("session %s", sess.body)
	}
	dev := lr.DeviceToken

	// Without user verification: the phrase, then the password. The
	// device (its cookie sent along) is recognized once the passkey named
	// the account: the completion hands back the same token.
	key.noUV = true
	lr, r = b.post("begin", map[string]any{"passkey": true})
	requireOK(t, "begin", r)
	id = lr.LoginID
	opts = b.webauthnOptions(id)
	nonce = newClientNonce()
	lr, r = b.post("webauthn", map[string]any{"login_id": id, "credential": key.assert(t, opts, rpID, e.URL, handle), "client_nonce": nonce})
	requireOK(t, "assertion without UV", r)
	if lr.Done || !slices.Equal(lr.Next, []string{"password"}) || !lr.PhraseShown {
		t.Fatalf("after an assertion without UV: %s", r.body)
	}
	e.checkProof(lr.Proof, e.URL, nonce, id, "paula", m.Phrase)
	_, r = b.post("password", map[string]any{"login_id": id, "password": "wrong " + m.Password})
	requireProblem(t, "wrong password", r, 401, "invalid_credentials")
	lr, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireOK(t, "password", r)
	if !lr.Done || !slices.Equal(lr.AMR, []string{"pwd", "hwk", "mfa"}) || lr.DeviceToken != dev {
		t.Fatalf("completion after the password: %s (device %s)", r.body, dev)
	}

	// A credential no account has, and a handle no account has: the same
	// 401, and no session.
	stranger := newSoftKey(t)
	for _, h := range [][]byte{handle, passkey.UserHandle("00112233445566778899aabbccddeeff"), nil} {
		c := e.client()
		lr, _ := c.post("begin", map[string]any{"passkey": true})
		opts := c.webauthnOptions(lr.LoginID)
		_, r := c.post("webauthn", map[string]any{"login_id": lr.LoginID, "credential": stranger.assert(t, opts, rpID, e.URL, h)})
		requireProblem(t, "unregistered credential", r, 401, "invalid_credentials")
		if s := c.call("GET", "/api/v1/session", nil); s.status != 401 {
			t.Fatalf("session after a refused passkey: %d", s.status)
		}
	}
}

// A WebAuthn step of a username-first login with user verification
// completes it: no password.
func TestUserVerifiedPasskeyCompletesUsernameFirst(t *testing.T) {
	e := newLoginEnv(t, nil)
	m, key := e.passkeyUser("ulla")
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "ulla"})
	requireOK(t, "begin", r)
	opts := b.webauthnOptions(lr.LoginID)
	lr, r = b.post("webauthn", map[string]any{"login_id": lr.LoginID, "credential": key.assert(t, opts, rpID, e.URL, passkey.UserHandle(m.User.ID))})
	requireOK(t, "webauthn", r)
	if !lr.Done || !slices.Equal(lr.AMR, []string{"hwk", "mfa"}) {
		t.Fatalf("completion: %s", r.body)
	}
}

func TestDowngradeProtection(t *testing.T) {
	e := newLoginEnv(t, nil) // passkey-users, the default
	m, _ := e.passkeyUser("dora")
	plain := e.enroll("otto")

	// A right TOTP code of a passkey user on an unrecognized device: 403,
	// and the transaction does not move on.
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "dora"})
	requireOK(t, "begin", r)
	if !slices.Equal(lr.Next, []string{"otp", "webauthn", "recovery"}) {
		t.Fatalf("next %v: the answer must not tell passkey users apart", lr.Next)
	}
	id := lr.LoginID
	_, r = b.post("otp", map[string]any{"login_id": id, "code": wrongCode(e.code(m))})
	requireProblem(t, "wrong code", r, 401, "invalid_credentials")
	_, r = b.post("otp", map[string]any{"login_id": id, "code": e.code(m)})
	requireProblem(t, "right code of a passkey user", r, 403, "phishing_resistant_required")
	_, r = b.post("password", map[string]any{"login_id": id, "password": m.Password})
	requireProblem(t, "password after the refusal", r, 409, "wrong_step")
	if len(e.audit("login.otp", "refused")) != 1 {
		t.Fatal("refusal not audited")
	}

	// The same user on a recognized device, and a user without a passkey
	// anywhere: TOTP works.
	e.acctTick()
	if lr := e.client().login(m, e.device(m), "otp"); !lr.Done {
		t.Fatalf("recognized device: %+v", lr)
	}
	if lr := e.client().login(plain, "", "otp"); !lr.Done {
		t.Fatalf("user without a passkey: %+v", lr)
	}

	// A recovery code stays accepted (the lost-passkey path), audited and
	// shown on the account page.
	rc := e.client()
	if lr := rc.login(m, "", "rec"); !lr.Done || !slices.Equal(lr.AMR, []string{"pwd", "rec", "mfa"}) {
		t.Fatalf("recovery code: %+v", lr)
	}
	if ev := e.audit("login.recovery", "success"); len(ev) != 1 || ev[0].Subject != m.User.ID {
		t.Fatalf("recovery audit %+v", ev)
	}
	r = rc.call("GET", "/api/v1/account", nil)
	requireOK(t, "account", r)
	var acct struct {
		RecoverySignIns []struct {
			At string `json:"at"`
			IP string `json:"ip"`
		} `json:"recovery_sign_ins"`
	}
	r.decode(t, &acct)
	if len(acct.RecoverySignIns) != 1 || acct.RecoverySignIns[0].At == "" || acct.RecoverySignIns[0].IP == "" {
		t.Fatalf("account recovery sign-ins: %s", r.body)
	}
	page := rc.call("GET", "/account", nil)
	if page.status != 200 || !bytes.Contains(page.body, []byte("Recent sign-ins with a recovery code")) {
		t.Fatalf("account page does not show the recovery sign-in: %d", page.status)
	}
}

func TestDowngradeProtectionOff(t *testing.T) {
	e := newLoginEnv(t, map[string]string{config.EnvPhishingResistant: "off"})
	m, _ := e.passkeyUser("olga")
	if lr := e.client().login(m, "", "otp"); !lr.Done {
		t.Fatalf("policy off: %+v", lr)
	}
}

func TestDowngradeProtectionAll(t *testing.T) {
	e := newLoginEnv(t, map[string]string{config.EnvPhishingResistant: "all"})
	m := e.enroll("alma")
	for _, name := range []string{"alma", "nobody-here"} {
		b := e.client()
		lr, r := b.post("begin", map[string]any{"username": name})
		requireOK(t, "begin", r)
		if !slices.Equal(lr.Next, []string{"webauthn"}) {
			t.Fatalf("%s: next %v", name, lr.Next)
		}
		for _, step := range []string{"otp", "recovery"} {
			code := e.code(m)
			if step == "recovery" {
				code = m.Recovery[0]
			}
			_, r := b.post(step, map[string]any{"login_id": lr.LoginID, "code": code})
			requireProblem(t, name+" "+step, r, 403, "phishing_resistant_required")
		}
	}
	// The refused recovery code was not spent: it works on a recognized
	// device.
	if lr := e.client().login(m, e.device(m), "rec"); !lr.Done {
		t.Fatalf("recognized device: %+v", lr)
	}
	e.acctTick()
	if lr := e.client().login(m, e.device(m), "otp"); !lr.Done {
		t.Fatalf("recognized device: %+v", lr)
	}
}

func TestTrustDevice(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("tess")
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "tess"})
	requireOK(t, "begin", r)
	_, r = b.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireOK(t, "otp", r)
	r = b.call("POST", "/api/v1/login/password", map[string]any{"login_id": lr.LoginID, "password": m.Password, "trust_device": false})
	requireOK(t, "password", r)
	if bytes.Contains(r.body, []byte("device_token")) || !bytes.Contains(r.body, []byte(`"done":true`)) {
		t.Fatalf("completion with trust_device false: %s", r.body)
	}
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, DeviceCookie+"=") {
			t.Fatalf("device cookie set: %s", c)
		}
	}
	devices, err := e.Deps.Durable.ListDevices(t.Context(), m.User.ID)
	if err != nil || len(devices) != 0 {
		t.Fatalf("devices %+v %v", devices, err)
	}
	// The default trusts the device.
	e.acctTick()
	if lr := e.client().login(m, "", "otp"); lr.DeviceToken == "" {
		t.Fatalf("default completion without a device token: %+v", lr)
	}
}

// The WebAuthn step counts on the username's failure counter like the
// other factors: FreeFailures bad assertions, then 429 even for a good one.
func TestWebAuthnFailuresThrottled(t *testing.T) {
	e := newLoginEnv(t, nil)
	m, key := e.passkeyUser("wilma")
	handle := passkey.UserHandle(m.User.ID)
	for i := range login.FreeFailures + 1 {
		b := e.client()
		lr, r := b.post("begin", map[string]any{"username": "wilma"})
		requireOK(t, "begin", r)
		opts := b.webauthnOptions(lr.LoginID)
		origin := "https://evil.example"
		if i == login.FreeFailures {
			origin = e.URL
		}
		_, r = b.post("webauthn", map[string]any{"login_id": lr.LoginID, "credential": key.assert(t, opts, rpID, origin, handle)})
		if i < login.FreeFailures {
			requireProblem(t, "bad assertion", r, 401, "invalid_credentials")
		} else {
			requireProblem(t, "good assertion after five failures", r, 429, "too_many_attempts")
		}
	}
	if r := e.client().call("GET", "/metrics", nil); r.status != http.StatusOK {
		t.Fatalf("metrics %d", r.status)
	}
}
