package login

import "errors"

// Policy is the downgrade protection of the API contract (v1.1, "Phishing
// resistance"): which relayable codes (TOTP, recovery) are accepted as a
// second factor on a device the server does not recognize. A real-time
// phishing proxy relays a code as easily as a password; it cannot relay a
// WebAuthn assertion, which is bound to the origin (WebAuthn L3 §13.4.9).
// server/config validates the configured name.
type Policy string

const (
	// PolicyPasskeyUsers refuses TOTP on unrecognized devices for users who
	// have a passkey; recovery codes stay accepted (the lost-passkey path).
	PolicyPasskeyUsers Policy = "passkey-users"
	// PolicyAll accepts TOTP and recovery codes only on recognized devices.
	PolicyAll Policy = "all"
	// PolicyOff accepts every second factor everywhere (v1 behaviour).
	PolicyOff Policy = "off"
)

// ErrPhishingResistantRequired refuses a right code where the policy asks
// for a passkey.
var ErrPhishingResistantRequired = errors.New("login: a passkey is required on this device")

// BarsCodes reports whether the policy refuses every code in tx without
// looking at it: with PolicyAll on an unrecognized device. The refusal is
// the same for every username, so it tells nothing about the account.
func (p Policy) BarsCodes(tx *Transaction) bool {
	return p == PolicyAll && !tx.Recognized
}

// RefusesRightCode reports whether a right code of step s in tx must be
// refused with ErrPhishingResistantRequired, hasPasskey telling whether
// the user has a WebAuthn credential. It is asked only after the code was
// found right, so the refusal tells nothing to whoever lacks the code.
func (p Policy) RefusesRightCode(tx *Transaction, s Step, hasPasskey bool) bool {
	if tx.Recognized || (s != StepOTP && s != StepRecovery) {
		return false
	}
	switch p {
	case PolicyAll:
		return true
	case PolicyPasskeyUsers:
		return s == StepOTP && hasPasskey
	}
	return false
}
