package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/audit"
	"mutualauth/server/clientcert"
	"mutualauth/server/phrase"
	"mutualauth/store"
)

// AccountHandler serves self-service for the signed-in user: the JSON API
// under /api/v1/account (docs/account.md) and the page at /account with its
// plain form posts. Changing a factor, the security phrase or the password
// needs a re-authentication of the session within ReauthTTL (ReauthHandler);
// every change is audited.
type AccountHandler struct {
	Self     *account.Self
	Durable  store.Durable // what the account page shows
	Sessions *SessionManager
	Reauth   *ReauthHandler
	Flash    flashes
	// Certs finds the client certificate of a request; nil: off.
	Certs *clientcert.Source
	// Secure marks the device cookie Secure when it is cleared (https).
	Secure bool
	Now    func() time.Time
}

// ---- views ------------------------------------------------------------------

type accountUser struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
}

type accountView struct {
	User accountUser `json:"user"`
	userActivity
	ReauthUntil        *time.Time `json:"reauth_until"`
	WebAuthnAvailable  bool       `json:"webauthn_available"`
	ClientCertificates certOffer  `json:"client_certificates"`
	// RecoverySignIns are the latest sign-ins with a recovery code.
	RecoverySignIns []recoverySignIn `json:"recovery_sign_ins"`
}

type recoverySignIn struct {
	At time.Time `json:"at"`
	IP string    `json:"ip"`
}

// recoverySignInsShown is how many recovery-code sign-ins the account lists.
const recoverySignInsShown = 5

// otherSessionsOffer answers a change after which the user may want to end
// the other sessions (POST /api/v1/account/sessions/revoke-others).
type otherSessionsOffer struct {
	OtherSessions int `json:"other_sessions"`
}

// view gathers everything the account shows.
func (h *AccountHandler) view(c echo.Context, s store.Session, u store.User) (accountView, error) {
	ctx := c.Request().Context()
	v := accountView{
		User:              accountUser{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: string(u.Role)},
		WebAuthnAvailable: h.Self.Ceremonies.Available(),
	}
	var err error
	if v.userActivity, err = loadActivity(ctx, h.Durable, h.Sessions.Store, u, h.activityQuery(c, s)); err != nil {
		return v, err
	}
	if v.ClientCertificates, err = h.certOffer(c); err != nil {
		return v, err
	}
	until, err := h.Reauth.Until(ctx, s)
	if err != nil {
		return v, err
	}
	if !until.IsZero() {
		until = until.UTC()
		v.ReauthUntil = &until
	}
	used, err := h.Durable.ListAudit(ctx, store.AuditQuery{Subject: u.ID, Action: audit.LoginRecovery, Result: "success",
		Limit: recoverySignInsShown})
	if err != nil {
		return v, err
	}
	v.RecoverySignIns = make([]recoverySignIn, 0, len(used))
	for _, ev := range used {
		v.RecoverySignIns = append(v.RecoverySignIns, recoverySignIn{At: ev.Time.UTC(), IP: ev.IP})
	}
	return v, nil
}

// activityQuery marks this request's session and device, and lists only
// unexpired devices.
func (h *AccountHandler) activityQuery(c echo.Context, s store.Session) activityQuery {
	q := activityQuery{me: s, requestDevice: requestDevice(c), liveAt: h.Now()}
	if p := presentedCert(h.Certs, c.Request()); p != nil {
		q.requestCert = p.Fingerprint
	}
	return q
}

// ---- the edge of the changes that touch cookies ----------------------------

// forgetDevice deletes one of the user's recognized devices; when it is the
// device of this request, its cookie is cleared too.
func (h *AccountHandler) forgetDevice(c echo.Context, s store.Session, id string) error {
	gone, err := h.Self.ForgetDevice(c.Request().Context(), s, id)
	if err != nil {
		return err
	}
	if mine := requestDevice(c); mine != nil && bytes.Equal(mine, gone.TokenHash) {
		c.SetCookie(&http.Cookie{Name: DeviceCookie, Value: "", Path: "/", HttpOnly: true, Secure: h.Secure,
			SameSite: http.SameSiteLaxMode, MaxAge: -1})
	}
	return nil
}

// revokeSession ends one of the user's sessions by its public id and
// reports whether it was the current one (then its cookie is cleared).
func (h *AccountHandler) revokeSession(c echo.Context, s store.Session, id string) (bool, error) {
	ended, err := h.Self.RevokeSession(c.Request().Context(), s, id)
	if err != nil {
		return false, err
	}
	if ended.TokenHash == s.TokenHash {
		h.Sessions.clearCookie(c)
		return true, nil
	}
	return false, nil
}

// offer answers a change with the number of other sessions, so that the
// client can offer to end them.
func (h *AccountHandler) offer(c echo.Context, s store.Session, extra map[string]any) error {
	n, err := h.Self.OtherSessions(c.Request().Context(), s)
	if err != nil {
		return err
	}
	if extra == nil {
		return c.JSON(http.StatusOK, otherSessionsOffer{OtherSessions: n})
	}
	extra["other_sessions"] = n
	return c.JSON(http.StatusOK, extra)
}

// ---- JSON API -----------------------------------------------------------------

// signedIn returns the request's session and its user.
func (h *AccountHandler) signedIn(c echo.Context) (store.Session, store.User, error) {
	s, err := h.session(c)
	if err != nil {
		return store.Session{}, store.User{}, err
	}
	u, err := h.Self.User(c.Request().Context(), s)
	return s, u, err
}

func (h *AccountHandler) session(c echo.Context) (store.Session, error) {
	s, ok := sessionOf(c)
	if !ok {
		return store.Session{}, errUnauthenticated()
	}
	return s, nil
}

// Get serves GET /api/v1/account.
func (h *AccountHandler) Get(c echo.Context) error {
	s, u, err := h.signedIn(c)
	if err != nil {
		return err
	}
	v, err := h.view(c, s, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// RenameCredential serves PATCH /api/v1/account/credentials/:id {"name"}.
func (h *AccountHandler) RenameCredential(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	cred, err := h.Self.RenameCredential(c.Request().Context(), s, c.Param("id"), req.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewCredential(cred))
}

// RemoveCredential serves DELETE /api/v1/account/credentials/:id.
func (h *AccountHandler) RemoveCredential(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	if err := h.Self.RemoveCredential(c.Request().Context(), s, c.Param("id")); err != nil {
		return err
	}
	return h.offer(c, s, nil)
}

// WebAuthnOptions serves POST /api/v1/account/webauthn/options.
func (h *AccountHandler) WebAuthnOptions(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	creation, err := h.Self.WebAuthnOptions(c.Request().Context(), s)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, creation)
}

// AddCredential serves POST /api/v1/account/webauthn {"credential", "name"?}.
func (h *AccountHandler) AddCredential(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	var req struct {
		Credential json.RawMessage `json:"credential"`
		Name       string          `json:"name"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	cred, err := h.Self.AddCredential(c.Request().Context(), s, req.Credential, req.Name)
	if err != nil {
		return err
	}
	return h.offer(c, s, map[string]any{"credential": viewCredential(cred)})
}

// TOTP serves POST /api/v1/account/totp: a new secret, pending until
// confirmed; the current one keeps working until then.
func (h *AccountHandler) TOTP(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	enr, err := h.Self.StartTOTP(c.Request().Context(), s)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"secret": enr.Secret, "otpauth_uri": enr.OTPAuthURI, "qr_png": enr.QRPNG})
}

// TOTPConfirm serves POST /api/v1/account/totp/confirm {"code"}.
func (h *AccountHandler) TOTPConfirm(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	var req struct {
		Code string `json:"code"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := h.Self.ConfirmTOTP(c.Request().Context(), s, req.Code); err != nil {
		return err
	}
	return h.offer(c, s, nil)
}

// RecoveryCodes serves POST /api/v1/account/recovery-codes.
func (h *AccountHandler) RecoveryCodes(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	codes, err := h.Self.RegenerateCodes(c.Request().Context(), s)
	if err != nil {
		return err
	}
	return h.offer(c, s, map[string]any{"recovery_codes": codes})
}

// Password serves POST /api/v1/account/password {"password"}.
func (h *AccountHandler) Password(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	var req struct {
		Password string `json:"password"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := h.Self.SetPassword(c.Request().Context(), s, req.Password); err != nil {
		return err
	}
	return h.offer(c, s, nil)
}

// Phrase serves POST /api/v1/account/phrase {"phrase"}.
func (h *AccountHandler) Phrase(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	var req struct {
		Phrase string `json:"phrase"`
	}
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := h.Self.SetPhrase(c.Request().Context(), s, req.Phrase); err != nil {
		return err
	}
	return h.offer(c, s, nil)
}

// PhraseSuggestion serves GET /api/v1/account/phrase/suggestion.
func (h *AccountHandler) PhraseSuggestion(c echo.Context) error {
	p, err := phrase.Suggest()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"phrase": p})
}

// Devices serves GET /api/v1/account/devices.
func (h *AccountHandler) Devices(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	list, err := loadDevices(c.Request().Context(), h.Durable, s.UserID, h.activityQuery(c, s))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

// ForgetDevice serves DELETE /api/v1/account/devices/:id.
func (h *AccountHandler) ForgetDevice(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	if err := h.forgetDevice(c, s, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// RevokeOthers serves POST /api/v1/account/sessions/revoke-others.
func (h *AccountHandler) RevokeOthers(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	n, err := h.Self.RevokeOthers(c.Request().Context(), s)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"ended": n})
}

// ---- session middleware for the page ----------------------------------------

// requirePageSession admits requests with a live session, like
// SessionManager.RequireSession, but sends a browser without one to the
// login page for any method: a form posted after the session ended lands
// on /login?return_to=/account instead of a JSON problem.
func requirePageSession(m *SessionManager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			s, err := m.Current(c)
			if err != nil {
				if !isUnauthenticated(err) {
					return err
				}
				back := "/account"
				if c.Request().Method == http.MethodGet {
					back = c.Request().URL.RequestURI()
				}
				return c.Redirect(http.StatusSeeOther, "/login?return_to="+url.QueryEscape(back))
			}
			c.Set(sessionKey, s)
			return next(c)
		}
	}
}
