package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestGermanErrorPageAndStopScreen chooses German with the language switch
// and, on a phone-wide screen, opens the error page (its title and the
// problem's detail are composed by the server) and drives the login page
// to the stop screen of a key change (title, reason and advice are the
// script's): every text is German, none is a missing message's [key].
func TestGermanErrorPageAndStopScreen(t *testing.T) {
	s := startServer(t, ServerOptions{})
	ctx := newBrowser(t)
	_, fakeKID := loginOtherJWKS(t)
	requireGerman := func(what string, want ...string) {
		t.Helper()
		body := eval[string](t, ctx, `document.body.innerText`)
		if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "de" {
			t.Errorf("%s: lang %q", what, lang)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, body)
			}
		}
		if i := strings.Index(body, "["); i >= 0 && strings.Contains(body[i:min(i+40, len(body))], ".") {
			t.Errorf("%s shows a missing message: %s", what, body[i:min(i+60, len(body))])
		}
		checkFitsPhone(t, ctx, what)
	}

	bogus := "/enroll/" + strings.Repeat("A", 43)
	do(t, ctx, "switch to German on the error page", chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(s.URL()+"/lang?to=de&back="+bogus), chromedp.WaitVisible(chromedp.CSS("h1")))
	if title := eval[string](t, ctx, `document.title`); title != "Nicht gefunden · mutualauth" {
		t.Errorf("error page title %q", title)
	}
	requireGerman("the error page", "Nicht gefunden",
		"Dieser Einladungslink ist nicht gültig: Er ist unbekannt, wurde schon benutzt oder ist abgelaufen.",
		"Zur Anmeldeseite")
	screenshot(t, ctx, "error-page-de-phone")

	loginOpen(t, ctx, s, "")
	loginJS[bool](t, ctx, `localStorage.setItem(a, b); return true;`, loginPinKey, fakeKID)
	loginType(t, ctx, "username", "nobody")
	loginWaitFor(t, ctx, "stop", "password")
	st := loginReadPage(t, ctx)
	if !st.Stop || st.Password || len(st.Inputs) != 0 {
		t.Fatalf("the page did not stop: %+v", st)
	}
	requireGerman("the stop screen",
		"Der Schlüssel des Servers hat sich auf eine Weise geändert, die dieser Browser nicht prüfen kann.",
		"Geben Sie Ihr Passwort nicht ein.",
		"Was passiert ist: Der Server signiert mit einem Schlüssel, zu dem keine signierte Übergabe von dem Schlüssel führt, dem dieser Browser vertraut hat.",
		"Schlüssel, dem dieser Browser bisher vertraut hat", fakeKID,
		"Vergleichen Sie den Schlüssel, den der Server jetzt benutzt")
	screenshot(t, ctx, "stop-key-changed-de-phone")
}
