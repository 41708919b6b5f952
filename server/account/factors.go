package account

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"mutualauth/server/factor"
	"mutualauth/server/password"
	"mutualauth/server/phrase"
	"mutualauth/server/secretbox"
	"mutualauth/server/token"
	"mutualauth/server/totp"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// FactorRules are the rules a new password, security phrase or TOTP secret
// must pass, the same at enrollment and on the account page. Refusals are
// *Error values of kind Invalid, returned with a detail for the audit log;
// the detail never holds a secret.
type FactorRules struct {
	Users  store.Users
	Box    *secretbox.Box
	Hasher *password.Hasher
	Policy password.Policy
	Now    func() time.Time
}

// PasswordHash checks pw against the policy (NIST SP 800-63B §5.1.1.2: length,
// common passwords, the user's names and the product name) and against the
// user's security phrase, then hashes it.
func (r *FactorRules) PasswordHash(ctx context.Context, u store.User, pw string) (phc, detail string, err error) {
	if err := r.Policy.Check(pw, u.Username, u.DisplayName, password.ProductName); err != nil {
		var weak *password.WeakError
		if errors.As(err, &weak) {
			return "", "weak password: " + weak.Reason, &Error{Kind: Invalid, Code: "weak_password", Message: i18n.M("problem.weak-password", weak.Message)}
		}
		return "", "", err
	}
	if len(u.Phrase) > 0 {
		p, err := r.Box.Open(u.Phrase, factor.PhraseAD(u.ID))
		if err != nil {
			return "", "", fmt.Errorf("open phrase: %w", err)
		}
		if strings.EqualFold(string(p), strings.TrimSpace(pw)) {
			return "", "weak password: equals the phrase", &Error{Kind: Invalid, Code: "weak_password", Message: i18n.M("problem.password-is-phrase")}
		}
	}
	phc, err = r.Hasher.Hash(ctx, pw)
	if err != nil {
		return "", "", err
	}
	return phc, "", nil
}

func invalidPhrase(key string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: "invalid_phrase", Message: i18n.M(key, args...)}
}

// SealPhrase cleans a security phrase (package phrase), refuses one that is
// the user's password, and seals it for u.
func (r *FactorRules) SealPhrase(ctx context.Context, u store.User, raw string) (sealed []byte, detail string, err error) {
	cleaned, err := phrase.Clean(raw)
	if err != nil {
		var inv *phrase.InvalidError
		if errors.As(err, &inv) {
			return nil, "invalid phrase: " + inv.Reason, invalidPhrase("problem.invalid-phrase", inv.Message)
		}
		return nil, "", err
	}
	if u.PasswordHash != "" {
		same, err := phraseIsPassword(ctx, r.Hasher, u.PasswordHash, cleaned)
		if err != nil {
			return nil, "", err
		}
		if same {
			return nil, "invalid phrase: equals the password", invalidPhrase("problem.phrase-is-password")
		}
	}
	sealed, err = r.Box.Seal([]byte(cleaned), factor.PhraseAD(u.ID))
	if err != nil {
		return nil, "", err
	}
	return sealed, "", nil
}

// PasswordMinLength is the policy's effective minimum, for the pages' hints.
func (r *FactorRules) PasswordMinLength() int {
	n := r.Policy.MinLength
	if n == 0 {
		n = password.DefaultPolicy.MinLength
	}
	return max(n, 8)
}

// phraseIsPassword reports whether the phrase, as typed or in lower or upper
// case, is the password. A phrase shorter than any password the policy ever
// accepts is not hashed.
func phraseIsPassword(ctx context.Context, h *password.Hasher, phc, p string) (bool, error) {
	if utf8.RuneCountInString(p) < 8 {
		return false, nil
	}
	tried := map[string]bool{}
	for _, candidate := range []string{p, strings.ToLower(p), strings.ToUpper(p)} {
		if tried[candidate] {
			continue
		}
		tried[candidate] = true
		ok, _, err := h.Verify(ctx, phc, candidate)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// StartTOTP makes a new TOTP secret (RFC 6238, 160 bits) for u and keeps it
// sealed as the pending secret until ConfirmTOTP; the confirmed one, if
// any, stays in use until then.
func (r *FactorRules) StartTOTP(ctx context.Context, issuer string, u store.User) (totp.Enrollment, error) {
	enr, err := totp.Generate(issuer, u.Username)
	if err != nil {
		return totp.Enrollment{}, err
	}
	sealed, err := r.Box.Seal([]byte(enr.Secret), factor.TOTPAD(u.ID))
	if err != nil {
		return totp.Enrollment{}, err
	}
	_, err = r.Users.UpdateUser(ctx, u.ID, func(u *store.User) error {
		u.TOTPPending = sealed
		return nil
	})
	if err != nil {
		return totp.Enrollment{}, err
	}
	return enr, nil
}

var errTOTPReplaced = errors.New("pending TOTP secret replaced")

func invalidOTP(key string) *Error {
	return &Error{Kind: Invalid, Code: "invalid_otp", Message: i18n.M(key)}
}

// ConfirmTOTP checks a code of u's pending secret and makes that secret the
// confirmed one (replacing any earlier one). The code's time step is
// accepted first, so the confirming code can never be used again, to sign
// in or to confirm twice.
func (r *FactorRules) ConfirmTOTP(ctx context.Context, u store.User, code string) (detail string, err error) {
	pending := u.TOTPPending
	if len(pending) == 0 {
		return "no pending secret", invalidOTP("problem.totp-not-started")
	}
	secret, err := r.Box.Open(pending, factor.TOTPAD(u.ID))
	if err != nil {
		return "", fmt.Errorf("open pending totp secret: %w", err)
	}
	step, err := totp.Check(string(secret), factor.Digits(code), r.Now())
	if errors.Is(err, totp.ErrInvalidCode) {
		return "wrong code", invalidOTP("problem.totp-wrong-code")
	}
	if err != nil {
		return "", err
	}
	if err := r.Users.AcceptTOTPStep(ctx, u.ID, step); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "code already used", invalidOTP("problem.totp-code-used")
		}
		return "", err
	}
	_, err = r.Users.UpdateUser(ctx, u.ID, func(u *store.User) error {
		if !bytes.Equal(u.TOTPPending, pending) {
			return errTOTPReplaced
		}
		u.TOTPSecret, u.TOTPPending = pending, nil
		return nil
	})
	if errors.Is(err, errTOTPReplaced) {
		return "pending secret replaced", invalidOTP("problem.totp-replaced")
	}
	if err != nil {
		return "", err
	}
	return "", nil
}

// RecoveryCodeCount is the number of recovery codes handed out at a time.
const RecoveryCodeCount = 10

// NewRecoveryCodes returns n distinct recovery codes and the hashes of their
// normalized forms, which is all that is stored (NIST SP 800-63B §5.1.2:
// look-up secrets).
func NewRecoveryCodes(n int) ([]string, [][]byte, error) {
	codes := make([]string, 0, n)
	hashes := make([][]byte, 0, n)
	seen := map[string]bool{}
	for len(codes) < n {
		code, err := token.RecoveryCode()
		if err != nil {
			return nil, nil, err
		}
		norm := token.NormalizeRecoveryCode(code)
		if seen[norm] {
			continue
		}
		seen[norm] = true
		codes = append(codes, code)
		hashes = append(hashes, token.Hash(norm))
	}
	return codes, hashes, nil
}
