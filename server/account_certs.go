package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/clientcert"
	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// certView is a bound client certificate as the account page and the
// admin center show it; Current marks the one the request presents.
type certView struct {
	Fingerprint string     `json:"fingerprint"`
	Subject     string     `json:"subject"`
	Issuer      string     `json:"issuer"`
	Serial      string     `json:"serial"`
	NotBefore   time.Time  `json:"not_before"`
	NotAfter    time.Time  `json:"not_after"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	Current     bool       `json:"current"`
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

// loadCerts lists the user's bound certificates, marking the one with the
// fingerprint current.
func loadCerts(ctx context.Context, st store.ClientCerts, userID, current string) ([]certView, error) {
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

// presentedCert is the verified client certificate of the request, or nil.
func presentedCert(src *clientcert.Source, r *http.Request) *clientcert.Cert {
	c, err := src.FromRequest(r)
	if err != nil {
		return nil
	}
	return &c
}

// certOffer is what the account page offers about client certificates.
type certOffer struct {
	// Enabled: the server accepts client certificates at all.
	Enabled bool `json:"enabled"`
	// Presented is the valid certificate this request presents when it is
	// bound to nobody yet: the one "Add this device's certificate" binds.
	Presented *certView `json:"presented"`
}

func (h *AccountHandler) certOffer(c echo.Context) (certOffer, error) {
	o := certOffer{Enabled: h.Certs != nil}
	p := presentedCert(h.Certs, c.Request())
	if p == nil {
		return o, nil
	}
	_, err := h.Durable.GetClientCert(c.Request().Context(), p.Fingerprint)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v := viewCert(store.ClientCert{Fingerprint: p.Fingerprint, Subject: p.Subject, Issuer: p.Issuer,
			Serial: p.Serial, NotBefore: p.NotBefore, NotAfter: p.NotAfter}, "")
		o.Presented = &v
	case err != nil:
		return o, err
	}
	return o, nil
}

// certificatesView answers GET /api/v1/account/certificates.
type certificatesView struct {
	certOffer
	List []certView `json:"list"`
}

// Certificates serves GET /api/v1/account/certificates.
func (h *AccountHandler) Certificates(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	var v certificatesView
	if v.certOffer, err = h.certOffer(c); err != nil {
		return err
	}
	current := ""
	if v.Enabled {
		if p := presentedCert(h.Certs, c.Request()); p != nil {
			current = p.Fingerprint
		}
	}
	if v.List, err = loadCerts(c.Request().Context(), h.Durable, s.UserID, current); err != nil {
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
	b, err := h.Self.AddClientCert(c.Request().Context(), s, presentedCert(h.Certs, c.Request()))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, viewCert(b, b.Fingerprint))
}

// RemoveCertificate serves DELETE /api/v1/account/certificates/:fingerprint.
func (h *AccountHandler) RemoveCertificate(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	if err := h.Self.RemoveClientCert(c.Request().Context(), s, c.Param("fingerprint")); err != nil {
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
	_, err = h.Self.AddClientCert(c.Request().Context(), s, presentedCert(h.Certs, c.Request()))
	return h.back(c, s, err, i18n.M("account.cert-added"), "certificates", true)
}

// FormRemoveCertificate serves POST /account/certificates/:fingerprint/remove.
func (h *AccountHandler) FormRemoveCertificate(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	err = h.Self.RemoveClientCert(c.Request().Context(), s, c.Param("fingerprint"))
	return h.back(c, s, err, i18n.M("flash.cert-removed"), "certificates", false)
}
