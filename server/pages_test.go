package server

import (
	"regexp"
	"strings"
	"testing"
)

func TestRootSendsToSignInOrAccount(t *testing.T) {
	e := newLoginEnv(t, nil)
	m := e.enroll("rita")
	stranger := e.client().adminNoRedirects()
	if r := stranger.call("GET", "/", nil); r.status != 303 || r.header.Get("Location") != "/login" {
		t.Fatalf("GET / signed out: %d %q", r.status, r.header.Get("Location"))
	}
	b := e.client()
	b.login(m, "", "otp")
	b.adminNoRedirects()
	if r := b.call("GET", "/", nil); r.status != 303 || r.header.Get("Location") != "/account" {
		t.Fatalf("GET / signed in: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestFaviconServed(t *testing.T) {
	e := newLoginEnv(t, nil)
	r := e.client().call("GET", "/favicon.ico", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(r.body), "<svg") {
		t.Fatalf("favicon: %d %q", r.status, r.header.Get("Content-Type"))
	}
	page := e.client().call("GET", "/login", nil, "Accept", "text/html")
	if !strings.Contains(string(page.body), `rel="icon" href="/static/favicon.svg"`) {
		t.Fatal("the pages do not name their icon")
	}
	if r := e.client().call("GET", "/static/favicon.svg", nil); r.status != 200 {
		t.Fatalf("/static/favicon.svg: %d", r.status)
	}
}

func TestTOTPIssuerNamesTheProduct(t *testing.T) {
	for host, want := range map[string]string{
		"localhost": "mutualauth", "127.0.0.1": "mutualauth", "::1": "mutualauth",
		"login.example.com": "mutualauth (login.example.com)",
	} {
		if got := totpIssuer(host); got != want {
			t.Errorf("totpIssuer(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestCredentialTransportsInWords(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"internal"}, "built into the device"},
		{[]string{"usb", "nfc", "unknown-thing"}, "USB, NFC"},
		{[]string{"hybrid", "internal"}, "phone or tablet nearby, built into the device"},
		{nil, ""},
	} {
		var words []string
		for _, m := range (credentialView{Transports: c.in}).HowConnected() {
			words = append(words, m.English())
		}
		if got := strings.Join(words, ", "); got != c.want {
			t.Errorf("HowConnected(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Every button with an aria-label names its visible text in it (WCAG 2.5.3
// Label in Name; axe: label-content-name-mismatch).
func TestAccessibleNamesContainTheVisibleText(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root)
	e.adminSignIn(root) // a second session to end
	re := regexp.MustCompile(`(?s)<button[^>]*aria-label="([^"]*)"[^>]*>(.*?)</button>`)
	for _, path := range []string{"/admin/users/" + root.User.ID, "/admin", "/account"} {
		page := admin.adminPage(path)
		requireOK(t, path, page)
		found := re.FindAllStringSubmatch(string(page.body), -1)
		if path == "/admin/users/"+root.User.ID && len(found) == 0 {
			t.Fatal("the user page has no labelled buttons to check")
		}
		for _, m := range found {
			if visible := strings.TrimSpace(m[2]); !strings.Contains(strings.ToLower(m[1]), strings.ToLower(visible)) {
				t.Errorf("%s: button %q has the accessible name %q", path, visible, m[1])
			}
		}
	}
}

func TestLoginPageNotices(t *testing.T) {
	e := newLoginEnv(t, map[string]string{"MUTUALAUTH_SUPPORT_CONTACT": "help@example.org"})
	m := e.enroll("lena")
	page := func(b *loginClient, q string) string {
		r := b.call("GET", "/login"+q, nil, "Accept", "text/html")
		requireOK(t, "login page", r)
		return string(r.body)
	}
	stranger := e.client()
	if body := page(stranger, "?signed_out=1"); !strings.Contains(body, `id="notice-signed-out"`) || strings.Contains(body, "notice-signed-in") {
		t.Error("no signed-out notice")
	}
	body := page(stranger, "")
	if strings.Contains(body, "notice-signed-out") || !strings.Contains(body, `id="forgot"`) || !strings.Contains(body, "help@example.org") {
		t.Error("the plain page: a notice, or no lost-password help with the contact")
	}
	// Signed in with a recovery code: the page says so and counts the codes.
	b := e.client()
	b.login(m, "", "rec")
	body = page(b, "?signed_out=1")
	if !strings.Contains(body, "You are already signed in as lena.") || strings.Contains(body, "notice-signed-out") ||
		!strings.Contains(body, "you have 9 left") {
		t.Errorf("signed-in notice missing: %s", body)
	}
	if acct := b.call("GET", "/account", nil, "Accept", "text/html"); !strings.Contains(string(acct.body), `id="recovery-notice"`) {
		t.Error("the account page does not say the session began with a recovery code")
	}
	// Signing out from the account page leads to the notice.
	r := b.adminNoRedirects().acctForm("/account/signout", nil)
	if r.status != 303 || r.header.Get("Location") != "/login?signed_out=1" {
		t.Fatalf("sign out: %d %q", r.status, r.header.Get("Location"))
	}
}
