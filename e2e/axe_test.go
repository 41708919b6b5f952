package e2e

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"mutualauth/internal/testenv"
)

// axeSource is axe-core's axe.min.js from e2e/node_modules (npm ci in e2e/,
// which .ci/run does; package.json pins the version).
var axeSource = sync.OnceValues(func() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "node_modules", "axe-core", "axe.min.js"))
	return string(b), err
})

// axeViolation is one failed axe rule with the elements that broke it.
type axeViolation struct {
	ID    string `json:"id"`
	Help  string `json:"help"`
	Nodes []struct {
		Target []string `json:"target"`
		HTML   string   `json:"html"`
	} `json:"nodes"`
}

// checkAxe runs axe-core (WCAG 2.x A and AA rules and best practices) on
// the page as it is and fails the test on any violation.
func checkAxe(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		testenv.Missing(t, "axe-core", "run npm ci in e2e/ ("+err.Error()+")")
		return
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
		t.Fatalf("%s: inject axe-core: %v", what, err)
	}
	type result struct {
		Violations []axeViolation `json:"violations"`
		Passes     int            `json:"passes"`
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[result](`axe.run(document, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
		resultTypes: ["violations"]
	}).then(r => ({violations: r.violations, passes: r.passes.length}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe.run: %v", what, err)
	}
	if res.Passes < 10 {
		t.Fatalf("%s: axe-core checked only %d rules", what, res.Passes)
	}
	for _, v := range res.Violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.Join(n.Target, " ")+" "+n.HTML)
		}
		t.Errorf("%s: axe %s (%s):\n  %s", what, v.ID, v.Help, strings.Join(where, "\n  "))
	}
}

// colorScheme emulates prefers-color-scheme (dark or light).
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// checkFitsPhone fails when anything on the page reaches past a 390 px
// screen (nothing scrolls sideways, not even inside a table box) or when
// one of the buttons is out of view horizontally.
func checkFitsPhone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	wide := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("body *"))
		.filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.right > window.innerWidth + 1 || r.left < -1); })
		.slice(0, 5).map(e => e.tagName + "." + e.className + "#" + e.id)`)
	if len(wide) > 0 || eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		t.Errorf("%s does not fit a 390 px screen: %v", what, wide)
	}
}

// pageShot loads path, waits for sel, and for each color scheme and width
// runs axe-core, checks the phone layout and takes a screenshot.
func pageShot(t *testing.T, ctx context.Context, url, sel, name string) {
	t.Helper()
	for _, scheme := range []string{"light", "dark"} {
		for _, width := range []int64{1280, 390} {
			w := "desktop"
			if width == 390 {
				w = "phone"
			}
			do(t, ctx, name+" "+scheme+" "+w,
				colorScheme(scheme),
				chromedp.EmulateViewport(width, 844),
				chromedp.Navigate(url),
				chromedp.WaitVisible(chromedp.CSS(sel)),
			)
			if scheme == "dark" && !eval[bool](t, ctx, `(() => {
				const m = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
				return m[0] + m[1] + m[2] < 120; })()`) {
				t.Errorf("%s: the dark scheme does not darken the page", name)
			}
			if width == 390 {
				checkFitsPhone(t, ctx, name+" ("+scheme+")")
			}
			checkAxe(t, ctx, name+" ("+scheme+", "+w+")")
			screenshot(t, ctx, name+"-"+scheme+"-"+w)
		}
	}
	do(t, ctx, "back to light", colorScheme("light"), chromedp.EmulateViewport(1280, 900))
}

// TestPagesAccessibleOnPhonesAndInDarkMode opens the login, enrollment,
// account and admin pages in light and dark mode at desktop width and at
// 390 px: axe-core finds no violation, nothing reaches past a phone's
// screen (tables become cards), and the dark scheme is dark.
func TestPagesAccessibleOnPhonesAndInDarkMode(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)

	stranger := newBrowser(t)
	pageShot(t, stranger, s.URL()+"/login", "#username", "login")
	pageShot(t, stranger, s.AdminInvite(t, "nina", "Nina Narrow", false), "#step-password", "enroll")

	admin := adminEnrollOnPage(t, ctx, adminBootstrapURL(t, s), "admin")
	adminPageSignIn(t, ctx, s, &admin, true)
	// A second session and a user to list.
	adminAPISignIn(t, s, &admin)
	s.AdminInvite(t, "uma", "Uma User", false)

	pageShot(t, ctx, s.URL()+"/account", "#signout", "account")
	// On a phone the account page's buttons are in view.
	do(t, ctx, "account on a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL()+"/account"),
		chromedp.WaitVisible(chromedp.ID("signout")))
	if !eval[bool](t, ctx, `Array.from(document.querySelectorAll("#signout, #devices button, #sessions button"))
		.every(b => { const r = b.getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth; })`) {
		t.Error("a Sign out or Forget button of /account is out of view on a phone")
	}
	pageShot(t, ctx, s.URL()+"/admin", "#users", "admin-users")
	pageShot(t, ctx, s.URL()+"/admin/users/"+admin.ID, "#sessions", "admin-user")
	pageShot(t, ctx, s.URL()+"/admin/audit", "table.events", "admin-audit")
	// Stacked: each cell of a phone's admin table says which column it is.
	do(t, ctx, "audit on a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL()+"/admin/audit"),
		chromedp.WaitVisible(chromedp.CSS("table.events")))
	if !eval[bool](t, ctx, `getComputedStyle(document.querySelector("table.events tbody tr")).display === "block" &&
		getComputedStyle(document.querySelector("table.events td[data-label]"), "::before").content.includes("Time")`) {
		t.Error("the audit table is not stacked as labelled cards on a phone")
	}

	// In German, through the language switch at the bottom of the page.
	do(t, ctx, "open the account page", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(s.URL()+"/account"),
		chromedp.WaitVisible(chromedp.ID("signout")))
	href := eval[string](t, ctx, `document.querySelector('footer a[hreflang="de"]').href`)
	do(t, ctx, "follow the switch to German", chromedp.Navigate(href), chromedp.WaitVisible(chromedp.ID("signout")))
	if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "de" {
		t.Errorf("after the switch the page's language is %q", lang)
	}
	if got := text(t, ctx, "signout"); got != "Abmelden" {
		t.Errorf("the German account page's sign-out button says %q", got)
	}
	pageShot(t, ctx, s.URL()+"/account", "#signout", "account-de")
	pageShot(t, ctx, s.URL()+"/admin/users/"+admin.ID, "#sessions", "admin-user-de")
}

// TestLoginPageHelps: the server key is behind a closed "Details" toggle,
// each step has one primary button, the password step carries the username
// for password managers, a throttled step counts its wait down live, and
// the notices and the lost-password help are there.
func TestLoginPageHelps(t *testing.T) {
	s := startServer(t, ServerOptions{Env: []string{"MUTUALAUTH_SUPPORT_CONTACT=help@example.org"}})
	ctx := newBrowser(t)
	tina := adminEnrollAPI(t, s, s.AdminInvite(t, "tina", "Tina", false), "tina")

	onePrimary := func(what string) {
		t.Helper()
		n := eval[int](t, ctx, `Array.from(document.querySelectorAll("#login button"))
			.filter(b => b.getClientRects().length > 0 && !b.classList.contains("secondary")).length`)
		if n != 1 {
			t.Errorf("%s: %d primary buttons in view, want 1", what, n)
		}
	}
	loginOpen(t, ctx, s, "signed_out=1")
	if !strings.Contains(text(t, ctx, "notice-signed-out"), "signed out") {
		t.Error("no signed-out notice")
	}
	onePrimary("the username step")
	do(t, ctx, "open the lost-password help", chromedp.Click(chromedp.CSS("#forgot summary")))
	if !strings.Contains(text(t, ctx, "forgot"), "help@example.org") {
		t.Error("the lost-password help does not name the support contact")
	}
	loginType(t, ctx, "username", "tina")
	loginWaitFor(t, ctx, "recovery-link", "stop")
	if eval[bool](t, ctx, `document.querySelector("#verified details.key-details").open`) {
		t.Error("the key details are open from the start")
	}
	if kid := eval[string](t, ctx, `document.getElementById("verified-kid").textContent`); len(kid) != 43 {
		t.Errorf("the key under Details is %q", kid)
	}
	onePrimary("the code step")

	// Five wrong codes, then the sixth is throttled: the message counts down.
	for i := range 6 {
		loginType(t, ctx, "otp", "000000")
		if i < 5 {
			do(t, ctx, "wait for the refusal", chromedp.Poll[chromedp.Void](`!document.getElementById("error").hidden && !document.querySelector("#login button:disabled")`))
			do(t, ctx, "clear", clearInput("otp"))
		}
	}
	do(t, ctx, "wait for the throttle", chromedp.Poll[chromedp.Void](`document.getElementById("error").textContent.includes("Try again in")`))
	first := text(t, ctx, "error")
	time.Sleep(2200 * time.Millisecond)
	later := text(t, ctx, "error")
	if first == later || !strings.Contains(later, "Try again in") {
		t.Errorf("the throttle message does not count down: %q, then %q", first, later)
	}
	screenshot(t, ctx, "throttled")

	// A recovery code, then the password step carries the username.
	loginClick(t, ctx, "recovery-link")
	loginWaitFor(t, ctx, "recovery")
	loginType(t, ctx, "recovery", tina.Recovery[0])
	loginWaitFor(t, ctx, "password", "error")
	if !eval[bool](t, ctx, `!document.getElementById("password").hidden`) {
		t.Skipf("the recovery step is throttled too: %s", text(t, ctx, "error"))
	}
	if got := eval[string](t, ctx, `document.getElementById("password-username").value`); got != "tina" {
		t.Errorf("the password step's username field holds %q", got)
	}
	onePrimary("the password step")
	screenshot(t, ctx, "password-step")
}

// TestEnrollTOTPLockedToTheQRShown: once a QR code is shown, the set-up
// button is gone; only "Start again with a new key", which says the old
// entry stops working, makes a new secret.
func TestEnrollTOTPLockedToTheQRShown(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	enrollPasswordAndPhrase(t, ctx, s.AdminInvite(t, "quinn", "Quinn", false), "quinn")
	do(t, ctx, "show the QR code",
		chromedp.Click(chromedp.ID("totp-start")),
		chromedp.Poll[chromedp.Void](`document.getElementById("totp-secret").textContent.length > 0`),
	)
	first := text(t, ctx, "totp-secret")
	if eval[bool](t, ctx, `document.getElementById("totp-start").getClientRects().length > 0`) {
		t.Error("the set-up button is still there once the QR code is shown")
	}
	if hint := text(t, ctx, "totp-restart-hint"); !strings.Contains(hint, "stops working") {
		t.Errorf("the start-again hint says %q", hint)
	}
	screenshot(t, ctx, "totp-locked")
	do(t, ctx, "start again",
		chromedp.Click(chromedp.ID("totp-restart")),
		chromedp.Poll[chromedp.Void](`document.getElementById("totp-secret").textContent !== `+strconv.Quote(first)),
	)
}
