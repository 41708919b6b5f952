package server

import (
	"context"
	"errors"
	"net/http"

	"mutualauth/server/clientcert"
	"mutualauth/store"
)

// CertLogin decides whether the client certificate of a login request
// signs in the user named in begin (API.md, "Client certificates"): only a
// certificate that verifies (package clientcert) and is bound to that very
// user counts; anything else counts as no certificate.
type CertLogin struct {
	Certs    *clientcert.Source // nil: client certificates are off
	Bindings store.ClientCerts
}

// certUse is what a request's certificate did for a login: nothing
// (Presented false), or counted (OK), or was presented and refused for
// Reason. Every presented certificate is audited with its fingerprint.
type certUse struct {
	Presented   bool
	OK          bool
	Fingerprint string
	Reason      string
}

// Check judges the request's certificate for the user u (nil: the username
// names no usable account).
func (l *CertLogin) Check(ctx context.Context, r *http.Request, u *store.User) (certUse, error) {
	if l == nil || l.Certs == nil {
		return certUse{}, nil
	}
	c, err := l.Certs.FromRequest(r)
	var refused *clientcert.RefusedError
	switch {
	case errors.As(err, &refused):
		return certUse{Presented: true, Fingerprint: refused.Fingerprint, Reason: refused.Err.Error()}, nil
	case err != nil:
		return certUse{}, nil
	}
	use := certUse{Presented: true, Fingerprint: c.Fingerprint}
	b, err := l.Bindings.GetClientCert(ctx, c.Fingerprint)
	switch {
	case errors.Is(err, store.ErrNotFound):
		use.Reason = "certificate not bound to any user"
	case err != nil:
		return certUse{}, err
	case u == nil:
		use.Reason = "no usable account of this name"
	case b.UserID != u.ID:
		use.Reason = "certificate bound to another user"
	default:
		use.OK = true
	}
	return use, nil
}

// Presents reports whether the request presents the valid certificate
// with this fingerprint.
func (l *CertLogin) Presents(r *http.Request, fingerprint string) bool {
	if l == nil || l.Certs == nil {
		return false
	}
	c, err := l.Certs.FromRequest(r)
	return err == nil && c.Fingerprint == fingerprint
}

// auditDetail is the audit detail of a certificate use.
func (u certUse) auditDetail() string {
	d := "fingerprint " + u.Fingerprint
	if u.Reason != "" {
		d += ": " + u.Reason
	}
	return d
}
