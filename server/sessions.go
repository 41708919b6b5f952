package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/clientcert"
	"mutualauth/server/login"
	"mutualauth/server/token"
	"mutualauth/store"
)

// SessionManager issues, reads and ends login sessions (API.md "Sessions";
// OWASP ASVS 5.0 V7). Tokens carry 256 random bits; the store holds only
// their SHA-256.
type SessionManager struct {
	Store store.Sessions
	// Grants are the OIDC grants a revoked session takes along.
	Grants   store.OIDC
	Idle     time.Duration
	Absolute time.Duration
	Secure   bool
	Now      func() time.Time
	// Certs and BindCerts: with BindCerts, a session made with a client
	// certificate counts only on requests that present that certificate
	// (MUTUALAUTH_TLS_BIND_SESSIONS).
	Certs     *clientcert.Source
	BindCerts bool
}

// CookieName is __Host-mutualauth_session under https, else mutualauth_session.
func (m *SessionManager) CookieName() string {
	if m.Secure {
		return "__Host-mutualauth_session"
	}
	return "mutualauth_session"
}

// Create starts a session for u and sets its cookie. A new token every time:
// a login never reuses a session id.
func (m *SessionManager) Create(c echo.Context, u store.User, amr []string, authTime time.Time) (store.Session, string, error) {
	return m.CreateWithCert(c, u, amr, authTime, "")
}

// CreateWithCert is Create for a login made with the client certificate
// of this fingerprint, kept in the session.
func (m *SessionManager) CreateWithCert(c echo.Context, u store.User, amr []string, authTime time.Time, cert string) (store.Session, string, error) {
	tok, err := token.New()
	if err != nil {
		return store.Session{}, "", err
	}
	now := m.Now()
	s := store.Session{
		ID:            account.NewID()[:16],
		TokenHash:     token.HashHex(tok),
		UserID:        u.ID,
		Username:      u.Username,
		DisplayName:   u.DisplayName,
		Groups:        []string{string(u.Role)},
		AMR:           amr,
		AuthTime:      authTime,
		CreatedAt:     now,
		LastSeenAt:    now,
		ExpiresAt:     now.Add(m.Absolute),
		IdleExpiresAt: now.Add(m.Idle),
		IP:            c.RealIP(),
		UserAgent:     truncate(c.Request().UserAgent(), 256),
		ClientCert:    cert,
	}
	if s.IdleExpiresAt.After(s.ExpiresAt) {
		s.IdleExpiresAt = s.ExpiresAt
	}
	if err := m.Store.CreateSession(c.Request().Context(), s); err != nil {
		return store.Session{}, "", err
	}
	c.SetCookie(&http.Cookie{
		Name: m.CookieName(), Value: tok, Path: "/", HttpOnly: true, Secure: m.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(m.Absolute / time.Second),
	})
	return s, tok, nil
}

// token returns the session token from the cookie, or from an
// "Authorization: Bearer" header for non-browser clients.
func (m *SessionManager) token(r *http.Request) string {
	if v, ok := cookieValue(r.Header["Cookie"], m.CookieName()); ok {
		return v
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// cookieValue is the value of the first cookie called name in the Cookie
// header lines (RFC 6265 §5.4: "name=value" pairs separated by "; "),
// found without parsing the other cookies as http.Request.Cookie does.
// A value in double quotes loses them, as with net/http; the caller checks
// the value's shape.
func cookieValue(lines []string, name string) (string, bool) {
	for _, line := range lines {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			pair = strings.TrimSpace(pair)
			n, v, _ := strings.Cut(pair, "=")
			if strings.TrimSpace(n) != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// Current returns the request's live session, refreshing its idle timeout.
// Missing, malformed or expired: 401 unauthenticated. Store unreachable: the
// store error (503), never a silent logout.
func (m *SessionManager) Current(c echo.Context) (store.Session, error) {
	return m.current(c.Request())
}

func (m *SessionManager) current(r *http.Request) (store.Session, error) {
	tok := m.token(r)
	if !token.Valid(tok) {
		return store.Session{}, errUnauthenticated()
	}
	now := m.Now()
	s, err := m.Store.TouchSession(r.Context(), token.HashHex(tok), now, m.Idle)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, errUnauthenticated()
	}
	if err != nil {
		return store.Session{}, err
	}
	// The store enforces the timeouts; check again here so a backend bug
	// cannot stretch a session (ASVS 5.0 V7.3).
	if !now.Before(s.ExpiresAt) || !now.Before(s.IdleExpiresAt) {
		return store.Session{}, errUnauthenticated()
	}
	if m.BindCerts && s.ClientCert != "" {
		if c, err := m.Certs.FromRequest(r); err != nil || c.Fingerprint != s.ClientCert {
			return store.Session{}, errUnauthenticated()
		}
	}
	return s, nil
}

// End deletes the request's session and clears its cookie.
func (m *SessionManager) End(c echo.Context) error {
	tok := m.token(c.Request())
	m.clearCookie(c)
	if !token.Valid(tok) {
		return nil
	}
	return m.Store.DeleteSession(c.Request().Context(), token.HashHex(tok))
}

// Revoke ends a session on purpose (a user or an admin revoking it, not a
// logout): the OIDC grants made in it are revoked with it.
func (m *SessionManager) Revoke(ctx context.Context, s store.Session) error {
	return account.RevokeSession(ctx, m.Store, m.Grants, s, m.Now())
}

func (m *SessionManager) clearCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{
		Name: m.CookieName(), Value: "", Path: "/", HttpOnly: true, Secure: m.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1,
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// sessionKey is where RequireSession keeps the session in the echo context.
const sessionKey = "mutualauth.session"

// RequireSession admits only requests with a live session and keeps it in
// the context (see sessionOf). API requests get 401; a browser asking for a
// page is sent to /login with return_to.
func (m *SessionManager) RequireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s, err := m.Current(c)
		if err != nil {
			req := c.Request()
			if isUnauthenticated(err) && req.Method == http.MethodGet && !strings.HasPrefix(req.URL.Path, "/api/") {
				return c.Redirect(http.StatusSeeOther, "/login?return_to="+url.QueryEscape(req.URL.RequestURI()))
			}
			return err
		}
		c.Set(sessionKey, s)
		return next(c)
	}
}

// RequireAdmin admits only sessions of admins who signed in with a second
// factor (every login needs one; the check keeps it so). Use after
// RequireSession.
func RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s, ok := sessionOf(c)
		if !ok || !slices.Contains(s.Groups, string(store.RoleAdmin)) || !hasSecondFactor(s.AMR) {
			return errForbidden()
		}
		return next(c)
	}
}

// sessionOf returns the session RequireSession stored.
func sessionOf(c echo.Context) (store.Session, bool) {
	s, ok := c.Get(sessionKey).(store.Session)
	return s, ok
}

func hasSecondFactor(amr []string) bool {
	for _, m := range amr {
		switch m {
		case login.MethodOTP, login.MethodHardware, login.MethodRecovery, login.MethodSoftwareKey:
			return true
		}
	}
	return false
}
