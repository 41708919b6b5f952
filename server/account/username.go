package account

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"mutualauth/templates/i18n"
)

// ErrUsernameSyntax is returned for a username with a control character
// (NUL included) or that is not valid UTF-8: a syntax rule that says
// nothing about which accounts exist.
var ErrUsernameSyntax = errors.New("username has a control character or is not valid UTF-8")

// ErrMixedScript and ErrLookAlike refuse new usernames (both wrap
// ErrInvalidUsername).
var (
	ErrMixedScript = fmt.Errorf("%w: it mixes scripts", ErrInvalidUsername)
	ErrLookAlike   = fmt.Errorf("%w: it looks like an existing username", ErrInvalidUsername)
)

// CheckUsernameSyntax refuses invalid UTF-8 and control characters
// (general category Cc). U+FFFD counts as invalid UTF-8: it is what a JSON
// decoder makes of a lone surrogate escape.
func CheckUsernameSyntax(s string) error {
	if !utf8.ValidString(s) {
		return ErrUsernameSyntax
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ErrUsernameSyntax
		}
	}
	return nil
}

// scriptsOf returns the scripts (Unicode Script property, UAX #24) of the
// runes of s, leaving out Common and Inherited.
func scriptsOf(s string) map[string]bool {
	out := map[string]bool{}
	for _, r := range s {
		for name, table := range unicode.Scripts {
			if name == "Common" || name == "Inherited" {
				continue
			}
			if unicode.Is(table, r) {
				out[name] = true
				break
			}
		}
	}
	return out
}

// cjkSets are the script combinations that UTS #39 §5.1 treats as one
// (the augmented script sets: Japanese, Korean, Chinese with Bopomofo).
var cjkSets = []map[string]bool{
	{"Han": true, "Hiragana": true, "Katakana": true},
	{"Han": true, "Hangul": true},
	{"Han": true, "Bopomofo": true},
}

// SingleScript reports whether s is single-script in the sense of UTS #39
// §5.1: all its letters belong to one script (Common and Inherited
// characters such as digits and "-" go with any), or to one of the
// augmented CJK sets.
func SingleScript(s string) bool {
	scripts := scriptsOf(s)
	if len(scripts) <= 1 {
		return true
	}
	for _, set := range cjkSets {
		inside := true
		for sc := range scripts {
			inside = inside && set[sc]
		}
		if inside {
			return true
		}
	}
	return false
}

// CheckNewUsername applies the rule for a username about to be created
// (username already prepared by NormalizeUsername) that needs no other
// account: ErrMixedScript when it mixes scripts. That it must not look
// like an existing username (equal store.Skeleton) is enforced by the
// store as the user is created, atomically (store.ErrLookAlike, which
// IssueInvite answers with lookAlikeError).
func CheckNewUsername(username string) error {
	if !SingleScript(username) {
		return &Error{Kind: Invalid, Code: "invalid_username", Err: ErrMixedScript,
			Message: i18n.M("problem.mixed-script")}
	}
	return nil
}

// lookAlikeError answers a username that looks like an existing one.
func lookAlikeError() error {
	return &Error{Kind: Invalid, Code: "invalid_username", Err: ErrLookAlike,
		Message: i18n.M("problem.look-alike")}
}
