package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// totpPeriod is the RFC 6238 time step X.
const totpPeriod = 30

// totpStep is the RFC 6238 §4.2 time step T of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// hotp is RFC 4226 §5.3 with SHA-1 and the given number of digits.
func hotp(key []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// decodeSecret reads a base32 TOTP secret as authenticator apps do:
// upper-cased, padding optional.
func decodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.TrimRight(strings.TrimSpace(s), "="))
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

// totpCode is the 6-digit code of key for time step step.
func totpCode(key []byte, step int64) string { return hotp(key, step, 6) }
