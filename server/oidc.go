package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"mutualauth/server/factor"
	"mutualauth/server/oidc"
	"mutualauth/store"
	"mutualauth/templates"
	"mutualauth/templates/i18n"
)

// OIDCHandler is the browser side of the OpenID Connect provider: it
// mounts the provider, hands authorization requests to the hosted login
// page and back, and serves the device verification page.
type OIDCHandler struct {
	Provider *oidc.Provider
	Sessions *SessionManager
	Users    store.Users
	Now      func() time.Time
}

// Serve passes a request to the provider.
func (h *OIDCHandler) Serve(c echo.Context) error {
	h.Provider.ServeHTTP(c.Response(), c.Request())
	return nil
}

// Continue serves GET /oidc/continue?id=: the authorization endpoint sends
// the browser here. A live session that satisfies the request (prompt,
// max_age) answers it at once (single sign-on); otherwise prompt=none gets
// login_required at the redirect URI (OpenID Connect Core 1.0 §3.1.2.6),
// and any other request goes to the hosted login page, which comes back
// here when the mutual login is complete.
func (h *OIDCHandler) Continue(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.QueryParam("id")
	ar, err := h.Provider.AuthRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) || id == "" {
		return NewProblem(http.StatusBadRequest, "unknown_request",
			"problem.unknown-request")
	}
	if err != nil {
		return err
	}
	if ar.IsDone {
		return errAnsweredRequest()
	}
	s, err := h.Sessions.Current(c)
	if err != nil && !isUnauthenticated(err) {
		return err
	}
	if err == nil && ar.Satisfied(s.AuthTime, h.Now()) {
		if u, uerr := h.Users.GetUser(ctx, s.UserID); uerr == nil && factor.Unusable(&u) == "" {
			to, err := h.Provider.Complete(ctx, ar.ID, oidc.Login{UserID: s.UserID, SessionID: s.ID, AMR: s.AMR, AuthTime: s.AuthTime})
			if errors.Is(err, oidc.ErrAnswered) || errors.Is(err, store.ErrNotFound) {
				return errAnsweredRequest()
			}
			if err != nil {
				return err
			}
			return c.Redirect(http.StatusFound, to)
		} else if uerr != nil && !errors.Is(uerr, store.ErrNotFound) {
			return uerr
		}
	}
	if ar.PromptNone() {
		to, err := h.Provider.Fail(ctx, ar, zoidc.ErrLoginRequired().WithDescription("The user is not signed in."))
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusFound, to)
	}
	back := oidc.ContinuePath + "?id=" + url.QueryEscape(ar.ID)
	return c.Redirect(http.StatusFound, "/login?return_to="+url.QueryEscape(back))
}

func errAnsweredRequest() *Problem {
	return NewProblem(http.StatusBadRequest, "unknown_request", "problem.answered-request")
}

// Handoff names the app a login page's return_to leads to, when it is an
// authorization request's hand-off, and passes on the request's
// login_hint (OpenID Connect Core 1.0 §3.1.2.1) to fill in the username.
func (h *OIDCHandler) Handoff(ctx context.Context, returnTo string) (string, string) {
	rest, ok := strings.CutPrefix(returnTo, oidc.ContinuePath+"?")
	if !ok {
		return "", ""
	}
	q, err := url.ParseQuery(rest)
	if err != nil {
		return "", ""
	}
	ar, err := h.Provider.AuthRequest(ctx, q.Get("id"))
	if err != nil {
		return "", ""
	}
	return h.Provider.ClientName(ctx, ar.ClientID), truncate(ar.LoginHint, 64)
}

// devicePage is the body of the oidc_device template.
type devicePage struct {
	Step     string // "code", "confirm" or "done"
	UserCode string
	App      string
	Scopes   []string
	Approved bool
	Error    string
}

// Device serves GET /oidc/device (RFC 8628 §3.3), behind the session: it
// asks for the user code (prefilled from verification_uri_complete).
func (h *OIDCHandler) Device(c echo.Context) error {
	return h.renderDevice(c, devicePage{Step: "code", UserCode: c.QueryParam("user_code")})
}

// DeviceSubmit serves POST /oidc/device: with a user code it shows the app
// asking and the scopes; with decision=approve or deny it answers.
func (h *OIDCHandler) DeviceSubmit(c echo.Context) error {
	s, ok := sessionOf(c)
	if !ok {
		return errUnauthenticated()
	}
	ctx := c.Request().Context()
	code := strings.TrimSpace(c.FormValue("user_code"))
	req, err := h.Provider.Storage.LookupDevice(ctx, code)
	if errors.Is(err, oidc.ErrUnknownUserCode) || code == "" || len(code) > 32 {
		return h.renderDevice(c, devicePage{Step: "code", UserCode: truncate(code, 32),
			Error: tr(c, "device.code-unknown")})
	}
	if err != nil {
		return err
	}
	page := devicePage{Step: "confirm", UserCode: req.UserCode, App: req.ClientName, Scopes: req.Scopes}
	switch c.FormValue("decision") {
	case "approve", "deny":
		approve := c.FormValue("decision") == "approve"
		err := h.Provider.Storage.AnswerDevice(ctx, req.UserCode, approve,
			oidc.Login{UserID: s.UserID, SessionID: s.ID, AMR: s.AMR, AuthTime: s.AuthTime})
		if errors.Is(err, oidc.ErrUnknownUserCode) {
			return h.renderDevice(c, devicePage{Step: "code", Error: tr(c, "device.code-answered")})
		}
		if err != nil {
			return err
		}
		page.Step, page.Approved = "done", approve
	}
	return h.renderDevice(c, page)
}

func (h *OIDCHandler) renderDevice(c echo.Context, p devicePage) error {
	s, _ := sessionOf(c)
	return render(c, "oidc_device", templates.Page{Title: i18n.M("device.title"), Body: p,
		User: &templates.PageUser{Username: s.Username, DisplayName: s.DisplayName,
			Admin: slices.Contains(s.Groups, string(store.RoleAdmin))}})
}

// oidcErrorPage renders an authorization error that must not be redirected
// (unknown client, unregistered redirect URI) as the error page.
func oidcErrorPage(r *Renderer) oidc.ErrorPage {
	return func(w http.ResponseWriter, req *http.Request, status int, code, description string) {
		p := NewProblem(status, code, "problem.oidc-invalid-request", i18n.Verbatim(description))
		var buf bytes.Buffer
		page := templates.Page{Title: statusTitle(status), Body: p, Support: r.Support}
		r.localizeRequest(req, w.Header(), &page)
		if err := r.Set.Render(&buf, "error", page); err != nil {
			http.Error(w, p.Detail, status)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	}
}

// oidcSessions ends the browser's session for RP-initiated logout.
type oidcSessions struct {
	m *SessionManager
}

func (o oidcSessions) EndSessionOf(ctx context.Context, header http.Header) (string, http.Header, bool, error) {
	r := (&http.Request{Header: header}).WithContext(ctx)
	clear := http.Header{}
	clear.Add("Set-Cookie", (&http.Cookie{Name: o.m.CookieName(), Value: "", Path: "/", HttpOnly: true,
		Secure: o.m.Secure, SameSite: http.SameSiteLaxMode, MaxAge: -1}).String())
	s, err := o.m.current(r)
	if isUnauthenticated(err) {
		return "", clear, false, nil
	}
	if err != nil {
		return "", nil, false, err
	}
	if err := o.m.Store.DeleteSession(ctx, s.TokenHash); err != nil {
		return "", nil, false, err
	}
	return s.UserID, clear, true, nil
}

// sessionGrants revokes OIDC grants when sessions are revoked in bulk
// (admin disable and reset, "sign out other sessions"): the grants of the
// ended sessions, and with none kept every grant of the user, device grants
// included (API.md, "OpenID Connect provider").
type sessionGrants struct {
	store.Sessions
	Grants store.OIDC
	Now    func() time.Time
}

func (s sessionGrants) DeleteUserSessions(ctx context.Context, userID, keepTokenHash string) (int, error) {
	if keepTokenHash == "" {
		n, err := s.Sessions.DeleteUserSessions(ctx, userID, "")
		if err != nil {
			return n, err
		}
		_, err = s.Grants.RevokeUserOIDCGrants(ctx, userID, s.Now())
		return n, err
	}
	list, err := s.Sessions.ListSessions(ctx, userID)
	if err != nil {
		return 0, err
	}
	n, err := s.Sessions.DeleteUserSessions(ctx, userID, keepTokenHash)
	if err != nil {
		return n, err
	}
	for _, x := range list {
		if x.TokenHash != keepTokenHash {
			if _, err := s.Grants.RevokeSessionOIDCGrants(ctx, x.ID, s.Now()); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// logoutPage is the body of the oidc_logout template.
type logoutPage struct {
	App                   string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
	SignedIn              bool
	Username              string
}

// Logout serves GET /oidc/logout: the confirmation of an RP-initiated
// logout that came without id_token_hint. Its form posts the parameters
// back to the end_session endpoint, which validates them again.
func (h *OIDCHandler) Logout(c echo.Context) error {
	p := logoutPage{ClientID: truncate(c.QueryParam("client_id"), 200),
		PostLogoutRedirectURI: truncate(c.QueryParam("post_logout_redirect_uri"), 2000),
		State:                 truncate(c.QueryParam("state"), 500)}
	if p.ClientID != "" {
		p.App = h.Provider.ClientName(c.Request().Context(), p.ClientID)
	}
	s, err := h.Sessions.Current(c)
	if err != nil && !isUnauthenticated(err) {
		return err
	}
	if err == nil {
		p.SignedIn, p.Username = true, s.Username
	}
	return render(c, "oidc_logout", templates.Page{Title: i18n.M("account.signout"), Body: p})
}
