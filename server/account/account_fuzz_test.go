package account

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzNormalizeUsername: an accepted username is non-empty valid UTF-8 of at
// most MaxUsernameLength code points, without spaces, controls or other
// characters PRECIS disallows, and normalizing it again changes nothing
// (RFC 8265 §3.3.2: the enforcement rules are idempotent), so one stored
// name is found by every spelling that maps to it.
func FuzzNormalizeUsername(f *testing.F) {
	for _, s := range []string{"alice", " Alice ", "ALICE", "ǅemal", "ﬀ", "Ⅸ", "I\u0307", "ß", "Σίσυφος",
		"robert');drop-table-users;--", "a\x00b", "a\tb", "a b", "\u202eevil", "\xff", strings.Repeat("a", 64),
		strings.Repeat("a", 65), "ｆｕｌｌｗｉｄｔｈ", "e\u0301", "\U0001F600", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeUsername(s)
		if err != nil {
			if n != "" {
				t.Fatalf("refused %q but returned %q", s, n)
			}
			return
		}
		if n == "" || !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxUsernameLength {
			t.Fatalf("NormalizeUsername(%q) = %q", s, n)
		}
		for _, r := range n {
			if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
				t.Fatalf("NormalizeUsername(%q) = %q holds %U", s, n, r)
			}
		}
		again, err := NormalizeUsername(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeUsername(%q) = %q, but normalizing that gives %q, %v", s, n, again, err)
		}
	})
}

// FuzzNormalizeOrigin: an accepted origin is an RFC 6454 serialized origin,
// scheme://host[:port] with a lower-case http or https scheme and host, no
// user info, path, query or fragment and no default port, and normalizing
// it again changes nothing. Widget client origins are compared as strings
// against browser Origin headers, so anything looser would let a
// look-alike through.
func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{"https://shop.example", "HTTPS://Shop.Example:443/", "http://localhost:8080",
		"http://[::1]:80", "https://user@shop.example", "https://shop.example/path", "https://shop.example?q",
		"https://shop.example#f", "javascript:alert(1)", "https://", "//shop.example", "https://shop.example:99999",
		"https://shop.example.", "https://xn--bcher-kva.example", "https://bücher.example", "https://a\x00b.example",
		"https://[::ffff:127.0.0.1]", "https://shop.example:0443", " https://shop.example "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := NormalizeOrigin(s)
		if err != nil {
			return
		}
		u, perr := url.Parse(o)
		if perr != nil {
			t.Fatalf("NormalizeOrigin(%q) = %q, which does not parse: %v", s, o, perr)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Path != "" ||
			u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(o, "/") {
			t.Fatalf("NormalizeOrigin(%q) = %q is not scheme://host[:port]", s, o)
		}
		if u.Scheme+"://"+u.Host != o || strings.ToLower(o) != o {
			t.Fatalf("NormalizeOrigin(%q) = %q is not in serialized form", s, o)
		}
		if (u.Scheme == "http" && u.Port() == "80") || (u.Scheme == "https" && u.Port() == "443") {
			t.Fatalf("NormalizeOrigin(%q) = %q keeps the default port", s, o)
		}
		again, err := NormalizeOrigin(o)
		if err != nil || again != o {
			t.Fatalf("NormalizeOrigin(%q) = %q, but normalizing that gives %q, %v", s, o, again, err)
		}
	})
}
