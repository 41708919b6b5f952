package server

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"mutualauth/server/account"
	"mutualauth/server/audit"
	"mutualauth/server/factor"
	"mutualauth/server/login"
	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/templates"
	"mutualauth/templates/i18n"
	"mutualauth/web"
)

// WidgetScript is web/widget.js as GET /widget.js serves it, with its
// Subresource Integrity value (W3C SRI §3.1: "sha384-" and the base64 of
// the SHA-384 digest) and its entity tag, both computed from the embedded
// bytes when the server starts.
type WidgetScript struct {
	Body      []byte
	Integrity string
	ETag      string
}

// LoadWidgetScript reads the embedded widget script.
func LoadWidgetScript() (WidgetScript, error) {
	b, err := web.Files.ReadFile("widget.js")
	if err != nil {
		return WidgetScript{}, err
	}
	sum := sha512.Sum384(b)
	return WidgetScript{
		Body:      b,
		Integrity: "sha384-" + base64.StdEncoding.EncodeToString(sum[:]),
		ETag:      `"` + hex.EncodeToString(sum[:16]) + `"`,
	}, nil
}

// widgetScriptMaxAge is the browser cache life of /widget.js. It is not
// "immutable": the script, and so its integrity value, changes with
// releases; the ETag makes revalidation cheap.
const widgetScriptMaxAge = "public, max-age=86400"

// WidgetHandler serves the embeddable login widget (API.md, "Widget
// clients"): the script hosts include, the page it frames, and the
// exchange of the code the frame hands to the host for the user.
type WidgetHandler struct {
	Issuer  string
	Clients store.Clients
	Users   store.Users
	KV      store.KV
	Script  WidgetScript
	Audit   *audit.Auditor
	// ClientAuth throttles failed client authentication at Token.
	ClientAuth *login.ClientAuth
	Now        func() time.Time
}

// ServeScript serves GET /widget.js. Hosts load it from their own pages,
// with an integrity attribute and crossorigin="anonymous", so it is served
// to every origin: CORS (Access-Control-Allow-Origin: *, which SRI on a
// cross-origin script needs) and Cross-Origin-Resource-Policy: cross-origin.
func (h *WidgetHandler) ServeScript(c echo.Context) error {
	hdr := c.Response().Header()
	hdr.Set("Cache-Control", widgetScriptMaxAge)
	hdr.Set("ETag", h.Script.ETag)
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if etagMatches(c.Request().Header.Get("If-None-Match"), h.Script.ETag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", h.Script.Body)
}

// etagMatches applies If-None-Match (RFC 9110 §13.1.2, weak comparison).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// Embed modes of the login page (templates/embed.html, web/login.js).
const (
	embedModeFrame = "embed" // in the widget's iframe on the host page
	embedModePopup = "popup" // the pop-up window of the WebAuthn fallback
)

// kidPattern is the shape of a key thumbprint (RFC 7638 with SHA-256, in
// unpadded base64url), the form of the widget's pinnedKey.
var kidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// embedBody is what templates/embed.html shows besides the login UI.
type embedBody struct {
	ClientName string
	HostOrigin string
	Refusal    string
}

// Embed serves GET /embed/login?client_id=...&origin=...[&pinned_key=...][&popup=1],
// the login page the widget frames. Only the client's registered origins
// may frame it (CSP frame-ancestors, W3C CSP Level 3 §6.4.2); the other
// directives are the default ones. The page runs only for a host origin
// the client registered (the `origin` parameter); otherwise it says why
// and stops. An unknown client is a 404 page.
func (h *WidgetHandler) Embed(c echo.Context) error {
	hdr := c.Response().Header()
	hdr.Set("Cache-Control", "no-store")
	id := c.QueryParam("client_id")
	if id == "" || len(id) > 200 {
		return errUnknownClient()
	}
	cl, err := h.Clients.GetClient(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownClient()
	}
	if err != nil {
		return err
	}
	origins := validOrigins(cl.Origins)

	hdr.Set("Content-Security-Policy", embedCSP(origins))
	hdr.Del("X-Frame-Options")
	mode := embedModeFrame
	if c.QueryParam("popup") == "1" {
		mode = embedModePopup
		// The pop-up reports to the frame that opened it through
		// window.opener, which a same-origin opener policy would cut off
		// (the frame's top-level page is the host's).
		hdr.Set("Cross-Origin-Opener-Policy", "unsafe-none")
	}

	host := c.QueryParam("origin")
	pinned := c.QueryParam("pinned_key")
	refusal := ""
	switch {
	case host == "":
		refusal = tr(c, "embed.refusal-no-origin")
	case !slices.Contains(origins, host):
		// A fixed text: the origin parameter is the attacker's to choose.
		refusal = tr(c, "embed.refusal-origin")
	case pinned != "" && !kidPattern.MatchString(pinned):
		refusal = tr(c, "embed.refusal-pinned-key")
	}
	status := http.StatusOK
	if refusal != "" {
		status = http.StatusBadRequest
		host, pinned = "", ""
	}
	return c.Render(status, "embed", templates.Page{
		Title:   i18n.M("login.sign-in"),
		Scripts: []string{"proof.js", "embed.js", "login.js"},
		Data: map[string]string{
			"issuer": h.Issuer, "mode": mode, "client-id": cl.ID, "host-origin": host,
			"pinned-key": pinned, "refusal": refusal,
		},
		Body: embedBody{ClientName: cl.Name, HostOrigin: host, Refusal: refusal},
	})
}

func errUnknownClient() *Problem {
	return NewProblem(http.StatusNotFound, "unknown_client", "problem.unknown-client")
}

// validOrigins keeps the origins that are exactly in serialized form; the
// store should hold nothing else, and a CSP source list must not get
// anything else.
func validOrigins(origins []string) []string {
	var out []string
	for _, o := range origins {
		if n, err := account.NormalizeOrigin(o); err == nil && n == o {
			out = append(out, o)
		}
	}
	return out
}

// embedCSP is the default policy with frame-ancestors set to origins.
func embedCSP(origins []string) string {
	ancestors := "'none'"
	if len(origins) > 0 {
		ancestors = strings.Join(origins, " ")
	}
	return strings.Replace(defaultCSP, "frame-ancestors 'none'", "frame-ancestors "+ancestors, 1)
}

// clientCORS lets the registered widget clients' origins call the login
// API from their pages (Fetch standard, CORS protocol): POST with a JSON
// body, no credentials (the login API needs no cookie: the transaction id
// and the device token travel in the body). A preflight from any other
// foreign origin is refused with 403; an actual request from one is
// refused by crossSiteGuard, which follows this middleware.
func clientCORS(issuer string, origins *ClientOrigins) echo.MiddlewareFunc {
	cors := middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOriginFunc: func(origin string) (bool, error) {
			// The wrapper below has just refreshed the set with the
			// request's context, so this is a map lookup.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return origins.Allowed(ctx, origin)
		},
		AllowMethods: []string{http.MethodPost, http.MethodOptions},
		AllowHeaders: []string{echo.HeaderContentType},
		MaxAge:       600,
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withCORS := cors(next)
		return func(c echo.Context) error {
			req := c.Request()
			origin := req.Header.Get(echo.HeaderOrigin)
			if origin != "" && origin != issuer {
				ok, err := origins.IsClientOrigin(c, origin)
				if err != nil {
					return err
				}
				if !ok && req.Method == http.MethodOptions {
					return NewProblem(http.StatusForbidden, "cross_site_request",
						"problem.cross-site-api")
				}
			}
			return withCORS(c)
		}
	}
}

// preflight answers OPTIONS on the login API when clientCORS has not (a
// request without Origin).
func preflight(c echo.Context) error { return c.NoContent(http.StatusNoContent) }

// tokenRequest is the body of POST /api/v1/token.
type tokenRequest struct {
	Code string `json:"code"`
}

// tokenResponse is what the host's backend learns about the login.
type tokenResponse struct {
	User     userInfo  `json:"user"`
	AMR      []string  `json:"amr"`
	AuthTime time.Time `json:"auth_time"`
}

// dummySecretHash stands in for the secret hash of an unknown client_id,
// so that unknown and known ids cost the same comparison.
var dummySecretHash = sha256.New().Sum(nil)

// Token serves POST /api/v1/token: the host's backend authenticates with
// HTTP Basic client_id:secret (RFC 7617; the parts form-urlencoded as RFC
// 6749 §2.3.1 says) and exchanges the code its page got from the frame.
// A code is single use (taken from the store, so of concurrent exchanges
// exactly one gets it), lives WidgetCodeTTL, and works only for the client
// the login began with; a code presented by another client is spent too.
// Every refusal is 401: invalid_client for the credentials, invalid_grant
// for the code. No cookie is involved, so there is no cross-site guard.
func (h *WidgetHandler) Token(c echo.Context) error {
	ctx := c.Request().Context()
	id, secret, ok := clientCredentials(c.Request())
	if !ok {
		return h.refuseClient(c, "", "no HTTP Basic client credentials")
	}
	if err := h.ClientAuth.Check(ctx, id, c.RealIP()); err != nil {
		var te *login.ThrottledError
		if !errors.As(err, &te) {
			return err
		}
		h.auditClientRefusal(c, "throttled", "too many failed client authentications; client "+truncate(id, 64))
		p := NewProblem(http.StatusTooManyRequests, "throttled",
			"problem.client-auth-throttled")
		p.RetryAfter = te.RetryAfter
		return p
	}
	cl, err := h.Clients.GetClient(ctx, id)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	want := dummySecretHash
	if known {
		want = cl.SecretHash
	}
	if match := token.Equal(token.Hash(secret), want); !match || !known {
		if err := h.ClientAuth.Failed(ctx, id, c.RealIP()); err != nil {
			return err
		}
		if !known {
			return h.refuseClient(c, id, "unknown client_id")
		}
		return h.refuseClient(c, id, "wrong client secret")
	}
	if err := h.ClientAuth.Succeeded(ctx, id); err != nil {
		return err
	}

	var req tokenRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	code := strings.TrimSpace(req.Code)
	if !token.Valid(code) {
		return h.refuseGrant(c, cl.ID, "", "malformed code")
	}
	raw, err := h.KV.Take(ctx, WidgetCodeKey(code))
	if errors.Is(err, store.ErrNotFound) {
		return h.refuseGrant(c, cl.ID, "", "unknown, used or expired code")
	}
	if err != nil {
		return err
	}
	var wc widgetCode
	if err := json.Unmarshal(raw, &wc); err != nil {
		return err
	}
	if wc.ClientID != cl.ID {
		return h.refuseGrant(c, cl.ID, wc.UserID, "code issued to client "+wc.ClientID+" (now spent)")
	}
	if !h.Now().Before(wc.AuthTime.Add(WidgetCodeTTL)) {
		return h.refuseGrant(c, cl.ID, wc.UserID, "code expired")
	}
	u, err := h.Users.GetUser(ctx, wc.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return h.refuseGrant(c, cl.ID, wc.UserID, "account deleted since the login")
	}
	if err != nil {
		return err
	}
	if reason := factor.Unusable(&u); reason != "" {
		return h.refuseGrant(c, cl.ID, u.ID, reason+" since the login")
	}
	h.Audit.Record(c.Request().Context(), store.AuditEvent{Subject: u.ID, Action: audit.WidgetToken, Result: "success",
		Detail: "client " + cl.ID + ", amr " + strings.Join(wc.AMR, "+")})
	return c.JSON(http.StatusOK, tokenResponse{
		User:     userInfo{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName},
		AMR:      wc.AMR,
		AuthTime: wc.AuthTime.UTC(),
	})
}

// clientCredentials reads HTTP Basic credentials (RFC 7617 §2), undoing the
// form-urlencoding of RFC 6749 §2.3.1.
func clientCredentials(r *http.Request) (id, secret string, ok bool) {
	id, secret, ok = r.BasicAuth()
	if !ok || id == "" || secret == "" || len(id) > 200 || len(secret) > 200 {
		return "", "", false
	}
	if u, err := url.QueryUnescape(id); err == nil {
		id = u
	}
	if s, err := url.QueryUnescape(secret); err == nil {
		secret = s
	}
	return id, secret, true
}

func (h *WidgetHandler) refuseClient(c echo.Context, clientID, reason string) error {
	detail := reason
	if clientID != "" {
		detail += "; client " + truncate(clientID, 64)
	}
	h.auditClientRefusal(c, "invalid_client", detail)
	c.Response().Header().Set("WWW-Authenticate", `Basic realm="mutualauth", charset="UTF-8"`)
	return NewProblem(http.StatusUnauthorized, "invalid_client", "problem.invalid-client")
}

// auditClientRefusal writes a refused client authentication to the audit
// log, aggregated (login.ClientAuth.ShouldAudit) so that a flood of wrong
// secrets cannot grow the audit table without bound.
func (h *WidgetHandler) auditClientRefusal(c echo.Context, result, detail string) {
	ctx := c.Request().Context()
	if detail, write, err := h.ClientAuth.SampleAudit(ctx, detail); err == nil && write {
		h.Audit.Record(ctx, store.AuditEvent{Action: audit.WidgetToken, Result: result, Detail: detail})
	}
}

func (h *WidgetHandler) refuseGrant(c echo.Context, clientID, userID, reason string) error {
	h.Audit.Record(c.Request().Context(), store.AuditEvent{Subject: userID, Action: audit.WidgetToken, Result: "invalid_grant",
		Detail: reason + "; client " + clientID})
	return NewProblem(http.StatusUnauthorized, "invalid_grant",
		"problem.invalid-grant")
}
