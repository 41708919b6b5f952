package account

import (
	"errors"

	"mutualauth/server/passkey"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// ErrWebAuthnUnavailable: passkeys are off, since the server's public URL
// has no domain name to serve as RP ID.
var ErrWebAuthnUnavailable = &Error{Kind: Unavailable, Code: "webauthn_unavailable", Err: passkey.ErrUnavailable,
	Message: i18n.M("problem.webauthn-unavailable")}

func invalidCredential(key string, cause error) *Error {
	return &Error{Kind: Invalid, Code: "invalid_credential", Message: i18n.M(key), Err: cause}
}

// RegistrationRefused maps the errors of passkey.Ceremonies.
// FinishRegistration, the same at enrollment and on the account page, to
// the audit detail and the refusal.
func RegistrationRefused(err error) (detail string, _ error) {
	switch {
	case errors.Is(err, passkey.ErrUnavailable):
		return "passkeys are off", ErrWebAuthnUnavailable
	case errors.Is(err, passkey.ErrNoCredential):
		return "no credential", invalidCredential("problem.no-credential-sent", nil)
	case errors.Is(err, passkey.ErrNoCeremony):
		return "no ceremony", invalidCredential("problem.passkey-request-expired", nil)
	case errors.Is(err, passkey.ErrInvalid):
		return "registration refused", invalidCredential("problem.passkey-not-verified", err)
	case errors.Is(err, store.ErrAlreadyExists):
		return "credential already registered", invalidCredential("problem.passkey-registered", nil)
	}
	return "", err
}
