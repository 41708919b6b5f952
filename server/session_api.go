package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/audit"
	"mutualauth/store"
)

// SessionHandler serves the sessions API (API contract, "Sessions"): the
// caller's session, logout, and the list and revocation of the caller's
// sessions. Every answer comes from the session store; when it cannot be
// reached the answer is 503, never a silent logout.
type SessionHandler struct {
	Sessions *SessionManager
	Audit    *audit.Auditor
}

type currentSessionView struct {
	User          userInfo  `json:"user"`
	Groups        []string  `json:"groups"`
	AMR           []string  `json:"amr"`
	AuthTime      time.Time `json:"auth_time"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
}

// Get serves GET /api/v1/session.
func (h *SessionHandler) Get(c echo.Context) error {
	s, err := h.Sessions.Current(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, currentSessionView{
		User:          userInfo{ID: s.UserID, Username: s.Username, DisplayName: s.DisplayName},
		Groups:        nonNil(s.Groups),
		AMR:           nonNil(s.AMR),
		AuthTime:      s.AuthTime.UTC(),
		ExpiresAt:     s.ExpiresAt.UTC(),
		IdleExpiresAt: s.IdleExpiresAt.UTC(),
	})
}

// Logout serves DELETE /api/v1/session: the session is deleted from the
// store and its cookie cleared. Without a live session it is still 204.
func (h *SessionHandler) Logout(c echo.Context) error {
	s, err := h.Sessions.Current(c)
	if err != nil && !isUnauthenticated(err) {
		return err
	}
	if err := h.Sessions.End(c); err != nil {
		return err
	}
	if s.UserID != "" {
		h.Audit.Record(c.Request().Context(), store.AuditEvent{Actor: s.UserID, Subject: s.UserID, Action: audit.SessionLogout,
			Result: "success", Detail: "session " + s.ID})
	}
	return c.NoContent(http.StatusNoContent)
}

// List serves GET /api/v1/sessions: the caller's live sessions, oldest first.
func (h *SessionHandler) List(c echo.Context) error {
	s, err := h.Sessions.Current(c)
	if err != nil {
		return err
	}
	all, err := h.Sessions.Store.ListSessions(c.Request().Context(), s.UserID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewSessions(all, s))
}

// Revoke serves DELETE /api/v1/sessions/:id. Only the caller's own sessions
// can be named; any other id is 404. Revoking the current session also
// clears its cookie.
func (h *SessionHandler) Revoke(c echo.Context) error {
	s, err := h.Sessions.Current(c)
	if err != nil {
		return err
	}
	id := c.Param("id")
	ctx := c.Request().Context()
	all, err := h.Sessions.Store.ListSessions(ctx, s.UserID)
	if err != nil {
		return err
	}
	for _, x := range all {
		if x.ID != id || x.UserID != s.UserID {
			continue
		}
		if err := h.Sessions.Revoke(ctx, x); err != nil {
			return err
		}
		if x.TokenHash == s.TokenHash {
			h.Sessions.clearCookie(c)
		}
		h.Audit.Record(c.Request().Context(), store.AuditEvent{Actor: s.UserID, Subject: s.UserID, Action: audit.SessionRevoke,
			Result: "success", Detail: "session " + x.ID})
		return c.NoContent(http.StatusNoContent)
	}
	return errNotFound()
}

func isUnauthenticated(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == http.StatusUnauthorized
}
