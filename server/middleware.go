package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"mutualauth/server/audit"
)

// Content-Security-Policy for every page but the widget's embed page: scripts
// and styles from our origin only, no plugins, no <base>, no framing
// (DESIGN.md, "Bars"; W3C CSP Level 3).
const defaultCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries. A handler may
// replace Content-Security-Policy (the embed page sets its client's
// frame-ancestors) before writing.
func securityHeaders(secure bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			setSecurityHeaders(h, secure)
			if strings.HasPrefix(c.Request().URL.Path, "/api/") || strings.HasPrefix(c.Request().URL.Path, "/auth/") {
				h.Set("Cache-Control", "no-store")
			}
			return next(c)
		}
	}
}

// setSecurityHeaders sets the security headers of every response; secure
// (an https public URL) adds HSTS. Handlers outside echo's middleware (the
// forward-auth fast path) call it themselves. The values are shared
// one-element slices: no allocation per response.
func setSecurityHeaders(h http.Header, secure bool) {
	for _, f := range securityHeaderFields {
		h[f.name] = f.value
	}
	if secure {
		h["Strict-Transport-Security"] = hstsValue
	}
}

// securityHeaderFields are the headers setSecurityHeaders sets, under their
// canonical names.
var securityHeaderFields = [...]struct {
	name  string
	value []string
}{
	{"Content-Security-Policy", headerList(defaultCSP)},
	{"X-Content-Type-Options", headerList("nosniff")},
	{"X-Frame-Options", headerList("DENY")},
	{"Referrer-Policy", headerList("no-referrer")},
	{"Cross-Origin-Opener-Policy", headerList("same-origin")},
	{"Cross-Origin-Resource-Policy", headerList("same-origin")},
	{"Permissions-Policy", headerList("camera=(), microphone=(), geolocation=(), payment=()")},
}

var hstsValue = headerList("max-age=63072000; includeSubDomains")

// headerList is a header value to share between responses. Its capacity is
// one, so Header.Add copies it instead of writing into it.
func headerList(v string) []string { return []string{v}[:1:1] }

// OriginChecker says whether a cross-origin browser may call an endpoint:
// the issuer's own origin always, registered widget client origins only for
// the login API.
type OriginChecker interface {
	IsClientOrigin(c echo.Context, origin string) (bool, error)
}

// crossSiteGuard refuses state-changing requests that a browser sent from
// another site (CSRF). It trusts Sec-Fetch-Site (W3C Fetch Metadata), which
// browsers set and pages cannot forge: "same-origin" passes even when Origin
// is "null" (a no-referrer page's form post). Without fetch metadata it
// falls back to Origin (RFC 6454 §7). Requests with neither header do not
// come from a browser and carry no ambient authority a page could abuse.
// allowClients lets registered widget client origins through (the login API).
func crossSiteGuard(issuer string, clients OriginChecker, allowClients bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			switch req.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				return next(c)
			}
			origin := req.Header.Get("Origin")
			switch site := req.Header.Get("Sec-Fetch-Site"); site {
			case "same-origin", "none":
				return next(c)
			case "":
				if origin == "" || origin == issuer {
					return next(c)
				}
			}
			if origin != "" && origin != "null" && allowClients && clients != nil {
				ok, err := clients.IsClientOrigin(c, origin)
				if err != nil {
					return err
				}
				if ok {
					return next(c)
				}
			}
			return NewProblem(http.StatusForbidden, "cross_site_request",
				"problem.cross-site-request")
		}
	}
}

// sameOriginURL reports whether raw is a URL on the issuer's origin (or a
// path on it) and returns it in a form safe to redirect to.
func sameOriginURL(issuer, raw string) (string, bool) {
	if raw == "" || strings.ContainsAny(raw, "\r\n\\\x00") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	if u.Scheme == "" && u.Host == "" {
		if !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(raw, "//") {
			return "", false
		}
		// The path is re-escaped when its raw form is not a valid escaping
		// ("/%2fevil.example/ " becomes "//evil.example/%20"): check what
		// is returned, not only what came in.
		out := u.RequestURI()
		if strings.HasPrefix(out, "//") {
			return "", false
		}
		return out, true
	}
	if u.Scheme+"://"+u.Host != issuer || u.User != nil {
		return "", false
	}
	return u.String(), true
}

// clientIP puts the client's IP (echo's IPExtractor: X-Forwarded-For only
// from trusted proxies) into the request's context, where the audit log
// reads it (audit.WithClientIP).
func clientIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		c.SetRequest(r.WithContext(audit.WithClientIP(r.Context(), c.RealIP())))
		return next(c)
	}
}
