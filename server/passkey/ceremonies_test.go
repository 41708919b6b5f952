package passkey

import (
	"strings"
	"testing"
	"time"
)

func TestCredentialName(t *testing.T) {
	now := time.Date(2025, 3, 4, 23, 0, 0, 0, time.FixedZone("x", -5*3600))
	cases := map[string]string{
		"":                         "Passkey 2025-03-05",
		"   ":                      "Passkey 2025-03-05",
		" Laptop ":                 "Laptop",
		"Blue\u202e key\n":         "Blue key",
		strings.Repeat("é", 70):    strings.Repeat("é", 64),
		"bad \xff":                 "Passkey 2025-03-05",
		"\x00\x01":                 "Passkey 2025-03-05",
		"YubiKey 5 NFC (office) ✓": "YubiKey 5 NFC (office) ✓",
	}
	for in, want := range cases {
		if got := CredentialName(in, now); got != want {
			t.Errorf("CredentialName(%q) = %q, want %q", in, got, want)
		}
	}
}
