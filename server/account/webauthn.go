package account

import (
	"errors"

	"mutualauth/server/passkey"
	"mutualauth/store"
)

// ErrWebAuthnUnavailable: passkeys are off, since the server's public URL
// has no domain name to serve as RP ID.
var ErrWebAuthnUnavailable = &Error{Kind: Unavailable, Code: "webauthn_unavailable", Err: passkey.ErrUnavailable,
	Detail: "Passkeys are not available on this server: its public URL must use a domain name, not an IP address."}

func invalidCredential(detail string, cause error) *Error {
	return &Error{Kind: Invalid, Code: "invalid_credential", Detail: detail, Err: cause}
}

// RegistrationRefused maps the errors of passkey.Ceremonies.
// FinishRegistration, the same at enrollment and on the account page, to
// the audit detail and the refusal.
func RegistrationRefused(err error) (detail string, _ error) {
	switch {
	case errors.Is(err, passkey.ErrUnavailable):
		return "passkeys are off", ErrWebAuthnUnavailable
	case errors.Is(err, passkey.ErrNoCredential):
		return "no credential", invalidCredential("The request has no credential.", nil)
	case errors.Is(err, passkey.ErrNoCeremony):
		return "no ceremony", invalidCredential("The passkey request has expired or was already used. Try again.", nil)
	case errors.Is(err, passkey.ErrInvalid):
		return "registration refused", invalidCredential("The passkey could not be verified. Try again.", err)
	case errors.Is(err, store.ErrAlreadyExists):
		return "credential already registered", invalidCredential("This passkey is already registered.", nil)
	}
	return "", err
}
