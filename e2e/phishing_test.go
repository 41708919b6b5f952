package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Phishing resistance in headless Chromium against the real binary:
// passkey sign-in on the hosted page (autofill, the button, no username),
// the downgrade refusal, "Trust this browser" unticked, and a real-time
// phishing proxy on another origin relaying everything the victim does.

// noAutofill makes the tab a browser without passkey autofill (conditional
// mediation). The virtual authenticator answers a conditional request at
// once, as a user picking the passkey from the autofill list would; tests
// of the other ways in turn autofill off first.
func noAutofill(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false;`,
	}); err != nil {
		t.Fatalf("Page.addScriptToEvaluateOnNewDocument: %v", err)
	}
}

// loginRequireSignedIn waits until the page signed in and checks who and
// with which methods (amr, space-separated).
func loginRequireSignedIn(t *testing.T, ctx context.Context, user, amr string) {
	t.Helper()
	loginWaitSignedIn(t, ctx)
	if got, methods := loginSession(t, ctx); got != user || strings.Join(methods, " ") != amr {
		t.Fatalf("session: user %q amr %v, want %s [%s]", got, methods, user, amr)
	}
}

// loginWaitError waits until the page's error line contains want.
func loginWaitError(t *testing.T, ctx context.Context, want string) loginPageState {
	t.Helper()
	for {
		st := loginReadPage(t, ctx)
		if strings.Contains(st.Error, want) || st.Stop {
			return st
		}
		if ctx.Err() != nil {
			t.Fatalf("the page never said %q (last state %+v)", want, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPasskeyFirstPage signs in with the virtual authenticator's passkey
// without typing a username: from the button (a modal request) and from
// the username field's autofill (a conditional-mediation request).
func TestPasskeyFirstPage(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	auth := enableVirtualAuthenticator(t, ctx)
	pia := loginEnroll(t, s, ctx, "pia", "harbour lights at noon", loginBoth)
	if n := len(virtualCredentials(t, ctx, auth)); n != 1 {
		t.Fatalf("the virtual authenticator holds %d credentials, want 1", n)
	}
	clearCookies := func() {
		t.Helper()
		if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			t.Fatalf("Network.clearBrowserCookies: %v", err)
		}
	}

	t.Run("autofill", func(t *testing.T) {
		clearCookies()
		// The page verifies the proof, then starts the conditional request;
		// the virtual authenticator answers it as a user picking the passkey
		// in the username field's autofill list would.
		if err := chromedp.Do(ctx, chromedp.Navigate(s.URL()+"/login")); err != nil {
			t.Fatal(err)
		}
		loginRequireSignedIn(t, ctx, "pia", "hwk mfa")
	})

	t.Run("button", func(t *testing.T) {
		clearCookies()
		noAutofill(t, ctx)
		loginOpen(t, ctx, s, "")
		attrs, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.ID("username")))
		if err != nil {
			t.Fatal(err)
		}
		if attrs["autocomplete"] != "username webauthn" {
			t.Errorf("username autocomplete=%q, want \"username webauthn\"", attrs["autocomplete"])
		}
		st := loginReadPage(t, ctx)
		if !st.Verified || !st.Rule || st.Phrase != "" || st.Password || st.OTP {
			t.Fatalf("on load: want the verified state and the phrase rule, nothing asked: %+v", st)
		}
		screenshot(t, ctx, "passkey-first")
		loginClick(t, ctx, "passkey-first")
		loginRequireSignedIn(t, ctx, "pia", "hwk mfa")
	})

	if pia.Phrase == "" {
		t.Fatal("no phrase")
	}
}

// TestPasskeyFirstNoPasskey: a browser without a passkey for the site says
// so, and leaves the username way open.
func TestPasskeyFirstNoPasskey(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	enableVirtualAuthenticator(t, ctx) // holds nothing
	loginOpen(t, ctx, s, "")
	loginClick(t, ctx, "passkey-first")
	loginWaitFor(t, ctx, "passkey-none")
	msg := loginJS[string](t, ctx, `return document.getElementById("passkey-none").textContent;`)
	if !strings.Contains(msg, "No passkey was used") || !loginReadPage(t, ctx).Username {
		t.Fatalf("no passkey: message %q, state %+v", msg, loginReadPage(t, ctx))
	}
	screenshot(t, ctx, "no-passkey")
}

// TestDowngradeRefusalPage: a passkey user's right TOTP code on a new
// browser is refused (403 phishing_resistant_required) and the page asks
// for the passkey, which then signs in.
func TestDowngradeRefusalPage(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	enableVirtualAuthenticator(t, ctx)
	noAutofill(t, ctx)
	quinn := loginEnroll(t, s, ctx, "quinn", "granite owl at dusk", loginBoth)
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	loginOpen(t, ctx, s, "")
	loginType(t, ctx, "username", "quinn")
	loginWaitFor(t, ctx, "otp", "stop")
	loginType(t, ctx, "otp", loginTOTPCode(t, quinn.TOTPSecret, time.Now()))
	st := loginWaitError(t, ctx, "signs in with its passkey")
	if !strings.Contains(st.Error, "signs in with its passkey") || st.OTP || !st.Passkey || st.Password || st.Phrase != "" {
		t.Fatalf("after the refused code: want the passkey asked for, no code field, no phrase: %+v", st)
	}
	screenshot(t, ctx, "downgrade-refused")
	loginClick(t, ctx, "webauthn-button")
	loginRequireSignedIn(t, ctx, "quinn", "hwk mfa")
}

// TestTrustDeviceUnticked: with "Trust this browser" unticked the login
// leaves no device cookie, so the next sign-in asks for the code first again.
func TestTrustDeviceUnticked(t *testing.T) {
	s := startServer(t, ServerOptions{})
	rita := loginEnroll(t, s, nil, "rita", "linen sails at sea", loginTOTP)
	ctx := newBrowser(t)
	loginOpen(t, ctx, s, "")
	shotAtWidths(t, ctx, "login")
	loginClick(t, ctx, "trust-device")
	loginType(t, ctx, "username", "rita")
	loginWaitFor(t, ctx, "otp", "stop")
	loginType(t, ctx, "otp", loginTOTPCode(t, rita.TOTPSecret, time.Now()))
	loginWaitFor(t, ctx, "password", "stop")
	shotAtWidths(t, ctx, "password-after-code")
	loginType(t, ctx, "password", loginPassword)
	loginWaitSignedIn(t, ctx)
	if user, _ := loginSession(t, ctx); user != "rita" {
		t.Fatalf("not signed in: %q", user)
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies.Cookies {
		if c.Name == "mutualauth_device" {
			t.Fatalf("device cookie set with Trust this browser unticked: %+v", c)
		}
	}
	// The next sign-in on this browser is an unrecognized one.
	loginJS[int](t, ctx, `return (await fetch("/api/v1/session", {method: "DELETE", credentials: "same-origin"})).status;`)
	loginOpen(t, ctx, s, "")
	loginType(t, ctx, "username", "rita")
	loginWaitFor(t, ctx, "otp", "password", "stop")
	if st := loginReadPage(t, ctx); !st.OTP || st.Password || st.Phrase != "" {
		t.Fatalf("next sign-in: want the code first: %+v", st)
	}
}

// shotAtWidths takes a screenshot of the page at desktop width and at
// 390 px (a phone), checks that it does not scroll sideways there, and goes
// back to desktop width.
func shotAtWidths(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	screenshot(t, ctx, name+"-desktop")
	do(t, ctx, "narrow screen", chromedp.EmulateViewport(390, 844))
	checkNoSidewaysScroll(t, ctx, name, 390)
	screenshot(t, ctx, name+"-390px")
	do(t, ctx, "desktop screen", chromedp.EmulateViewport(1280, 900))
}

// ---- the phishing proxy -------------------------------------------------------

// phishProxy is a real-time phishing proxy: a reverse proxy on its own
// origin that relays every request to the real server, rewrites the Origin
// and Referer it forwards, rewrites the page's proof check away (what such
// kits do to the pages they relay), and records everything it sees.
type phishProxy struct {
	origin string
	mu     sync.Mutex
	bodies []string            // every request and response body it relayed
	seen   map[string][]string // what it captured, by kind
}

func startPhishProxy(t *testing.T, target string) *phishProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	// Another origin than the server's http://localhost:<port>; Chromium
	// resolves every *.localhost name to the loopback address.
	p := &phishProxy{origin: "http://phish.localhost:" + strconv.Itoa(port), seen: map[string][]string{}}
	to, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(to)
			r.Out.Host = to.Host
			r.Out.Header.Del("Accept-Encoding")
			if o := r.In.Header.Get("Origin"); o != "" {
				r.Out.Header.Set("Origin", target)
			}
			if ref := r.In.Header.Get("Referer"); ref != "" {
				r.Out.Header.Set("Referer", strings.Replace(ref, p.origin, target, 1))
			}
			if r.In.Body != nil {
				b, _ := io.ReadAll(r.In.Body)
				r.Out.Body = io.NopCloser(bytes.NewReader(b))
				r.Out.ContentLength = int64(len(b))
				p.request(r.In.URL.Path, b)
			}
			for _, c := range r.In.Cookies() {
				p.capture("cookie sent by the victim: "+c.Name, c.Value)
			}
		},
		ModifyResponse: func(res *http.Response) error {
			b, err := io.ReadAll(res.Body)
			if err != nil {
				return err
			}
			_ = res.Body.Close()
			if res.Request.URL.Path == "/static/proof.js" {
				// The kit's rewrite: every proof "verifies".
				b = append(b, []byte(phishFakeVerifier)...)
			}
			p.response(b)
			for _, c := range res.Cookies() {
				p.capture("cookie set by the server: "+c.Name, c.Value)
			}
			res.Body = io.NopCloser(bytes.NewReader(b))
			res.ContentLength = int64(len(b))
			res.Header.Set("Content-Length", strconv.Itoa(len(b)))
			return nil
		},
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

// phishFakeVerifier replaces the page's proof check with one that believes
// any proof, as a phishing kit rewriting the page's script does.
const phishFakeVerifier = `
MA.verifyProof = async function (jws) {
  const part = s => JSON.parse(new TextDecoder().decode(MA.b64u.decode(s)));
  const [h, c] = jws.split(".");
  return { kid: part(h).kid, claims: part(c) };
};
`

// relayed keeps a relayed body and returns its JSON fields (nil if it is
// not a JSON object).
func (p *phishProxy) relayed(body []byte) map[string]any {
	p.mu.Lock()
	p.bodies = append(p.bodies, string(body))
	p.mu.Unlock()
	var fields map[string]any
	_ = json.Unmarshal(body, &fields)
	return fields
}

func (p *phishProxy) request(path string, body []byte) {
	fields := p.relayed(body)
	for _, k := range []string{"username", "password", "code"} {
		if v, ok := fields[k].(string); ok && v != "" {
			p.capture(k+" ("+path+")", v)
		}
	}
	if _, ok := fields["credential"]; ok {
		p.capture("webauthn assertion ("+path+")", "present")
	}
}

func (p *phishProxy) response(body []byte) {
	if v, ok := p.relayed(body)["device_token"].(string); ok && v != "" {
		p.capture("device token in a response", v)
	}
}

func (p *phishProxy) capture(kind, value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen[kind] = append(p.seen[kind], value)
}

func (p *phishProxy) captured(kind string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[kind]
}

var jwsPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// containsPhrase reports whether any relayed body carries the phrase, in
// the clear or inside a JWS payload.
func (p *phishProxy) containsPhrase(phrase string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.bodies {
		if strings.Contains(b, phrase) {
			return true
		}
		for _, jws := range jwsPattern.FindAllString(b, -1) {
			parts := strings.Split(jws, ".")
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err == nil && strings.Contains(string(payload), phrase) {
				return true
			}
		}
	}
	return false
}

func (p *phishProxy) report(t *testing.T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kinds := make([]string, 0, len(p.seen))
	for k := range p.seen {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, k := range kinds {
		b.WriteString("  " + k + ": " + strconv.Itoa(len(p.seen[k])) + "\n")
	}
	t.Logf("the proxy captured:\n%s", b.String())
}

// TestPhishingProxy relays a victim's sign-in through a phishing proxy on
// another origin. The passkey cannot be relayed (origin binding), a
// passkey user's relayed TOTP code is refused, and no relayed answer
// carries the phrase. What the proxy does get is recorded: it is the
// residual risk of docs/SECURITY.md (a recovery code; users without a
// passkey).
func TestPhishingProxy(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	enableVirtualAuthenticator(t, ctx)
	// The victim enrolled on the real site: a passkey, TOTP, recovery codes,
	// and a recognized device there.
	vic := loginEnroll(t, s, ctx, "victor", "tidal clocks of amber", loginBoth)
	plain := loginEnroll(t, s, nil, "nora", "blue pebbles in rain", loginTOTP)
	proxy := startPhishProxy(t, s.URL())
	t.Logf("phishing proxy at %s relaying to %s", proxy.origin, s.URL())

	open := func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(proxy.origin+"/login")); err != nil {
			t.Fatalf("open the proxy: %v", err)
		}
		loginWaitFor(t, ctx, "verified", "stop")
	}
	proxySession := func() int {
		t.Helper()
		return loginJS[int](t, ctx, `return (await fetch("/api/v1/session", {credentials: "same-origin"})).status;`)
	}

	// 1. The passkey through the proxy: the browser binds the assertion to
	// the proxy's origin (or refuses outright); no session.
	open()
	loginType(t, ctx, "username", "victor")
	loginWaitFor(t, ctx, "otp", "stop")
	if st := loginReadPage(t, ctx); st.Phrase != "" || st.Password {
		t.Fatalf("through the proxy: want no phrase and no password yet: %+v", st)
	}
	screenshot(t, ctx, "proxy-second-factor")
	loginClick(t, ctx, "webauthn-button")
	st := loginWaitError(t, ctx, "passkey")
	t.Logf("passkey through the proxy: the page says %q", st.Error)
	if st.Done || proxySession() != http.StatusUnauthorized {
		t.Fatalf("a passkey through the proxy gave a session: %+v", st)
	}
	if n := len(proxy.captured("webauthn assertion (/api/v1/login/webauthn)")); n > 0 {
		// The browser made an assertion for the proxy's origin: the server
		// must have refused it.
		t.Logf("the browser sent %d assertion(s) through the proxy; the server refused them", n)
	}

	// 2. The passkey user's right TOTP code through the proxy: refused.
	loginType(t, ctx, "otp", loginTOTPCode(t, vic.TOTPSecret, time.Now()))
	st = loginWaitError(t, ctx, "signs in with its passkey")
	if !strings.Contains(st.Error, "signs in with its passkey") || st.Password || st.Done {
		t.Fatalf("relayed TOTP code of a passkey user: want phishing_resistant_required: %+v", st)
	}
	if proxySession() != http.StatusUnauthorized {
		t.Fatal("a relayed TOTP code gave a session")
	}
	screenshot(t, ctx, "proxy-totp-refused")

	// 3. The residual risk, recorded: a recovery code, and a user without a
	// passkey, still sign in through the proxy.
	loginClick(t, ctx, "recovery-link")
	loginWaitFor(t, ctx, "recovery")
	loginType(t, ctx, "recovery", vic.Recovery[0])
	loginWaitFor(t, ctx, "password", "error", "stop")
	loginType(t, ctx, "password", loginPassword)
	loginWaitSignedIn(t, ctx)
	recoveryRelayed := proxySession() == http.StatusOK
	loginJS[int](t, ctx, `return (await fetch("/api/v1/session", {method: "DELETE", credentials: "same-origin"})).status;`)

	open()
	loginType(t, ctx, "username", "nora")
	loginWaitFor(t, ctx, "otp", "stop")
	loginType(t, ctx, "otp", loginTOTPCode(t, plain.TOTPSecret, time.Now()))
	loginWaitFor(t, ctx, "password", "stop")
	if st := loginReadPage(t, ctx); st.Phrase != "" {
		t.Fatalf("a relayed code bought the phrase: %+v", st)
	}
	loginType(t, ctx, "password", loginPassword)
	loginWaitSignedIn(t, ctx)
	plainRelayed := proxySession() == http.StatusOK

	// No answer through the proxy ever carried either phrase.
	for _, phrase := range []string{vic.Phrase, plain.Phrase} {
		if proxy.containsPhrase(phrase) {
			t.Errorf("a response through the proxy carries the phrase %q", phrase)
		}
	}
	proxy.report(t)
	t.Logf("residual risk: recovery code relayed to a session: %v; user without a passkey relayed to a session: %v",
		recoveryRelayed, plainRelayed)
	if len(proxy.captured("password (/api/v1/login/password)")) == 0 {
		t.Error("the proxy saw no password: the test relayed nothing")
	}
}
