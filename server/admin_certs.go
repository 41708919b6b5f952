package server

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/clientcert"
	"mutualauth/store"
)

// Audit actions of client certificates in the admin center.
const (
	AuditAdminCertAdd    = "admin.cert.add"
	AuditAdminCertRemove = "admin.cert.remove"
)

func errNoSuchCert() *Problem {
	return NewProblem(http.StatusNotFound, "not_found", "This user has no such certificate.")
}

// addCert binds a certificate (PEM or DER) to the user. With client CAs
// configured it must verify against them now.
func (h *AdminHandler) addCert(c echo.Context, userID string, data []byte) (certView, error) {
	var out certView
	err := h.run(c, AuditAdminCertAdd, userID, func(n *auditNote) error {
		ctx := c.Request().Context()
		if _, err := h.getUser(ctx, userID); err != nil {
			return err
		}
		leaf, err := account.ParseCertificate(data)
		if err != nil {
			return NewProblem(http.StatusUnprocessableEntity, "invalid_certificate", "This is not an X.509 certificate in PEM or DER form.")
		}
		desc := clientcert.Describe(leaf)
		n.Detail = "fingerprint " + desc.Fingerprint
		if h.Certs != nil {
			if desc, err = h.Certs.Trust().Verify(leaf, nil, h.Now()); err != nil {
				n.Detail += ": " + err.Error()
				return NewProblem(http.StatusUnprocessableEntity, "invalid_certificate",
					"This certificate does not verify against the accepted CAs (expired, revoked, another CA's, or not for TLS clients).")
			}
		}
		b, err := account.BindClientCert(ctx, h.Store, h.Now(), userID, desc)
		if errors.Is(err, account.ErrCertificateBound) {
			return errCertBound()
		}
		if err != nil {
			return err
		}
		out = viewCert(b, "")
		return nil
	})
	return out, err
}

// removeCert unbinds one of the user's certificates.
func (h *AdminHandler) removeCert(c echo.Context, userID, raw string) error {
	return h.run(c, AuditAdminCertRemove, userID, func(n *auditNote) error {
		fp, ok := clientcert.NormalizeFingerprint(raw)
		if !ok {
			return errNoSuchCert()
		}
		n.Detail = "fingerprint " + fp
		err := h.Store.DeleteClientCert(c.Request().Context(), userID, fp)
		if errors.Is(err, store.ErrNotFound) {
			return errNoSuchCert()
		}
		return err
	})
}

// AddCertificate serves POST /api/v1/admin/users/:id/certificates
// {"certificate": "<PEM>"}.
func (h *AdminHandler) AddCertificate(c echo.Context) error {
	var req struct {
		Certificate string `json:"certificate"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	v, err := h.addCert(c, c.Param("id"), []byte(req.Certificate))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, v)
}

// RemoveCertificate serves DELETE /api/v1/admin/users/:id/certificates/:fingerprint.
func (h *AdminHandler) RemoveCertificate(c echo.Context) error {
	if err := h.removeCert(c, c.Param("id"), c.Param("fingerprint")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// RemoveCertificate serves POST /admin/users/:id/certificates/:fingerprint/delete.
func (p *AdminPages) RemoveCertificate(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	if err := p.Admin.removeCert(c, id, c.Param("fingerprint")); err != nil {
		return p.fail(c, err, back)
	}
	return p.redirect(c, back, "success", "The certificate was removed: it no longer signs this user in.")
}
