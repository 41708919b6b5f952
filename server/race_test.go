package server

import (
	"context"
	"sync"
	"testing"

	"mutualauth/server/passkey"
)

// The races that other test files do not already run. Already
// there: in server/login_test.go TestThrottleConcurrentPasswords (50 wrong
// passwords at once, at most 5 evaluated), TestTOTPConcurrentSingleUse,
// TestRecoveryCodeConcurrentSingleUse and
// TestLoginConcurrentCompletionMakesOneSession (five different codes
// finishing one transaction); in server/enroll_test.go
// TestEnrollCompleteOnce; in server/widget_test.go
// TestWidgetTokenConcurrentExchange (one widget code exchanged at once by
// many requests gives one answer).

// race sends n requests at once (each built by req, with its own client)
// and returns their answers.
func race(n int, req func(i int) httpReply) []httpReply {
	out := make([]httpReply, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = req(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

func statusesOf(rs []httpReply) []int {
	s := make([]int, len(rs))
	for i, r := range rs {
		s[i] = r.status
	}
	return s
}

// TestSameFinalStepTwiceMakesOneSession sends the very same last step of
// one transaction (the same TOTP code) 10 times at once: one request
// finishes the login, every other one is refused, and one session exists.
func TestSameFinalStepTwiceMakesOneSession(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("sasha")
	dev := e.device(m)
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "sasha", "device_token": dev})
	requireOK(t, "begin", r)
	_, r = b.post("password", map[string]any{"login_id": lr.LoginID, "password": m.Password})
	requireOK(t, "password", r)
	body := map[string]any{"login_id": lr.LoginID, "code": e.code(m)}
	rs := race(10, func(int) httpReply {
		_, r := e.client().post("otp", body)
		return r
	})
	done := 0
	for _, r := range rs {
		switch r.status {
		case 200:
			var lr loginReply
			r.decode(t, &lr)
			if !lr.Done {
				t.Fatalf("200 without completion: %s", r.body)
			}
			done++
		case 401, 404, 409, 429:
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if done != 1 {
		t.Fatalf("%d completions, want 1 (%v)", done, statusesOf(rs))
	}
	sessions, err := e.Deps.Ephemeral.ListSessions(context.Background(), m.User.ID)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("%d sessions, want 1 (%v)", len(sessions), err)
	}
	if n := len(e.audit("login.complete", "success")); n != 1 {
		t.Fatalf("%d completions audited", n)
	}
}

// TestSamePasswordTwiceMakesOneSession: the right password sent 10 times at
// once as the last step of one transaction finishes it once.
func TestSamePasswordTwiceMakesOneSession(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("tariq")
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "tariq"})
	requireOK(t, "begin", r)
	_, r = b.post("otp", map[string]any{"login_id": lr.LoginID, "code": e.code(m)})
	requireOK(t, "otp", r)
	body := map[string]any{"login_id": lr.LoginID, "password": m.Password}
	rs := race(10, func(int) httpReply {
		_, r := e.client().post("password", body)
		return r
	})
	done := 0
	for _, r := range rs {
		switch r.status {
		case 200:
			done++
		case 404, 409, 429:
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	sessions, err := e.Deps.Ephemeral.ListSessions(context.Background(), m.User.ID)
	if done != 1 || err != nil || len(sessions) != 1 {
		t.Fatalf("%d completions and %d sessions (%v), want one of each: %v", done, len(sessions), err, statusesOf(rs))
	}
}

// TestWebAuthnChallengeAnsweredTwiceAtOnce: two valid assertions for one
// challenge race; the ceremony is taken once, so one is accepted.
func TestWebAuthnChallengeAnsweredTwiceAtOnce(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("uma")
	key := newSoftKey(t)
	key.register(t, e, m)
	b := e.client()
	lr, r := b.post("begin", map[string]any{"username": "uma"})
	requireOK(t, "begin", r)
	r = b.call("POST", "/api/v1/login/webauthn/options", map[string]any{"login_id": lr.LoginID})
	requireOK(t, "options", r)
	handle := passkey.UserHandle(m.User.ID)
	answers := []map[string]any{key.assert(t, r.body, "localhost", e.URL, handle), key.assert(t, r.body, "localhost", e.URL, handle)}
	rs := race(len(answers), func(i int) httpReply {
		_, r := e.client().post("webauthn", map[string]any{"login_id": lr.LoginID, "credential": answers[i]})
		return r
	})
	st := statusesOf(rs)
	if countStatuses(st, 200) != 1 || countStatuses(st, 200)+countStatuses(st, 401)+countStatuses(st, 409) != len(st) {
		t.Fatalf("two answers to one challenge: %v", st)
	}
	if n := len(e.audit("login.webauthn", "success")); n != 1 {
		t.Fatalf("%d WebAuthn successes audited", n)
	}
}
