package server

import (
	"encoding/base64"
	"html"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

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

// Every message key the Go code names (problem details, flash messages,
// page titles, the labels of the account and admin pages) is in every
// catalog, and the catalogs' status titles are http.StatusText's in
// English: a text built in Go without a German entry fails here.
func TestGoTextsAreInEveryCatalog(t *testing.T) {
	cat, err := i18n.Default()
	if err != nil {
		t.Fatal(err)
	}
	namespaces := map[string]bool{}
	for _, k := range cat.Keys(i18n.Languages[0]) {
		namespaces[strings.SplitN(k, ".", 2)[0]] = true
	}
	// A string literal shaped like a key of the catalogs' namespaces; file
	// names (login.js) and the audit log's action names (audit/, recorded
	// data, not text for people) look the same and are left out.
	literal := regexp.MustCompile(`"([a-z]+)\.([a-z0-9-]+)"`)
	files := map[string]bool{"js": true, "css": true, "html": true, "json": true, "svg": true}
	// Where the code takes a key, a literal must be one: English passed
	// there by mistake would show as "[English]".
	keyArg := regexp.MustCompile(`(?:NewProblem\([^,()]+,\s*"[^"]*",|badRequest\(|i18n\.M\(|flashOf\([^,()]+,|tr\(c,|invalid(?:OTP|Phrase|Credential)?\(|weak\()\s*"([^"]*)"\s*[,)]`)
	keyArgs := 0
	found := 0
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && (path == "audit" || path == "testdata") {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range keyArg.FindAllStringSubmatch(string(src), -1) {
			keyArgs++
			if !cat.Complete(i18n.M(m[1])) {
				t.Errorf("%s passes %q where a message key belongs", path, m[1])
			}
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			if !namespaces[m[1]] || m[1] == "js" || files[m[2]] {
				continue
			}
			found++
			if !cat.Complete(i18n.M(m[1] + "." + m[2])) {
				t.Errorf("%s names %s.%s, which a catalog lacks", path, m[1], m[2])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 150 || keyArgs < 100 {
		t.Fatalf("only %d message keys found in the Go code, %d of them where a key belongs", found, keyArgs)
	}
	// Keys the code puts together.
	for _, m := range []string{"pwd", "otp", "hwk", "rec", "swk"} {
		if !cat.Complete(i18n.M("amr." + m)) {
			t.Errorf("no name for the method %s", m)
		}
	}
	en := cat.Printer(i18n.Languages[0])
	for status := 100; status < 600; status++ {
		key := "status." + strconv.Itoa(status)
		if en.Has(key) && en.T(key) != http.StatusText(status) {
			t.Errorf("%s is %q in English, http.StatusText says %q", key, en.T(key), http.StatusText(status))
		}
	}
	for _, status := range []int{400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 501, 503} {
		if statusTitle(status).Key == "" {
			t.Errorf("the status %d has no title in the catalogs", status)
		}
	}
}

// A flash message crosses the redirect as its key and arguments, nested
// messages included; a cookie with a key the catalogs lack, an argument of
// another type or an overlong one is dropped.
func TestFlashCarriesTheMessageNotItsWords(t *testing.T) {
	f := flashes{Cookie: accountFlashCookie, Path: "/account"}
	e := echo.New()
	roundTrip := func(value string) *flash {
		req := httptest.NewRequest("GET", "/account", nil)
		req.AddCookie(&http.Cookie{Name: f.Cookie, Value: value})
		return f.take(e.NewContext(req, httptest.NewRecorder()))
	}
	rec := httptest.NewRecorder()
	long := strings.Repeat("ü", maxFlashArg+50)
	f.set(e.NewContext(httptest.NewRequest("POST", "/account", nil), rec), flash{Kind: flashError,
		Message: i18n.M("problem.weak-password", i18n.M("password.too-short", 12)), Offer: 2})
	f.set(e.NewContext(httptest.NewRequest("POST", "/account", nil), rec), flashOf(flashSuccess, "flash.passkey-renamed", long))
	cookies := rec.Result().Cookies()
	if len(cookies) != 2 {
		t.Fatalf("%d cookies", len(cookies))
	}
	got := roundTrip(cookies[0].Value)
	if got == nil || got.Kind != flashError || got.Offer != 2 {
		t.Fatalf("round trip: %+v", got)
	}
	de := catalog().Printer(i18n.Languages[1])
	if w := de.Message(got.Message); w != "Das Passwort muss mindestens 12 Zeichen lang sein." {
		t.Errorf("German: %q", w)
	}
	if w := got.Message.English(); w != "The password must be at least 12 characters long." {
		t.Errorf("English: %q", w)
	}
	if got := roundTrip(cookies[1].Value); got == nil || got.Message.Args[0] != strings.Repeat("ü", maxFlashArg) {
		t.Errorf("a long argument is not cut to %d code points: %+v", maxFlashArg, got)
	}
	for _, raw := range []string{
		`{"k":"error","m":{"k":"no.such-key"}}`,
		`{"k":"error","m":{"k":"flash.admin-enabled","a":[true]}}`,
		`{"k":"error","m":{"k":"flash.admin-enabled","a":["` + long + `"]}}`,
		`{"k":"error","m":{"k":"problem.weak-password","a":[{"k":"no.such-key"}]}}`,
		`{"k":"error","m":{"a":["verbatim text"]}}`,
		`{"k":"info","m":{"k":"flash.admin-enabled","a":["x"]}}`,
		`{"k":"error","t":"an old flash's text"}`,
	} {
		if got := roundTrip(base64.RawURLEncoding.EncodeToString([]byte(raw))); got != nil {
			t.Errorf("%s is taken: %+v", raw, got)
		}
	}
}

// Problem documents speak German only to a request that asks for it
// (Accept-Language or the switch's cookie), and say so in
// Content-Language; without either the body is the English it always was,
// byte for byte. Type, status and code are the same in every language.
func TestProblemsSpeakTheLanguageAskedFor(t *testing.T) {
	e := newLoginEnv(t, nil)
	b := e.client()
	begin := func(hdr ...string) httpReply {
		return b.call("POST", "/api/v1/login/begin", map[string]any{"username": "x", "client_nonce": "short"}, hdr...)
	}
	en := begin()
	const want = `{"type":"urn:mutualauth:problem:invalid_nonce","title":"Bad Request","status":400,` +
		`"detail":"client_nonce must be 16 to 64 random bytes in unpadded base64url.","code":"invalid_nonce"}` + "\n"
	if string(en.body) != want || en.header.Get("Content-Language") != "" {
		t.Errorf("without Accept-Language: %s (Content-Language %q)", en.body, en.header.Get("Content-Language"))
	}
	if vary := strings.Join(en.header.Values("Vary"), ", "); !strings.Contains(vary, "Accept-Language") {
		t.Errorf("Vary %q", vary)
	}
	de := begin("Accept-Language", "de-CH, en;q=0.5")
	p := requireProblem(t, "German", de, 400, "invalid_nonce")
	if p.Type != "urn:mutualauth:problem:invalid_nonce" || p.Title != "Ungültige Anfrage" ||
		p.Detail != "client_nonce muss aus 16 bis 64 zufälligen Bytes bestehen, in base64url ohne Auffüllung." ||
		de.header.Get("Content-Language") != "de" {
		t.Errorf("German: %s (Content-Language %q)", de.body, de.header.Get("Content-Language"))
	}
	fr := begin("Accept-Language", "fr")
	if p := requireProblem(t, "French", fr, 400, "invalid_nonce"); p.Detail != "client_nonce must be 16 to 64 random bytes in unpadded base64url." ||
		fr.header.Get("Content-Language") != "en" {
		t.Errorf("French gets %s (Content-Language %q)", fr.body, fr.header.Get("Content-Language"))
	}
	b.setCookie(i18n.Cookie, "de")
	if p := requireProblem(t, "the switch's cookie", begin(), 400, "invalid_nonce"); p.Title != "Ungültige Anfrage" {
		t.Errorf("the language cookie is not followed: %+v", p)
	}

	// A refusal with its reason inside, from the domain packages.
	ts := newTestServer(t, testOptions{FastHash: true})
	tok, _ := ts.invite(t, "wanda", "Wanda")
	for lang, want := range map[string]string{"de": "Das Passwort muss mindestens 12 Zeichen lang sein.",
		"": "The password must be at least 12 characters long."} {
		var p Problem
		var hdr []string
		if lang != "" {
			hdr = []string{"Accept-Language", lang}
		}
		r := ts.do(t, "POST", "/api/v1/enroll/"+tok+"/password", map[string]any{"password": "short"}, &p, hdr...)
		if r.StatusCode != 422 || p.Code != "weak_password" || p.Detail != want {
			t.Errorf("weak password (%q): %d %+v", lang, r.StatusCode, p)
		}
	}
}

// The pages put what Go composed into their own language: the error page
// (its title and the problem's detail), and the flash messages of the
// account page and the admin center, successes and refusals.
func TestPagesShowGoTextsInGerman(t *testing.T) {
	e := newLoginEnv(t, nil)
	noMarker := func(what string, body []byte) {
		t.Helper()
		if i := strings.Index(string(body), ">["); i >= 0 {
			t.Errorf("%s shows a missing message: %s", what, body[i:min(i+60, len(body))])
		}
	}

	page := e.client().call("GET", "/enroll/"+strings.Repeat("A", 43), nil, "Accept", "text/html", "Accept-Language", "de")
	body := string(page.body)
	for _, want := range []string{`<html lang="de">`, "<title>Nicht gefunden · mutualauth</title>", "<h1>Nicht gefunden</h1>",
		"Dieser Einladungslink ist nicht gültig: Er ist unbekannt, wurde schon benutzt oder ist abgelaufen."} {
		if !strings.Contains(body, want) {
			t.Errorf("the German error page lacks %q: %s", want, body)
		}
	}
	if page.status != 404 || page.header.Get("Content-Language") != "de" {
		t.Errorf("error page: %d, Content-Language %q", page.status, page.header.Get("Content-Language"))
	}
	noMarker("the error page", page.body)
	if en := e.client().call("GET", "/enroll/"+strings.Repeat("A", 43), nil, "Accept", "text/html"); !strings.Contains(string(en.body), "<h1>Not Found</h1>") ||
		!strings.Contains(string(en.body), "This enrollment link is not valid") {
		t.Errorf("the English error page: %s", en.body)
	}

	// The account page: a success and a refusal, posted in German.
	m := e.enroll("gerda")
	b := e.acctSignIn(m)
	german := []string{"Accept-Language", "de-DE,de;q=0.9"}
	flashText := func(what string) string {
		t.Helper()
		r := b.call("GET", "/account", nil, append([]string{"Accept", "text/html"}, german...)...)
		requireOK(t, what, r)
		noMarker(what, r.body)
		f := regexp.MustCompile(`(?s)<p id="flash-text">(.*?)</p>`).FindSubmatch(r.body)
		if f == nil {
			t.Fatalf("%s: no flash message", what)
		}
		return html.UnescapeString(string(f[1]))
	}
	acctStatus(t, "sign out elsewhere", b.acctForm("/account/sessions/revoke-others", nil, german...), 303)
	if got := flashText("after signing out elsewhere"); got != "Sie wurden überall sonst abgemeldet." {
		t.Errorf("success flash %q", got)
	}
	acctStatus(t, "password without reauth", b.acctForm("/account/password", url.Values{"password": {"a new long password 42"}}, german...), 303)
	if got := flashText("after a refused change"); !strings.HasPrefix(got, "Bestätigen Sie zuerst, dass Sie es sind") {
		t.Errorf("refusal flash %q", got)
	}
	// The language is chosen when the page is shown, not when the post is.
	acctStatus(t, "sign out elsewhere", b.acctForm("/account/sessions/revoke-others", nil, german...), 303)
	german = nil
	if got := flashText("in English"); got != "You were signed out everywhere else." {
		t.Errorf("the English page shows %q", got)
	}

	// The admin center, chosen with the language switch's cookie.
	root := e.enrollAdmin("root")
	admin := e.adminSignIn(root).adminNoRedirects()
	admin.setCookie(i18n.Cookie, "de")
	r := admin.adminFollow(t, "disable unconfirmed", admin.adminForm("/admin/users/"+m.User.ID+"/disable", nil))
	if !strings.Contains(string(r.body), "Setzen Sie das Häkchen zur Bestätigung, um das Konto zu deaktivieren.") {
		t.Errorf("admin refusal flash: %.3000s", r.body)
	}
	r = admin.adminFollow(t, "disable", admin.adminForm("/admin/users/"+m.User.ID+"/disable", url.Values{"confirm": {"yes"}}))
	if !strings.Contains(string(r.body), "gerda ist deaktiviert; 1 Sitzung wurde beendet.") {
		t.Errorf("admin success flash: %.3000s", r.body)
	}
	noMarker("the admin user page", r.body)
	r = admin.adminForm("/admin/users", url.Values{"username": {"two words"}})
	if r.status != 422 || !strings.Contains(string(r.body), "Ein Benutzername hat 1 bis 64 Buchstaben") {
		t.Errorf("admin form error: %d %.3000s", r.status, r.body)
	}
}
