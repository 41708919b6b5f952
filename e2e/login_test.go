package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The hosted login page (GET /login, web/login.js and web/proof.js) in
// headless Chromium against the real binary: the TOTP and passkey logins,
// the page stopping on a tampered proof or a swapped server key before it
// asks for the password, and a stranger's lockout leaving the owner's
// recognized device alone.

const (
	loginPassword = "Tangerine nimbus 8472 glide"
	loginPinKey   = "mutualauth:pinned_kid"
	// A phrase with markup in it: the page must show it as text.
	loginMarkupPhrase = `<b>blue</b> heron & "moon"`
)

// loginAccount is a user enrolled through the enrollment JSON API.
type loginAccount struct {
	Username   string
	Phrase     string
	TOTPSecret string // empty for a passkey-only account
	KID        string // server_key.kid of the enrollment answer
	Recovery   []string
}

// loginTOTPCode is an RFC 6238 TOTP code (§4: SHA-1, T0 = 0, 30-second steps, 6
// digits) with the dynamic truncation of RFC 4226 §5.3, written here so that
// the test does not trust the server's implementation.
func loginTOTPCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		t.Fatalf("TOTP secret %q is not base32: %v", secret, err)
	}
	return loginHOTP(key, uint64(at.Unix()/30), 6)
}

func loginHOTP(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := uint32(sum[off]&0x7f)<<24 | uint32(sum[off+1])<<16 | uint32(sum[off+2])<<8 | uint32(sum[off+3])
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// TestLoginTOTPGenerator checks the test's own generator against the
// SHA-1 vectors of RFC 6238 Appendix B (8 digits there; 6 is the same value
// mod 10^6).
func TestLoginTOTPGenerator(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		if got := loginHOTP(key, uint64(v.unix/30), 8); got != v.code {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.code)
		}
		if got, want := loginHOTP(key, uint64(v.unix/30), 6), v.code[2:]; got != want {
			t.Errorf("T=%d, 6 digits: %s, want %s", v.unix, got, want)
		}
	}
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key)
	if got := loginTOTPCode(t, secret, time.Unix(59, 0)); got != "287082" {
		t.Errorf("totpCode = %s, want 287082", got)
	}
}

// loginAPI sends a JSON request from Go, as a non-browser client (no Origin,
// no cookies), and returns the status, the headers and the decoded body.
func loginAPI(t *testing.T, method, rawURL string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	status, hdr, raw := sendJSON(t, &http.Client{Timeout: 30 * time.Second}, method, rawURL, body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d, body not JSON: %v\n%s", method, rawURL, status, err, raw)
		}
	}
	return status, hdr, out
}

func loginMustStatus(t *testing.T, what string, got, want int, body map[string]any) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d: %v", what, got, want, body)
	}
}

// loginJS evaluates an async function body in the page with args (JSON
// values) bound to the names a, b, c... and decodes its result into T.
func loginJS[T any](t *testing.T, ctx context.Context, body string, args ...any) T {
	t.Helper()
	names := make([]string, len(args))
	vals := make([]string, len(args))
	for i, a := range args {
		names[i] = string(rune('a' + i))
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		vals[i] = string(b)
	}
	expr := "(async (" + strings.Join(names, ",") + ") => {" + body + "})(" + strings.Join(vals, ",") + ")"
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("in the page: %v\n%s", err, body)
	}
	return v
}

// loginEnroll enrolls a new user through the enrollment JSON API. With a
// browser, the WebAuthn ceremony (passkey) and the completion run in that
// browser on the issuer's origin, as the enrollment page does them: the
// browser gets the device cookie and pins the server key. Without one, the
// user is enrolled from Go and no browser knows the device token.
// A TOTP account confirms with the code of the previous time step, which the
// server accepts (one step of drift), so that the current step is still
// free for the login that follows.
func loginEnroll(t *testing.T, s *Server, ctx context.Context, username, phrase string, factors loginFactors) loginAccount {
	t.Helper()
	return loginEnrollAt(t, s, ctx, s.AdminInvite(t, username, "", false), username, phrase, factors)
}

// loginFactors are the second factors loginEnroll adds.
type loginFactors int

const (
	loginTOTP loginFactors = 1 << iota
	loginPasskey
	loginBoth = loginTOTP | loginPasskey
)

// loginEnrollAt is loginEnroll through the enrollment link invite.
func loginEnrollAt(t *testing.T, s *Server, ctx context.Context, invite, username, phrase string, factors loginFactors) loginAccount {
	t.Helper()
	i := strings.LastIndex(invite, "/enroll/")
	if i < 0 {
		t.Fatalf("invite URL %q has no /enroll/ path", invite)
	}
	token := invite[i+len("/enroll/"):]
	api := s.URL() + "/api/v1/enroll/" + url.PathEscape(token)
	acct := loginAccount{Username: username, Phrase: phrase}

	st, _, body := loginAPI(t, "POST", api+"/password", map[string]string{"password": loginPassword})
	loginMustStatus(t, "enroll password", st, http.StatusNoContent, body)
	st, _, body = loginAPI(t, "POST", api+"/phrase", map[string]string{"phrase": phrase})
	loginMustStatus(t, "enroll phrase", st, http.StatusNoContent, body)

	if factors&loginTOTP != 0 {
		st, _, body = loginAPI(t, "POST", api+"/totp", nil)
		loginMustStatus(t, "enroll totp", st, http.StatusOK, body)
		secret, _ := body["secret"].(string)
		if secret == "" {
			t.Fatalf("enroll totp: no secret in %v", body)
		}
		acct.TOTPSecret = secret
		// A time step can end between computing and checking; then the
		// previous step is two back and the next try computes again.
		for attempt := 1; ; attempt++ {
			code := loginTOTPCode(t, secret, time.Now().Add(-30*time.Second))
			st, _, body = loginAPI(t, "POST", api+"/totp/confirm", map[string]string{"code": code})
			if st == http.StatusNoContent {
				break
			}
			if attempt == 3 {
				loginMustStatus(t, "enroll totp confirm", st, http.StatusNoContent, body)
			}
		}
	}

	if ctx == nil {
		st, _, body = loginAPI(t, "POST", api+"/complete", nil)
		loginMustStatus(t, "enroll complete", st, http.StatusOK, body)
		key, _ := body["server_key"].(map[string]any)
		acct.KID, _ = key["kid"].(string)
		codes, _ := body["recovery_codes"].([]any)
		for _, c := range codes {
			if code, ok := c.(string); ok {
				acct.Recovery = append(acct.Recovery, code)
			}
		}
		return acct
	}

	// A page of the issuer's origin that makes no WebAuthn request of its
	// own (the login page's passkey autofill would be pending).
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+"/enroll/"+url.PathEscape(token))); err != nil {
		t.Fatalf("open the issuer's origin: %v", err)
	}
	if factors&loginPasskey != 0 {
		status := loginJS[int](t, ctx, `
			const post = (path, body) => fetch(a + path, {method: "POST", credentials: "same-origin",
				headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
			const r = await post("/webauthn/options", {});
			if (r.status !== 200) throw new Error("webauthn/options: " + r.status + " " + await r.text());
			const opts = (await r.json()).publicKey;
			const cred = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(opts)});
			const done = await post("/webauthn", {credential: cred.toJSON(), name: "virtual authenticator"});
			if (done.status !== 204) throw new Error("webauthn: " + done.status + " " + await done.text());
			return done.status;`, "/api/v1/enroll/"+token)
		if status != http.StatusNoContent {
			t.Fatalf("passkey enrollment: %d", status)
		}
	}
	done := loginJS[string](t, ctx, `
		const r = await fetch(a + "/complete", {method: "POST", credentials: "same-origin",
			headers: {"Content-Type": "application/json"}, body: "{}"});
		if (r.status !== 200) throw new Error("complete: " + r.status + " " + await r.text());
		const body = await r.json();
		localStorage.setItem(b, body.server_key.kid);
		return JSON.stringify({kid: body.server_key.kid, codes: body.recovery_codes});`, "/api/v1/enroll/"+token, loginPinKey)
	var out struct {
		KID   string   `json:"kid"`
		Codes []string `json:"codes"`
	}
	if err := json.Unmarshal([]byte(done), &out); err != nil {
		t.Fatalf("enroll complete: %v", err)
	}
	acct.KID, acct.Recovery = out.KID, out.Codes
	return acct
}

// loginPageState is what the login page shows, read from the DOM: an element
// counts as shown when it is rendered (not hidden, nor inside something hidden).
type loginPageState struct {
	Stop        bool     `json:"stop"`
	StopText    string   `json:"stopText"`
	Verified    bool     `json:"verified"`
	Rule        bool     `json:"rule"` // the phrase rule line
	VerifiedKID string   `json:"verifiedKid"`
	FirstUse    bool     `json:"firstUse"`
	Phrase      string   `json:"phrase"` // the phrase text, when shown
	PhraseHTML  string   `json:"phraseHTML"`
	Username    bool     `json:"username"`
	OTP         bool     `json:"otp"`
	Passkey     bool     `json:"passkey"`
	Recovery    bool     `json:"recovery"`
	Password    bool     `json:"password"`
	Done        bool     `json:"done"`
	DoneName    string   `json:"doneName"`
	Error       string   `json:"error"`
	Pinned      string   `json:"pinned"`
	Inputs      []string `json:"inputs"` // ids of the rendered inputs
	Path        string   `json:"path"`
	Ready       string   `json:"ready"`
	Focused     string   `json:"focused"`
}

const loginPageStateJS = `
	const $ = id => document.getElementById(id);
	const shown = id => { const e = $(id); return !!e && !e.hidden && e.getClientRects().length > 0; };
	const text = id => shown(id) ? $(id).textContent.replace(/\s+/g, " ").trim() : "";
	if (location.pathname !== "/login") return {path: location.pathname, inputs: [], ready: document.readyState};
	return {
		stop: shown("stop"), stopText: text("stop"),
		verified: shown("verified"), verifiedKid: shown("verified") ? $("verified-kid").textContent.trim() : "", rule: shown("phrase-rule"),
		firstUse: shown("first-use"),
		phrase: shown("phrase-box") ? $("phrase").textContent : "", phraseHTML: $("phrase").innerHTML,
		username: shown("username"), otp: shown("otp"), passkey: shown("webauthn-button"),
		recovery: shown("recovery-link"), password: shown("password"),
		done: shown("done"), doneName: text("done-name"), error: text("error"),
		pinned: localStorage.getItem(a) || "",
		inputs: [...document.querySelectorAll("input")].filter(i => i.getClientRects().length > 0).map(i => i.id),
		path: location.pathname,
		focused: document.activeElement ? document.activeElement.id : "",
	};`

func loginReadPage(t *testing.T, ctx context.Context) loginPageState {
	t.Helper()
	return loginJS[loginPageState](t, ctx, loginPageStateJS, loginPinKey)
}

// loginWaitFor waits until one of the elements (by id) is rendered.
func loginWaitFor(t *testing.T, ctx context.Context, ids ...string) {
	t.Helper()
	list, err := json.Marshal(ids)
	if err != nil {
		t.Fatal(err)
	}
	shown := `(` + string(list) + `).some(id => { const e = document.getElementById(id); return !!e && !e.hidden && e.getClientRects().length > 0; })`
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](shown, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		t.Fatalf("waiting for one of %v: %v", ids, err)
	}
}

func loginOpen(t *testing.T, ctx context.Context, s *Server, query string) {
	t.Helper()
	u := s.URL() + "/login"
	if query != "" {
		u += "?" + query
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	// The page begins a passkey-first login as it loads and checks the
	// server's proof before it offers anything.
	loginWaitFor(t, ctx, "verified", "stop")
}

// loginType types text and then Enter into the field, as a keyboard user
// does. It presses Enter only once the field holds the text: on a loaded
// machine, keys sent to a frame of another site (the widget) can be lost
// while the frame's process gets its input routing, and Enter on a field
// left empty only asks for the username again. Lost keys are typed again,
// up to three times.
func loginType(t *testing.T, ctx context.Context, id, text string) {
	t.Helper()
	sel := chromedp.ID(id)
	holds := `(() => { const e = document.getElementById(` + strconv.Quote(id) + `), t = ` + strconv.Quote(text) + `;
		return !!e && e.value === (e.maxLength > 0 ? t.slice(0, e.maxLength) : t); })()`
	for try := 1; ; try++ {
		if err := chromedp.Do(ctx, chromedp.SendKeys(sel, text)); err != nil {
			t.Fatalf("type into #%s: %v", id, err)
		}
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](holds, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(3*time.Second)))
		if err == nil {
			break
		}
		if try == 3 {
			t.Fatalf("typed into #%s three times, and it does not hold the text", id)
		}
		t.Logf("#%s did not get the keys typed (try %d); typing again", id, try)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const e = document.getElementById(`+strconv.Quote(id)+`); if (e) e.value = ""; return true; })()`)); err != nil {
			t.Fatalf("clear #%s: %v", id, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(sel, "\r")); err != nil {
		t.Fatalf("press Enter in #%s: %v", id, err)
	}
}

func loginClick(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID(id))); err != nil {
		t.Fatalf("click #%s: %v", id, err)
	}
}

// loginWaitSignedIn waits until the page shows the signed-in state or has gone on
// to another page (the account page or return_to), and returns the state.
func loginWaitSignedIn(t *testing.T, ctx context.Context) loginPageState {
	t.Helper()
	// After "signed in" the page goes on to /account (or return_to) once it
	// has checked that page answers; wait for that page to finish loading so
	// that nothing races the navigation. A page that stays is fine too.
	var doneSince time.Time
	for {
		st, err := chromedp.Run(ctx, chromedp.Evaluate[loginPageState]("(async (a) => {"+loginPageStateJS+"})("+strconv.Quote(loginPinKey)+")", chromedp.EvalAwaitPromise))
		if err == nil && st.Done && doneSince.IsZero() {
			doneSince = time.Now()
		}
		stayed := !doneSince.IsZero() && time.Since(doneSince) > 3*time.Second
		if err == nil && ((st.Path != "/login" && st.Ready == "complete") || st.Stop || (st.Done && stayed)) {
			if st.Stop {
				t.Fatalf("the page stopped instead of signing in: %s", st.StopText)
			}
			return st
		}
		if ctx.Err() != nil {
			t.Fatalf("not signed in: %v (last state %+v, %v)", ctx.Err(), st, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// loginSession asks the server, from the page, who is signed in.
func loginSession(t *testing.T, ctx context.Context) (string, []string) {
	t.Helper()
	var sess struct {
		Status int      `json:"status"`
		User   string   `json:"user"`
		AMR    []string `json:"amr"`
	}
	raw := loginJS[string](t, ctx, `
		const r = await fetch("/api/v1/session", {credentials: "same-origin"});
		const b = r.status === 200 ? await r.json() : {};
		return JSON.stringify({status: r.status, user: b.user ? b.user.username : "", amr: b.amr || []});`)
	if err := json.Unmarshal([]byte(raw), &sess); err != nil {
		t.Fatal(err)
	}
	if sess.Status != http.StatusOK {
		return "", nil
	}
	return sess.User, sess.AMR
}

func loginActiveKID(t *testing.T, s *Server) string {
	t.Helper()
	keys := serverKeys(t, s)
	if len(keys) == 0 {
		t.Fatal("the JWKS has no key")
	}
	return keys[0].str("kid")
}

// loginRequireStopped checks the page stopped with a warning and asks for nothing:
// no password, no code, no phrase.
func loginRequireStopped(t *testing.T, st loginPageState, reason string) {
	t.Helper()
	if !st.Stop {
		t.Fatalf("the page did not stop: %+v", st)
	}
	if !strings.Contains(st.StopText, "Do not enter your password") {
		t.Errorf("warning %q does not tell the user not to enter the password", st.StopText)
	}
	if !strings.Contains(st.StopText, reason) {
		t.Errorf("warning %q does not name the reason %q", st.StopText, reason)
	}
	if st.Password || st.OTP || st.Passkey || st.Verified || st.Phrase != "" || len(st.Inputs) != 0 {
		t.Errorf("a stopped page still shows fields or a verified state: %+v", st)
	}
}

// loginInterceptor rewrites the bodies of the responses whose URL matches a
// pattern, through the DevTools Fetch domain at the response stage.
type loginInterceptor struct {
	mu    sync.Mutex
	count int
	err   error
}

func (ic *loginInterceptor) rewritten(t *testing.T) int {
	t.Helper()
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.err != nil {
		t.Fatalf("interception: %v", ic.err)
	}
	return ic.count
}

func loginIntercept(t *testing.T, ctx context.Context, pattern string, rewrite func([]byte) ([]byte, error)) *loginInterceptor {
	t.Helper()
	ic := &loginInterceptor{}
	ictx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	events := chromedp.Events(ictx, fetch.RequestPaused)
	_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: pattern, RequestStage: fetch.RequestStageResponse},
	}})
	if err != nil {
		t.Fatalf("Fetch.enable: %v", err)
	}
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			ic.handle(ictx, ev, rewrite)
		}
	}()
	return ic
}

func (ic *loginInterceptor) handle(ctx context.Context, ev fetch.EventRequestPaused, rewrite func([]byte) ([]byte, error)) {
	fail := func(err error) {
		ic.mu.Lock()
		if ic.err == nil {
			ic.err = err
		}
		ic.mu.Unlock()
		_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonFailed})
	}
	res, err := chromedp.Call(ctx, fetch.GetResponseBody, fetch.GetResponseBodyParams{RequestID: ev.RequestID})
	if err != nil {
		fail(fmt.Errorf("Fetch.getResponseBody %s: %w", ev.Request.URL, err))
		return
	}
	body, err := rewrite(res.Body)
	if err != nil {
		fail(fmt.Errorf("rewriting %s: %w", ev.Request.URL, err))
		return
	}
	var headers []*fetch.HeaderEntry
	for _, h := range ev.ResponseHeaders {
		if !strings.EqualFold(h.Name, "Content-Length") {
			headers = append(headers, h)
		}
	}
	_, err = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
		RequestID: ev.RequestID, ResponseCode: ev.ResponseStatusCode, ResponseHeaders: headers, Body: body,
	})
	if err != nil {
		fail(fmt.Errorf("Fetch.fulfillRequest %s: %w", ev.Request.URL, err))
		return
	}
	ic.mu.Lock()
	ic.count++
	ic.mu.Unlock()
}

// loginTamperProof changes one character of the payload of the proof in a login
// step's JSON answer, keeping it valid base64url.
func loginTamperProof(body []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	proof, _ := m["proof"].(string)
	parts := strings.Split(proof, ".")
	if len(parts) != 3 || len(parts[1]) < 8 {
		return nil, fmt.Errorf("no compact JWS in %s", body)
	}
	p := []byte(parts[1])
	i := len(p) / 2
	if p[i] == 'A' {
		p[i] = 'B'
	} else {
		p[i] = 'A'
	}
	parts[1] = string(p)
	m["proof"] = strings.Join(parts, ".")
	return json.Marshal(m)
}

// loginOtherJWKS is a key set holding one fresh P-256 key (kid = its RFC 7638
// thumbprint), and that kid: a server key this browser never saw.
func loginOtherJWKS(t *testing.T) ([]byte, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.PublicKey.Bytes() // 0x04 || X || Y (SEC 1 §2.3.3)
	if err != nil {
		t.Fatal(err)
	}
	key := jwk{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(pt[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(pt[33:]),
	}
	key["kid"] = thumbprint(t, key)
	b, err := json.Marshal(map[string]any{"keys": []jwk{key}})
	if err != nil {
		t.Fatal(err)
	}
	return b, key.str("kid")
}

// TestLoginPageTOTP signs in with password and TOTP: on the browser that
// enrolled (recognized device: phrase, password, then code) and on a fresh
// browser (first use: pin, code, then phrase, then password).
func TestLoginPageTOTP(t *testing.T) {
	s := startServer(t, ServerOptions{})
	kid := loginActiveKID(t, s)

	t.Run("recognized device", func(t *testing.T) {
		ctx := newBrowser(t)
		alice := loginEnroll(t, s, ctx, "alice", loginMarkupPhrase, loginTOTP)
		if alice.KID != kid {
			t.Fatalf("enrollment pinned %q, the JWKS has %q", alice.KID, kid)
		}
		loginOpen(t, ctx, s, "")
		if st := loginReadPage(t, ctx); st.Focused != "username" || st.Pinned != kid {
			t.Errorf("start: focus on %q and pin %q, want username and %q", st.Focused, st.Pinned, kid)
		}
		screenshot(t, ctx, "username")

		loginType(t, ctx, "username", "alice")
		loginWaitFor(t, ctx, "password", "stop")
		st := loginReadPage(t, ctx)
		if !st.Verified || st.VerifiedKID != kid || st.FirstUse {
			t.Errorf("after begin: want the verified state with key %s and no first-use notice: %+v", kid, st)
		}
		if st.Phrase != loginMarkupPhrase || strings.Contains(st.PhraseHTML, "<b>") {
			t.Errorf("phrase shown as %q (HTML %q), want the text %q", st.Phrase, st.PhraseHTML, loginMarkupPhrase)
		}
		if !st.Password || st.OTP || st.Focused != "password" {
			t.Errorf("after begin on a recognized device: want the password field, focused: %+v", st)
		}
		screenshot(t, ctx, "verified-phrase-password")

		loginType(t, ctx, "password", "not the password at all")
		loginWaitFor(t, ctx, "error")
		if st := loginReadPage(t, ctx); !strings.Contains(st.Error, "That didn't work") || !st.Password {
			t.Errorf("wrong password: want \"That didn't work\" and the field again: %+v", st)
		}
		screenshot(t, ctx, "wrong-password")

		loginType(t, ctx, "password", loginPassword)
		loginWaitFor(t, ctx, "otp")
		st = loginReadPage(t, ctx)
		if !st.OTP || !st.Passkey || !st.Recovery || st.Password || st.Focused != "otp" || st.Error != "" {
			t.Errorf("after the password: want the code field (focused), the passkey button and the recovery link: %+v", st)
		}
		attrs, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.ID("otp")))
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": "6"} {
			if attrs[name] != want {
				t.Errorf("code field %s=%q, want %q", name, attrs[name], want)
			}
		}
		screenshot(t, ctx, "second-factor")

		loginType(t, ctx, "otp", loginTOTPCode(t, alice.TOTPSecret, time.Now()))
		st = loginWaitSignedIn(t, ctx)
		screenshot(t, ctx, "signed-in")
		user, amr := loginSession(t, ctx)
		if user != "alice" || strings.Join(amr, " ") != "pwd otp mfa" {
			t.Fatalf("session: user %q amr %v, want alice [pwd otp mfa]", user, amr)
		}
		if st.Done {
			if st.DoneName != "alice" {
				t.Errorf("signed in as %q, want alice", st.DoneName)
			}
			loginClick(t, ctx, "signout")
			loginWaitFor(t, ctx, "username")
			if user, _ := loginSession(t, ctx); user != "" {
				t.Errorf("after Sign out the session is still %q's", user)
			}
		}
	})

	t.Run("unrecognized browser", func(t *testing.T) {
		bob := loginEnroll(t, s, nil, "bob", "quiet lighthouse at dawn", loginTOTP)
		ctx := newBrowser(t)
		// A foreign return_to is dropped by the server: no open redirect.
		loginOpen(t, ctx, s, "return_to="+url.QueryEscape("https://evil.example/steal"))
		// The page's first proof (passkey-first, as it loads) pins the key.
		if st := loginReadPage(t, ctx); st.Pinned != kid || !st.FirstUse || st.Phrase != "" {
			t.Fatalf("a fresh browser after load: want the first-use pin of %s: %+v", kid, st)
		}
		loginType(t, ctx, "username", "bob")
		loginWaitFor(t, ctx, "otp", "stop")
		st := loginReadPage(t, ctx)
		if !st.Verified || !st.FirstUse || st.Pinned != kid || st.VerifiedKID != kid {
			t.Errorf("first use: want the verified state, the first-use notice and the pin %s: %+v", kid, st)
		}
		if st.Phrase != "" || st.Password || !st.OTP || !st.Passkey || !st.Recovery {
			t.Errorf("unrecognized device: want the second factor first and no phrase or password: %+v", st)
		}
		screenshot(t, ctx, "first-use-second-factor")

		loginType(t, ctx, "otp", loginTOTPCode(t, bob.TOTPSecret, time.Now()))
		loginWaitFor(t, ctx, "password", "stop")
		st = loginReadPage(t, ctx)
		// v1.1: a code never buys the phrase; the page goes on to the
		// password with "Server verified" and the phrase rule.
		if st.Phrase != "" || !st.Verified || !st.Rule || !st.Password || st.OTP || st.Focused != "password" {
			t.Errorf("after the code: want no phrase, the verified state with the rule, and the password field: %+v", st)
		}
		screenshot(t, ctx, "no-phrase-then-password")

		loginType(t, ctx, "password", loginPassword)
		st = loginWaitSignedIn(t, ctx)
		screenshot(t, ctx, "signed-in")
		if user, amr := loginSession(t, ctx); user != "bob" || strings.Join(amr, " ") != "pwd otp mfa" {
			t.Errorf("session: user %q amr %v, want bob [pwd otp mfa]", user, amr)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(loc, s.URL()+"/") {
			t.Errorf("after sign-in the browser is at %s, outside the issuer", loc)
		}
	})
}

// TestLoginPageRecoveryCode signs in on a fresh browser with a recovery code
// as the second factor, reached from the "Use a recovery code" link.
func TestLoginPageRecoveryCode(t *testing.T) {
	s := startServer(t, ServerOptions{})
	gina := loginEnroll(t, s, nil, "gina", "paper boats drifting", loginTOTP)
	if len(gina.Recovery) == 0 {
		t.Fatal("enrollment gave no recovery codes")
	}
	ctx := newBrowser(t)
	loginOpen(t, ctx, s, "")
	loginType(t, ctx, "username", "gina")
	loginWaitFor(t, ctx, "recovery-link", "stop")
	loginClick(t, ctx, "recovery-link")
	loginWaitFor(t, ctx, "recovery")
	if st := loginReadPage(t, ctx); st.Focused != "recovery" || st.OTP || st.Password {
		t.Fatalf("after the recovery link: want the recovery field, focused, alone: %+v", st)
	}
	screenshot(t, ctx, "recovery-code")
	loginType(t, ctx, "recovery", gina.Recovery[0])
	loginWaitFor(t, ctx, "password", "stop")
	if st := loginReadPage(t, ctx); st.Phrase != "" || !st.Password || !st.Rule {
		t.Fatalf("after the recovery code: want the password, the phrase rule and no phrase: %+v", st)
	}
	loginType(t, ctx, "password", loginPassword)
	loginWaitSignedIn(t, ctx)
	if user, amr := loginSession(t, ctx); user != "gina" || strings.Join(amr, " ") != "pwd rec mfa" {
		t.Errorf("session: user %q amr %v, want gina [pwd rec mfa]", user, amr)
	}
}

// TestLoginPagePasskey signs in with password and a passkey held by the
// DevTools virtual authenticator: on the enrolling browser, then with the
// browser's cookies gone (unrecognized: the passkey first, as a
// discoverable credential), following a same-origin return_to.
func TestLoginPagePasskey(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	auth := enableVirtualAuthenticator(t, ctx)
	noAutofill(t, ctx) // this test signs in by username
	carol := loginEnroll(t, s, ctx, "carol", "copper kettle singing", loginPasskey)
	if n := len(virtualCredentials(t, ctx, auth)); n != 1 {
		t.Fatalf("the virtual authenticator holds %d credentials after enrollment, want 1", n)
	}

	loginOpen(t, ctx, s, "")
	loginType(t, ctx, "username", "carol")
	loginWaitFor(t, ctx, "password", "stop")
	if st := loginReadPage(t, ctx); st.Phrase != carol.Phrase || !st.Password {
		t.Fatalf("recognized device: want the phrase and the password field: %+v", st)
	}
	loginType(t, ctx, "password", loginPassword)
	loginWaitFor(t, ctx, "webauthn-button")
	screenshot(t, ctx, "second-factor")
	loginClick(t, ctx, "webauthn-button")
	st := loginWaitSignedIn(t, ctx)
	screenshot(t, ctx, "signed-in")
	if user, amr := loginSession(t, ctx); user != "carol" || strings.Join(amr, " ") != "pwd hwk mfa" {
		t.Fatalf("session: user %q amr %v, want carol [pwd hwk mfa]", user, amr)
	}
	if st.Done && st.DoneName != "carol" {
		t.Errorf("signed in as %q, want carol", st.DoneName)
	}

	// Without cookies the device is unrecognized; the pin stays.
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatalf("Network.clearBrowserCookies: %v", err)
	}
	const back = "/.well-known/mutualauth"
	loginOpen(t, ctx, s, "return_to="+url.QueryEscape(back))
	loginType(t, ctx, "username", "carol")
	loginWaitFor(t, ctx, "webauthn-button", "stop")
	st = loginReadPage(t, ctx)
	if st.Phrase != "" || st.Password || st.FirstUse || !st.Verified {
		t.Fatalf("unrecognized device: want the verified state and the second factor first: %+v", st)
	}
	// v1.1: the virtual authenticator verifies the user, so the passkey
	// completes the login by itself.
	loginClick(t, ctx, "webauthn-button")
	st = loginWaitSignedIn(t, ctx)
	if st.Path != back {
		t.Errorf("after sign-in the page is at %q, want return_to %q", st.Path, back)
	}
	if user, amr := loginSession(t, ctx); user != "carol" || strings.Join(amr, " ") != "hwk mfa" {
		t.Errorf("session: user %q amr %v, want carol [hwk mfa]", user, amr)
	}
}

// TestLoginPageTamperedProof changes one character of the signed payload of
// begin's proof on its way to the browser: the page stops before it asks for
// anything, on the enrolled browser and on a fresh one, which pins nothing.
func TestLoginPageTamperedProof(t *testing.T) {
	s := startServer(t, ServerOptions{})
	kid := loginActiveKID(t, s)

	t.Run("pinned", func(t *testing.T) {
		ctx := newBrowser(t)
		loginEnroll(t, s, ctx, "dave", "seven silver spoons", loginTOTP)
		// The page begins (passkey-first) as it loads: it stops there.
		ic := loginIntercept(t, ctx, "*/api/v1/login/begin", loginTamperProof)
		loginOpen(t, ctx, s, "")
		st := loginReadPage(t, ctx)
		if ic.rewritten(t) != 1 {
			t.Fatalf("the begin answer was rewritten %d times, want 1", ic.rewritten(t))
		}
		loginRequireStopped(t, st, "signature")
		if st.Pinned != kid {
			t.Errorf("the pin changed to %q", st.Pinned)
		}
		screenshot(t, ctx, "tampered-proof")
	})

	t.Run("first use", func(t *testing.T) {
		ctx := newBrowser(t)
		ic := loginIntercept(t, ctx, "*/api/v1/login/begin", loginTamperProof)
		loginOpen(t, ctx, s, "")
		st := loginReadPage(t, ctx)
		if ic.rewritten(t) != 1 {
			t.Fatalf("the begin answer was rewritten %d times, want 1", ic.rewritten(t))
		}
		loginRequireStopped(t, st, "signature")
		if st.Pinned != "" || st.FirstUse {
			t.Errorf("a tampered proof pinned %q (first-use notice %v)", st.Pinned, st.FirstUse)
		}
		screenshot(t, ctx, "tampered-proof-first-use")
	})
}

// TestLoginPageSwappedKey makes the server's key differ from the pinned one:
// by pinning another key, and by serving another key set. The page stops
// with the key-change warning before it asks for anything.
func TestLoginPageSwappedKey(t *testing.T) {
	s := startServer(t, ServerOptions{})
	kid := loginActiveKID(t, s)
	ctx := newBrowser(t)
	loginEnroll(t, s, ctx, "eve", "orange kite over hills", loginTOTP)
	fakeJWKS, fakeKID := loginOtherJWKS(t)
	const keyChanged = "The server's key changed in a way this browser cannot check. This may not be the real server. Do not enter your password."

	t.Run("other key pinned", func(t *testing.T) {
		loginOpen(t, ctx, s, "")
		loginJS[bool](t, ctx, `localStorage.setItem(a, b); return true;`, loginPinKey, fakeKID)
		loginType(t, ctx, "username", "eve")
		loginWaitFor(t, ctx, "stop", "password")
		st := loginReadPage(t, ctx)
		loginRequireStopped(t, st, keyChanged)
		if st.Pinned != fakeKID {
			t.Errorf("the page replaced the pin %q with %q", fakeKID, st.Pinned)
		}
		screenshot(t, ctx, "key-changed-pin")
	})

	t.Run("other key set served", func(t *testing.T) {
		loginOpen(t, ctx, s, "") // stops: the previous case pinned another key
		loginJS[bool](t, ctx, `localStorage.setItem(a, b); return true;`, loginPinKey, kid)
		loginOpen(t, ctx, s, "")
		ic := loginIntercept(t, ctx, "*/.well-known/jwks.json", func([]byte) ([]byte, error) { return fakeJWKS, nil })
		loginType(t, ctx, "username", "eve")
		loginWaitFor(t, ctx, "stop", "password")
		st := loginReadPage(t, ctx)
		if ic.rewritten(t) == 0 {
			t.Fatal("the JWKS was not rewritten")
		}
		loginRequireStopped(t, st, keyChanged)
		if st.Pinned != kid {
			t.Errorf("the pin changed to %q", st.Pinned)
		}
		screenshot(t, ctx, "key-changed-jwks")
	})
}

// TestLoginPageStrangerLockout: a stranger (no device token) fails the code
// until the username's counter answers 429; the owner's recognized browser
// still signs in, because its attempts count on the device's own counter.
func TestLoginPageStrangerLockout(t *testing.T) {
	s := startServer(t, ServerOptions{})
	owner := newBrowser(t)
	frank := loginEnroll(t, s, owner, "frank", "marble staircase echo", loginTOTP)

	now := time.Now()
	wrong := "000000"
	for _, c := range []string{loginTOTPCode(t, frank.TOTPSecret, now.Add(-30*time.Second)), loginTOTPCode(t, frank.TOTPSecret, now), loginTOTPCode(t, frank.TOTPSecret, now.Add(30*time.Second))} {
		if c == wrong {
			wrong = "111111"
		}
	}
	throttled := false
	for i := 1; i <= 10 && !throttled; i++ {
		nonce := make([]byte, 32)
		_, _ = rand.Read(nonce)
		st, _, body := loginAPI(t, "POST", s.URL()+"/api/v1/login/begin",
			map[string]string{"username": "frank", "client_nonce": base64.RawURLEncoding.EncodeToString(nonce)})
		loginMustStatus(t, "stranger begin", st, http.StatusOK, body)
		loginID, _ := body["login_id"].(string)
		st, hdr, body := loginAPI(t, "POST", s.URL()+"/api/v1/login/otp", map[string]string{"login_id": loginID, "code": wrong})
		switch st {
		case http.StatusUnauthorized:
			if body["code"] != "invalid_credentials" {
				t.Fatalf("attempt %d: 401 with code %v", i, body["code"])
			}
		case http.StatusTooManyRequests:
			if secs, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || secs <= 0 {
				t.Errorf("429 with Retry-After %q", hdr.Get("Retry-After"))
			}
			if i <= 5 {
				t.Errorf("throttled at attempt %d, before 5 failures", i)
			}
			throttled = true
		default:
			t.Fatalf("attempt %d: status %d: %v", i, st, body)
		}
	}
	if !throttled {
		t.Fatal("10 wrong codes from a stranger never got 429")
	}

	t.Run("stranger's browser sees the wait", func(t *testing.T) {
		ctx := newBrowser(t)
		loginOpen(t, ctx, s, "")
		loginType(t, ctx, "username", "frank")
		loginWaitFor(t, ctx, "otp", "stop")
		loginType(t, ctx, "otp", wrong)
		loginWaitFor(t, ctx, "error")
		st := loginReadPage(t, ctx)
		if !strings.Contains(st.Error, "Too many attempts. Try again in") || !st.OTP {
			t.Errorf("a throttled stranger: want the wait and the code field: %+v", st)
		}
		screenshot(t, ctx, "stranger-throttled")
	})

	t.Run("owner's recognized device", func(t *testing.T) {
		loginOpen(t, owner, s, "")
		loginType(t, owner, "username", "frank")
		loginWaitFor(t, owner, "password", "stop")
		if st := loginReadPage(t, owner); st.Phrase != frank.Phrase {
			t.Fatalf("owner: want the phrase: %+v", st)
		}
		loginType(t, owner, "password", loginPassword)
		loginWaitFor(t, owner, "otp", "error")
		if st := loginReadPage(t, owner); st.Error != "" {
			t.Fatalf("owner's password: %s", st.Error)
		}
		loginType(t, owner, "otp", loginTOTPCode(t, frank.TOTPSecret, time.Now()))
		loginWaitSignedIn(t, owner)
		screenshot(t, owner, "owner-signed-in")
		if user, _ := loginSession(t, owner); user != "frank" {
			t.Errorf("owner's session is %q's, want frank's", user)
		}
	})
}

// proofSigner makes compact JWS proofs by hand (RFC 7515 §7.1) with its own
// P-256 key, to feed web/proof.js cases the server never produces.
type proofSigner struct {
	key  *ecdsa.PrivateKey
	kid  string
	jwks []byte
}

func newProofSigner(t *testing.T) *proofSigner {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pub := jwk{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(pt[1:33]), "y": base64.RawURLEncoding.EncodeToString(pt[33:])}
	pub["kid"] = thumbprint(t, pub)
	b, err := json.Marshal(map[string]any{"keys": []jwk{pub}})
	if err != nil {
		t.Fatal(err)
	}
	return &proofSigner{key: k, kid: pub.str("kid"), jwks: b}
}

// sign returns header.payload.signature; the signature is the raw r||s of
// RFC 7518 §3.4, s in the lower half, unless der is set (then ASN.1 DER,
// which ES256 forbids).
func (p *proofSigner) sign(t *testing.T, header, claims map[string]any, der bool) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	if der {
		var err error
		if sig, err = ecdsa.SignASN1(rand.Reader, p.key, digest[:]); err != nil {
			t.Fatal(err)
		}
	} else {
		r, s, err := ecdsa.Sign(rand.Reader, p.key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		// The low-S form: verifiers refuse the malleated high-S twin.
		if n := elliptic.P256().Params().N; s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
			s.Sub(n, s)
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestLoginProofVerifier runs web/proof.js in the login page on proofs made
// by hand: one good, and one for each way a proof must be refused, each
// with the reason the page shows.
func TestLoginProofVerifier(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	loginOpen(t, ctx, s, "")
	p := newProofSigner(t)
	other := newProofSigner(t)

	const (
		issuer   = "https://login.example"
		audience = "https://app.example"
		nonce    = "bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2U"
		loginID  = "tx-1"
	)
	now := time.Now().Unix()
	header := func(mod func(map[string]any)) map[string]any {
		h := map[string]any{"alg": "ES256", "typ": "mutualauth-proof+jwt", "kid": p.kid}
		if mod != nil {
			mod(h)
		}
		return h
	}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": issuer, "aud": audience, "nonce": nonce, "login_id": loginID,
			"username": "alice", "phrase": "green door", "iat": now, "exp": now + 300}
		if mod != nil {
			mod(c)
		}
		return c
	}
	good := p.sign(t, header(nil), claims(nil), false)
	parts := strings.Split(good, ".")
	var jwks, mixed map[string]any
	if err := json.Unmarshal(p.jwks, &jwks); err != nil {
		t.Fatal(err)
	}
	// A key set whose entry carries p's kid but another key's coordinates.
	if err := json.Unmarshal(other.jwks, &mixed); err != nil {
		t.Fatal(err)
	}
	mixed["keys"].([]any)[0].(map[string]any)["kid"] = p.kid

	type verdict struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
		KID    string `json:"kid"`
		Phrase string `json:"phrase"`
	}
	verify := func(jws string, pinned string, set any) verdict {
		return loginJS[verdict](t, ctx, `
			try {
				const r = await MA.verifyProof(a, {issuer: b.issuer, audience: b.audience, nonce: b.nonce,
					loginId: b.loginId, pinnedKid: b.pinned, jwks: b.jwks});
				return {ok: true, kid: r.kid, phrase: r.claims.phrase || ""};
			} catch (e) {
				return {ok: false, reason: e.reason || String(e)};
			}`, jws, map[string]any{"issuer": issuer, "audience": audience, "nonce": nonce,
			"loginId": loginID, "pinned": pinned, "jwks": set})
	}

	if v := verify(good, "", jwks); !v.OK || v.KID != p.kid || v.Phrase != "green door" {
		t.Fatalf("a good proof: %+v", v)
	}
	if v := verify(good, p.kid, jwks); !v.OK {
		t.Fatalf("a good proof with its key pinned: %+v", v)
	}

	for _, c := range []struct {
		name   string
		jws    string
		pinned string
		set    any
		reason string
	}{
		{"other key pinned", good, other.kid, jwks, "key-changed"},
		{"pinned key not published", good, p.kid, map[string]any{"keys": []any{}}, "key-changed"},
		{"kid not in the key set", good, "", map[string]any{"keys": []any{}}, "unknown-key"},
		{"kid is not the key's thumbprint", good, "", mixed, "thumbprint"},
		{"alg none", p.sign(t, header(func(h map[string]any) { h["alg"] = "none" }), claims(nil), false), "", jwks, "alg"},
		{"alg ES384", p.sign(t, header(func(h map[string]any) { h["alg"] = "ES384" }), claims(nil), false), "", jwks, "alg"},
		{"typ JWT", p.sign(t, header(func(h map[string]any) { h["typ"] = "JWT" }), claims(nil), false), "", jwks, "typ"},
		{"crit header", p.sign(t, header(func(h map[string]any) { h["crit"] = []string{"exp"} }), claims(nil), false), "", jwks, "malformed"},
		{"DER signature", p.sign(t, header(nil), claims(nil), true), "", jwks, "signature"},
		{"signed by another key", other.sign(t, header(nil), claims(nil), false), "", jwks, "signature"},
		{"payload swapped", parts[0] + "." + strings.Split(p.sign(t, header(nil), claims(func(c map[string]any) { c["phrase"] = "red door" }), false), ".")[1] + "." + parts[2], "", jwks, "signature"},
		{"wrong issuer", p.sign(t, header(nil), claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), false), "", jwks, "issuer"},
		{"wrong audience", p.sign(t, header(nil), claims(func(c map[string]any) { c["aud"] = "https://evil.example" }), false), "", jwks, "audience"},
		{"wrong nonce", p.sign(t, header(nil), claims(func(c map[string]any) { c["nonce"] = "b3RoZXItbm9uY2Utb3RoZXItbm9uY2U" }), false), "", jwks, "nonce"},
		{"other login", p.sign(t, header(nil), claims(func(c map[string]any) { c["login_id"] = "tx-2" }), false), "", jwks, "login-id"},
		{"no login id", p.sign(t, header(nil), claims(func(c map[string]any) { delete(c, "login_id") }), false), "", jwks, "login-id"},
		{"high-S twin of the good signature", highSJWS(t, good), "", jwks, "high-s"},
		{"expired", p.sign(t, header(nil), claims(func(c map[string]any) { c["iat"], c["exp"] = now-900, now-600 }), false), "", jwks, "expired"},
		{"lifetime over 300 s", p.sign(t, header(nil), claims(func(c map[string]any) { c["exp"] = now + 3600 }), false), "", jwks, "lifetime"},
		{"no exp", p.sign(t, header(nil), claims(func(c map[string]any) { delete(c, "exp") }), false), "", jwks, "malformed"},
		{"two parts", parts[0] + "." + parts[1], "", jwks, "malformed"},
		{"not base64url", parts[0] + ".***." + parts[2], "", jwks, "malformed"},
	} {
		if v := verify(c.jws, c.pinned, c.set); v.OK || v.Reason != c.reason {
			t.Errorf("%s: got %+v, want refused with reason %q", c.name, v, c.reason)
		}
	}
}

// highSJWS returns jws with its ES256 signature's s replaced by n - s: the
// same signature in its malleated, high-S form, which ECDSA alone accepts.
func highSJWS(t *testing.T, jws string) string {
	t.Helper()
	parts := strings.Split(jws, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %v", err)
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:]))
	s.FillBytes(sig[32:])
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestLoginPageWithoutScript: the username form appears only once the
// script runs. Typed into before that, the browser would submit it itself
// (a GET of the page with the username in its URL) and the sign-in would
// never begin; without JavaScript the page says why it cannot sign in.
func TestLoginPageWithoutScript(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disable JavaScript: %v", err)
	}
	do(t, ctx, "open /login", chromedp.Navigate(s.URL()+"/login"), chromedp.WaitReady(chromedp.CSS("body")))
	state := func() (formShown, noscriptShown bool) {
		r := eval[[]bool](t, ctx, `(() => {
			const f = document.getElementById("username-form");
			const n = [...document.querySelectorAll("p.error")].find(p => p.textContent.includes("JavaScript"));
			return [!!f && !f.hidden && f.getClientRects().length > 0, !!n && n.getClientRects().length > 0];
		})()`)
		return r[0], r[1]
	}
	if form, msg := state(); form || !msg {
		t.Errorf("without JavaScript: username form shown %v, the needs-JavaScript message shown %v; want false, true", form, msg)
	}
	screenshot(t, ctx, "without-javascript")
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
		t.Fatalf("enable JavaScript: %v", err)
	}
	loginOpen(t, ctx, s, "")
	if form, msg := state(); !form || msg {
		t.Errorf("with JavaScript: username form shown %v, the needs-JavaScript message shown %v; want true, false", form, msg)
	}
}
