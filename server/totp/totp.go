package totp

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// Period is the RFC 6238 time step.
const Period = 30 * time.Second

// SecretSize is the secret length in bytes: 160 bits (RFC 4226 §4 R6).
const SecretSize = 20

// ErrInvalidCode is returned for a code that does not match.
var ErrInvalidCode = errors.New("totp: invalid code")

// Enrollment is a freshly generated secret and the ways to hand it to an
// authenticator app.
type Enrollment struct {
	Secret     string // base32, no padding
	OTPAuthURI string // otpauth://totp/Issuer:account?...
	QRPNG      string // data:image/png;base64,...
}

// Generate makes a new 160-bit secret (from crypto/rand) for account.
func Generate(issuer, account string) (Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, SecretSize: SecretSize,
		Period: uint(Period / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrollment{}, err
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return Enrollment{}, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, err
	}
	return Enrollment{
		Secret:     key.Secret(),
		OTPAuthURI: key.URL(),
		QRPNG:      "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	}, nil
}

// Step is the RFC 6238 §4.2 time step T of t.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Check reports the time step a 6-digit code matches at now: the current
// step or the one before. It does not record anything; the caller accepts
// the step atomically (store.Users.AcceptTOTPStep).
func Check(secret, code string, now time.Time) (int64, error) {
	if !wellFormed(code) {
		return 0, ErrInvalidCode
	}
	cur := Step(now)
	for _, step := range []int64{cur, cur - 1} {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{
			Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, nil
		}
	}
	return 0, ErrInvalidCode
}

// Code returns the code for t (for tests and tools).
func Code(secret string, t time.Time) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(Step(t)), hotp.ValidateOpts{
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
}

func wellFormed(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
