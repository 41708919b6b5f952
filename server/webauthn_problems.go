package server

import (
	"errors"
	"net/http"

	"mutualauth/server/passkey"
	"mutualauth/store"
)

func errWebAuthnUnavailable() *Problem {
	return NewProblem(http.StatusNotImplemented, "webauthn_unavailable",
		"Passkeys are not available on this server: its public URL must use a domain name, not an IP address.")
}

func invalidCredential(detail string) *Problem {
	return NewProblem(http.StatusUnprocessableEntity, "invalid_credential", detail)
}

// webAuthnProblem maps passkey.ErrUnavailable to its problem.
func webAuthnProblem(err error) error {
	if errors.Is(err, passkey.ErrUnavailable) {
		return errWebAuthnUnavailable()
	}
	return err
}

// registrationRefused maps the errors of passkey.Ceremonies.
// FinishRegistration, the same at enrollment and on the account page, to
// the audit detail and the problem.
func registrationRefused(err error) (detail string, _ error) {
	switch {
	case errors.Is(err, passkey.ErrUnavailable):
		return "passkeys are off", errWebAuthnUnavailable()
	case errors.Is(err, passkey.ErrNoCredential):
		return "no credential", invalidCredential("The request has no credential.")
	case errors.Is(err, passkey.ErrNoCeremony):
		return "no ceremony", invalidCredential("The passkey request has expired or was already used. Try again.")
	case errors.Is(err, passkey.ErrInvalid):
		p := invalidCredential("The passkey could not be verified. Try again.")
		p.Cause = err
		return "registration refused", p
	case errors.Is(err, store.ErrAlreadyExists):
		return "credential already registered", invalidCredential("This passkey is already registered.")
	}
	return "", err
}
