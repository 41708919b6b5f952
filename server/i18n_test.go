package server

import (
	"net/http"
	"strings"
	"testing"

	"mutualauth/templates/i18n"
)

// The pages speak the language Accept-Language asks for, or the one the
// language switch chose; a missing message would show as [key].
func TestPagesFollowTheLanguage(t *testing.T) {
	ts := newTestServer(t, testOptions{FastHash: true})
	tok, _ := ts.invite(t, "dora", "Dora")
	page := func(hdr ...string) string {
		r := ts.do(t, "GET", "/enroll/"+tok, nil, nil, append([]string{"Accept", "text/html"}, hdr...)...)
		if r.StatusCode != 200 {
			t.Fatalf("enroll page: %d", r.StatusCode)
		}
		if !strings.Contains(r.Header.Get("Vary"), "Accept-Language") {
			t.Errorf("Vary %q", r.Header.Get("Vary"))
		}
		return string(readBody(t, r))
	}
	de := page("Accept-Language", "de-AT,de;q=0.9,en;q=0.5")
	for _, want := range []string{`<html lang="de">`, "Konto einrichten", "Mindestens 12 Zeichen", "Passwort speichern", `hreflang="de" aria-current="true"`} {
		if !strings.Contains(de, want) {
			t.Errorf("German page lacks %q", want)
		}
	}
	en := page("Accept-Language", "fr-FR,fr;q=0.9")
	if !strings.Contains(en, `<html lang="en">`) || !strings.Contains(en, "Set up your account") {
		t.Error("a French browser does not get the English page")
	}
	for _, body := range []string{de, en} {
		if i := strings.Index(body, ">["); i >= 0 && strings.Contains(body[i:min(i+60, len(body))], ".") {
			t.Errorf("a message is missing: %s", body[i:min(i+60, len(body))])
		}
	}

	// The switch keeps the choice in a cookie and goes back.
	noRedirect := &http.Client{Jar: ts.Client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for back, want := range map[string]string{"/enroll/" + tok: "/enroll/" + tok, "//evil.example/": "/", "https://evil.example/": "/", "/\\evil": "/"} {
		resp, err := noRedirect.Get(ts.URL + "/lang?to=de&back=" + back)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 303 || resp.Header.Get("Location") != want {
			t.Errorf("switch back to %q: %d %q, want %q", back, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	if ts.cookie(i18n.Cookie) != "de" {
		t.Fatalf("language cookie %q", ts.cookie(i18n.Cookie))
	}
	if got := page("Accept-Language", "en"); !strings.Contains(got, "Konto einrichten") {
		t.Error("the switch's choice does not win over Accept-Language")
	}
	resp, err := noRedirect.Get(ts.URL + "/lang?to=xx&back=/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("an unsupported language: %d", resp.StatusCode)
	}
}

// The admin center in German shows no message marker: the status badges'
// keys (composed in Go) are in the catalog too.
func TestAdminPagesInGermanHaveEveryMessage(t *testing.T) {
	e := newLoginEnv(t, nil)
	root := e.enrollAdmin("root")
	b := e.adminSignIn(root)
	b.call("POST", "/api/v1/admin/users", map[string]any{"username": "ina"})
	for _, path := range []string{"/admin", "/admin/users/" + root.User.ID, "/admin/audit", "/admin/clients", "/account"} {
		r := b.call("GET", path, nil, "Accept", "text/html", "Accept-Language", "de")
		requireOK(t, path, r)
		body := string(r.body)
		if i := strings.Index(body, ">["); i >= 0 {
			t.Errorf("%s shows a missing message: %s", path, body[i:min(i+60, len(body))])
		}
		if !strings.Contains(body, `<html lang="de">`) {
			t.Errorf("%s is not in German", path)
		}
	}
	if r := b.call("GET", "/admin", nil, "Accept", "text/html", "Accept-Language", "de"); !strings.Contains(string(r.body), "Eingeladen") {
		t.Error("the invited user's badge is not in German")
	}
}
