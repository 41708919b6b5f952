package totp

import (
	"testing"
	"time"
)

// FuzzCheck: Check accepts a code only if it is six ASCII digits equal to
// the code of the step it reports, and that step is the current one or the
// one before (RFC 6238 §5.2, one step of drift back). Any secret, code and
// time are handled without a panic.
func FuzzCheck(f *testing.F) {
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	at := time.Unix(1_700_000_000, 0)
	cur, _ := Code(secret, at)
	prev, _ := Code(secret, at.Add(-Period))
	next, _ := Code(secret, at.Add(Period))
	for _, c := range []struct {
		secret, code string
		unix         int64
	}{
		{secret, cur, at.Unix()}, {secret, prev, at.Unix()}, {secret, next, at.Unix()},
		{secret, "12345", at.Unix()}, {secret, "1234567", at.Unix()}, {secret, "12 345", at.Unix()},
		{secret, "١٢٣٤٥٦", at.Unix()}, {secret, "+12345", at.Unix()}, {secret, "-12345", at.Unix()},
		{"not base32!", "123456", at.Unix()}, {"", "123456", 0}, {"gezdgnbvgy3tqojq", "000000", -1},
		{secret, cur, 1<<62 - 1}, {secret, cur, -1 << 62},
	} {
		f.Add(c.secret, c.code, c.unix)
	}
	f.Fuzz(func(t *testing.T, secret, code string, unix int64) {
		now := time.Unix(unix, 0)
		step, err := Check(secret, code, now)
		if err != nil {
			return
		}
		if !wellFormed(code) {
			t.Fatalf("Check accepted %q, which is not six digits", code)
		}
		if cur := Step(now); step != cur && step != cur-1 {
			t.Fatalf("Check accepted step %d at step %d", step, cur)
		}
		want, err := Code(secret, time.Unix(step*int64(Period/time.Second), 0))
		if err != nil || want != code {
			t.Fatalf("Check accepted %q for step %d, whose code is %q (%v)", code, step, want, err)
		}
	})
}
