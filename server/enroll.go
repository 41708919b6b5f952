package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/audit"
	"mutualauth/server/keys"
	"mutualauth/server/passkey"
	"mutualauth/server/phrase"
	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/templates"
	"mutualauth/templates/i18n"
)

// EnrollHandler serves enrollment from an invite link: the page and the JSON
// API of API.md, "Enrollment". The invite token in the path is the only
// credential: it is checked on every request (token.Valid, then the stored
// hash, unused and unexpired, for an existing user who is not disabled).
type EnrollHandler struct {
	Durable store.Durable
	// Rules are the checks new factors pass, shared with the account page.
	Rules      *account.FactorRules
	Ceremonies *passkey.Ceremonies
	Devices    *DeviceManager
	Audit      *audit.Auditor
	Keys       *keys.Ring
	// Issuer is the public origin; the JWKS is at Issuer/.well-known/jwks.json.
	Issuer string
	// TOTPIssuer names the service in authenticator apps (the otpauth URI's
	// issuer): the public host name.
	TOTPIssuer string
	Now        func() time.Time
}

// enrollment is the invite a request carries and the user it is for.
type enrollment struct {
	token     string
	tokenHash []byte
	invite    store.Invite
	user      store.User
}

func errInvalidToken() *Problem {
	return NewProblem(http.StatusNotFound, "invalid_token",
		"problem.invalid-token")
}

// load checks the invite token of the request. Every reason to refuse it is
// the same 404 invalid_token; the user id is returned when it is known, for
// the audit log.
// ceremonyID keys the invite's WebAuthn registration ceremony: the hex
// SHA-256 of its token.
func (e enrollment) ceremonyID() string { return hex.EncodeToString(e.tokenHash) }

func (h *EnrollHandler) load(c echo.Context) (enrollment, error) {
	tok := c.Param("token")
	if !token.Valid(tok) {
		return enrollment{}, errInvalidToken()
	}
	ctx := c.Request().Context()
	e := enrollment{token: tok, tokenHash: token.Hash(tok)}
	inv, err := h.Durable.GetInvite(ctx, e.tokenHash)
	if errors.Is(err, store.ErrNotFound) {
		return enrollment{}, errInvalidToken()
	}
	if err != nil {
		return enrollment{}, err
	}
	e.invite = inv
	e.user.ID = inv.UserID
	if !inv.UsedAt.IsZero() || !h.Now().Before(inv.ExpiresAt) {
		return e, errInvalidToken()
	}
	u, err := h.Durable.GetUser(ctx, inv.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return e, errInvalidToken()
	}
	if err != nil {
		return e, err
	}
	e.user = u
	if u.Disabled {
		return e, errInvalidToken()
	}
	return e, nil
}

// step runs one state-changing enrollment step and writes its audit event.
// fn returns a detail for the log (never a secret).
func (h *EnrollHandler) step(c echo.Context, action string, fn func(echo.Context, *enrollment) (string, error)) error {
	e, err := h.load(c)
	if err != nil {
		var p *Problem
		if errors.As(err, &p) && p.Code == "invalid_token" {
			h.record(c, e.user.ID, action, "failure", "invalid, used or expired invite")
		}
		return err
	}
	detail, err := fn(c, &e)
	if err != nil {
		if detail == "" {
			detail = toProblem(err).Code
		}
		h.record(c, e.user.ID, action, "failure", detail)
		return err
	}
	h.record(c, e.user.ID, action, "success", detail)
	return nil
}

func (h *EnrollHandler) record(c echo.Context, userID, action, result, detail string) {
	h.Audit.Record(c.Request().Context(), store.AuditEvent{Actor: userID, Subject: userID, Action: action, Result: result, Detail: detail})
}

// enrollDone says which factors are set.
type enrollDone struct {
	Password bool `json:"password"`
	Phrase   bool `json:"phrase"`
	TOTP     bool `json:"totp"`
	WebAuthn bool `json:"webauthn"`
}

func (h *EnrollHandler) done(ctx context.Context, u store.User) (enrollDone, error) {
	creds, err := h.Durable.ListCredentials(ctx, u.ID)
	if err != nil {
		return enrollDone{}, err
	}
	return enrollDone{
		Password: u.PasswordHash != "",
		Phrase:   len(u.Phrase) > 0,
		TOTP:     len(u.TOTPSecret) > 0,
		WebAuthn: len(creds) > 0,
	}, nil
}

// Status serves GET /api/v1/enroll/:token.
func (h *EnrollHandler) Status(c echo.Context) error {
	e, err := h.load(c)
	if err != nil {
		return err
	}
	d, err := h.done(c.Request().Context(), e.user)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Username          string     `json:"username"`
		DisplayName       string     `json:"display_name"`
		Done              enrollDone `json:"done"`
		ExpiresAt         time.Time  `json:"expires_at"`
		WebAuthnAvailable bool       `json:"webauthn_available"`
	}{e.user.Username, e.user.DisplayName, d, e.invite.ExpiresAt.UTC(), h.Ceremonies.Available()})
}

// Page serves GET /enroll/:token, the enrollment page. An invalid token
// shows the error page with 404.
func (h *EnrollHandler) Page(c echo.Context) error {
	e, err := h.load(c)
	if err != nil {
		if r, ok := c.Echo().Renderer.(problemPageRenderer); ok {
			p := toProblem(err)
			c.Response().Header().Set("Cache-Control", "no-store")
			if rerr := r.RenderProblem(c, p); rerr == nil {
				return nil
			}
		}
		return err
	}
	return render(c, "enroll", templates.Page{
		Title:   i18n.M("enroll.title"),
		Scripts: []string{"proof.js", "enroll.js"},
		Data:    map[string]string{"api": "/api/v1/enroll/" + e.token},
		Body: struct {
			Username, DisplayName string
			PasswordMinLen        int
		}{e.user.Username, e.user.DisplayName, h.Rules.PasswordMinLength()},
	})
}

// Password serves POST /api/v1/enroll/:token/password {"password"}.
func (h *EnrollHandler) Password(c echo.Context) error {
	return h.step(c, audit.EnrollPassword, h.setPassword)
}

func (h *EnrollHandler) setPassword(c echo.Context, e *enrollment) (string, error) {
	var req struct {
		Password string `json:"password"`
	}
	if err := bindJSON(c, &req); err != nil {
		return "", err
	}
	u := e.user
	hash, detail, err := h.Rules.PasswordHash(c.Request().Context(), u, req.Password)
	if err != nil {
		return detail, err
	}
	_, err = h.Durable.UpdateUser(c.Request().Context(), u.ID, func(u *store.User) error {
		u.PasswordHash = hash
		return nil
	})
	if err != nil {
		return "", err
	}
	return "", c.NoContent(http.StatusNoContent)
}

// Phrase serves POST /api/v1/enroll/:token/phrase {"phrase"}.
func (h *EnrollHandler) Phrase(c echo.Context) error {
	return h.step(c, audit.EnrollPhrase, h.setPhrase)
}

func (h *EnrollHandler) setPhrase(c echo.Context, e *enrollment) (string, error) {
	var req struct {
		Phrase string `json:"phrase"`
	}
	if err := bindJSON(c, &req); err != nil {
		return "", err
	}
	u := e.user
	sealed, detail, err := h.Rules.SealPhrase(c.Request().Context(), u, req.Phrase)
	if err != nil {
		return detail, err
	}
	_, err = h.Durable.UpdateUser(c.Request().Context(), u.ID, func(u *store.User) error {
		u.Phrase = sealed
		return nil
	})
	if err != nil {
		return "", err
	}
	return "", c.NoContent(http.StatusNoContent)
}

// PhraseSuggestion serves GET /api/v1/enroll/:token/phrase/suggestion.
func (h *EnrollHandler) PhraseSuggestion(c echo.Context) error {
	if _, err := h.load(c); err != nil {
		return err
	}
	s, err := phrase.Suggest()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"phrase": s})
}

// TOTP serves POST /api/v1/enroll/:token/totp: a new secret, pending until
// confirmed.
func (h *EnrollHandler) TOTP(c echo.Context) error {
	return h.step(c, audit.EnrollTOTP, h.startTOTP)
}

func (h *EnrollHandler) startTOTP(c echo.Context, e *enrollment) (string, error) {
	enr, err := h.Rules.StartTOTP(c.Request().Context(), h.TOTPIssuer, e.user)
	if err != nil {
		return "", err
	}
	return "secret issued, pending confirmation", c.JSON(http.StatusOK, map[string]string{
		"secret":      enr.Secret,
		"otpauth_uri": enr.OTPAuthURI,
		"qr_png":      enr.QRPNG,
	})
}

// TOTPConfirm serves POST /api/v1/enroll/:token/totp/confirm {"code"}.
func (h *EnrollHandler) TOTPConfirm(c echo.Context) error {
	return h.step(c, audit.EnrollTOTPConfirm, h.confirmTOTP)
}

func (h *EnrollHandler) confirmTOTP(c echo.Context, e *enrollment) (string, error) {
	var req struct {
		Code string `json:"code"`
	}
	if err := bindJSON(c, &req); err != nil {
		return "", err
	}
	if detail, err := h.Rules.ConfirmTOTP(c.Request().Context(), e.user, req.Code); err != nil {
		return detail, err
	}
	return "", c.NoContent(http.StatusNoContent)
}

// WebAuthnOptions serves POST /api/v1/enroll/:token/webauthn/options.
func (h *EnrollHandler) WebAuthnOptions(c echo.Context) error {
	e, err := h.load(c)
	if err != nil {
		return err
	}
	creation, err := h.Ceremonies.BeginRegistration(c.Request().Context(), passkey.ScopeEnrollment, e.ceremonyID(), e.user)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, creation)
}

// WebAuthn serves POST /api/v1/enroll/:token/webauthn {"credential", "name"?}.
func (h *EnrollHandler) WebAuthn(c echo.Context) error {
	return h.step(c, audit.EnrollWebAuthn, h.addCredential)
}

func (h *EnrollHandler) addCredential(c echo.Context, e *enrollment) (string, error) {
	var req struct {
		Credential json.RawMessage `json:"credential"`
		Name       string          `json:"name"`
	}
	if err := bindJSON(c, &req); err != nil {
		return "", err
	}
	rec, err := h.Ceremonies.FinishRegistration(c.Request().Context(), passkey.ScopeEnrollment, e.ceremonyID(), e.user, req.Credential, req.Name)
	if err != nil {
		return account.RegistrationRefused(err)
	}
	return "credential " + rec.Name, c.NoContent(http.StatusNoContent)
}

// Complete serves POST /api/v1/enroll/:token/complete.
func (h *EnrollHandler) Complete(c echo.Context) error {
	return h.step(c, audit.EnrollComplete, h.complete)
}

type enrollResult struct {
	RecoveryCodes []string  `json:"recovery_codes"`
	DeviceToken   string    `json:"device_token"`
	ServerKey     serverKey `json:"server_key"`
}

type serverKey struct {
	KID     string `json:"kid"`
	JWKSURI string `json:"jwks_uri"`
}

func (h *EnrollHandler) complete(c echo.Context, e *enrollment) (string, error) {
	ctx := c.Request().Context()
	u := e.user
	d, err := h.done(ctx, u)
	if err != nil {
		return "", err
	}
	var missing []any
	if !d.Password {
		missing = append(missing, i18n.M("enroll.missing-password"))
	}
	if !d.Phrase {
		missing = append(missing, i18n.M("enroll.missing-phrase"))
	}
	if !d.TOTP && !d.WebAuthn {
		missing = append(missing, i18n.M("enroll.missing-factor"))
	}
	if len(missing) > 0 {
		return "incomplete", NewProblem(http.StatusConflict, "incomplete", "problem.incomplete", list(missing))
	}
	now := h.Now()
	// The invite is spent first: of concurrent completions exactly one goes
	// on, so no one else can replace the recovery codes this one shows.
	if err := h.Durable.UseInvite(ctx, e.tokenHash, now); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return "invite already used", errInvalidToken()
		}
		return "", err
	}
	codes, hashes, err := account.NewRecoveryCodes(account.RecoveryCodeCount)
	if err != nil {
		return "", err
	}
	if err := h.Durable.ReplaceRecoveryCodes(ctx, u.ID, hashes); err != nil {
		return "", err
	}
	deviceToken, err := h.Devices.Issue(c, u.ID, "")
	if err != nil {
		return "", err
	}
	// EnrolledAt comes last: if anything before failed, the user is still
	// not enrolled and an administrator can send a new invite.
	_, err = h.Durable.UpdateUser(ctx, u.ID, func(u *store.User) error {
		u.EnrolledAt = now
		u.TOTPPending = nil
		return nil
	})
	if err != nil {
		return "", err
	}
	factors := []string{"password", "phrase"}
	if d.TOTP {
		factors = append(factors, "totp")
	}
	if d.WebAuthn {
		factors = append(factors, "webauthn")
	}
	return "factors: " + strings.Join(factors, ", "), c.JSON(http.StatusOK, enrollResult{
		RecoveryCodes: codes,
		DeviceToken:   deviceToken,
		ServerKey:     serverKey{KID: h.Keys.ActiveKID(), JWKSURI: h.Issuer + "/.well-known/jwks.json"},
	})
}
