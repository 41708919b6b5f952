package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/labstack/echo/v4"

	"mutualauth/server/audit"
	"mutualauth/server/passkey"
	"mutualauth/server/password"
	"mutualauth/server/phrase"
	"mutualauth/server/secretbox"
	"mutualauth/server/token"
	"mutualauth/server/totp"
	"mutualauth/store"
)

// Audit actions of self-service changes; actor and subject are the user.
const (
	AuditAccountCredentialRename = "account.credential_rename"
	AuditAccountCredentialRemove = "account.credential_remove"
	AuditAccountWebAuthn         = "account.webauthn_add"
	AuditAccountTOTP             = "account.totp"
	AuditAccountTOTPConfirm      = "account.totp_confirm"
	AuditAccountRecoveryCodes    = "account.recovery_codes"
	AuditAccountPassword         = "account.password"
	AuditAccountPhrase           = "account.phrase"
	AuditAccountDeviceForget     = "account.device_forget"
	AuditAccountRevokeOthers     = "account.sessions_revoke_others"
	AuditAccountSessionRevoke    = "session.revoke"
	AuditAccountLogout           = "session.logout"
)

// AccountHandler serves self-service for the signed-in user: the JSON API
// under /api/v1/account (docs/account.md) and the page at /account with its
// plain form posts. Changing a factor, the security phrase or the password
// needs a re-authentication of the session within ReauthTTL (ReauthHandler);
// every change is audited.
type AccountHandler struct {
	Store      store.Durable
	Sessions   *SessionManager
	Reauth     *ReauthHandler
	Box        *secretbox.Box
	Hasher     *password.Hasher
	Policy     password.Policy
	Ceremonies *passkey.Ceremonies
	Audit      *audit.Auditor
	// TOTPIssuer names the service in authenticator apps.
	TOTPIssuer string
	// Secure marks the flash cookie Secure (https).
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

type credentialView struct {
	ID             string     `json:"id"` // base64url
	Name           string     `json:"name"`
	CreatedAt      time.Time  `json:"created_at"`
	LastUsedAt     *time.Time `json:"last_used_at"`
	BackupEligible bool       `json:"backup_eligible"`
	BackupState    bool       `json:"backup_state"`
	Transports     []string   `json:"transports"`
	CloneWarning   bool       `json:"clone_warning"`
}

type factorsView struct {
	Password          bool             `json:"password"`
	Phrase            bool             `json:"phrase"`
	TOTP              bool             `json:"totp"`
	Credentials       []credentialView `json:"credentials"`
	RecoveryCodesLeft int              `json:"recovery_codes_left"`
}

type deviceView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

type accountSession struct {
	sessionListItem
	Device string `json:"device"` // a readable name made from the User-Agent
}

type accountView struct {
	User              accountUser      `json:"user"`
	Factors           factorsView      `json:"factors"`
	Devices           []deviceView     `json:"devices"`
	Sessions          []accountSession `json:"sessions"`
	ReauthUntil       *time.Time       `json:"reauth_until"`
	WebAuthnAvailable bool             `json:"webauthn_available"`
}

// otherSessionsOffer answers a change after which the user may want to end
// the other sessions (POST /api/v1/account/sessions/revoke-others).
type otherSessionsOffer struct {
	OtherSessions int `json:"other_sessions"`
}

func viewCredential(c store.Credential) credentialView {
	v := credentialView{
		ID: base64.RawURLEncoding.EncodeToString(c.ID), Name: c.Name, CreatedAt: c.CreatedAt.UTC(),
		BackupEligible: c.BackupEligible, BackupState: c.BackupState, Transports: nonNil(c.Transports),
		CloneWarning: c.CloneWarning,
	}
	if !c.LastUsedAt.IsZero() {
		t := c.LastUsedAt.UTC()
		v.LastUsedAt = &t
	}
	return v
}

// view gathers everything the account shows.
func (h *AccountHandler) view(c echo.Context, s store.Session, u store.User) (accountView, error) {
	ctx := c.Request().Context()
	v := accountView{
		User:              accountUser{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: string(u.Role)},
		WebAuthnAvailable: h.Ceremonies.Available(),
	}
	creds, err := h.Store.ListCredentials(ctx, u.ID)
	if err != nil {
		return v, err
	}
	left, err := h.Store.CountRecoveryCodes(ctx, u.ID)
	if err != nil {
		return v, err
	}
	v.Factors = factorsView{
		Password: u.PasswordHash != "", Phrase: len(u.Phrase) > 0, TOTP: len(u.TOTPSecret) > 0,
		Credentials: make([]credentialView, 0, len(creds)), RecoveryCodesLeft: left,
	}
	for _, cr := range creds {
		v.Factors.Credentials = append(v.Factors.Credentials, viewCredential(cr))
	}
	if v.Devices, err = h.devices(c, u.ID); err != nil {
		return v, err
	}
	all, err := h.Sessions.Store.ListSessions(ctx, u.ID)
	if err != nil {
		return v, err
	}
	v.Sessions = make([]accountSession, 0, len(all))
	for _, x := range all {
		v.Sessions = append(v.Sessions, accountSession{
			sessionListItem: sessionListItem{
				ID: x.ID, CreatedAt: x.CreatedAt.UTC(), LastSeenAt: x.LastSeenAt.UTC(), ExpiresAt: x.ExpiresAt.UTC(),
				IP: x.IP, UserAgent: x.UserAgent, AMR: nonNil(x.AMR), Current: x.TokenHash == s.TokenHash,
			},
			Device: deviceName(x.UserAgent),
		})
	}
	until, err := h.Reauth.Until(ctx, s)
	if err != nil {
		return v, err
	}
	if !until.IsZero() {
		until = until.UTC()
		v.ReauthUntil = &until
	}
	return v, nil
}

// devices lists the user's unexpired recognized devices, marking the one
// whose token this request carries.
func (h *AccountHandler) devices(c echo.Context, userID string) ([]deviceView, error) {
	all, err := h.Store.ListDevices(c.Request().Context(), userID)
	if err != nil {
		return nil, err
	}
	mine := h.currentDeviceHash(c)
	now := h.Now()
	out := make([]deviceView, 0, len(all))
	for _, d := range all {
		if !now.Before(d.ExpiresAt) {
			continue
		}
		out = append(out, deviceView{
			ID: d.ID, Name: d.Name, CreatedAt: d.CreatedAt.UTC(), LastSeenAt: d.LastSeenAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(),
			Current: mine != nil && bytes.Equal(mine, d.TokenHash),
		})
	}
	return out, nil
}

func (h *AccountHandler) currentDeviceHash(c echo.Context) []byte {
	tok := TokenFrom(c, "")
	if !token.Valid(tok) {
		return nil
	}
	return token.Hash(tok)
}

// ---- the changes, shared by the JSON API and the page's forms -------------

func errLastFactor() *Problem {
	return NewProblem(http.StatusConflict, "last_factor",
		"This is your only second factor. Add an authenticator app or another passkey before removing it.")
}

// user loads the session's account. A deleted or disabled account ends the
// conversation: 401, as if the session were gone.
func (h *AccountHandler) user(ctx context.Context, s store.Session) (store.User, error) {
	u, err := h.Store.GetUser(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return store.User{}, errUnauthenticated()
	}
	return u, err
}

// act runs one change of the caller's account, after the re-authentication
// check when reauth is set, and writes its audit event. fn returns a detail
// for the log (never a secret).
func (h *AccountHandler) act(c echo.Context, s store.Session, action string, reauth bool, fn func(ctx context.Context, u store.User) (string, error)) error {
	ctx := c.Request().Context()
	var detail string
	err := func() error {
		if reauth {
			if err := h.Reauth.Require(ctx, s); err != nil {
				return err
			}
		}
		u, err := h.user(ctx, s)
		if err != nil {
			return err
		}
		detail, err = fn(ctx, u)
		return err
	}()
	result := "success"
	if err != nil {
		result = "failure"
		if detail == "" {
			detail = toProblem(err).Code
		}
	}
	h.Audit.Record(c.Request().Context(), store.AuditEvent{Actor: s.UserID, Subject: s.UserID, Action: action, Result: result, Detail: detail})
	return err
}

func parseCredentialID(raw string) ([]byte, bool) {
	id, err := base64.RawURLEncoding.Strict().DecodeString(raw)
	return id, err == nil && len(id) > 0 && len(id) <= 1023
}

func shortID(id []byte) string {
	s := base64.RawURLEncoding.EncodeToString(id)
	if len(s) > 16 {
		s = s[:16]
	}
	return s
}

func (h *AccountHandler) renameCredential(c echo.Context, s store.Session, rawID, name string) (credentialView, error) {
	var out credentialView
	id, ok := parseCredentialID(rawID)
	if !ok {
		return out, errNotFound()
	}
	err := h.act(c, s, AuditAccountCredentialRename, false, func(ctx context.Context, u store.User) (string, error) {
		cred, err := h.Store.GetCredential(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && cred.UserID != u.ID) {
			return "unknown credential", errNotFound()
		}
		if err != nil {
			return "", err
		}
		cred.Name = passkey.CredentialName(name, h.Now())
		if err := h.Store.UpdateCredential(ctx, cred); err != nil {
			return "", err
		}
		out = viewCredential(cred)
		return "credential " + shortID(id), nil
	})
	return out, err
}

// removeCredential deletes one of the user's credentials, but never the
// last second factor: with no authenticator app, the last credential stays
// (409 last_factor). The check is repeated after the delete, so that of
// concurrent removals one that would leave no second factor puts its
// credential back.
func (h *AccountHandler) removeCredential(c echo.Context, s store.Session, rawID string) error {
	id, ok := parseCredentialID(rawID)
	if !ok {
		return errNotFound()
	}
	return h.act(c, s, AuditAccountCredentialRemove, true, func(ctx context.Context, u store.User) (string, error) {
		creds, err := h.Store.ListCredentials(ctx, u.ID)
		if err != nil {
			return "", err
		}
		i := slices.IndexFunc(creds, func(x store.Credential) bool { return bytes.Equal(x.ID, id) })
		if i < 0 {
			return "unknown credential", errNotFound()
		}
		if len(creds) == 1 && len(u.TOTPSecret) == 0 {
			return "last second factor", errLastFactor()
		}
		err = h.Store.DeleteCredential(ctx, u.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			return "unknown credential", errNotFound()
		}
		if err != nil {
			return "", err
		}
		left, err := h.Store.ListCredentials(ctx, u.ID)
		if err != nil {
			return "", err
		}
		if len(left) == 0 {
			fresh, err := h.Store.GetUser(ctx, u.ID)
			if err != nil {
				return "", err
			}
			if len(fresh.TOTPSecret) == 0 {
				if err := h.Store.AddCredential(ctx, creds[i]); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
					return "", err
				}
				return "last second factor (concurrent removal)", errLastFactor()
			}
		}
		return "credential " + shortID(id), nil
	})
}

func (h *AccountHandler) webAuthnOptions(c echo.Context, s store.Session) (*protocol.CredentialCreation, error) {
	if !h.Ceremonies.Available() {
		return nil, errWebAuthnUnavailable()
	}
	ctx := c.Request().Context()
	if err := h.Reauth.Require(ctx, s); err != nil {
		return nil, err
	}
	u, err := h.user(ctx, s)
	if err != nil {
		return nil, err
	}
	creation, err := h.Ceremonies.BeginRegistration(ctx, passkey.ScopeAccount, s.ID, u)
	if err != nil {
		return nil, webAuthnProblem(err)
	}
	return creation, nil
}

func (h *AccountHandler) addCredential(c echo.Context, s store.Session, credJSON json.RawMessage, name string) (credentialView, error) {
	var out credentialView
	err := h.act(c, s, AuditAccountWebAuthn, true, func(ctx context.Context, u store.User) (string, error) {
		rec, err := h.Ceremonies.FinishRegistration(ctx, passkey.ScopeAccount, s.ID, u, credJSON, name)
		if err != nil {
			return registrationRefused(err)
		}
		out = viewCredential(rec)
		return "credential " + shortID(rec.ID), nil
	})
	return out, err
}

func (h *AccountHandler) rules() factorRules {
	return factorRules{Users: h.Store, Box: h.Box, Hasher: h.Hasher, Policy: h.Policy, Now: h.Now}
}

func (h *AccountHandler) startTOTP(c echo.Context, s store.Session) (totp.Enrollment, error) {
	var enr totp.Enrollment
	err := h.act(c, s, AuditAccountTOTP, true, func(ctx context.Context, u store.User) (string, error) {
		var err error
		enr, err = h.rules().startTOTP(ctx, h.TOTPIssuer, u)
		return "secret issued, pending confirmation", err
	})
	return enr, err
}

func (h *AccountHandler) confirmTOTP(c echo.Context, s store.Session, code string) error {
	return h.act(c, s, AuditAccountTOTPConfirm, true, func(ctx context.Context, u store.User) (string, error) {
		replaced := len(u.TOTPSecret) > 0
		if detail, err := h.rules().confirmTOTP(ctx, u, code); err != nil {
			return detail, err
		}
		if replaced {
			return "authenticator app replaced", nil
		}
		return "authenticator app added", nil
	})
}

func (h *AccountHandler) regenerateCodes(c echo.Context, s store.Session) ([]string, error) {
	var codes []string
	err := h.act(c, s, AuditAccountRecoveryCodes, true, func(ctx context.Context, u store.User) (string, error) {
		fresh, hashes, err := newRecoveryCodes(RecoveryCodeCount)
		if err != nil {
			return "", err
		}
		if err := h.Store.ReplaceRecoveryCodes(ctx, u.ID, hashes); err != nil {
			return "", err
		}
		codes = fresh
		return strconv.Itoa(len(fresh)) + " new codes; the old ones no longer work", nil
	})
	return codes, err
}

func (h *AccountHandler) setPassword(c echo.Context, s store.Session, pw string) error {
	return h.act(c, s, AuditAccountPassword, true, func(ctx context.Context, u store.User) (string, error) {
		phc, detail, err := h.rules().passwordHash(ctx, u, pw)
		if err != nil {
			return detail, err
		}
		_, err = h.Store.UpdateUser(ctx, u.ID, func(x *store.User) error {
			x.PasswordHash = phc
			return nil
		})
		return "", err
	})
}

func (h *AccountHandler) setPhrase(c echo.Context, s store.Session, p string) error {
	return h.act(c, s, AuditAccountPhrase, true, func(ctx context.Context, u store.User) (string, error) {
		sealed, detail, err := h.rules().sealPhrase(ctx, u, p)
		if err != nil {
			return detail, err
		}
		_, err = h.Store.UpdateUser(ctx, u.ID, func(x *store.User) error {
			x.Phrase = sealed
			return nil
		})
		return "", err
	})
}

// forgetDevice deletes one of the user's recognized devices; when it is the
// device of this request, its cookie is cleared too.
func (h *AccountHandler) forgetDevice(c echo.Context, s store.Session, id string) error {
	return h.act(c, s, AuditAccountDeviceForget, false, func(ctx context.Context, u store.User) (string, error) {
		all, err := h.Store.ListDevices(ctx, u.ID)
		if err != nil {
			return "", err
		}
		i := slices.IndexFunc(all, func(d store.Device) bool { return d.ID == id })
		if i < 0 {
			return "unknown device", errNotFound()
		}
		err = h.Store.DeleteDevice(ctx, u.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			return "unknown device", errNotFound()
		}
		if err != nil {
			return "", err
		}
		if mine := h.currentDeviceHash(c); mine != nil && bytes.Equal(mine, all[i].TokenHash) {
			c.SetCookie(&http.Cookie{Name: DeviceCookie, Value: "", Path: "/", HttpOnly: true, Secure: h.Secure,
				SameSite: http.SameSiteLaxMode, MaxAge: -1})
		}
		return "device " + id, nil
	})
}

// revokeSession ends one of the user's sessions by its public id and
// reports whether it was the current one (then its cookie is cleared).
func (h *AccountHandler) revokeSession(c echo.Context, s store.Session, id string) (bool, error) {
	current := false
	err := h.act(c, s, AuditAccountSessionRevoke, false, func(ctx context.Context, u store.User) (string, error) {
		all, err := h.Sessions.Store.ListSessions(ctx, u.ID)
		if err != nil {
			return "", err
		}
		i := slices.IndexFunc(all, func(x store.Session) bool { return x.ID == id && x.UserID == u.ID })
		if i < 0 {
			return "unknown session", errNotFound()
		}
		if err := h.Sessions.Store.DeleteSession(ctx, all[i].TokenHash); err != nil {
			return "", err
		}
		if all[i].TokenHash == s.TokenHash {
			current = true
			h.Sessions.clearCookie(c)
		}
		return "session " + id, nil
	})
	return current, err
}

func (h *AccountHandler) revokeOthers(c echo.Context, s store.Session) (int, error) {
	n := 0
	err := h.act(c, s, AuditAccountRevokeOthers, false, func(ctx context.Context, u store.User) (string, error) {
		var err error
		n, err = h.Sessions.Store.DeleteUserSessions(ctx, u.ID, s.TokenHash)
		return "ended " + strconv.Itoa(n) + " other sessions", err
	})
	return n, err
}

// otherSessions counts the user's live sessions besides this one.
func (h *AccountHandler) otherSessions(ctx context.Context, s store.Session) (int, error) {
	all, err := h.Sessions.Store.ListSessions(ctx, s.UserID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range all {
		if x.TokenHash != s.TokenHash {
			n++
		}
	}
	return n, nil
}

// offer answers a change with the number of other sessions, so that the
// client can offer to end them.
func (h *AccountHandler) offer(c echo.Context, s store.Session, extra map[string]any) error {
	n, err := h.otherSessions(c.Request().Context(), s)
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
	u, err := h.user(c.Request().Context(), s)
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
	v, err := h.renameCredential(c, s, c.Param("id"), req.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// RemoveCredential serves DELETE /api/v1/account/credentials/:id.
func (h *AccountHandler) RemoveCredential(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	if err := h.removeCredential(c, s, c.Param("id")); err != nil {
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
	creation, err := h.webAuthnOptions(c, s)
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
	v, err := h.addCredential(c, s, req.Credential, req.Name)
	if err != nil {
		return err
	}
	return h.offer(c, s, map[string]any{"credential": v})
}

// TOTP serves POST /api/v1/account/totp: a new secret, pending until
// confirmed; the current one keeps working until then.
func (h *AccountHandler) TOTP(c echo.Context) error {
	s, err := h.session(c)
	if err != nil {
		return err
	}
	enr, err := h.startTOTP(c, s)
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
	if err := h.confirmTOTP(c, s, req.Code); err != nil {
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
	codes, err := h.regenerateCodes(c, s)
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
	if err := h.setPassword(c, s, req.Password); err != nil {
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
	if err := h.setPhrase(c, s, req.Phrase); err != nil {
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
	list, err := h.devices(c, s.UserID)
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
	n, err := h.revokeOthers(c, s)
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
