package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// AddCertificate serves POST /api/v1/admin/users/:id/certificates
// {"certificate": "<PEM>"}.
func (h *AdminHandler) AddCertificate(c echo.Context) error {
	var req struct {
		Certificate string `json:"certificate"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	b, err := h.Ops.AddClientCert(c.Request().Context(), actorID(c), c.Param("id"), []byte(req.Certificate))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, viewCert(b, ""))
}

// RemoveCertificate serves DELETE /api/v1/admin/users/:id/certificates/:fingerprint.
func (h *AdminHandler) RemoveCertificate(c echo.Context) error {
	if err := h.Ops.RemoveClientCert(c.Request().Context(), actorID(c), c.Param("id"), c.Param("fingerprint")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// RemoveCertificate serves POST /admin/users/:id/certificates/:fingerprint/delete.
func (p *AdminPages) RemoveCertificate(c echo.Context) error {
	id := c.Param("id")
	back := userURL(id)
	if err := p.Admin.Ops.RemoveClientCert(c.Request().Context(), actorID(c), id, c.Param("fingerprint")); err != nil {
		return p.fail(c, err, back)
	}
	return p.redirect(c, back, flashOf(flashSuccess, "flash.admin-cert-removed"))
}
