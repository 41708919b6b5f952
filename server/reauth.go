package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/audit"
	"mutualauth/server/factor"
	"mutualauth/server/login"
	"mutualauth/server/passkey"
	"mutualauth/store"
)

// ReauthTTL is how long a re-authentication lets a session change factors,
// the security phrase or the password (DESIGN.md, "Bars": re-authentication
// before such changes; NIST SP 800-63B §7.2).
const ReauthTTL = 5 * time.Minute

// ReauthKey is the ephemeral store key of a session's re-authentication
// marker; it holds the time of the re-authentication and lives ReauthTTL.
func ReauthKey(sessionID string) string { return "reauth:" + sessionID }

// ReauthHandler re-authenticates the signed-in user: the password plus a
// second factor (a TOTP code, a recovery code or a WebAuthn assertion).
// Failures count on the session's own counter (login.SessionCounter) with
// the login's limits, so a stolen session guesses no faster than the login
// page allows, and strangers filling the username's counter cannot
// throttle or lock out the signed-in owner (API contract v1.1, "Lockout").
type ReauthHandler struct {
	Users       store.Users
	Credentials store.Credentials
	KV          store.KV // re-authentication markers
	Verifier    *factor.Verifier
	Ceremonies  *passkey.Ceremonies
	Audit       *audit.Auditor
	Now         func() time.Time
}

// reauthMarker is the value under ReauthKey.
type reauthMarker struct {
	UserID string    `json:"user_id"`
	At     time.Time `json:"at"`
	Method string    `json:"method"` // the second factor: otp, rec or hwk
}

// reauthRequest is the body of POST /api/v1/account/reauth.
type reauthRequest struct {
	Password   string          `json:"password"`
	Code       string          `json:"code"`
	Credential json.RawMessage `json:"credential"`
}

// Reauth serves POST /api/v1/account/reauth {"password", "code"? | "credential"?}:
// 204 and a marker valid for ReauthTTL; 401 invalid_credentials; 429
// too_many_attempts.
func (h *ReauthHandler) Reauth(c echo.Context) error {
	s, ok := sessionOf(c)
	if !ok {
		return errUnauthenticated()
	}
	var req reauthRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := h.Confirm(c, s, req); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// WebAuthnOptions serves POST /api/v1/account/reauth/webauthn/options: an
// assertion request listing the user's credentials, answered in the
// "credential" field of Reauth. The challenge is single use.
func (h *ReauthHandler) WebAuthnOptions(c echo.Context) error {
	s, ok := sessionOf(c)
	if !ok {
		return errUnauthenticated()
	}
	if !h.Ceremonies.Available() {
		return account.ErrWebAuthnUnavailable
	}
	ctx := c.Request().Context()
	u, err := h.Users.GetUser(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return errUnauthenticated()
	}
	if err != nil {
		return err
	}
	creds, err := h.Credentials.ListCredentials(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(creds) == 0 {
		return NewProblem(http.StatusConflict, "no_credentials", "problem.no-credentials")
	}
	assertion, err := h.Ceremonies.BeginLogin(ctx, passkey.ScopeReauth, s.ID, &passkey.User{Account: u, Credentials: creds}, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"publicKey": assertion.Response})
}

// Confirm checks the password and the second factor of req for the
// session's user and, when both are right, records the marker. The attempt
// is reserved on the session's failure counter before any secret is
// looked at, exactly as a login step is.
func (h *ReauthHandler) Confirm(c echo.Context, s store.Session, req reauthRequest) error {
	hasCredential := len(req.Credential) > 0 && string(req.Credential) != "null"
	if req.Password == "" || (req.Code == "" && !hasCredential) {
		return badRequest("problem.reauth-input")
	}
	ctx := c.Request().Context()
	var ceremony *passkey.Ceremony
	if hasCredential {
		// Taken before anything else: a challenge is answered at most once.
		var err error
		if ceremony, err = h.Verifier.TakeAssertionCeremony(ctx, passkey.ScopeReauth, s.ID); err != nil {
			return err
		}
	}
	var subject *store.User
	u, err := h.Users.GetUser(ctx, s.UserID)
	if err == nil {
		subject = &u
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	method := secondFactor(req)
	attempt := factor.Attempt{Counter: login.SessionCounter(s.ID), User: subject}
	res, err := h.Verifier.Check(ctx, attempt, func() (factor.Result, error) {
		return h.check(ctx, subject, req, method, ceremony)
	})
	if errors.Is(err, login.ErrThrottled) {
		h.record(ctx, s, "throttled", "counter session")
	}
	if err != nil {
		return err
	}
	if !res.OK {
		h.record(ctx, s, res.AuditResult(), res.Reason)
		return errInvalidCredentials()
	}
	now := h.Now()
	raw, err := json.Marshal(reauthMarker{UserID: u.ID, At: now.UTC(), Method: method})
	if err != nil {
		return err
	}
	if err := h.KV.Put(ctx, ReauthKey(s.ID), raw, ReauthTTL); err != nil {
		return err
	}
	h.record(ctx, s, "success", "password+"+method)
	return nil
}

// secondFactor is the method of the second factor req carries: a WebAuthn
// assertion, a TOTP code (six digits) or else a recovery code.
func secondFactor(req reauthRequest) string {
	switch {
	case len(req.Credential) > 0 && string(req.Credential) != "null":
		return login.MethodHardware
	case totpShaped(factor.Digits(req.Code)):
		return login.MethodOTP
	}
	return login.MethodRecovery
}

// check verifies the password, then the second factor. A second factor is
// spent (TOTP step, recovery code, WebAuthn counter) only after the
// password was right.
func (h *ReauthHandler) check(ctx context.Context, u *store.User, req reauthRequest, method string, ceremony *passkey.Ceremony) (factor.Result, error) {
	if u == nil {
		return factor.Result{Reason: "account not found"}, nil
	}
	res, err := h.Verifier.Password(ctx, u, req.Password)
	if err != nil || !res.OK {
		return res, err
	}
	switch method {
	case login.MethodHardware:
		return h.Verifier.Assertion(ctx, u, ceremony, req.Credential)
	case login.MethodOTP:
		return h.Verifier.TOTP(ctx, u, req.Code)
	}
	return h.Verifier.RecoveryCode(ctx, u, req.Code)
}

func totpShaped(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (h *ReauthHandler) record(ctx context.Context, s store.Session, result, detail string) {
	h.Audit.Record(ctx, store.AuditEvent{Actor: s.UserID, Subject: s.UserID, Action: audit.AccountReauth, Result: result,
		Detail: detail + "; session " + s.ID})
}

// Until returns when the session's re-authentication stops counting; the
// zero time when there is none in force.
func (h *ReauthHandler) Until(ctx context.Context, s store.Session) (time.Time, error) {
	raw, err := h.KV.Get(ctx, ReauthKey(s.ID))
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var m reauthMarker
	if err := json.Unmarshal(raw, &m); err != nil || m.UserID != s.UserID {
		return time.Time{}, nil
	}
	until := m.At.Add(ReauthTTL)
	if !h.Now().Before(until) {
		return time.Time{}, nil
	}
	return until, nil
}

// Require returns nil when the session re-authenticated within ReauthTTL,
// else account.ErrReauthRequired (store errors as they are).
func (h *ReauthHandler) Require(ctx context.Context, s store.Session) error {
	until, err := h.Until(ctx, s)
	if err != nil {
		return err
	}
	if until.IsZero() {
		return account.ErrReauthRequired
	}
	return nil
}
