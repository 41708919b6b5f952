package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// rawBegin posts body as it is to the begin step.
func rawBegin(t *testing.T, e *loginEnv, body []byte) httpReply {
	t.Helper()
	req, err := http.NewRequest("POST", e.URL+"/api/v1/login/begin", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", e.URL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return httpReply{status: resp.StatusCode, header: resp.Header, body: raw}
}

func TestBeginRefusesControlCharactersAndInvalidUTF8(t *testing.T) {
	e := newLoginEnv(t, nil)
	e.enroll("ada")
	nonce := newClientNonce()
	for _, name := range []string{`ada\u0000`, `\u0000`, `a\u0001da`, `ada\u007f`, `ada\u0085`, `ada\ud800`, `ada\t`} {
		r := rawBegin(t, e, []byte(`{"username":"`+name+`","client_nonce":"`+nonce+`"}`))
		requireProblem(t, "username "+name, r, 400, "invalid_request")
	}
	r := rawBegin(t, e, append([]byte(`{"username":"ad`), append([]byte{0xff, 0xfe}, []byte(`a","client_nonce":"`+nonce+`"}`)...)...))
	requireProblem(t, "invalid UTF-8", r, 400, "invalid_request")
	// A plain unknown name is still indistinguishable from a known one.
	r = rawBegin(t, e, []byte(`{"username":"nobody","client_nonce":"`+nonce+`"}`))
	requireOK(t, "unknown name", r)
}

func TestAdminRefusesLookAlikeAndMixedScriptUsernames(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("admin")
	b := e.adminSignIn(root)
	adminCreated(t, "mike", b.call("POST", "/api/v1/admin/users", map[string]any{"username": "mike"}))
	for _, name := range []string{
		"\u0430dmin",           // Cyrillic a with Latin: mixed scripts
		"\u0430\u0501m\u0456n", // mostly Cyrillic with a Latin m
		"rnike",                // the skeleton of "m" is "rn"
	} {
		requireProblem(t, "look-alike "+name, b.call("POST", "/api/v1/admin/users", map[string]any{"username": name}),
			422, "invalid_username")
	}
	// Single-script names of other scripts are fine, and so is Japanese,
	// which mixes Han, Hiragana and Katakana.
	for _, name := range []string{"\u0438\u0432\u0430\u043d", "\u6771\u4eac\u30bf\u30ef\u30fc", "\u03b1\u03b8\u03b7\u03bd\u03b1"} {
		adminCreated(t, name, b.call("POST", "/api/v1/admin/users", map[string]any{"username": name}))
	}
	// The whole-Cyrillic look-alike of an existing Latin name is refused
	// by its skeleton.
	adminCreated(t, "cope", b.call("POST", "/api/v1/admin/users", map[string]any{"username": "cope"}))
	requireProblem(t, "skeleton", b.call("POST", "/api/v1/admin/users",
		map[string]any{"username": "\u0441\u043e\u0440\u0435"}), 422, "invalid_username")
	// Re-inviting the same name is not a look-alike of itself.
	adminCreated(t, "again", b.call("POST", "/api/v1/admin/users", map[string]any{"username": "mike"}))
}

// Admins creating look-alike usernames at the same moment: the store
// reserves the skeleton as the user is created, so exactly one wins.
func TestAdminConcurrentLookAlikesOneWins(t *testing.T) {
	e := newLoginEnv(t, nil)
	b := e.adminSignIn(e.enrollAdmin("root"))
	// All Latin (digits are Common), so each passes the script rule alone.
	names := []string{"mill", "rnill", "mi1l", "mil1", "mi11", "rni1l", "rnil1", "rni11"}
	replies := make([]httpReply, len(names))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			replies[i] = b.call("POST", "/api/v1/admin/users", map[string]any{"username": name})
		}()
	}
	close(start)
	wg.Wait()
	created := 0
	for i, r := range replies {
		switch r.status {
		case 201:
			created++
		case 422:
			if p := r.problem(t); p.Code != "invalid_username" {
				t.Errorf("%s: code %q, want invalid_username", names[i], p.Code)
			}
		default:
			t.Errorf("%s: %d %s", names[i], r.status, r.body)
		}
	}
	if created != 1 {
		t.Errorf("%d of %d look-alike usernames were created, want 1", created, len(names))
	}
}

func TestDisplayNameBidiControlsRefused(t *testing.T) {
	e := newLoginEnv(t, nil)
	b := e.adminSignIn(e.enrollAdmin("root"))
	for _, name := range []string{"evil\u202egnp.exe", "x\u2066y", "a\u200fb", "c\u0085d"} {
		requireProblem(t, "display name "+name, b.call("POST", "/api/v1/admin/users",
			map[string]any{"username": "ok", "display_name": name}), 422, "invalid_display_name")
	}
}

func TestHeaderValueHasNoControlBytes(t *testing.T) {
	for _, in := range []string{"a\x00b", "a\r\nX-Evil: 1", "a\x7fb", "a\u0085b", "a\u009bb", "a\xffb", "a\u202eb"} {
		out := headerValue(in)
		for i := 0; i < len(out); i++ {
			if c := out[i]; c < 0x20 || c == 0x7f {
				t.Fatalf("headerValue(%q) = %q has a control byte", in, out)
			}
		}
		if strings.ContainsAny(out, "\u0085\u009b\u202e\ufffd") {
			t.Fatalf("headerValue(%q) = %q keeps a control character", in, out)
		}
	}
}

func adminCreated(t *testing.T, what string, r httpReply) {
	t.Helper()
	if r.status != 200 && r.status != 201 {
		t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
}

// A login begun on a recognized device re-checks the device at each step:
// revoked after begin (or after the password), the sign-in ends at once.
func TestLoginRechecksTheDeviceAtEachStep(t *testing.T) {
	e := newLoginEnv(t, nil)
	alice := e.enroll("alice")
	ctx := context.Background()
	revoke := func() {
		devs, err := e.Deps.Durable.ListDevices(ctx, alice.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			if err := e.Deps.Durable.DeleteDevice(ctx, alice.User.ID, d.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, at := range []string{"password", "otp", "webauthn/options"} {
		dev := e.device(alice)
		b := e.client()
		lr, r := b.post("begin", map[string]any{"username": "alice", "client_nonce": newClientNonce(), "device_token": dev})
		requireOK(t, "begin", r)
		id := lr.LoginID
		if at != "password" {
			_, r = b.post("password", map[string]any{"login_id": id, "password": alice.Password, "client_nonce": newClientNonce()})
			requireOK(t, "password", r)
		}
		revoke()
		body := map[string]any{"login_id": id, "password": alice.Password, "code": e.code(alice), "client_nonce": newClientNonce()}
		_, r = b.post(at, body)
		requireProblem(t, at+" after the device was revoked", r, 404, "unknown_login")
		// The sign-in has ended: the next step does not go on with it.
		_, r = b.post("otp", body)
		requireProblem(t, "after the refusal", r, 404, "unknown_login")
	}
	if n := len(e.audit("login.device", "device_revoked")); n != 3 {
		t.Fatalf("%d revoked-device refusals audited, want 3", n)
	}
}
