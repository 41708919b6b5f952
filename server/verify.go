package server

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// VerifyHandler answers forward-auth subrequests of reverse proxies (nginx
// auth_request, Traefik ForwardAuth, Caddy forward_auth): 200 with the
// user in Remote-User, Remote-Name and Remote-Groups, and how the session
// was made in Remote-Amr (the RFC 8176 values of its amr, comma-separated),
// when the request carries a live session, else 401. The answer comes from the session
// record alone (one store round trip, no database read); a store outage is
// 503, never 200.
type VerifyHandler struct {
	Issuer   string
	Sessions *SessionManager
	Metrics  *Metrics
	Log      *slog.Logger
}

// ServeHTTP serves /auth/verify (any method, since proxies forward the
// original one). It is the hottest route, so Server.ServeHTTP sends it here
// directly, past echo and its middleware: it sets the security headers of
// its refusals itself and records its own metrics.
func (h *VerifyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	hdr := w.Header()
	hdr["Cache-Control"] = noStore
	status := http.StatusOK
	s, err := h.Sessions.current(r)
	if err != nil {
		// Traefik and Caddy hand a refusal to the browser as it is, so it
		// carries the headers of every page.
		setSecurityHeaders(hdr, h.Sessions.Secure)
		p := toProblem(err)
		status = p.Status
		if p.Status == http.StatusUnauthorized {
			if hint := h.loginHint(r); hint != "" {
				hdr.Set("X-Mutualauth-Login", hint)
			}
		} else if p.Status >= 500 && h.Log != nil {
			h.Log.Error("forward auth failed", "status", p.Status, "code", p.Code, "err", err)
		}
		writeProblem(w, r, p)
	} else {
		// A 200 goes to the proxy alone (nginx auth_request, Traefik
		// ForwardAuth and Caddy forward_auth copy the Remote-* headers they
		// are told to onto the upstream request), has no body, and is never
		// shown by a browser as a document; the browser headers of
		// setSecurityHeaders would only cost every protected request.
		// One backing array for the four values.
		v := [4]string{headerValue(s.Username), headerValue(s.DisplayName), headerValue(strings.Join(s.Groups, ",")),
			headerValue(strings.Join(s.AMR, ","))}
		hdr["Remote-User"], hdr["Remote-Name"], hdr["Remote-Groups"], hdr["Remote-Amr"] = v[0:1:1], v[1:2:2], v[2:3:3], v[3:4:4]
		w.WriteHeader(http.StatusOK)
	}
	if h.Metrics != nil {
		h.Metrics.observeHot(verifyRoute, r.Method, status, time.Since(start))
	}
}

var noStore = headerList("no-store")

// verifyRoute is the path Server.ServeHTTP hands to VerifyHandler.
const verifyRoute = "/auth/verify"

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

// headerValue keeps a value on one header line and free of control
// characters (RFC 9110 §5.5: field values are visible characters), bidi
// controls and invalid UTF-8.
func headerValue(s string) string {
	if printableASCII(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			return ' '
		case r == utf8.RuneError:
			return '?'
		}
		return r
	}, s)
}

// printableASCII reports whether s is all visible ASCII or space, the usual
// case, which headerValue passes as it is.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
