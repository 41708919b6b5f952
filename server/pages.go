package server

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"mutualauth/store"
	"mutualauth/templates"
	"mutualauth/web"
)

// Renderer renders the templates for echo and renders problem pages for
// browsers.
type Renderer struct {
	Set *templates.Set
}

// Render implements echo.Renderer; data must be a templates.Page.
func (r *Renderer) Render(w io.Writer, name string, data any, _ echo.Context) error {
	p, _ := data.(templates.Page)
	return r.Set.Render(w, name, p)
}

// RenderProblem shows a problem as an HTML page.
func (r *Renderer) RenderProblem(c echo.Context, p *Problem) error {
	var buf bytes.Buffer
	if err := r.Set.Render(&buf, "error", templates.Page{Title: p.Title, Body: p}); err != nil {
		return err
	}
	return c.HTMLBlob(p.Status, buf.Bytes())
}

// render writes a page with status 200.
func render(c echo.Context, name string, p templates.Page) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Render(http.StatusOK, name, p)
}

// StaticHandler serves web/ under /static/.
type StaticHandler struct{}

// Serve serves GET /static/:name. Only files that exist in the embedded
// set are served: no directory listing, no path traversal.
func (StaticHandler) Serve(c echo.Context) error {
	name := c.Param("name")
	if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		return errNotFound()
	}
	b, err := web.Files.ReadFile(name)
	if err != nil {
		return errNotFound()
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, ctype, b)
}

// RootHandler sends a visitor of / where they can do something: the
// account page when signed in, else the sign-in page.
type RootHandler struct {
	Sessions *SessionManager
}

// Serve serves GET /.
func (h *RootHandler) Serve(c echo.Context) error {
	_, err := h.Sessions.Current(c)
	switch {
	case err == nil:
		return c.Redirect(http.StatusSeeOther, "/account")
	case errors.Is(err, store.ErrUnavailable):
		// Never a silent sign-out: the session may be fine.
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// Favicon serves GET /favicon.ico, which browsers ask for on their own:
// the SVG icon (every current browser takes an SVG there by its type).
func (StaticHandler) Favicon(c echo.Context) error {
	b, err := web.Files.ReadFile("favicon.svg")
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, "image/svg+xml", b)
}
