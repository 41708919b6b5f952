package i18n

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Every catalog has the same keys: a message missing from one fails here.
func TestCatalogsHaveTheSameKeys(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	en := c.Keys(Languages[0])
	if len(en) == 0 {
		t.Fatal("the English catalog is empty")
	}
	for _, tag := range Languages[1:] {
		for _, k := range en {
			if !c.Has(tag, k) {
				t.Errorf("%s lacks %q", tag, k)
			}
		}
		for _, k := range c.Keys(tag) {
			if !c.Has(Languages[0], k) {
				t.Errorf("%s has %q, which English lacks", tag, k)
			}
		}
	}
}

// Every key a template asks for ({{t "key" ...}}) is in every catalog.
func TestTemplatesUseOnlyKnownKeys(t *testing.T) {
	requireKnownKeys(t, "../*.html", `\{\{-?\s*t\s+"([^"]+)"`, 50)
}

// Every js.* key the scripts ask for (MA.t) is in every catalog.
func TestScriptsUseOnlyKnownKeys(t *testing.T) {
	requireKnownKeys(t, "../../web/*.js", `"(js\.[a-z0-9-]+)"`, 30)
}

// requireKnownKeys finds the keys that pattern's first group captures in
// the files of glob and fails on any that a catalog lacks, or when fewer
// than least are found.
func requireKnownKeys(t *testing.T, glob, pattern string, least int) {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: %v", glob, err)
	}
	use := regexp.MustCompile(pattern)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range use.FindAllStringSubmatch(string(b), -1) {
			n++
			for _, tag := range Languages {
				if !c.Has(tag, m[1]) {
					t.Errorf("%s uses %q, which the %s catalog lacks", filepath.Base(f), m[1], tag)
				}
			}
		}
	}
	if n < least {
		t.Fatalf("only %d keys found in %s", n, glob)
	}
}

func TestPluralsAndMissingKeys(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	en, de := c.Printer(Languages[0]), c.Printer(Languages[1])
	if got := en.T("enroll.password-hint", 1); !regexp.MustCompile(`^At least 1 character\.`).MatchString(got) {
		t.Errorf("English singular: %q", got)
	}
	if got := en.T("enroll.password-hint", 12); !regexp.MustCompile(`^At least 12 characters\.`).MatchString(got) {
		t.Errorf("English plural: %q", got)
	}
	if got := de.T("enroll.password-hint", 12); !regexp.MustCompile(`^Mindestens 12 Zeichen\.`).MatchString(got) {
		t.Errorf("German: %q", got)
	}
	if got := de.T("no.such.key"); got != "[no.such.key]" {
		t.Errorf("a missing key gives %q", got)
	}
}

func TestMatch(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ accept, cookie, want string }{
		{"", "", "en"},
		{"de-DE,de;q=0.9,en;q=0.8", "", "de"},
		{"de-AT", "", "de"},
		{"fr-FR, de;q=0.5", "", "de"},
		{"fr-FR", "", "en"},
		{"en-GB,en;q=0.9", "", "en"},
		{"de", "en", "en"},
		{"en", "de", "de"},
		{"en", "xx-garbage", "en"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", tc.accept)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: Cookie, Value: tc.cookie})
		}
		if got := c.Match(r).String(); got != tc.want {
			t.Errorf("Accept-Language %q, cookie %q: %s, want %s", tc.accept, tc.cookie, got, tc.want)
		}
	}
}

// A Message is put into words where it is shown, its Message arguments in
// the same language; it crosses JSON with its arguments' types.
func TestMessages(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	m := M("problem.weak-password", M("password.too-short", 12))
	if got := c.Printer(Languages[1]).Message(m); got != "Das Passwort muss mindestens 12 Zeichen lang sein." {
		t.Errorf("German: %q", got)
	}
	if got := m.English(); got != "The password must be at least 12 characters long." {
		t.Errorf("English: %q", got)
	}
	if got := c.Printer(Languages[1]).Message(Verbatim("as it is")); got != "as it is" {
		t.Errorf("verbatim: %q", got)
	}
	if !c.Complete(m) || c.Complete(M("problem.weak-password", M("no.such-key"))) {
		t.Error("Complete does not look into the arguments")
	}
	raw, err := json.Marshal(M("flash.admin-disabled", 2, "ina"))
	if err != nil {
		t.Fatal(err)
	}
	var back Message
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if got := c.Printer(Languages[0]).Message(back); got != "ina is disabled; 2 sessions were ended." {
		t.Errorf("after JSON: %q (%s)", got, raw)
	}
	if _, err := json.Marshal(M("x.y", 1.5)); err == nil {
		t.Error("a float argument is encoded")
	}
	for _, bad := range []string{`{"k":"x.y","a":[true]}`, `{"k":"x.y","a":[1.5]}`, `{"k":"x.y","a":[null]}`,
		`{"k":"x","a":[{"k":"x","a":[{"k":"x","a":[{"k":"x","a":[{"k":"x","a":[{"k":"x"}]}]}]}]}]}`} {
		if json.Unmarshal([]byte(bad), &back) == nil {
			t.Errorf("%s is read", bad)
		}
	}
}
