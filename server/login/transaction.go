package login

import (
	"slices"
	"time"
)

// TTL is the lifetime of a login transaction, counted from begin.
const TTL = 5 * time.Minute

// Step is a login step, as API.md names it in "next".
type Step string

const (
	StepPassword Step = "password"
	StepOTP      Step = "otp"
	StepWebAuthn Step = "webauthn"
	StepRecovery Step = "recovery"
)

// Second-factor methods, as kept in Transaction.Second and in a session's
// amr (RFC 8176 §2 "otp" and "hwk"; "rec" for a recovery code).
const (
	MethodPassword = "pwd"
	MethodOTP      = "otp"
	MethodHardware = "hwk"
	MethodRecovery = "rec"
	// MethodSoftwareKey is a TLS client certificate: proof of possession
	// of a software-secured key (RFC 8176 §2 "swk").
	MethodSoftwareKey = "swk"
	// MethodMultiFactor marks a completion with two factors (RFC 8176 §2 "mfa").
	MethodMultiFactor = "mfa"
)

// MethodOf returns the amr value a successful second-factor step records,
// or "" for a step that is not a second factor.
func MethodOf(s Step) string {
	switch s {
	case StepOTP:
		return MethodOTP
	case StepWebAuthn:
		return MethodHardware
	case StepRecovery:
		return MethodRecovery
	}
	return ""
}

var secondFactors = []Step{StepOTP, StepWebAuthn, StepRecovery}

// Transaction is one login in progress. Unknown usernames get transactions
// too (UserID empty), so that they look like known ones from outside.
type Transaction struct {
	ID         string `json:"-"`
	Username   string `json:"username"`
	UserID     string `json:"user_id"`
	Recognized bool   `json:"recognized"`
	DeviceID   string `json:"device_id,omitempty"`
	// DeviceSeal is the recognized device's token sealed by the caller, so
	// that completion can hand the same token back; never in the clear.
	DeviceSeal []byte `json:"device_seal,omitempty"`
	// Cert is the fingerprint of the client certificate, bound to this
	// user, that the begin request presented: the device counts as
	// recognized and the certificate as the second factor.
	Cert       string    `json:"cert,omitempty"`
	ClientID   string    `json:"client_id,omitempty"`
	Audience   string    `json:"audience"`
	PasswordOK bool      `json:"password_ok"`
	Second     string    `json:"second,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Done       bool      `json:"done"`

	// raw is the stored form this value was read from, the "expected"
	// value of the next compare-and-set.
	raw []byte
}

// Next lists the steps that may come now. A recognized device gives the
// password first, then a second factor; anything else (an unrecognized
// device, an unknown username) gives a second factor first, whose success
// reveals the phrase, then the password. A complete or done transaction
// has no next step.
func (t *Transaction) Next() []Step {
	if t.Done || t.Complete() {
		return []Step{}
	}
	if t.Recognized {
		if !t.PasswordOK {
			return []Step{StepPassword}
		}
		return slices.Clone(secondFactors)
	}
	if t.Second == "" {
		return slices.Clone(secondFactors)
	}
	return []Step{StepPassword}
}

// WithCert returns the transaction of a begin that presented a valid
// certificate bound to its user: recognized, with the certificate as the
// second factor already satisfied, so that only the password is next.
func (t Transaction) WithCert(fingerprint string) Transaction {
	t.Recognized, t.Cert, t.Second = true, fingerprint, MethodSoftwareKey
	return t
}

// AMR is the authentication methods of a complete transaction: the
// password and the second factor, and "mfa" for a certificate login
// (API.md, "Client certificates").
func (t *Transaction) AMR() []string {
	if t.Second == MethodSoftwareKey {
		return []string{MethodPassword, MethodSoftwareKey, MethodMultiFactor}
	}
	return []string{MethodPassword, t.Second}
}

// Allows reports whether s may come now.
func (t *Transaction) Allows(s Step) bool { return slices.Contains(t.Next(), s) }

// Complete reports whether both factors have succeeded.
func (t *Transaction) Complete() bool { return t.PasswordOK && t.Second != "" }

// Known reports whether the username named an account at begin.
func (t *Transaction) Known() bool { return t.UserID != "" }

// PhraseRevealed reports whether proofs of this transaction may carry the
// user's phrase: on a recognized device from the start, elsewhere once a
// second factor has succeeded.
func (t *Transaction) PhraseRevealed() bool {
	return t.Known() && (t.Recognized || t.Second != "")
}

// Succeed returns the transaction after step s succeeded.
func (t Transaction) Succeed(s Step) Transaction {
	if s == StepPassword {
		t.PasswordOK = true
	} else if m := MethodOf(s); m != "" {
		t.Second = m
	}
	return t
}

// ExpiresAt is the end of the transaction's life.
func (t *Transaction) ExpiresAt() time.Time { return t.CreatedAt.Add(TTL) }

// ThrottleKey names the failure counter attempts in this transaction count
// against: the device's on a recognized device, the username's otherwise,
// so that strangers hammering a username cannot lock the owner's
// recognized devices out.
func (t *Transaction) ThrottleKey() string {
	if t.Cert != "" {
		return CertCounter(t.Cert)
	}
	if t.Recognized && t.DeviceID != "" {
		return DeviceCounter(t.DeviceID)
	}
	return UsernameCounter(t.Username)
}

// UsernameCounter and DeviceCounter are the keys of failure counters.
func UsernameCounter(username string) string { return "thr:u:" + username }

func DeviceCounter(deviceID string) string { return "thr:d:" + deviceID }

// CertCounter is the failure counter of a certificate-recognized device.
func CertCounter(fingerprint string) string { return "thr:c:" + fingerprint }

// PerUsername reports whether ThrottleKey is the username's counter, the
// one whose failures lock the account.
func (t *Transaction) PerUsername() bool { return t.Cert == "" && (!t.Recognized || t.DeviceID == "") }
