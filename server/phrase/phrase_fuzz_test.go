package phrase

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzClean: a cleaned phrase is NFC, trimmed, MinLength to MaxLength code
// points of valid UTF-8 without control, line-separating or formatting
// characters (but the zero width joiner of emoji sequences), and cleaning
// it again changes nothing, so what is stored is what a later comparison
// sees. Refusals are *InvalidError.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"green kettle", "  e\u0301te  ", "ab", strings.Repeat("x", 65), "a\u200bb c", "👩\u200d💻 at work",
		"line\u2028break", "tab\there", "\xff\xfe", "{{.Secret}} <script>", "'; DROP TABLE users; --", "\u202eevil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Clean(s)
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, ErrInvalid) || c != "" {
				t.Fatalf("Clean(%q) = %q, %v", s, c, err)
			}
			return
		}
		n := utf8.RuneCountInString(c)
		if !utf8.ValidString(c) || n < MinLength || n > MaxLength || c != strings.TrimSpace(c) || !norm.NFC.IsNormalString(c) {
			t.Fatalf("Clean(%q) = %q", s, c)
		}
		for _, r := range c {
			if unicode.In(r, unicode.Cc, unicode.Zl, unicode.Zp) || (unicode.Is(unicode.Cf, r) && r != zeroWidthJoiner) {
				t.Fatalf("Clean(%q) = %q holds %U", s, c, r)
			}
		}
		if again, err := Clean(c); err != nil || again != c {
			t.Fatalf("Clean(%q) = %q, but cleaning that gives %q, %v", s, c, again, err)
		}
	})
}
