package server

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"mutualauth/templates"
	"mutualauth/web"
)

// Renderer renders the templates for echo and renders problem pages for
// browsers.
type Renderer struct {
	Set *templates.Set
	// Support is the configured support contact, given to every page.
	Support templates.Support
}

// Render implements echo.Renderer; data must be a templates.Page.
func (r *Renderer) Render(w io.Writer, name string, data any, _ echo.Context) error {
	p, _ := data.(templates.Page)
	p.Support = r.Support
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
