package main

import (
	"testing"
	"time"
)

// RFC 6238 Appendix B, SHA-1 rows: the 20-byte ASCII key and 8 digits.
func TestHOTPVectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		got := hotp(key, totpStep(time.Unix(tc.unix, 0)), 8)
		if got != tc.want {
			t.Errorf("T=%d: %s, want %s", tc.unix, got, tc.want)
		}
	}
}

func TestDecodeSecret(t *testing.T) {
	// "12345678901234567890" in base32, as apps get it: no padding, any case.
	for _, s := range []string{"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "gezdgnbvgy3tqojqgezdgnbvgy3tqojq"} {
		key, err := decodeSecret(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if string(key) != "12345678901234567890" {
			t.Errorf("%s decodes to %q", s, key)
		}
	}
	if _, err := decodeSecret("not base32!"); err == nil {
		t.Error("garbage decoded")
	}
}

func TestLoginStep(t *testing.T) {
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	// 3000 s is the start of step 100.
	for _, tc := range []struct {
		now  time.Time
		last int64
		want int64
	}{
		{at(3000), 90, 99},  // the previous step is free
		{at(3028), 90, 100}, // too close to the turn for the previous step
		{at(3010), 99, 100}, // the previous step is spent
		{at(3010), 100, 100},
	} {
		if got := loginStep(tc.now, tc.last); got != tc.want {
			t.Errorf("loginStep(%v, %d) = %d, want %d", tc.now.Unix(), tc.last, got, tc.want)
		}
	}
}
