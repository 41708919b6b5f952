package token

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// recoveryAlphabet is Crockford's base 32 in lower case.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

const (
	recoveryGroups    = 3
	recoveryGroupSize = 4
	// RecoveryCodeLen is the number of symbols in a recovery code (60 bits).
	RecoveryCodeLen = recoveryGroups * recoveryGroupSize
)

// RecoveryCode returns a new one-time recovery code such as "7kq2-m9xd-a4tv":
// 12 symbols of 5 random bits each.
func RecoveryCode() (string, error) {
	var raw [RecoveryCodeLen]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("token: reading random bytes: %w", err)
	}
	var b strings.Builder
	b.Grow(RecoveryCodeLen + recoveryGroups - 1)
	for i, r := range raw {
		if i > 0 && i%recoveryGroupSize == 0 {
			b.WriteByte('-')
		}
		// 256 is a multiple of 32, so the low five bits are uniform.
		b.WriteByte(recoveryAlphabet[r&31])
	}
	return b.String(), nil
}

// NormalizeRecoveryCode returns the canonical form of a typed recovery code:
// lower case, without spaces, tabs or dashes, with i and l read as 1 and o as
// 0. Other characters are kept, so a wrong code stays wrong.
func NormalizeRecoveryCode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '\t', '\n', '\r', '-':
		case 'i', 'l':
			b.WriteByte('1')
		case 'o':
			b.WriteByte('0')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ValidRecoveryCode reports whether the normalized form of s has the shape
// of a recovery code: 12 symbols of the alphabet.
func ValidRecoveryCode(s string) bool {
	n := NormalizeRecoveryCode(s)
	if len(n) != RecoveryCodeLen {
		return false
	}
	for i := 0; i < len(n); i++ {
		if strings.IndexByte(recoveryAlphabet, n[i]) < 0 {
			return false
		}
	}
	return true
}

// HashRecoveryCode returns the SHA-256 of the normalized code, the form
// stored by the store's RecoveryCodes.
func HashRecoveryCode(s string) []byte {
	return Hash(NormalizeRecoveryCode(s))
}
