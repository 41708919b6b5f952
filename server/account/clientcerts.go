package account

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"time"

	"mutualauth/server/audit"
	"mutualauth/server/clientcert"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// ErrInvalidCertificate is returned for input that holds no single X.509
// certificate, or one that does not verify against the client CAs.
var ErrInvalidCertificate = errors.New("invalid client certificate")

// ErrCertificateBound is returned when a certificate is bound already (to
// this user or another): one certificate names one user.
var ErrCertificateBound = errors.New("this certificate is bound already")

// ParseCertificate reads one certificate, PEM (the first CERTIFICATE
// block) or DER.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %q, want CERTIFICATE", ErrInvalidCertificate, b.Type)
		}
		der = b.Bytes
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCertificate, err)
	}
	return c, nil
}

// BindClientCert binds the certificate c describes to the user. The
// caller has verified it (clientcert.Trust.Verify) where client CAs are
// configured.
func BindClientCert(ctx context.Context, st store.ClientCerts, now time.Time, userID string, c clientcert.Cert) (store.ClientCert, error) {
	b := store.ClientCert{
		Fingerprint: c.Fingerprint, UserID: userID, Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, CreatedAt: now,
	}
	err := st.AddClientCert(ctx, b)
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.ClientCert{}, ErrCertificateBound
	}
	if err != nil {
		return store.ClientCert{}, fmt.Errorf("bind client certificate: %w", err)
	}
	return b, nil
}

// Refusals of the client certificate operations.
var (
	errNoClientCert = &Error{Kind: Invalid, Code: "no_client_certificate",
		Message: i18n.M("problem.no-client-certificate")}
	errCertBound = &Error{Kind: Conflict, Code: "certificate_bound", Message: i18n.M("problem.certificate-bound"),
		Err: ErrCertificateBound}
	errNotACert = &Error{Kind: Invalid, Code: "invalid_certificate",
		Message: i18n.M("problem.not-a-certificate"), Err: ErrInvalidCertificate}
	errCertRefused = &Error{Kind: Invalid, Code: "invalid_certificate",
		Message: i18n.M("problem.certificate-refused"),
		Err:     ErrInvalidCertificate}
	errNoCert = &Error{Kind: NotFound, Code: "not_found", Message: i18n.M("problem.no-certificate")}
)

// bind binds c to the user: errCertBound when it is bound already.
func bind(ctx context.Context, st store.ClientCerts, now time.Time, userID string, c clientcert.Cert) (store.ClientCert, error) {
	b, err := BindClientCert(ctx, st, now, userID, c)
	if errors.Is(err, ErrCertificateBound) {
		return store.ClientCert{}, errCertBound
	}
	return b, err
}

// unbind removes the user's certificate with this fingerprint (any
// spelling NormalizeFingerprint takes), errNoCert when there is none, and
// ends the sessions made with it but keep (a token hash; "": none): the
// device it stood for is no longer trusted. It returns the fingerprint and
// how many sessions ended.
func unbind(ctx context.Context, st store.ClientCerts, sessions store.Sessions, userID, fingerprint, keep string) (string, int, error) {
	fp, ok := clientcert.NormalizeFingerprint(fingerprint)
	if !ok {
		return "", 0, errNoCert
	}
	err := st.DeleteClientCert(ctx, userID, fp)
	if errors.Is(err, store.ErrNotFound) {
		return fp, 0, errNoCert
	}
	if err != nil {
		return fp, 0, err
	}
	all, err := sessions.ListSessions(ctx, userID)
	if err != nil {
		return fp, 0, err
	}
	ended := 0
	for _, s := range all {
		if s.ClientCert != fp || s.TokenHash == keep {
			continue
		}
		if err := sessions.DeleteSession(ctx, s.TokenHash); err != nil {
			return fp, ended, err
		}
		ended++
	}
	return fp, ended, nil
}

// AddClientCert binds the certificate the session's current connection
// presents (verified by the caller; nil: none was) to the session's user,
// after re-authentication.
func (a *Self) AddClientCert(ctx context.Context, s store.Session, presented *clientcert.Cert) (store.ClientCert, error) {
	var out store.ClientCert
	err := a.act(ctx, s, audit.AccountCertAdd, true, func(u store.User) (string, error) {
		if presented == nil {
			return "no valid certificate presented", errNoClientCert
		}
		var err error
		out, err = bind(ctx, a.Durable, a.Now(), u.ID, *presented)
		return "fingerprint " + presented.Fingerprint, err
	})
	return out, err
}

// RemoveClientCert unbinds one of the user's certificates and ends the
// other sessions made with it (this one goes on), after re-authentication
// like the removal of any factor.
func (a *Self) RemoveClientCert(ctx context.Context, s store.Session, fingerprint string) error {
	return a.act(ctx, s, audit.AccountCertRemove, true, func(u store.User) (string, error) {
		fp, ended, err := unbind(ctx, a.Durable, a.Sessions, u.ID, fingerprint, s.TokenHash)
		return "fingerprint " + fp + "; sessions made with it ended: " + strconv.Itoa(ended), err
	})
}

// AddClientCert binds a certificate (PEM or DER) to the user. With client
// CAs configured it must verify against them now.
func (a *Admin) AddClientCert(ctx context.Context, actor, userID string, data []byte) (store.ClientCert, error) {
	var out store.ClientCert
	err := a.run(ctx, actor, audit.AdminCertAdd, userID, func(n *note) error {
		if _, err := a.User(ctx, userID); err != nil {
			return err
		}
		leaf, err := ParseCertificate(data)
		if err != nil {
			return errNotACert
		}
		desc := clientcert.Describe(leaf)
		n.Detail = "fingerprint " + desc.Fingerprint
		if a.Certs != nil {
			if desc, err = a.Certs.Trust().Verify(leaf, nil, a.Now()); err != nil {
				n.Detail += ": " + err.Error()
				return errCertRefused
			}
		}
		out, err = bind(ctx, a.Durable, a.Now(), userID, desc)
		return err
	})
	return out, err
}

// RemoveClientCert unbinds one of the user's certificates and ends the
// sessions made with it.
func (a *Admin) RemoveClientCert(ctx context.Context, actor, userID, fingerprint string) error {
	return a.run(ctx, actor, audit.AdminCertRemove, userID, func(n *note) error {
		fp, ended, err := unbind(ctx, a.Durable, a.Sessions, userID, fingerprint, "")
		n.Detail = "fingerprint " + fp + "; sessions made with it ended: " + strconv.Itoa(ended)
		return err
	})
}
