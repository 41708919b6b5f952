package totp

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfc6238 computes a code independently of the library (RFC 4226 §5.3 with
// the RFC 6238 §4 counter), to check what the package accepts.
func rfc6238(t *testing.T, secret string, step int64) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", bin%1_000_000)
}

func TestRFC6238Vector(t *testing.T) {
	// RFC 6238 Appendix B, SHA-1 seed "12345678901234567890", T=59 s → 94287082 (8 digits);
	// the 6-digit code is its last six digits.
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	got, err := Code(secret, time.Unix(59, 0))
	if err != nil || got != "287082" {
		t.Fatalf("Code = %q, %v; want 287082", got, err)
	}
}

func TestGenerate(t *testing.T) {
	e, err := Generate("mutualauth", "alice")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil || len(raw) != SecretSize {
		t.Fatalf("secret %q: %d bytes, %v", e.Secret, len(raw), err)
	}
	u, err := url.Parse(e.OTPAuthURI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != e.Secret ||
		u.Query().Get("issuer") != "mutualauth" || !strings.Contains(u.Path, "alice") {
		t.Fatalf("uri %q", e.OTPAuthURI)
	}
	if !strings.HasPrefix(e.QRPNG, "data:image/png;base64,iVBOR") {
		t.Fatalf("qr %q...", e.QRPNG[:40])
	}
	e2, _ := Generate("mutualauth", "alice")
	if e2.Secret == e.Secret {
		t.Fatal("two secrets are equal")
	}
}

func TestCheckWindow(t *testing.T) {
	e, _ := Generate("x", "y")
	now := time.Now()
	cur := Step(now)
	for _, tc := range []struct {
		step int64
		ok   bool
	}{{cur, true}, {cur - 1, true}, {cur - 2, false}, {cur + 1, false}} {
		code := rfc6238(t, e.Secret, tc.step)
		got, err := Check(e.Secret, code, now)
		if tc.ok && (err != nil || got != tc.step) {
			t.Errorf("step %d: got %d, %v", tc.step-cur, got, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidCode) {
			// A code of another step can collide with a valid one by chance (1e-6).
			if code != rfc6238(t, e.Secret, cur) && code != rfc6238(t, e.Secret, cur-1) {
				t.Errorf("step %d accepted: %d, %v", tc.step-cur, got, err)
			}
		}
	}
}

func TestCheckMalformed(t *testing.T) {
	e, _ := Generate("x", "y")
	for _, code := range []string{"", "12345", "1234567", "abcdef", "12 345", "１２３４５６", "000000\x00"} {
		if _, err := Check(e.Secret, code, time.Now()); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("%q: %v", code, err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	e, _ := Generate("x", "y")
	now := time.Now()
	code, _ := Code(e.Secret, now)
	for b.Loop() {
		if _, err := Check(e.Secret, code, now); err != nil {
			b.Fatal(err)
		}
	}
}
