package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/domdebugger"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// The embeddable login widget in headless Chromium against the
// real binary: the example host app of docs/examples/widget-host runs on
// http://127.0.0.1:<port>, another site than the server's
// http://localhost:<port>, embeds widget.js with Subresource Integrity, and
// its backend exchanges the frame's code for the user. The frame is a
// cross-site iframe, so Chromium runs it in its own process: the tests
// attach to it as a target of its own.

// exampleBin is the example host app, built once.
var exampleBin = struct {
	once sync.Once
	path string
	err  error
}{}

func buildExample(t *testing.T) string {
	t.Helper()
	exampleBin.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			exampleBin.err = err
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "mutualauth-widget-host-")
		if err != nil {
			exampleBin.err = err
			return
		}
		exampleBin.path = filepath.Join(dir, "widget-host")
		cmd := exec.Command("go", "build", "-o", exampleBin.path, "./docs/examples/widget-host")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			exampleBin.err = fmt.Errorf("go build ./docs/examples/widget-host: %w\n%s", err, out)
		}
	})
	if exampleBin.err != nil {
		t.Fatal(exampleBin.err)
	}
	return exampleBin.path
}

// widgetClient is a client registered with `mutualauth admin client create`.
type widgetClient struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

func createWidgetClient(t *testing.T, s *Server, origins ...string) widgetClient {
	t.Helper()
	args := []string{"admin", "client", "create", "--name", "Example app"}
	for _, o := range origins {
		args = append(args, "--origin", o)
	}
	out := s.Command(t, args...)
	var cl widgetClient
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &cl); err != nil || cl.ID == "" || cl.Secret == "" {
		t.Fatalf("admin client create printed %q: %v", out, err)
	}
	return cl
}

// hostApp is a running example host app.
type hostApp struct {
	url  string
	logs *logBuffer
}

// startHost runs the example app on 127.0.0.1:port for client cl.
func startHost(t *testing.T, s *Server, port int, cl widgetClient, pinnedKey string) *hostApp {
	t.Helper()
	bin := buildExample(t)
	h := &hostApp{url: "http://127.0.0.1:" + strconv.Itoa(port), logs: &logBuffer{}}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"MUTUALAUTH_URL="+s.URL(), "WIDGET_CLIENT_ID="+cl.ID, "WIDGET_CLIENT_SECRET="+cl.Secret,
		"LISTEN=127.0.0.1:"+strconv.Itoa(port), "WIDGET_PINNED_KEY="+pinnedKey)
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the example app: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("--- output of the example app at %s ---\n%s", h.url, h.logs.String())
		}
	})
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(healthyWithin)
	for {
		select {
		case <-exited:
			t.Fatalf("the example app exited:\n%s", h.logs.String())
		default:
		}
		if resp, err := client.Get(h.url + "/"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the example app did not answer within %s:\n%s", healthyWithin, h.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hostRecorderJS records, in the host page, every message that reaches its
// window, whoever sent it.
const hostRecorderJS = `
	window.__messages = [];
	window.addEventListener("message", (e) => window.__messages.push({origin: e.origin, data: e.data}));
	return true;`

type hostMessage struct {
	Origin string          `json:"origin"`
	Raw    json.RawMessage `json:"data"`
	Data   map[string]any  `json:"-"`
}

// openHost opens the host app's page and starts the message recorder.
func openHost(t *testing.T, ctx context.Context, h *hostApp) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(h.url+"/"), chromedp.WaitVisible(chromedp.ID("who"))); err != nil {
		t.Fatalf("open %s: %v", h.url, err)
	}
	loginJS[bool](t, ctx, hostRecorderJS)
}

// hostLogins returns the mutualauth:login messages the host page received.
func hostLogins(t *testing.T, ctx context.Context) []hostMessage {
	t.Helper()
	raw := loginJS[string](t, ctx, `return JSON.stringify(window.__messages);`)
	var all []hostMessage
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		t.Fatal(err)
	}
	var out []hostMessage
	for _, m := range all {
		if json.Unmarshal(m.Raw, &m.Data) == nil && m.Data["type"] == "mutualauth:login" {
			out = append(out, m)
		}
	}
	return out
}

// hostWho waits until the host page's status line starts with one of
// prefixes and returns it.
func hostWho(t *testing.T, ctx context.Context, prefixes ...string) string {
	t.Helper()
	list, _ := json.Marshal(prefixes)
	expr := `(() => { const t = document.getElementById("who").textContent; return ` + string(list) + `.some(p => t.startsWith(p)) ? t : ""; })()`
	who, err := chromedp.Run(ctx, chromedp.Poll[string](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		t.Fatalf("waiting for the host page to say %v: %v", prefixes, err)
	}
	return who
}

// attachFrame waits for the widget's frame (a cross-site iframe of the
// issuer's /embed/login) and returns a context that runs in it.
func attachFrame(t *testing.T, ctx context.Context, s *Server) context.Context {
	t.Helper()
	fctx := attachFrameTarget(t, ctx, s)
	if err := chromedp.Do(fctx, chromedp.WaitReady(chromedp.ID("login"))); err != nil {
		t.Fatalf("attach to the widget's frame: %v", err)
	}
	return fctx
}

// frameState is what the widget's frame shows.
type frameState struct {
	Stop     bool   `json:"stop"`
	StopText string `json:"stopText"`
	Verified bool   `json:"verified"`
	Phrase   string `json:"phrase"`
	Username bool   `json:"username"`
	OTP      bool   `json:"otp"`
	Passkey  bool   `json:"passkey"`
	Password bool   `json:"password"`
	Done     bool   `json:"done"`
	Error    string `json:"error"`
	Pinned   string `json:"pinned"`
	Device   bool   `json:"device"`
	Title    string `json:"title"`
}

const frameStateJS = `
	const $ = id => document.getElementById(id);
	const shown = id => { const e = $(id); return !!e && !e.hidden && e.getClientRects().length > 0; };
	const text = id => shown(id) ? $(id).textContent.replace(/\s+/g, " ").trim() : "";
	return {
		stop: shown("stop"), stopText: text("stop"), verified: shown("verified"),
		phrase: shown("phrase-box") ? $("phrase").textContent : "",
		username: shown("username"), otp: shown("otp"), passkey: shown("webauthn-button"), password: shown("password"),
		done: shown("done"), error: text("error"),
		pinned: localStorage.getItem("mutualauth:pinned_kid") || "",
		device: !!localStorage.getItem("mutualauth:device_token"),
		title: $("login-title").textContent,
	};`

func readFrame(t *testing.T, fctx context.Context) frameState {
	t.Helper()
	return loginJS[frameState](t, fctx, frameStateJS)
}

// frameMessageListeners counts the "message" listeners on the frame's
// window (DevTools DOMDebugger.getEventListeners).
func frameMessageListeners(t *testing.T, fctx context.Context) int {
	t.Helper()
	win, err := chromedp.Call(fctx, runtime.Evaluate, runtime.EvaluateParams{Expression: "window"})
	if err != nil || win.Result == nil || win.Result.ObjectID == "" {
		t.Fatalf("the frame's window object: %v", err)
	}
	res, err := chromedp.Call(fctx, domdebugger.GetEventListeners, domdebugger.GetEventListenersParams{ObjectID: win.Result.ObjectID})
	if err != nil {
		t.Fatalf("DOMDebugger.getEventListeners in the frame: %v", err)
	}
	count := 0
	for _, l := range res.Listeners {
		if l.Type == "message" {
			count++
		}
	}
	return count
}

// exchangeCode posts a code to /api/v1/token as a host backend does.
func exchangeCode(t *testing.T, s *Server, cl widgetClient, code string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"code": code})
	req, err := http.NewRequest("POST", s.URL()+"/api/v1/token", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cl.ID+":"+cl.Secret)))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// widgetIntegrity is the server's published SRI value of widget.js.
func widgetIntegrity(t *testing.T, s *Server) string {
	t.Helper()
	var disc map[string]any
	getJSON(t, s.URL()+"/.well-known/mutualauth", &disc)
	v, _ := disc["widget_integrity"].(string)
	if !strings.HasPrefix(v, "sha384-") {
		t.Fatalf("widget_integrity %q", v)
	}
	return v
}

// TestWidgetTOTP signs a user in inside the widget on another site's page
// with TOTP (first use in the frame: the code, then the phrase, then the
// password), has the host's backend exchange the code, refuses a second
// exchange, ignores messages forged by the host page, and then recognizes
// the frame's device on the next login (device token in the frame's own
// storage).
func TestWidgetTOTP(t *testing.T) {
	s := startServer(t, ServerOptions{})
	kid := loginActiveKID(t, s)
	port := freePort(t)
	cl := createWidgetClient(t, s, "http://127.0.0.1:"+strconv.Itoa(port))
	host := startHost(t, s, port, cl, kid)
	acct := loginEnroll(t, s, nil, "wendy", "amber lantern harbor", loginTOTP)

	ctx := newBrowser(t)
	openHost(t, ctx, host)
	integrity := loginJS[string](t, ctx, `return document.querySelector("script[src$='/widget.js']").integrity;`)
	if integrity != widgetIntegrity(t, s) {
		t.Fatalf("the host loads widget.js with integrity %q, not the server's", integrity)
	}
	fctx := attachFrame(t, ctx, s)
	loginWaitFor(t, fctx, "username")
	st := readFrame(t, fctx)
	if st.Stop || !st.Username || st.Title != "Sign in to Example app" {
		t.Fatalf("the frame does not offer the sign-in: %+v", st)
	}
	if n := frameMessageListeners(t, fctx); n != 0 {
		t.Fatalf("the frame listens to messages (%d listeners); it must ignore the host page", n)
	}
	screenshot(t, ctx, "host-with-widget")

	// The host page forges messages: to the frame (as if a pop-up or the
	// frame itself had signed in) and to itself (as if from the frame).
	forged := strings.Repeat("F", 43)
	loginJS[bool](t, ctx, `
		const f = document.querySelector("iframe").contentWindow;
		for (const m of [{type: "mutualauth:login", code: a}, {type: "mutualauth:popup-login", code: a}, "mutualauth:login"]) {
			f.postMessage(m, "*");
			window.postMessage(m, "*");
		}
		return true;`, forged)

	loginType(t, fctx, "username", acct.Username)
	loginWaitFor(t, fctx, "otp", "stop")
	if st := readFrame(t, fctx); st.Stop || !st.Verified || st.Phrase != "" || st.Password {
		t.Fatalf("first use in the frame: want a verified server and the second factor first: %+v", st)
	}
	loginType(t, fctx, "otp", loginTOTPCode(t, acct.TOTPSecret, time.Now()))
	loginWaitFor(t, fctx, "password", "stop")
	st = readFrame(t, fctx)
	// v1.1: a code never buys the phrase.
	if st.Phrase != "" || !st.Verified || !st.Password || st.Pinned != kid {
		t.Fatalf("after the code: want no phrase, the verified state, the password field and the pin %s: %+v", kid, st)
	}
	screenshot(t, ctx, "no-phrase-then-password")
	loginType(t, fctx, "password", loginPassword)

	who := hostWho(t, ctx, "Signed in as", "Sign-in failed", "Widget error")
	if want := "Signed in as wendy (wendy, pwd+otp+mfa)"; who != want {
		t.Fatalf("the host page says %q, want %q", who, want)
	}
	screenshot(t, ctx, "host-signed-in")
	if st := readFrame(t, fctx); !st.Done || !st.Device {
		t.Fatalf("the frame after sign-in: want done and a device token in its storage: %+v", st)
	}
	logins := hostLogins(t, ctx)
	var fromFrame []hostMessage
	for _, m := range logins {
		if m.Origin == s.URL() {
			fromFrame = append(fromFrame, m)
		}
	}
	if len(fromFrame) != 1 {
		t.Fatalf("the host got %d login messages from the frame, want 1: %+v", len(fromFrame), logins)
	}
	code, _ := fromFrame[0].Data["code"].(string)
	if code == "" || code == forged || len(fromFrame[0].Data) != 2 {
		t.Fatalf("the frame's message %+v", fromFrame[0].Data)
	}
	// The host's backend spent the code: a second exchange fails.
	status, body := exchangeCode(t, s, cl, code)
	if status != http.StatusUnauthorized || body["code"] != "invalid_grant" {
		t.Fatalf("second exchange: %d %v, want 401 invalid_grant", status, body)
	}

	// The next sign-in in this frame comes from a recognized device: the
	// phrase at once, then the password, then a recovery code.
	openHost(t, ctx, host)
	fctx = attachFrame(t, ctx, s)
	loginWaitFor(t, fctx, "username")
	loginType(t, fctx, "username", acct.Username)
	loginWaitFor(t, fctx, "password", "stop")
	if st := readFrame(t, fctx); st.Phrase != acct.Phrase || !st.Password {
		t.Fatalf("recognized frame: want the phrase with the password field: %+v", st)
	}
	screenshot(t, ctx, "recognized-frame")
	loginType(t, fctx, "password", loginPassword)
	loginWaitFor(t, fctx, "otp", "stop")
	loginClick(t, fctx, "recovery-link")
	loginWaitFor(t, fctx, "recovery")
	loginType(t, fctx, "recovery", acct.Recovery[0])
	if who := hostWho(t, ctx, "Signed in as", "Sign-in failed", "Widget error"); who != "Signed in as wendy (wendy, pwd+rec+mfa)" {
		t.Fatalf("second sign-in: the host page says %q", who)
	}
}

// TestWidgetPasskey signs in inside the widget with a passkey of the
// DevTools virtual authenticator: WebAuthn in a cross-site frame (the
// iframe's allow="publickey-credentials-get", the server checking the
// client data's topOrigin against the client's origins).
func TestWidgetPasskey(t *testing.T) {
	s := startServer(t, ServerOptions{})
	port := freePort(t)
	cl := createWidgetClient(t, s, "http://127.0.0.1:"+strconv.Itoa(port))
	host := startHost(t, s, port, cl, "")

	ctx := newBrowser(t)
	auth := enableVirtualAuthenticator(t, ctx)
	acct := loginEnroll(t, s, ctx, "xavier", "quiet cedar meadow", loginPasskey)
	if n := len(virtualCredentials(t, ctx, auth)); n != 1 {
		t.Fatalf("the virtual authenticator holds %d credentials, want 1", n)
	}

	// The frame verifies the server's proof as it loads, then offers the
	// passkey in the username field's autofill; the virtual authenticator
	// answers that request as a user picking the passkey would, and the
	// user-verified passkey completes the login by itself (v1.1).
	openHost(t, ctx, host)
	attachFrame(t, ctx, s)
	if who := hostWho(t, ctx, "Signed in as", "Sign-in failed", "Widget error"); who != "Signed in as xavier (xavier, hwk+mfa)" {
		t.Fatalf("the host page says %q", who)
	}
	_ = acct
	screenshot(t, ctx, "host-signed-in")
	logins := hostLogins(t, ctx)
	if len(logins) != 1 || logins[0].Origin != s.URL() {
		t.Fatalf("login messages %+v, want one from %s", logins, s.URL())
	}
	code, _ := logins[0].Data["code"].(string)
	if status, body := exchangeCode(t, s, cl, code); status != http.StatusUnauthorized || body["code"] != "invalid_grant" {
		t.Fatalf("second exchange: %d %v, want 401 invalid_grant", status, body)
	}
}

// consoleWatch collects the console messages of a tab.
type consoleWatch struct {
	mu   sync.Mutex
	msgs []string
}

func watchConsole(ctx context.Context) *consoleWatch {
	w := &consoleWatch{}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			w.mu.Lock()
			w.msgs = append(w.msgs, m.String())
			w.mu.Unlock()
		}
	}()
	return w
}

// waitFor waits until a message contains all of parts and returns it.
func (w *consoleWatch) waitFor(t *testing.T, ctx context.Context, parts ...string) string {
	t.Helper()
	for {
		w.mu.Lock()
		for _, m := range w.msgs {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(m, p)
			}
			if all {
				w.mu.Unlock()
				return m
			}
		}
		seen := strings.Join(w.msgs, "\n")
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			t.Fatalf("no console message with %q; saw:\n%s", parts, seen)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestWidgetRefusals: a page on an origin the client did not register
// cannot frame the login (CSP frame-ancestors) and gets no message; a host
// that pinned another server key sees the frame stop before any password.
func TestWidgetRefusals(t *testing.T) {
	s := startServer(t, ServerOptions{})
	pinnedPort := freePort(t)
	cl := createWidgetClient(t, s, "http://127.0.0.1:"+strconv.Itoa(pinnedPort))

	t.Run("unregistered origin", func(t *testing.T) {
		host := startHost(t, s, freePort(t), cl, "")
		ctx := newBrowser(t)
		console := watchConsole(ctx)
		openHost(t, ctx, host)
		// Chromium reports the blocked framing on the host page's console
		// and puts its error page in the frame: the login never ran.
		msg := console.waitFor(t, ctx, "frame-ancestors", "blocked")
		t.Logf("the browser said: %s", msg)
		fctx := attachFrameTarget(t, ctx, s)
		doc := loginJS[string](t, fctx, `return location.protocol + " " + !!document.getElementById("login");`)
		if doc != "chrome-error: false" {
			t.Fatalf("the frame shows %q, want the browser's error page (chrome-error:, no login form)", doc)
		}
		who := hostWho(t, ctx, "Signed in as", "Sign-in failed", "Widget error")
		if who != "Widget error: frame_unavailable" {
			t.Fatalf("the host page says %q, want the widget's frame_unavailable error", who)
		}
		screenshot(t, ctx, "framing-refused")
		raw := loginJS[string](t, ctx, `return JSON.stringify(window.__messages);`)
		if strings.Contains(raw, s.URL()) || len(hostLogins(t, ctx)) != 0 {
			t.Fatalf("the host on an unregistered origin got messages: %s", raw)
		}
	})

	t.Run("pinned key mismatch", func(t *testing.T) {
		_, otherKID := loginOtherJWKS(t)
		host := startHost(t, s, pinnedPort, cl, otherKID)
		acct := loginEnroll(t, s, nil, "yusuf", "violet kite orchard", loginTOTP)
		ctx := newBrowser(t)
		openHost(t, ctx, host)
		fctx := attachFrame(t, ctx, s)
		// The frame's first proof comes as it loads: it stops there.
		loginWaitFor(t, fctx, "stop", "otp", "password")
		st := readFrame(t, fctx)
		_ = acct
		if !st.Stop || !strings.Contains(st.StopText, "key changed") || !strings.Contains(st.StopText, "Do not enter your password") ||
			st.OTP || st.Password || st.Verified || st.Pinned != "" {
			t.Fatalf("the frame should stop on a key other than the host's pin, pinning nothing: %+v", st)
		}
		if who := hostWho(t, ctx, "Signed in as", "Sign-in failed", "Widget error"); who != "Widget error: key_changed" {
			t.Fatalf("the host page says %q, want the key_changed error", who)
		}
		screenshot(t, ctx, "pinned-key-mismatch")
	})
}

// attachFrameTarget attaches to the iframe target of the embed page,
// whatever it shows.
func attachFrameTarget(t *testing.T, ctx context.Context, s *Server) context.Context {
	t.Helper()
	prefix := s.URL() + "/embed/login"
	for {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatalf("list targets: %v", err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, prefix) {
				fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
				t.Cleanup(cancel)
				return fctx
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no frame of %s appeared: %v", prefix, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestWidgetPopupFallback: where the browser refuses WebAuthn inside the
// frame (here the host page drops the iframe's allow attribute, as a page
// or browser without the permission does), the frame offers a pop-up on
// the issuer's origin; the passkey works there, and the code reaches the
// host through the frame.
func TestWidgetPopupFallback(t *testing.T) {
	s := startServer(t, ServerOptions{})
	port := freePort(t)
	cl := createWidgetClient(t, s, "http://127.0.0.1:"+strconv.Itoa(port))
	host := startHost(t, s, port, cl, "")

	ctx := newBrowser(t)
	auth := enableVirtualAuthenticator(t, ctx)
	acct := loginEnroll(t, s, ctx, "zelda", "lemon tide compass", loginPasskey)
	creds := virtualCredentials(t, ctx, auth)
	if len(creds) != 1 {
		t.Fatalf("the virtual authenticator holds %d credentials, want 1", len(creds))
	}
	// The host's iframes get no permissions.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `if (location.origin === ` + strconv.Quote(host.url) + `) {
			Object.defineProperty(HTMLIFrameElement.prototype, "allow", {set() {}, get() { return ""; }});
		}`,
	}); err != nil {
		t.Fatalf("Page.addScriptToEvaluateOnNewDocument: %v", err)
	}

	openHost(t, ctx, host)
	fctx := attachFrame(t, ctx, s)
	loginWaitFor(t, fctx, "username")
	loginType(t, fctx, "username", acct.Username)
	loginWaitFor(t, fctx, "webauthn-button", "stop")
	loginClick(t, fctx, "webauthn-button")
	loginWaitFor(t, fctx, "popup-offer", "error", "password")
	if st := readFrame(t, fctx); st.Password || st.Phrase != "" || st.Error != "" {
		t.Fatalf("a refused passkey in the frame: want the pop-up offer only: %+v", st)
	}
	screenshot(t, ctx, "popup-offered")

	loginClick(t, fctx, "popup-open")
	pctx := attachPopup(t, ctx, s)
	// The pop-up is a window of its own: give it an authenticator with the
	// user's passkey.
	pauth := enableVirtualAuthenticator(t, pctx)
	// Sent with only the fields it needs: this Chromium refuses the
	// cmtg fields that the generated type always sends.
	c := creds[0]
	addCredential := cdp.Command[map[string]any, cdp.Empty]{Method: webauthn.CommandAddCredential}
	if _, err := chromedp.Call(pctx, addCredential, map[string]any{"authenticatorId": pauth, "credential": map[string]any{
		"credentialId": c.CredentialID, "isResidentCredential": c.IsResidentCredential, "rpId": c.RpID,
		"privateKey": c.PrivateKey, "userHandle": c.UserHandle, "signCount": c.SignCount,
	}}); err != nil {
		t.Fatalf("WebAuthn.addCredential in the pop-up: %v", err)
	}
	loginWaitFor(t, pctx, "username")
	// First-party on the issuer's origin: the device cookie of the
	// enrollment is sent, so the phrase comes with begin.
	loginType(t, pctx, "username", acct.Username)
	loginWaitFor(t, pctx, "password", "stop")
	if st := readFrame(t, pctx); st.Phrase != acct.Phrase || !st.Password {
		t.Fatalf("the pop-up: want the phrase and the password field: %+v", st)
	}
	screenshot(t, pctx, "popup-window")
	loginType(t, pctx, "password", loginPassword)
	loginWaitFor(t, pctx, "webauthn-button", "stop")
	loginClick(t, pctx, "webauthn-button")

	if who := hostWho(t, ctx, "Signed in as", "Sign-in failed", "Widget error"); who != "Signed in as zelda (zelda, pwd+hwk+mfa)" {
		t.Fatalf("the host page says %q", who)
	}
	screenshot(t, ctx, "host-signed-in-via-popup")
	logins := hostLogins(t, ctx)
	if len(logins) != 1 || logins[0].Origin != s.URL() {
		t.Fatalf("login messages %+v, want one from the frame", logins)
	}
	if n := frameMessageListeners(t, fctx); n != 0 {
		t.Fatalf("the frame still listens to messages after the pop-up (%d listeners)", n)
	}
}

// attachPopup waits for the widget's pop-up window and attaches to it.
func attachPopup(t *testing.T, ctx context.Context, s *Server) context.Context {
	t.Helper()
	prefix := s.URL() + "/embed/login"
	for {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatalf("list targets: %v", err)
		}
		for _, info := range infos {
			if info.Type == "page" && strings.HasPrefix(info.URL, prefix) && strings.Contains(info.URL, "popup=1") {
				pctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
				t.Cleanup(cancel)
				if err := chromedp.Do(pctx, chromedp.WaitReady(chromedp.ID("login"))); err != nil {
					t.Fatalf("attach to the pop-up: %v", err)
				}
				return pctx
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no pop-up of %s appeared: %v", prefix, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
