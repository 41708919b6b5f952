package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The account page (GET /account, web/account.js) in headless Chromium
// against the real binary: signing in lands on it; adding a passkey asks
// to confirm it's you in a dialog first and then registers the virtual
// authenticator's passkey; renaming needs no confirmation; new recovery
// codes replace the old ones; "Sign out everywhere else" ends a session
// held by another client; with JavaScript off the forms still work.

// accountWait waits until the expression is true in the page. It keeps
// asking across reloads (the page reloads itself after a change).
func accountWait(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s (%s): %v (last error: %v)", what, expr, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// accountSetValue sets the live value of the input the CSS selector finds.
func accountSetValue(selector, value string) chromedp.Action[chromedp.Void] {
	sel, _ := json.Marshal(selector)
	v, _ := json.Marshal(value)
	return chromedp.Evaluate[chromedp.Void](`document.querySelector(` + string(sel) + `).value = ` + string(v))
}

// accountFlash waits for the page's message to contain want and returns it.
func accountFlash(t *testing.T, ctx context.Context, want string) string {
	t.Helper()
	b, _ := json.Marshal(want)
	accountWait(t, ctx, "the message "+want, `(() => { const e = document.getElementById("flash-text");
		return !!e && e.textContent.includes(`+string(b)+`); })()`)
	return text(t, ctx, "flash-text")
}

// accountAPILogin signs the user in from a program (a second session):
// a recovery code, then the password.
func accountAPILogin(t *testing.T, s *Server, username, recoveryCode string) *apiLoginClient {
	t.Helper()
	c := newAPILoginClient(t, s.URL())
	var begin struct {
		LoginID string `json:"login_id"`
	}
	c.must("POST", "/api/v1/login/begin", map[string]any{"username": username}, http.StatusOK, &begin)
	c.must("POST", "/api/v1/login/recovery", map[string]any{"login_id": begin.LoginID, "code": recoveryCode}, http.StatusOK, nil)
	c.must("POST", "/api/v1/login/password", map[string]any{"login_id": begin.LoginID, "password": loginPassword}, http.StatusOK, nil)
	c.must("GET", "/api/v1/session", nil, http.StatusOK, nil)
	return c
}

func TestAccountPage(t *testing.T) {
	s := startServer(t, ServerOptions{})
	maya := loginEnroll(t, s, nil, "maya", "orange kites over dunes", loginTOTP)
	if len(maya.Recovery) < 3 {
		t.Fatalf("enrollment gave %d recovery codes", len(maya.Recovery))
	}
	other := accountAPILogin(t, s, "maya", maya.Recovery[0])

	ctx := newBrowser(t)
	auth := enableVirtualAuthenticator(t, ctx)

	// Without a session the page sends the browser to sign in.
	do(t, ctx, "open /account signed out", chromedp.Navigate(s.URL()+"/account"), chromedp.WaitVisible(chromedp.ID("username")))
	if loc := eval[string](t, ctx, "location.pathname + location.search"); loc != "/login?return_to=%2Faccount" {
		t.Fatalf("signed out, /account went to %s", loc)
	}

	// Signing in lands on the account page.
	loginType(t, ctx, "username", "maya")
	loginWaitFor(t, ctx, "otp", "stop")
	loginType(t, ctx, "otp", loginTOTPCode(t, maya.TOTPSecret, time.Now()))
	loginWaitFor(t, ctx, "password", "stop")
	loginType(t, ctx, "password", loginPassword)
	loginWaitSignedIn(t, ctx)
	accountWait(t, ctx, "the account page", `location.pathname === "/account" && !!document.getElementById("account-title")`)
	if got := text(t, ctx, "account-username"); got != "maya" {
		t.Fatalf("account page of %q", got)
	}
	sessions := eval[int](t, ctx, `document.querySelectorAll("tr[data-session]").length`)
	current := eval[bool](t, ctx, `!!document.querySelector("tr[data-session].current")`)
	devices := eval[int](t, ctx, `document.querySelectorAll("tr[data-device].current").length`)
	if sessions != 2 || !current || devices != 1 {
		t.Fatalf("the page lists %d sessions (current marked: %v) and %d current devices; want 2, true, 1", sessions, current, devices)
	}
	screenshot(t, ctx, "account")

	// Adding a passkey: the server wants a fresh confirmation, the dialog
	// asks for it (password and a recovery code) and the action goes on.
	do(t, ctx, "add a passkey",
		chromedp.SendKeys(chromedp.ID("passkey-name"), "Laptop"),
		chromedp.Click(chromedp.ID("passkey-add-button")),
		chromedp.WaitVisible(chromedp.ID("rd-password")),
	)
	if !eval[bool](t, ctx, `document.getElementById("reauth-dialog").open`) {
		t.Fatal("the confirmation dialog is not open")
	}
	screenshot(t, ctx, "confirm-dialog")
	do(t, ctx, "a wrong password in the dialog",
		chromedp.SendKeys(chromedp.ID("rd-password"), "not my password"),
		chromedp.SendKeys(chromedp.ID("rd-code"), maya.Recovery[1]),
		chromedp.Click(chromedp.ID("rd-submit")),
		chromedp.WaitVisible(chromedp.ID("rd-error")),
	)
	if msg := text(t, ctx, "rd-error"); !strings.Contains(msg, "didn't work") {
		t.Fatalf("dialog error %q", msg)
	}
	do(t, ctx, "confirm in the dialog",
		clearInput("rd-password"), clearInput("rd-code"),
		chromedp.SendKeys(chromedp.ID("rd-password"), loginPassword),
		chromedp.SendKeys(chromedp.ID("rd-code"), maya.Recovery[1]),
		chromedp.Click(chromedp.ID("rd-submit")),
	)
	accountFlash(t, ctx, "Added “Laptop”")
	if n := len(virtualCredentials(t, ctx, auth)); n != 1 {
		t.Fatalf("the virtual authenticator holds %d credentials, want 1", n)
	}
	if !eval[bool](t, ctx, `!!document.getElementById("reauth-ok")`) {
		t.Fatal("the page does not show the confirmation in force")
	}
	screenshot(t, ctx, "passkey-added")

	// Renaming needs no confirmation.
	do(t, ctx, "rename the passkey",
		accountSetValue(`tr[data-credential] input[name=name]`, ""),
		chromedp.SendKeys(chromedp.CSS(`tr[data-credential] input[name=name]`), "Work laptop\r"),
	)
	accountFlash(t, ctx, "renamed")
	if name := eval[string](t, ctx, `document.querySelector("tr[data-credential] input[name=name]").value`); name != "Work laptop" {
		t.Fatalf("passkey name %q after renaming", name)
	}

	// New recovery codes, within the confirmation: no dialog.
	do(t, ctx, "generate recovery codes", chromedp.Click(chromedp.ID("codes-generate")), chromedp.WaitVisible(chromedp.ID("codes-panel")))
	codes := eval[[]string](t, ctx, `[...document.querySelectorAll("#codes li")].map(li => li.textContent)`)
	if len(codes) != 10 || eval[bool](t, ctx, `document.getElementById("reauth-dialog").open`) {
		t.Fatalf("new codes %v (dialog open: %v)", codes, eval[bool](t, ctx, `document.getElementById("reauth-dialog").open`))
	}
	screenshot(t, ctx, "new-recovery-codes")
	// An old code no longer signs in.
	probe := newAPILoginClient(t, s.URL())
	var begin struct {
		LoginID string `json:"login_id"`
	}
	probe.must("POST", "/api/v1/login/begin", map[string]any{"username": "maya"}, http.StatusOK, &begin)
	probe.refused("POST", "/api/v1/login/recovery", map[string]any{"login_id": begin.LoginID, "code": maya.Recovery[2]}, http.StatusUnauthorized, "invalid_credentials")

	// Done with the codes: the page offers ending the other session.
	do(t, ctx, "saved the codes", chromedp.Click(chromedp.ID("codes-done")))
	accountFlash(t, ctx, "New recovery codes")
	accountWait(t, ctx, "the offer to end 1 other session", `document.getElementById("flash").textContent.includes("1 other session")`)
	screenshot(t, ctx, "offer-sign-out-elsewhere")

	// Sign out everywhere else: the program's session ends, this one stays.
	do(t, ctx, "sign out everywhere else", chromedp.Click(chromedp.ID("revoke-others")))
	accountFlash(t, ctx, "1 session ended")
	other.refused("GET", "/api/v1/session", nil, http.StatusUnauthorized, "unauthenticated")
	if user, _ := loginSession(t, ctx); user != "maya" {
		t.Fatalf("this browser's session: %q", user)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("tr[data-session]").length`); n != 1 {
		t.Fatalf("%d sessions listed after signing out everywhere else", n)
	}
	screenshot(t, ctx, "signed-out-elsewhere")

	// With JavaScript off the forms post and come back with a message.
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disable JavaScript: %v", err)
	}
	do(t, ctx, "rename without JavaScript",
		chromedp.Navigate(s.URL()+"/account"),
		chromedp.WaitVisible(chromedp.ID("account-title")),
		accountSetValue(`tr[data-credential] input[name=name]`, "Desk laptop"),
		chromedp.Click(chromedp.CSS(`tr[data-credential] .inline-form button`)),
	)
	accountFlash(t, ctx, "Renamed to “Desk laptop”")
	if !eval[bool](t, ctx, `document.getElementById("passkey-add").hidden`) {
		t.Error("without JavaScript the passkey form should stay hidden")
	}
	screenshot(t, ctx, "without-javascript")
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
		t.Fatalf("enable JavaScript: %v", err)
	}

	// Sign out.
	do(t, ctx, "sign out",
		chromedp.Navigate(s.URL()+"/account"),
		chromedp.WaitVisible(chromedp.ID("signout")),
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	if user, _ := loginSession(t, ctx); user != "" {
		t.Fatalf("still signed in as %q after Sign out", user)
	}
}
