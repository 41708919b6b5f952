package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 43 {
			t.Fatalf("token %q has length %d, want 43", tok, len(tok))
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q: %d bytes, %v", tok, len(raw), err)
		}
		if !Valid(tok) {
			t.Fatalf("Valid(%q) = false for a new token", tok)
		}
		if seen[tok] {
			t.Fatal("token repeated")
		}
		seen[tok] = true
	}
}

func TestNewN(t *testing.T) {
	for _, n := range []int{16, 24, 32, 64} {
		tok, err := NewN(n)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != n {
			t.Errorf("NewN(%d) gave %d bytes, %v", n, len(raw), err)
		}
	}
	for _, n := range []int{-1, 0, 1, 15} {
		if _, err := NewN(n); err == nil {
			t.Errorf("NewN(%d): no error", n)
		}
	}
}

func TestHash(t *testing.T) {
	tok, _ := New()
	want := sha256.Sum256([]byte(tok))
	if !bytes.Equal(Hash(tok), want[:]) {
		t.Error("Hash is not SHA-256 of the token text")
	}
	if HashHex(tok) != hex.EncodeToString(want[:]) {
		t.Error("HashHex is not the hex SHA-256")
	}
	other, _ := New()
	if bytes.Equal(Hash(tok), Hash(other)) {
		t.Error("different tokens hash alike")
	}
}

func TestValid(t *testing.T) {
	good, _ := New()
	// 43 characters encode 258 bits; the last character's two low bits must be zero.
	nonCanonical := good[:42] + "B"
	cases := map[string]bool{
		good:                                 true,
		strings.Repeat("A", 43):              true,
		"":                                   false,
		good[:42]:                            false,
		good + "A":                           false,
		good + "=":                           false,
		strings.Repeat("A", 42) + "=":        false,
		strings.Repeat("+", 43):              false,
		strings.Repeat("/", 43):              false,
		strings.Repeat("A", 42) + ".":        false,
		strings.Repeat("A", 42) + "é"[:1]:    false,
		nonCanonical:                         false,
		strings.Repeat("A", 42) + "\x00":     false,
		strings.Repeat("-_", 21) + "A":       true,
		strings.Repeat(" ", 43):              false,
		strings.Repeat("A", 41) + "\n" + "A": false,
	}
	for tok, want := range cases {
		if got := Valid(tok); got != want {
			t.Errorf("Valid(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestEqual(t *testing.T) {
	a := Hash("a")
	if !Equal(a, Hash("a")) {
		t.Error("equal hashes reported different")
	}
	if Equal(a, Hash("b")) {
		t.Error("different hashes reported equal")
	}
	if Equal(a, a[:31]) {
		t.Error("prefix reported equal")
	}
	if !Equal(nil, []byte{}) {
		t.Error("two empty values reported different")
	}
}

func TestRecoveryCode(t *testing.T) {
	counts := map[rune]int{}
	seen := map[string]bool{}
	const n = 2000
	for range n {
		code, err := RecoveryCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != 14 || code[4] != '-' || code[9] != '-' {
			t.Fatalf("code %q is not xxxx-xxxx-xxxx", code)
		}
		if !ValidRecoveryCode(code) {
			t.Fatalf("ValidRecoveryCode(%q) = false", code)
		}
		if NormalizeRecoveryCode(code) != strings.ReplaceAll(code, "-", "") {
			t.Fatalf("a fresh code %q is not already normalized apart from dashes", code)
		}
		for _, r := range strings.ReplaceAll(code, "-", "") {
			if !strings.ContainsRune(recoveryAlphabet, r) {
				t.Fatalf("code %q has symbol %q outside the alphabet", code, r)
			}
			counts[r]++
		}
		if seen[code] {
			t.Fatal("recovery code repeated")
		}
		seen[code] = true
	}
	// 24,000 symbols over 32 letters: 750 expected each; every symbol must occur
	// and none may be wildly over- or under-represented.
	if len(counts) != 32 {
		t.Errorf("%d distinct symbols used, want 32", len(counts))
	}
	for r, c := range counts {
		if c < 500 || c > 1000 {
			t.Errorf("symbol %q drawn %d times of 24000", r, c)
		}
	}
	for _, bad := range "ilou" {
		if strings.ContainsRune(recoveryAlphabet, bad) {
			t.Errorf("alphabet contains ambiguous %q", bad)
		}
	}
	if len(recoveryAlphabet) != 32 {
		t.Errorf("alphabet has %d symbols", len(recoveryAlphabet))
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	cases := map[string]string{
		"7kq2-m9xd-a4tv":   "7kq2m9xda4tv",
		"7KQ2 M9XD A4TV":   "7kq2m9xda4tv",
		" 7kq2m9xd-a4tv\n": "7kq2m9xda4tv",
		"7kq2--m9xd\ta4tv": "7kq2m9xda4tv",
		"OIL0-0000-0000":   "0110" + "00000000",
		"abc!":             "abc!",
		"":                 "",
	}
	for in, want := range cases {
		if got := NormalizeRecoveryCode(in); got != want {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHashRecoveryCodeLoose(t *testing.T) {
	code, err := RecoveryCode()
	if err != nil {
		t.Fatal(err)
	}
	want := HashRecoveryCode(code)
	typed := []string{
		strings.ToUpper(code),
		strings.ReplaceAll(code, "-", ""),
		strings.ReplaceAll(code, "-", " "),
		" " + code + " ",
	}
	for _, s := range typed {
		if !Equal(HashRecoveryCode(s), want) {
			t.Errorf("%q does not hash like %q", s, code)
		}
	}
	if !bytes.Equal(want, Hash(NormalizeRecoveryCode(code))) {
		t.Error("HashRecoveryCode is not the hash of the normalized form")
	}
	other, _ := RecoveryCode()
	if other != code && Equal(HashRecoveryCode(other), want) {
		t.Error("different codes hash alike")
	}
}

func TestValidRecoveryCode(t *testing.T) {
	cases := map[string]bool{
		"7kq2-m9xd-a4tv":  true,
		"7KQ2M9XDA4TV":    true,
		"7kq2-m9xd-a4t":   false,
		"7kq2-m9xd-a4tvv": false,
		"7kq2-m9xd-a4tu":  false,
		"7kq2-m9xd-a4t!":  false,
		"":                false,
	}
	for in, want := range cases {
		if got := ValidRecoveryCode(in); got != want {
			t.Errorf("ValidRecoveryCode(%q) = %v, want %v", in, got, want)
		}
	}
}
