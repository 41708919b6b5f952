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
	// MethodMultiFactor marks a completion that satisfied two factors (RFC
	// 8176 §2 "mfa"); a user-verified passkey is two (possession and the
	// authenticator's own PIN or biometric).
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
	Cert string `json:"cert,omitempty"`
	// PendingDevice is the device token a passkey-first begin carried,
	// sealed by the caller: the device is recognized only once the passkey
	// names the account it belongs to.
	PendingDevice []byte    `json:"pending_device,omitempty"`
	ClientID      string    `json:"client_id,omitempty"`
	Audience      string    `json:"audience"`
	PasswordOK    bool      `json:"password_ok"`
	Second        string    `json:"second,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	Done          bool      `json:"done"`
	// Passkey: the transaction began without a username, the passkey
	// names the account.
	Passkey bool `json:"passkey,omitempty"`
	// CodesBarred: the policy accepts no TOTP or recovery code in this
	// transaction (Policy.BarsCodes).
	CodesBarred bool `json:"codes_barred,omitempty"`
	// Verified: a user-verified WebAuthn assertion completed the login by
	// itself.
	Verified bool `json:"verified,omitempty"`

	// raw is the stored form this value was read from, the "expected"
	// value of the next compare-and-set.
	raw []byte
}

// Next lists the steps that may come now. A passkey-first transaction
// asks for the passkey, then (without user verification) the password. A
// recognized device gives the password first, then a second factor;
// anything else (an unrecognized device, an unknown username) gives a
// second factor first, then the password — only a passkey there, when the
// policy bars codes. A complete or done transaction has no next step.
func (t *Transaction) Next() []Step {
	switch {
	case t.Done || t.Complete():
		return []Step{}
	case t.Passkey && !t.Known():
		return []Step{StepWebAuthn}
	case t.Recognized && !t.PasswordOK:
		return []Step{StepPassword}
	case t.Recognized:
		return slices.Clone(secondFactors)
	case t.Second != "":
		return []Step{StepPassword}
	case t.CodesBarred:
		return []Step{StepWebAuthn}
	}
	return slices.Clone(secondFactors)
}

// Allows reports whether s may come now. Where the policy bars codes, a
// code step is still taken (and refused as a whole), so that whoever
// tries one learns why.
func (t *Transaction) Allows(s Step) bool {
	if t.CodesBarred && t.Second == "" && !t.Done && (s == StepOTP || s == StepRecovery) {
		return true
	}
	return slices.Contains(t.Next(), s)
}

// WithCert returns the transaction of a begin that presented a valid
// certificate bound to its user: recognized, with the certificate as the
// second factor already satisfied, so that only the password is next.
func (t Transaction) WithCert(fingerprint string) Transaction {
	t.Recognized, t.Cert, t.Second = true, fingerprint, MethodSoftwareKey
	return t
}

// Complete reports whether the login is complete: the password and a
// second factor, or a user-verified passkey alone.
func (t *Transaction) Complete() bool { return (t.PasswordOK && t.Second != "") || t.Verified }

// Known reports whether the transaction names an account: the username at
// begin, or the passkey of a passkey-first transaction.
func (t *Transaction) Known() bool { return t.UserID != "" }

// PhraseRevealed reports whether proofs of this transaction may carry the
// user's phrase (API contract v1.1, "Phrase honesty"): on a recognized
// device from the start, elsewhere only after a successful WebAuthn step —
// never after a TOTP or recovery code, which a phishing proxy can relay.
func (t *Transaction) PhraseRevealed() bool {
	return t.Known() && (t.Recognized || t.Second == MethodHardware)
}

// AMR is the authentication methods of a complete transaction (RFC 8176):
// "pwd" when the password was given, the second factor, and "mfa".
func (t *Transaction) AMR() []string {
	var amr []string
	if t.PasswordOK {
		amr = append(amr, MethodPassword)
	}
	return append(amr, t.Second, MethodMultiFactor)
}

// Identify returns the passkey-first transaction after its passkey named
// the account.
func (t Transaction) Identify(userID, username string) Transaction {
	t.UserID, t.Username = userID, username
	return t
}

// Succeed returns the transaction after step s succeeded; verified marks
// a WebAuthn assertion made with user verification, which completes the
// login by itself (API contract v1.1, "Passkey-first").
func (t Transaction) Succeed(s Step, verified bool) Transaction {
	if s == StepWebAuthn && verified {
		t.Verified = true
	}
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

// SessionCounter is the failure counter of re-authentication inside a
// session: a stranger filling the username's counter cannot throttle the
// signed-in owner, and a stolen session guesses no faster than the login.
func SessionCounter(sessionID string) string { return "thr:s:" + sessionID }

// CertCounter is the failure counter of a certificate-recognized device.
func CertCounter(fingerprint string) string { return "thr:c:" + fingerprint }

// PerUsername reports whether ThrottleKey is the username's counter, the
// one whose failures lock the account.
func (t *Transaction) PerUsername() bool { return t.Cert == "" && (!t.Recognized || t.DeviceID == "") }
