package server

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"mutualauth/server/audit"
	"mutualauth/server/login"
	"mutualauth/server/password"
	"mutualauth/store"
)

// Re-authentication checks its factors with the verifier login uses; these
// tests pin the three places where the two used to differ.

// A password hash made with older argon2id parameters is replaced when the
// password is confirmed at re-authentication, as at login.
func TestReauthRehashesOutdatedHash(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("ursula")
	b := e.acctSignIn(m)
	ctx := context.Background()
	older := e.Deps.Hasher.Params()
	older.Memory /= 2
	oldHasher, err := password.NewHasher(older, 1)
	if err != nil {
		t.Fatal(err)
	}
	oldPHC, err := oldHasher.Hash(ctx, m.Password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Deps.Durable.UpdateUser(ctx, m.User.ID, func(u *store.User) error {
		u.PasswordHash = oldPHC
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b.acctReauth(m)
	phc := e.user(m.User.ID).PasswordHash
	if phc == oldPHC {
		t.Fatal("the outdated hash was kept")
	}
	right, rehash, err := e.Deps.Hasher.Verify(ctx, phc, m.Password)
	if err != nil || !right || rehash {
		t.Fatalf("new hash: right %v, needs rehash %v, err %v", right, rehash, err)
	}
}

// A WebAuthn assertion whose signature counter went back is refused and
// audited as a clone warning at re-authentication, as at login.
func TestReauthCloneWarningAudited(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("viktor")
	b := e.acctSignIn(m)
	key := newSoftKey(t)
	key.register(t, e, m)
	reauth := func() httpReply {
		r := b.call("POST", "/api/v1/account/reauth/webauthn/options", map[string]any{})
		requireOK(t, "options", r)
		return b.call("POST", "/api/v1/account/reauth", map[string]any{
			"password": m.Password, "credential": key.assert(t, r.body, "localhost", e.URL, nil)})
	}
	for range 2 {
		acctStatus(t, "reauth with a passkey", reauth(), http.StatusNoContent)
	}
	key.count -= 2
	requireProblem(t, "clone warning", reauth(), 401, "invalid_credentials")
	ev := e.audit(audit.AccountReauth, "clone_warning")
	if len(ev) != 1 || !strings.Contains(ev[0].Detail, "signature counter") {
		t.Fatalf("clone warning audit %+v", ev)
	}
	if n := len(e.audit(audit.AccountReauth, "failure")); n != 0 {
		t.Fatalf("the clone warning is audited as %d plain failures", n)
	}
	creds, _ := e.Deps.Durable.ListCredentials(context.Background(), m.User.ID)
	if len(creds) != 1 || !creds[0].CloneWarning {
		t.Fatalf("clone warning not stored: %+v", creds)
	}
}

// The failure that reaches login.LockAfter on the username's counter locks
// the account, is audited and is counted in the metrics; the owner's
// recognized device and signed-in session keep working (v1.1 "Lockout":
// the lock refuses unrecognized devices only, and re-authentication never
// counts on the username's counter).
func TestLockSparesRecognizedDevicesAndSessions(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("wanda")
	for failures := 0; failures < login.LockAfter; {
		lr, r := e.client().post("begin", map[string]any{"username": "wanda"})
		requireOK(t, "begin", r)
		_, r = e.client().post("otp", map[string]any{"login_id": lr.LoginID, "code": wrongCode(e.code(m))})
		switch r.status {
		case 401:
			failures++
		case 429:
			secs, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(time.Duration(secs) * time.Second)
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if !e.user(m.User.ID).Locked {
		t.Fatal("not locked")
	}
	if ev := e.audit("account.locked", "locked"); len(ev) != 1 || ev[0].Subject != m.User.ID {
		t.Fatalf("lock audit: %+v", ev)
	}
	metrics := e.client().call("GET", "/metrics", nil)
	if line := `mutualauth_login_attempts_total{result="locked",step="lock"} 1`; !bytes.Contains(metrics.body, []byte(line)) {
		t.Fatalf("metrics lack %s", line)
	}
	e.clk.Advance(login.MaxDelay)

	// An unrecognized device: the right password and code are refused.
	stranger := e.client()
	lr, r := stranger.post("begin", map[string]any{"username": "wanda"})
	requireOK(t, "begin", r)
	_, r = stranger.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireProblem(t, "locked account on an unrecognized device", r, 401, "invalid_credentials")

	// The recognized device signs in, and its session re-authenticates
	// on the session's own counter.
	e.acctTick()
	owner := e.client()
	if lr := owner.login(m, e.device(m), "otp"); !lr.Done {
		t.Fatalf("recognized device of a locked account: %+v", lr)
	}
	r = owner.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "code": m.Recovery[0]})
	if r.status != http.StatusNoContent {
		t.Fatalf("reauth of a locked account's session: %d %s", r.status, r.body)
	}
}

// Re-authentication is throttled per session: a stranger's failures on the
// username's counter do not throttle it, and its own failures throttle
// only that session.
func TestReauthThrottledPerSession(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("xena")
	b := e.acctSignIn(m)
	for range login.FreeFailures + 1 {
		lr, r := e.client().post("begin", map[string]any{"username": "xena"})
		requireOK(t, "begin", r)
		e.client().post("otp", map[string]any{"login_id": lr.LoginID, "code": wrongCode(e.code(m))})
	}
	e.acctTick()
	if r := b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "code": e.code(m)}); r.status != http.StatusNoContent {
		t.Fatalf("reauth after a stranger's failures: %d %s", r.status, r.body)
	}
	for i := range login.FreeFailures {
		r := b.call("POST", "/api/v1/account/reauth", map[string]any{"password": "not it", "code": e.code(m)})
		requireProblem(t, "wrong password "+strconv.Itoa(i), r, 401, "invalid_credentials")
	}
	r := b.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "code": e.code(m)})
	requireProblem(t, "right factors in a throttled session", r, 429, "too_many_attempts")
	if e.user(m.User.ID).Locked {
		t.Fatal("re-authentication failures locked the account")
	}
	// Another session of the same user is not throttled.
	e.clk.Advance(login.MaxDelay + time.Minute)
	other := e.acctSignIn(m)
	e.acctTick()
	if r := other.call("POST", "/api/v1/account/reauth", map[string]any{"password": m.Password, "code": e.code(m)}); r.status != http.StatusNoContent {
		t.Fatalf("reauth in another session: %d %s", r.status, r.body)
	}
}
