package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestPagesFitNarrowScreen opens the login and the enrollment page at
// desktop width and at 390 px (a phone): both show their first step and
// neither page is wider than the screen.
func TestPagesFitNarrowScreen(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	enrollURL := s.AdminInvite(t, "nina", "Nina Narrow", false)
	for _, width := range []int64{1280, 390} {
		w := strconv.FormatInt(width, 10)
		do(t, ctx, "login page at "+w+" px",
			chromedp.EmulateViewport(width, 844),
			chromedp.Navigate(s.URL()+"/login"),
			chromedp.WaitVisible(chromedp.ID("username")),
		)
		checkNoSidewaysScroll(t, ctx, "the login page", width)
		screenshot(t, ctx, "login-"+w)

		do(t, ctx, "enrollment page at "+w+" px",
			chromedp.Navigate(enrollURL),
			chromedp.WaitVisible(chromedp.ID("step-password")),
		)
		checkNoSidewaysScroll(t, ctx, "the enrollment page", width)
		screenshot(t, ctx, "enroll-"+w)
	}
}

// checkNoSidewaysScroll fails the test when the page is wider than the
// window; wide tables may scroll inside their own box (.table-wrap).
func checkNoSidewaysScroll(t *testing.T, ctx context.Context, what string, width int64) {
	t.Helper()
	if eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		wide := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("body *"))
			.filter(e => !(e.parentElement && e.parentElement.closest(".table-wrap")) && e.getBoundingClientRect().right > window.innerWidth + 1)
			.slice(0, 5).map(e => e.tagName + "." + e.className + "#" + e.id)`)
		t.Errorf("%s overflows a %d px screen sideways: %v", what, width, wide)
	}
}

// TestPasskeyWithoutJSONHelpers runs a passkey enrollment and a passkey
// sign-in in a browser that lacks WebAuthn Level 3's JSON helpers
// (PublicKeyCredential.parseCreationOptionsFromJSON,
// parseRequestOptionsFromJSON, and toJSON on credentials), so that
// web/common.js's own conversions do the work.
func TestPasskeyWithoutJSONHelpers(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	auth := enableVirtualAuthenticator(t, ctx)
	noAutofill(t, ctx) // it signs in by username and password first
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `if (window.PublicKeyCredential) {
			delete PublicKeyCredential.parseCreationOptionsFromJSON;
			delete PublicKeyCredential.parseRequestOptionsFromJSON;
			delete PublicKeyCredential.prototype.toJSON;
		}`,
	}); err != nil {
		t.Fatalf("Page.addScriptToEvaluateOnNewDocument: %v", err)
	}
	enrollURL := s.AdminInvite(t, "lev", "Lev Two", false)
	enrollPasswordAndPhrase(t, ctx, enrollURL, "lev")
	if eval[bool](t, ctx, `typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" ||
			typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" ||
			typeof PublicKeyCredential.prototype.toJSON === "function"`) {
		t.Fatal("the browser still has the WebAuthn JSON helpers")
	}
	do(t, ctx, "add a passkey",
		chromedp.Click(chromedp.ID("webauthn-add")),
		chromedp.WaitVisible(chromedp.ID("webauthn-status")),
	)
	if n := len(virtualCredentials(t, ctx, auth)); n != 1 {
		t.Fatalf("the authenticator holds %d credentials, want 1", n)
	}
	finishEnrollment(t, ctx, s)

	loginOpen(t, ctx, s, "")
	loginType(t, ctx, "username", "lev")
	loginWaitFor(t, ctx, "password", "stop")
	loginType(t, ctx, "password", enrollPassword)
	loginWaitFor(t, ctx, "webauthn-button", "stop")
	loginClick(t, ctx, "webauthn-button")
	loginWaitSignedIn(t, ctx)
	if user, amr := loginSession(t, ctx); user != "lev" || strings.Join(amr, " ") != "pwd hwk mfa" {
		t.Fatalf("session: user %q amr %v, want lev [pwd hwk mfa]", user, amr)
	}
}
