package password

import (
	_ "embed"
	"errors"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"mutualauth/templates/i18n"
)

// Policy is the password policy of NIST SP 800-63B §3.1.1.2 and OWASP ASVS
// 5.0 V6.2: length limits counted in Unicode code points, a blocklist of
// common passwords, a check against context words, and no composition rules.
// The zero Policy is DefaultPolicy.
type Policy struct {
	// MinLength in code points: 0 means 12; values under 8 count as 8.
	MinLength int
	// MaxLength in code points: 0 means 256; values under 128 count as 128.
	MaxLength int
}

// DefaultPolicy accepts 12 to 256 code points.
var DefaultPolicy = Policy{MinLength: 12, MaxLength: 256}

// ProductName is always treated as a context word.
const ProductName = "mutualauth"

// ErrWeak matches every *WeakError with errors.Is.
var ErrWeak = errors.New("password: weak password")

// WeakError says why a password was refused, in words fit for the user:
// Message in the catalogs (templates/i18n), Reason its English.
type WeakError struct {
	Reason  string
	Message i18n.Message
}

func (e *WeakError) Error() string { return "password " + e.Reason }

// Is makes errors.Is(err, ErrWeak) true for a *WeakError.
func (e *WeakError) Is(target error) bool { return target == ErrWeak }

func weak(key string, args ...any) error {
	m := i18n.M(key, args...)
	return &WeakError{Reason: m.English(), Message: m}
}

func (p Policy) limits() (minLen, maxLen int) {
	minLen, maxLen = p.MinLength, p.MaxLength
	if minLen == 0 {
		minLen = DefaultPolicy.MinLength
	}
	minLen = max(minLen, 8)
	if maxLen == 0 {
		maxLen = DefaultPolicy.MaxLength
	}
	maxLen = max(maxLen, 128, minLen)
	return minLen, maxLen
}

// Check returns nil for an acceptable password, else a *WeakError. The rules,
// in order:
//
//  1. It must be valid UTF-8, between MinLength and MaxLength code points.
//  2. Its folded forms must not be common. The folded forms are the lower-case
//     password; the same with leading and trailing non-letters (digits,
//     punctuation, spaces) trimmed; and each of these with the usual
//     substitutions undone (4 @ → a, 3 → e, 1 ! → i or l, 0 → o, 5 $ → s,
//     7 → t, 8 → b, 9 → g). A form is common when it is in the embedded list,
//     or (for forms of 4 or more code points) when it is a listed password,
//     a unit of at most 4 code points, or a listed password repeated, like
//     "passwordpassword" or "abcabcabcabc". So "password123456", "P@ssw0rd!"
//     and "!!dragon2024" are refused.
//  3. The lower-case password must not be a run of consecutive characters
//     ("abcdefghijkl", "987654321098"; digits wrap around).
//  4. It must not be built from a context word: the caller's words (username,
//     display name, e-mail) and ProductName. Each word is lower-cased and
//     split into parts at every character that is not a letter or digit; the
//     whole word without those characters is a part too. A folded form that
//     contains a part of 4 or more code points, or equals a shorter part, is
//     refused.
func (p Policy) Check(password string, contextWords ...string) error {
	if !utf8.ValidString(password) {
		return weak("password.invalid-utf8")
	}
	minLen, maxLen := p.limits()
	n := utf8.RuneCountInString(password)
	if n < minLen {
		return weak("password.too-short", minLen)
	}
	if n > maxLen {
		return weak("password.too-long", maxLen)
	}
	forms := foldedForms(password)
	for _, f := range forms {
		if isCommon(f) {
			return weak("password.common")
		}
	}
	if isSequence(forms[0]) {
		return weak("password.sequence")
	}
	for _, part := range contextParts(append(contextWords, ProductName)) {
		for _, f := range forms {
			if (utf8.RuneCountInString(part) >= 4 && strings.Contains(f, part)) || f == part {
				return weak("password.context")
			}
		}
	}
	return nil
}

// foldedForms returns the lower-case password first, then its other forms.
func foldedForms(password string) []string {
	lower := strings.ToLower(password)
	trimmed := trimNonLetters(lower)
	forms := []string{lower, trimmed}
	for _, r := range leetReplacers {
		forms = append(forms, r.Replace(lower), r.Replace(trimmed), trimNonLetters(r.Replace(lower)))
	}
	return forms
}

var leetReplacers = []*strings.Replacer{
	strings.NewReplacer("4", "a", "@", "a", "3", "e", "1", "i", "!", "i", "0", "o", "5", "s", "$", "s", "7", "t", "8", "b", "9", "g"),
	strings.NewReplacer("4", "a", "@", "a", "3", "e", "1", "l", "!", "l", "0", "o", "5", "s", "$", "s", "7", "t", "8", "b", "9", "g"),
}

func trimNonLetters(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
}

func isCommon(form string) bool {
	if form == "" {
		return false
	}
	list := commonPasswords()
	if _, ok := list[form]; ok {
		return true
	}
	if utf8.RuneCountInString(form) < 4 {
		return false
	}
	if unit, ok := repeatedUnit(form); ok {
		if _, listed := list[unit]; listed || utf8.RuneCountInString(unit) <= 4 {
			return true
		}
	}
	return false
}

// repeatedUnit returns the shortest u such that s is u repeated two or more times.
func repeatedUnit(s string) (string, bool) {
	for size := 1; size <= len(s)/2; size++ {
		if len(s)%size != 0 || !utf8.RuneStart(s[size]) {
			continue
		}
		if strings.Repeat(s[:size], len(s)/size) == s {
			return s[:size], true
		}
	}
	return "", false
}

// isSequence reports whether every character is the successor of the one
// before it, or every one its predecessor (digits wrap: 9 then 0).
func isSequence(s string) bool {
	rs := []rune(s)
	if len(rs) < 3 {
		return false
	}
	up, down := true, true
	for i := 1; i < len(rs); i++ {
		up = up && rs[i] == successor(rs[i-1])
		down = down && rs[i-1] == successor(rs[i])
	}
	return up || down
}

func successor(r rune) rune {
	if r == '9' {
		return '0'
	}
	return r + 1
}

func contextParts(words []string) []string {
	var parts []string
	for _, w := range words {
		w = strings.ToLower(w)
		notWord := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
		fields := strings.FieldsFunc(w, notWord)
		parts = append(parts, fields...)
		if len(fields) > 1 {
			parts = append(parts, strings.Join(fields, ""))
		}
	}
	return parts
}

//go:embed common-passwords.txt
var commonPasswordsText string

// commonPasswords is the embedded list as a set, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(commonPasswordsText, "\n")+1)
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.ToLower(strings.TrimSpace(line))
		if line != "" {
			set[line] = struct{}{}
		}
	}
	return set
})

// CommonPasswordCount returns the number of passwords in the embedded list.
func CommonPasswordCount() int { return len(commonPasswords()) }
