package e2e

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// do runs browser actions and fails the test with what it was doing.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// clearInput empties an input's live value (chromedp.Clear only resets the
// value attribute).
func clearInput(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[chromedp.Void](`document.getElementById(`+strconv.Quote(id)+`).value = ""`)(ctx, t)
		return err
	})
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("read #%s: %v", id, err)
	}
	return s
}

// enrollPassword is the password enrollPasswordAndPhrase chooses.
const enrollPassword = "lantern meadow quietly hums"

// enrollPasswordAndPhrase opens the invite in the browser and goes through
// the first two steps: a refused password, a good one (submitted with the
// keyboard), then a suggested phrase.
func enrollPasswordAndPhrase(t *testing.T, ctx context.Context, enrollURL, username string) {
	t.Helper()
	do(t, ctx, "open the enrollment page",
		chromedp.Navigate(enrollURL),
		chromedp.WaitVisible(chromedp.ID("step-password")),
	)
	if got := text(t, ctx, "enroll-username"); got != username {
		t.Fatalf("the page greets %q, want %q", got, username)
	}
	attrs, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.ID("password")))
	if err != nil || attrs["autocomplete"] != "new-password" || attrs["type"] != "password" {
		t.Fatalf("password input attributes %v, %v", attrs, err)
	}
	screenshot(t, ctx, "password")

	// A common password is refused in place, with the reason.
	do(t, ctx, "submit a common password",
		chromedp.SendKeys(chromedp.ID("password"), "password123456"),
		chromedp.Click(chromedp.ID("password-submit")),
		chromedp.WaitVisible(chromedp.ID("password-error")),
	)
	if msg := text(t, ctx, "password-error"); !strings.Contains(msg, "common") {
		t.Fatalf("weak password message %q", msg)
	}
	if role := eval[string](t, ctx, `document.getElementById("password-error").getAttribute("role") + "/" +
		document.getElementById("password").getAttribute("aria-invalid")`); role != "alert/true" {
		t.Fatalf("error role / aria-invalid: %s", role)
	}
	screenshot(t, ctx, "password-refused")

	do(t, ctx, "submit a good password with Enter",
		clearInput("password"),
		chromedp.SendKeys(chromedp.ID("password"), enrollPassword+kb.Enter),
		chromedp.WaitVisible(chromedp.ID("step-phrase")),
	)
	do(t, ctx, "ask for a suggested phrase", chromedp.Click(chromedp.ID("phrase-suggest")))
	suggestion, err := chromedp.Run(ctx, chromedp.Poll[string](`document.getElementById("phrase").value`))
	if err != nil || len(strings.Fields(suggestion)) != 4 {
		t.Fatalf("suggested phrase %q, %v", suggestion, err)
	}
	screenshot(t, ctx, "phrase")
	do(t, ctx, "save the phrase",
		chromedp.Click(chromedp.ID("phrase-submit")),
		chromedp.WaitVisible(chromedp.ID("step-factors")),
	)
	if disabled := eval[bool](t, ctx, `document.getElementById("complete").disabled`); !disabled {
		t.Fatal("Finish is enabled before any second factor")
	}
}

// finishEnrollment completes, checks the recovery codes and the pinned key,
// and reaches the last step.
func finishEnrollment(t *testing.T, ctx context.Context, s *Server) {
	t.Helper()
	do(t, ctx, "finish",
		chromedp.WaitEnabled(chromedp.ID("complete")),
		chromedp.Click(chromedp.ID("complete")),
		chromedp.WaitVisible(chromedp.ID("step-codes")),
		chromedp.WaitVisible(chromedp.ID("pin-ok")),
	)
	codes := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#codes li"), li => li.textContent)`)
	if len(codes) != 10 {
		t.Fatalf("the page shows %d recovery codes, want 10: %v", len(codes), codes)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(strings.ReplaceAll(c, "-", "")) < 10 || seen[c] {
			t.Fatalf("recovery codes %v", codes)
		}
		seen[c] = true
	}
	// The Download link saves a file made in the page (the CSP keeps the
	// test from reading it back).
	if href := eval[string](t, ctx, `document.getElementById("codes-download").href`); !strings.HasPrefix(href, "blob:"+s.URL()+"/") {
		t.Fatalf("the Download link points at %q, want a blob: URL of the page", href)
	}
	screenshot(t, ctx, "recovery-codes")

	// The server key is pinned in the issuer origin's storage, and shown.
	keys := serverKeys(t, s)
	if len(keys) != 1 {
		t.Fatalf("%d keys in the JWKS", len(keys))
	}
	kid := keys[0].str("kid")
	pinned := eval[string](t, ctx, `localStorage.getItem("mutualauth:pinned_kid") || ""`)
	if pinned != kid {
		t.Fatalf("pinned kid %q, JWKS kid %q", pinned, kid)
	}
	if origin := eval[string](t, ctx, `location.origin`); origin != s.URL() {
		t.Fatalf("pinned on origin %q, want the issuer %q", origin, s.URL())
	}
	if shown := text(t, ctx, "pin-kid"); shown != kid {
		t.Fatalf("the page shows key %q, want %q", shown, kid)
	}

	// The browser is now a recognized device (HttpOnly cookie).
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	var device *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "mutualauth_device" {
			device = c
		}
	}
	if device == nil || !device.HTTPOnly {
		t.Fatalf("device cookie %+v", device)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(device.Value); err != nil || len(raw) < 32 {
		t.Fatalf("device token %q is not 256 random bits", device.Value)
	}
	if eval[bool](t, ctx, `document.cookie.includes("mutualauth_device")`) {
		t.Fatal("the device cookie is readable from script")
	}

	do(t, ctx, "confirm the codes are saved",
		chromedp.Click(chromedp.ID("codes-saved")),
		chromedp.WaitEnabled(chromedp.ID("codes-done")),
		chromedp.Click(chromedp.ID("codes-done")),
		chromedp.WaitVisible(chromedp.ID("step-done")),
	)
	if n := eval[int](t, ctx, `document.querySelectorAll("#codes li").length`); n != 0 {
		t.Fatalf("%d recovery codes still in the page after the user moved on", n)
	}
	screenshot(t, ctx, "done")
}

// checkLinkSpent opens the enrollment link again: it is used up.
func checkLinkSpent(t *testing.T, ctx context.Context, enrollURL string) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(enrollURL))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 404 {
		t.Fatalf("the used enrollment link answered %d, want 404", resp.Status)
	}
	if body := text(t, ctx, "main"); !strings.Contains(body, "not valid") {
		t.Fatalf("the used link shows %q", body)
	}
	screenshot(t, ctx, "link-used")
}

func TestBrowserEnrollWithTOTP(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	enrollURL := s.AdminInvite(t, "tina", "Tina Totp", false)

	enrollPasswordAndPhrase(t, ctx, enrollURL, "tina")
	screenshot(t, ctx, "second-factor")

	do(t, ctx, "start the authenticator app setup",
		chromedp.Click(chromedp.ID("totp-start")),
		chromedp.WaitVisible(chromedp.ID("totp-qr")),
		chromedp.Poll[chromedp.Void](`document.getElementById("totp-secret").textContent.length > 0 &&
			document.getElementById("totp-qr").complete && document.getElementById("totp-qr").naturalWidth > 0`),
	)
	attrs, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.ID("totp-code")))
	if err != nil || attrs["autocomplete"] != "one-time-code" || attrs["inputmode"] != "numeric" {
		t.Fatalf("code input attributes %v, %v", attrs, err)
	}
	// Read the key as a person would type it into an app.
	secret := strings.Join(strings.Fields(text(t, ctx, "totp-secret")), "")
	screenshot(t, ctx, "totp-qr")

	// A wrong code is refused in place.
	now := time.Now()
	wrong := totpCode(t, secret, now.Add(-10*time.Minute))
	if wrong != totpCode(t, secret, now) {
		do(t, ctx, "enter a wrong code",
			chromedp.SendKeys(chromedp.ID("totp-code"), wrong),
			chromedp.Click(chromedp.ID("totp-confirm")),
			chromedp.WaitVisible(chromedp.ID("totp-error")),
		)
		screenshot(t, ctx, "totp-refused")
		do(t, ctx, "clear the code", clearInput("totp-code"))
	}
	do(t, ctx, "enter the current code",
		chromedp.SendKeys(chromedp.ID("totp-code"), totpCode(t, secret, time.Now())),
		chromedp.Click(chromedp.ID("totp-confirm")),
		chromedp.WaitVisible(chromedp.ID("totp-status")),
	)
	if shown := eval[string](t, ctx, `document.getElementById("totp-secret").textContent`); shown != "" {
		t.Fatalf("the TOTP key stays in the page after confirmation: %q", shown)
	}
	screenshot(t, ctx, "totp-confirmed")

	finishEnrollment(t, ctx, s)
	checkLinkSpent(t, ctx, enrollURL)
}

func TestBrowserEnrollWithPasskey(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	authenticator := enableVirtualAuthenticator(t, ctx)
	enrollURL := s.AdminInvite(t, "pat", "Pat Passkey", false)

	enrollPasswordAndPhrase(t, ctx, enrollURL, "pat")
	if eval[bool](t, ctx, `document.getElementById("webauthn-setup").hidden`) {
		t.Fatal("the passkey button is hidden on a secure context with WebAuthn")
	}
	screenshot(t, ctx, "second-factor")

	do(t, ctx, "add a passkey",
		chromedp.SendKeys(chromedp.ID("webauthn-name"), "Test laptop"),
		chromedp.Click(chromedp.ID("webauthn-add")),
		chromedp.WaitVisible(chromedp.ID("webauthn-status")),
	)
	if msg := eval[string](t, ctx, `document.getElementById("webauthn-error").hidden ? "" : document.getElementById("webauthn-error").textContent`); msg != "" {
		t.Fatalf("passkey error shown: %s", msg)
	}
	creds := virtualCredentials(t, ctx, authenticator)
	if len(creds) != 1 {
		t.Fatalf("the authenticator holds %d credentials, want 1", len(creds))
	}
	if c := creds[0]; c.RpID != "localhost" || !c.IsResidentCredential || c.UserName != "pat" {
		t.Fatalf("credential rpId %q resident %v user %q", c.RpID, c.IsResidentCredential, c.UserName)
	}
	screenshot(t, ctx, "passkey-added")

	finishEnrollment(t, ctx, s)
	checkLinkSpent(t, ctx, enrollURL)
}
