package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Size is the number of random bytes in a token made by New.
const Size = 32

// MinSize is the fewest random bytes NewN accepts (128 bits).
const MinSize = 16

// EncodedLen is the length of a token made by New: ⌈256/6⌉ characters.
const EncodedLen = (Size*8 + 5) / 6

// New returns a token of 32 random bytes as unpadded base64url (43 characters).
func New() (string, error) {
	return NewN(Size)
}

// NewN returns a token of n random bytes (n ≥ 16) as unpadded base64url.
func NewN(n int) (string, error) {
	if n < MinSize {
		return "", fmt.Errorf("token: %d random bytes requested, at least %d needed", n, MinSize)
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash returns the SHA-256 of the token text, the form in which tokens are stored.
func Hash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// HashHex returns Hash as lower-case hex.
func HashHex(tok string) string {
	var h [sha256.Size]byte
	if len(tok) <= EncodedLen {
		// A token of the usual size is hashed from the stack: []byte(tok)
		// would allocate for anything over 32 bytes, on every verify.
		var b [EncodedLen]byte
		h = sha256.Sum256(b[:copy(b[:], tok)])
	} else {
		h = sha256.Sum256([]byte(tok))
	}
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], h[:])
	return string(out[:])
}

// Valid reports whether tok has the shape of a token made by New: 43
// characters of the base64url alphabet in canonical form, decoding to 32 bytes.
func Valid(tok string) bool {
	if len(tok) != EncodedLen {
		return false
	}
	var src [EncodedLen]byte
	var buf [Size + 2]byte
	n, err := base64.RawURLEncoding.Strict().Decode(buf[:], src[:copy(src[:], tok)])
	return err == nil && n == Size
}

// Equal compares two hashes (or tokens) in time that depends only on their lengths.
func Equal(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
