package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/clientcert"
	"mutualauth/store"
)

// Audit actions of client certificates on the account page; actor and
// subject are the user.
const (
	AuditAccountCertAdd    = "account.cert_add"
	AuditAccountCertRemove = "account.cert_remove"
)

// certView is a bound client certificate as the account page and the
// admin center show it.
type certView struct {
	Fingerprint string     `json:"fingerprint"`
	Subject     string     `json:"subject"`
	Issuer      string     `json:"issuer"`
	Serial      string     `json:"serial"`
	NotBefore   time.Time  `json:"not_before"`
	NotAfter    time.Time  `json:"not_after"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	Current     bool       `json:"current"` // presented by this request
}

func viewCert(b store.ClientCert, current string) certView {
	v := certView{
		Fingerprint: b.Fingerprint, Subject: b.Subject, Issuer: b.Issuer, Serial: b.Serial,
		NotBefore: b.NotBefore.UTC(), NotAfter: b.NotAfter.UTC(), CreatedAt: b.CreatedAt.UTC(),
		Current: current != "" && b.Fingerprint == current,
	}
	if !b.LastUsedAt.IsZero() {
		t := b.LastUsedAt.UTC()
		v.LastUsedAt = &t
	}
	return v
}

// listCerts lists the user's bound certificates, marking the one with
// the fingerprint current.
func listCerts(ctx context.Context, st store.ClientCerts, userID, current string) ([]certView, error) {
	all, err := st.ListClientCerts(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]certView, 0, len(all))
	for _, b := range all {
		out = append(out, viewCert(b, current))
	}
	return out, nil
}

// certsView is the client certificate part of the account view.
type certsView struct {
	// Enabled: the server accepts client certificates at all.
	Enabled bool       `json:"enabled"`
	List    []certView `json:"list"`
	// Presented is the valid certificate this request presents when it is
	// bound to nobody yet: the one "Add this device's certificate" binds.
	Presented *certView `json:"presented"`
}

func (h *AccountHandler) certsView(c echo.Context, userID string) (certsView, error) {
	v := certsView{Enabled: h.Certs != nil, List: []certView{}}
	if h.Certs == nil {
		return v, nil
	}
	ctx := c.Request().Context()
	presented, perr := h.Certs.FromRequest(c.Request())
	var err error
	if v.List, err = listCerts(ctx, h.Store, userID, presented.Fingerprint); err != nil {
		return v, err
	}
	if perr == nil {
		_, err := h.Store.GetClientCert(ctx, presented.Fingerprint)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p := viewCert(store.ClientCert{Fingerprint: presented.Fingerprint, Subject: presented.Subject,
				Issuer: presented.Issuer, Serial: presented.Serial, NotBefore: presented.NotBefore, NotAfter: presented.NotAfter}, "")
			v.Presented = &p
		case err != nil:
			return v, err
		}
	}
	return v, nil
}

func errNoClientCert() *Problem {
	return NewProblem(http.StatusUnprocessableEntity, "no_client_certificate",
		"This connection presents no valid client certificate of the accepted CAs, so there is none to add.")
}

func errCertBound() *Problem {
	return NewProblem(http.StatusConflict, "certificate_bound", "This certificate is bound already.")
}

// addCurrentCert binds the certificate the current connection presents to
// the signed-in user, after re-authentication.
func (h *AccountHandler) addCurrentCert(c echo.Context, s store.Session) (certView, error) {
	var out certView
	err := h.act(c, s, AuditAccountCertAdd, true, func(ctx context.Context, u store.User) (string, error) {
		if h.Certs == nil {
			return "client certificates are off", errNoClientCert()
		}
		cert, err := h.Certs.FromRequest(c.Request())
		if err != nil {
			return "no valid certificate presented", errNoClientCert()
		}
		b, err := account.BindClientCert(ctx, h.Store, h.Now(), u.ID, cert)
		if errors.Is(err, account.ErrCertificateBound) {
			return "fingerprint " + cert.Fingerprint + ": bound already", errCertBound()
		}
		if err != nil {
			return "", err
		}
		out = viewCert(b, cert.Fingerprint)
		return "fingerprint " + b.Fingerprint, nil
	})
	return out, err
}

// removeCert unbinds one of the user's certificates, after
// re-authentication like the removal of any factor.
func (h *AccountHandler) removeCert(c echo.Context, s store.Session, raw string) error {
	fp, ok := clientcert.NormalizeFingerprint(raw)
	if !ok {
		return errNotFound()
	}
	return h.act(c, s, AuditAccountCertRemove, true, func(ctx context.Context, u store.User) (string, error) {
		err := h.Store.DeleteClientCert(ctx, u.ID, fp)
		if errors.Is(err, store.ErrNotFound) {
			return "unknown certificate", errNotFound()
		}
		if err != nil {
			return "", err
		}
		return "fingerprint " + fp, nil
	})
}

// Certificates serves GET /api/v1/account/certificates.
func (h *AccountHandler) Certificates(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	v, err := h.certsView(c, s.UserID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// AddCertificate serves POST /api/v1/account/certificates: binds the
// certificate of this connection.
func (h *AccountHandler) AddCertificate(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	v, err := h.addCurrentCert(c, s)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, v)
}

// RemoveCertificate serves DELETE /api/v1/account/certificates/:fingerprint.
func (h *AccountHandler) RemoveCertificate(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	if err := h.removeCert(c, s, c.Param("fingerprint")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// FormAddCertificate serves POST /account/certificates.
func (h *AccountHandler) FormAddCertificate(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	_, err = h.addCurrentCert(c, s)
	return h.back(c, s, err, "This device's certificate was added: it now signs you in with your password alone.", "certificates", true)
}

// FormRemoveCertificate serves POST /account/certificates/:fingerprint/remove.
func (h *AccountHandler) FormRemoveCertificate(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	err = h.removeCert(c, s, c.Param("fingerprint"))
	return h.back(c, s, err, "The certificate was removed: it no longer signs you in.", "certificates", false)
}
