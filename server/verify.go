package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// VerifyHandler answers forward-auth subrequests of reverse proxies (nginx
// auth_request, Traefik ForwardAuth, Caddy forward_auth): 200 with the
// user in Remote-User, Remote-Name and Remote-Groups when the request
// carries a live session, else 401. The answer comes from the session
// record alone (one store round trip, no database read); a store outage is
// 503, never 200.
type VerifyHandler struct {
	Issuer   string
	Sessions *SessionManager
}

// Verify serves GET /auth/verify (any method, since proxies forward the
// original one).
func (h *VerifyHandler) Verify(c echo.Context) error {
	s, err := h.Sessions.Current(c)
	if err != nil {
		if isUnauthenticated(err) {
			if hint := h.loginHint(c.Request()); hint != "" {
				c.Response().Header().Set("X-Mutualauth-Login", hint)
			}
		}
		return err
	}
	hdr := c.Response().Header()
	hdr.Set("Remote-User", headerValue(s.Username))
	hdr.Set("Remote-Name", headerValue(s.DisplayName))
	hdr.Set("Remote-Groups", headerValue(strings.Join(s.Groups, ",")))
	return c.NoContent(http.StatusOK)
}

// loginHint is the login page URL with the original request as return_to,
// when the proxy says what the original request was (X-Forwarded-Proto,
// -Host and -Uri). The login page passes return_to on only if it is safe.
func (h *VerifyHandler) loginHint(r *http.Request) string {
	proto := r.Header.Get("X-Forwarded-Proto")
	host := r.Header.Get("X-Forwarded-Host")
	uri := r.Header.Get("X-Forwarded-Uri")
	if host == "" || (proto != "http" && proto != "https") || strings.ContainsAny(host, "/\\@ \r\n") {
		return ""
	}
	if uri == "" || !strings.HasPrefix(uri, "/") {
		uri = "/"
	}
	return h.Issuer + "/login?return_to=" + url.QueryEscape(proto+"://"+host+uri)
}

// headerValue keeps a value on one header line.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
