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
	"mutualauth/templates/i18n"
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
func (r *Renderer) Render(w io.Writer, name string, data any, c echo.Context) error {
	p, _ := data.(templates.Page)
	r.localize(c, &p)
	p.Support = r.Support
	return r.Set.Render(w, name, p)
}

// localize gives a page the request's language (i18n.Catalog.Match) and
// path (for the language switch to come back to; without the query, so
// that nothing a link put there is echoed into the page).
func (r *Renderer) localize(c echo.Context, p *templates.Page) {
	if c == nil {
		return
	}
	r.localizeRequest(c.Request(), c.Response().Header(), p)
}

func (r *Renderer) localizeRequest(req *http.Request, h http.Header, p *templates.Page) {
	p.Lang = r.Set.Catalog.Match(req).String()
	p.Path = req.URL.EscapedPath()
	h.Add("Vary", "Accept-Language, Cookie")
	h.Set("Content-Language", p.Lang)
}

// RenderProblem shows a problem as an HTML page, in the page's language.
func (r *Renderer) RenderProblem(c echo.Context, p *Problem) error {
	var buf bytes.Buffer
	if p.Message.IsZero() {
		q := *p
		q.Message = i18n.Verbatim(p.Detail)
		p = &q
	}
	page := templates.Page{Title: statusTitle(p.Status), Body: p}
	r.localize(c, &page)
	if err := r.Set.Render(&buf, "error", page); err != nil {
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

// LanguageHandler serves the language switch.
type LanguageHandler struct {
	Secure bool
}

// Switch serves GET /lang?to=de&back=/path: it keeps the choice in a
// cookie for a year and goes back to the page (a path on this server
// only).
func (h LanguageHandler) Switch(c echo.Context) error {
	tag, ok := i18n.Supported(c.QueryParam("to"))
	if !ok {
		return badRequest("problem.unsupported-language")
	}
	back := c.QueryParam("back")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.HasPrefix(back, "/\\") || strings.ContainsAny(back, "\r\n") {
		back = "/"
	}
	c.SetCookie(&http.Cookie{Name: i18n.Cookie, Value: tag.String(), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: h.Secure, SameSite: http.SameSiteLaxMode})
	return c.Redirect(http.StatusSeeOther, back)
}
