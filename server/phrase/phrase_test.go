package phrase

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	ok := map[string]string{
		"  blue otter  ":          "blue otter",
		"abc":                     "abc",
		"\tgolden tulip\n":        "golden tulip",
		"cafe\u0301 au lait":      "café au lait",
		strings.Repeat("é", 64):   strings.Repeat("é", 64),
		"famille 👨\u200d👩\u200d👧": "famille 👨\u200d👩\u200d👧",
	}
	for in, want := range ok {
		got, err := Clean(in)
		if err != nil || got != want {
			t.Errorf("Clean(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", "  ", "ab", "  ab  ",
		strings.Repeat("x", 65),
		"bell\a here",
		"two\nlines",
		"tab\tinside",
		"right\u202eto left",
		"zero\u200bwidth",
		"line\u2028sep",
		"bad \xff utf8",
	}
	for _, in := range bad {
		got, err := Clean(in)
		if err == nil {
			t.Errorf("Clean(%q) = %q, want an error", in, got)
			continue
		}
		var ie *InvalidError
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ie) || ie.Reason == "" {
			t.Errorf("Clean(%q): error %v is not an InvalidError with a reason", in, err)
		}
	}
}

func TestWordList(t *testing.T) {
	if n := WordCount(); n < 1000 {
		t.Fatalf("%d words, want at least 1000", n)
	}
	seen := map[string]bool{}
	for _, w := range words() {
		if seen[w] {
			t.Errorf("word %q repeated", w)
		}
		seen[w] = true
		if w != strings.ToLower(w) || strings.ContainsAny(w, " \t") || utf8.RuneCountInString(w) < 2 {
			t.Errorf("word %q is not a plain lower-case word", w)
		}
	}
}

func TestSuggest(t *testing.T) {
	inList := map[string]bool{}
	for _, w := range words() {
		inList[w] = true
	}
	seen := map[string]bool{}
	used := map[string]bool{}
	for range 500 {
		s, err := Suggest()
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(s, " ")
		if len(parts) != SuggestionWords {
			t.Fatalf("suggestion %q has %d words", s, len(parts))
		}
		for _, p := range parts {
			if !inList[p] {
				t.Fatalf("suggestion %q uses %q, not in the list", s, p)
			}
			used[p] = true
		}
		if cleaned, err := Clean(s); err != nil || cleaned != s {
			t.Fatalf("suggestion %q is not a valid phrase: %q, %v", s, cleaned, err)
		}
		if seen[s] {
			t.Fatalf("suggestion %q repeated", s)
		}
		seen[s] = true
	}
	// 2,000 draws from more than 1,000 words reach most of the list when the
	// draw is uniform; a broken draw (always the first words) does not.
	if len(used) < WordCount()/2 {
		t.Errorf("only %d of %d words ever drawn", len(used), WordCount())
	}
}
