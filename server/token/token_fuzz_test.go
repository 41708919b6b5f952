package token

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzValid: every string Valid accepts is the canonical unpadded base64url
// of exactly 32 bytes, the form New makes; everything else is refused
// before it could reach a store lookup (session, device, invite and widget
// code tokens all go through Valid).
func FuzzValid(f *testing.F) {
	tok, _ := New()
	for _, s := range []string{tok, tok[:42], tok + "A", strings.ToUpper(tok), tok[:42] + "=", "",
		strings.Repeat("A", 43), strings.Repeat("_", 43), strings.Repeat("A", 42) + "B", strings.Repeat("/", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !Valid(s) {
			return
		}
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(raw) != Size {
			t.Fatalf("Valid(%q) but it decodes to %d bytes, %v", s, len(raw), err)
		}
		if again := base64.RawURLEncoding.EncodeToString(raw); again != s {
			t.Fatalf("Valid(%q) but its canonical form is %q", s, again)
		}
	})
}

// FuzzRecoveryCode: normalization is idempotent, a valid code is 12
// symbols of the alphabet after it, and the stored hash depends only on the
// normalized form, so what people type maps to one stored value.
func FuzzRecoveryCode(f *testing.F) {
	code, _ := RecoveryCode()
	for _, s := range []string{code, strings.ToUpper(code), " " + code + " ", strings.ReplaceAll(code, "-", ""),
		"iloo-ILOO-1100", "abcd-efgh-jkmn", "abcd-efgh-jkmu", "", "----", "ａｂｃｄ-ｅｆｇｈ-ｊｋｍｎ", "abcd\x00efgh\x00jkmn"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeRecoveryCode(s)
		if NormalizeRecoveryCode(n) != n {
			t.Fatalf("normalizing %q twice: %q then %q", s, n, NormalizeRecoveryCode(n))
		}
		if !Equal(HashRecoveryCode(s), HashRecoveryCode(n)) {
			t.Fatalf("%q and its normal form %q hash differently", s, n)
		}
		if !ValidRecoveryCode(s) {
			return
		}
		if len(n) != RecoveryCodeLen {
			t.Fatalf("ValidRecoveryCode(%q) with normal form %q of %d bytes", s, n, len(n))
		}
		for _, r := range n {
			if !strings.ContainsRune(recoveryAlphabet, r) {
				t.Fatalf("ValidRecoveryCode(%q) with %q outside the alphabet", s, r)
			}
		}
		if !ValidRecoveryCode(n) {
			t.Fatalf("%q is valid but its normal form %q is not", s, n)
		}
	})
}
