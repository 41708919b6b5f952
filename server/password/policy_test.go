package password

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestCommonListShipped(t *testing.T) {
	if n := CommonPasswordCount(); n < 10000 {
		t.Fatalf("common-password list has %d entries, want at least 10,000", n)
	}
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsText))
	lines := 0
	for sc.Scan() {
		line := sc.Text()
		lines++
		if line == "" || line != strings.TrimSpace(line) || line != strings.ToLower(line) {
			t.Fatalf("line %d %q is not a trimmed lower-case entry", lines, line)
		}
	}
	for _, pw := range []string{"123456", "password", "qwerty", "iloveyou", "trustno1", "qwerty123456", "1qaz2wsx3edc"} {
		if _, ok := commonPasswords()[pw]; !ok {
			t.Errorf("%q missing from the list", pw)
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	p := Policy{}
	ctx := []string{"alice.wonder", "Alice Wonderland"}
	cases := []struct {
		name string
		pw   string
		ok   bool
	}{
		{"12 ASCII", "vU8#kq2Lm!xZ", true},
		{"11 ASCII", "vU8#kq2Lm!x", false},
		{"passphrase", "correct horse battery staple", true},
		{"12 CJK code points", "猫が窓辺で静かに眠っている", true},
		{"11 CJK code points (33 bytes)", "猫が窓辺で静かに眠って", false},
		{"12 emoji", "🐙🦀🐢🦊🐝🦉🐳🦋🐌🦔🐿🦜", true},
		{"11 emoji (44 bytes)", "🐙🦀🐢🦊🐝🦉🐳🦋🐌🦔🐿", false},
		{"mixed scripts", "Zürich-Ωmega-四", true},
		{"128 chars", strings.Repeat("gT7$qW2!", 16), true},
		{"256 chars", strings.Repeat("Hk9%mP3@", 32), true},
		{"257 chars", strings.Repeat("Hk9%mP3@", 32) + "x", false},
		{"spaces allowed", "  the quiet fox jumps  ", true},
		{"list, long", "qwerty123456", false},
		{"list, upper case", "QWERTY123456", false},
		{"common plus digits", "password123456", false},
		{"common plus digits, mixed case", "Password123456", false},
		{"common plus symbols", "sunshine!!!!2024", false},
		{"common with digits before", "1234dragon5678", false},
		{"leet common", "P@ssw0rd!!2024", false},
		{"leet common, 1 for l", "footba11footba11", false},
		{"common repeated", "passwordpassword", false},
		{"short unit repeated", "abcabcabcabc", false},
		{"one char repeated", "aaaaaaaaaaaaaaa", false},
		{"sequence letters", "abcdefghijklm", false},
		{"sequence digits wrapping", "789012345678", false},
		{"sequence descending", "zyxwvutsrqpo", false},
		{"username", "alice.wonder2024", false},
		{"username part", "xx-wonder-horse-battery", false},
		{"display name joined", "AliceWonderland!!", false},
		{"username leet", "4l1ce-is-here-today", false},
		{"product name", "MutualAuth-login-1", false},
		{"product name leet", "mutu4l4uth-rocks-it", false},
		{"unrelated words", "purple monkey dishwasher", true},
		{"contains a common word inside", "my dragon flies south at dawn", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := p.Check(c.pw, ctx...)
			if c.ok && err != nil {
				t.Fatalf("Check(%q) = %v, want accepted", c.pw, err)
			}
			if !c.ok {
				var we *WeakError
				if !errors.As(err, &we) {
					t.Fatalf("Check(%q) = %v, want a *WeakError", c.pw, err)
				}
				if we.Reason == "" {
					t.Error("empty reason")
				}
				if !errors.Is(err, ErrWeak) {
					t.Error("errors.Is(err, ErrWeak) is false")
				}
				if strings.Contains(err.Error(), c.pw) {
					t.Errorf("error %q echoes the password", err)
				}
			}
		})
	}
}

func TestPolicyPassword123456(t *testing.T) {
	if _, listed := commonPasswords()["password123456"]; listed {
		t.Log("password123456 is in the list itself")
	}
	for _, p := range []Policy{{}, DefaultPolicy, {MinLength: 8, MaxLength: 128}} {
		err := p.Check("password123456")
		var we *WeakError
		if !errors.As(err, &we) {
			t.Fatalf("%+v: password123456 accepted", p)
		}
		if !strings.Contains(we.Reason, "common") {
			t.Errorf("reason %q does not say it is common", we.Reason)
		}
	}
}

func TestPolicyReasons(t *testing.T) {
	reason := func(pw string, words ...string) string {
		var we *WeakError
		if err := (Policy{}).Check(pw, words...); !errors.As(err, &we) {
			t.Fatalf("Check(%q) = %v", pw, err)
		}
		return we.Reason
	}
	if r := reason("short"); !strings.Contains(r, "at least 12") {
		t.Errorf("too short: %q", r)
	}
	if r := reason(strings.Repeat("x9!", 100)); !strings.Contains(r, "at most 256") {
		t.Errorf("too long: %q", r)
	}
	if r := reason("bobbythebuilder77", "Bobby"); !strings.Contains(r, "username") {
		t.Errorf("context: %q", r)
	}
	if r := reason("zqxw\xff\xfeabcdefgh"); !strings.Contains(r, "UTF-8") {
		t.Errorf("invalid UTF-8: %q", r)
	}
}

func TestPolicyLimits(t *testing.T) {
	cases := []struct {
		p                Policy
		wantMin, wantMax int
	}{
		{Policy{}, 12, 256},
		{Policy{MinLength: 4}, 8, 256},
		{Policy{MinLength: 8}, 8, 256},
		{Policy{MinLength: 15, MaxLength: 64}, 15, 128},
		{Policy{MinLength: 200, MaxLength: 150}, 200, 200},
		{Policy{MaxLength: 1024}, 12, 1024},
	}
	for _, c := range cases {
		lo, hi := c.p.limits()
		if lo != c.wantMin || hi != c.wantMax {
			t.Errorf("%+v limits = %d, %d; want %d, %d", c.p, lo, hi, c.wantMin, c.wantMax)
		}
	}
	// Behaviour at the limits, counted in code points.
	p := Policy{MinLength: 4}
	if err := p.Check("kq7#wz!p"); err != nil {
		t.Errorf("8 code points refused under a floor of 8: %v", err)
	}
	if err := p.Check("kq7#wz!"); err == nil {
		t.Error("7 code points accepted: the floor is 8")
	}
	if err := (Policy{MaxLength: 10}).Check(strings.Repeat("kQ7#wZ!p", 16)); err != nil {
		t.Errorf("128 code points refused although MaxLength may not go under 128: %v", err)
	}
}

func TestPolicyShortContextWord(t *testing.T) {
	p := Policy{MinLength: 8}
	if err := p.Check("bob12345", "bob"); err == nil {
		t.Error("a short username with digits appended was accepted")
	}
	if err := p.Check("bobcat-river-stone", "bob"); err != nil {
		t.Errorf("a password merely containing a 3-letter username was refused: %v", err)
	}
	if err := p.Check("river-stone-42", "", "  ", "--"); err != nil {
		t.Errorf("empty context words refused a good password: %v", err)
	}
}

func TestPolicyInvalidUTF8(t *testing.T) {
	for _, pw := range []string{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "valid-start-\xc3", "\xed\xa0\x80surrogate-half"} {
		err := (Policy{}).Check(pw, "\xff")
		var we *WeakError
		if !errors.As(err, &we) {
			t.Errorf("Check(%q) = %v, want a *WeakError", pw, err)
		}
	}
	if err := (Policy{}).Check("a-fine-long-password", "\xffuser\xfe"); err != nil {
		t.Errorf("an invalid context word broke the check: %v", err)
	}
}

func FuzzPolicyCheck(f *testing.F) {
	f.Add("password123456", "alice")
	f.Add("猫が窓辺で静かに眠っている", "")
	f.Fuzz(func(t *testing.T, pw, word string) {
		err := (Policy{}).Check(pw, word)
		var we *WeakError
		if err != nil && !errors.As(err, &we) {
			t.Fatalf("Check returned a %T", err)
		}
	})
}

func BenchmarkPolicyCheck(b *testing.B) {
	_ = CommonPasswordCount()
	for b.Loop() {
		_ = (Policy{}).Check("purple monkey dishwasher", "alice", "Alice Wonderland")
	}
}
