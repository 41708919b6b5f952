package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/audit"
	"mutualauth/server/login"
	"mutualauth/server/passkey"
	"mutualauth/server/password"
	"mutualauth/server/secretbox"
	"mutualauth/server/token"
	"mutualauth/server/totp"
	"mutualauth/store"
)

// ReauthTTL is how long a re-authentication lets a session change factors,
// the security phrase or the password (DESIGN.md, "Bars": re-authentication
// before such changes; NIST SP 800-63B §7.2).
const ReauthTTL = 5 * time.Minute

// AuditReauth is the audit action of a re-authentication attempt.
const AuditReauth = "account.reauth"

// ReauthKey is the ephemeral store key of a session's re-authentication
// marker; it holds the time of the re-authentication and lives ReauthTTL.
func ReauthKey(sessionID string) string { return "reauth:" + sessionID }

func reauthCeremonyKey(sessionID string) string { return "wa:reauth:" + sessionID }

// ReauthHandler re-authenticates the signed-in user: the password plus a
// second factor (a TOTP code, a recovery code or a WebAuthn assertion).
// Failures count against the same per-username counter as login
// (login.Throttle, login.UsernameCounter), so a stolen session cannot be
// used to guess the password faster than the login page allows.
type ReauthHandler struct {
	Users       store.Users
	Credentials store.Credentials
	Recovery    store.RecoveryCodes
	KV          store.KV
	Throttle    *login.Throttle
	Hasher      *password.Hasher
	Box         *secretbox.Box
	RP          *passkey.RP // nil: passkeys are off
	Audit       *audit.Auditor
	Log         *slog.Logger
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

func errReauthRequired() *Problem {
	return NewProblem(http.StatusForbidden, "reauth_required",
		"Confirm it's you first: enter your password and a second factor. The confirmation lasts 5 minutes.")
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
	if h.RP == nil {
		return errWebAuthnUnavailable()
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
		return NewProblem(http.StatusConflict, "no_credentials", "This account has no passkey or security key.")
	}
	assertion, cer, err := h.RP.BeginLogin(&passkey.User{Account: u, Credentials: creds}, nil)
	if err != nil {
		return err
	}
	raw, err := passkey.MarshalCeremony(cer)
	if err != nil {
		return err
	}
	if err := h.KV.Put(ctx, reauthCeremonyKey(s.ID), raw, passkey.CeremonyTTL); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"publicKey": assertion.Response})
}

// Confirm checks the password and the second factor of req for the
// session's user and, when both are right, records the marker. The attempt
// is reserved on the username's failure counter before any secret is
// looked at, exactly as a login step is.
func (h *ReauthHandler) Confirm(c echo.Context, s store.Session, req reauthRequest) error {
	hasCredential := len(req.Credential) > 0 && string(req.Credential) != "null"
	if req.Password == "" || (req.Code == "" && !hasCredential) {
		return badRequest("Send your password and a code from your authenticator app, a recovery code or a passkey.")
	}
	ctx := c.Request().Context()
	var ceremony []byte
	if hasCredential {
		// Taken before anything else: a challenge is answered at most once.
		raw, err := h.KV.Take(ctx, reauthCeremonyKey(s.ID))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		ceremony = raw
	}

	counter := login.UsernameCounter(s.Username)
	count, err := h.Throttle.Reserve(ctx, counter)
	var te *login.ThrottledError
	if errors.As(err, &te) {
		h.record(c, s, "throttled", "counter username")
		p := NewProblem(http.StatusTooManyRequests, "too_many_attempts", "Too many failed attempts. Wait, then try again.")
		p.RetryAfter = te.RetryAfter
		return p
	}
	if err != nil {
		return err
	}

	u, err := h.Users.GetUser(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		h.record(c, s, "failure", "account not found")
		return errInvalidCredentials()
	}
	if err != nil {
		return err
	}
	method, reason, err := h.check(ctx, u, req, ceremony)
	if err != nil {
		return err
	}
	if reason != "" {
		h.record(c, s, "failure", reason)
		if count >= login.LockAfter && !u.Locked {
			h.lock(c, u, count)
		}
		return errInvalidCredentials()
	}
	if err := h.Throttle.Reset(ctx, counter); err != nil {
		return err
	}
	now := h.Now()
	raw, err := json.Marshal(reauthMarker{UserID: u.ID, At: now.UTC(), Method: method})
	if err != nil {
		return err
	}
	if err := h.KV.Put(ctx, ReauthKey(s.ID), raw, ReauthTTL); err != nil {
		return err
	}
	h.record(c, s, "success", "password+"+method)
	return nil
}

// check verifies the password, then the second factor. It returns the
// second factor's method, or the reason of a failure for the audit log.
// A second factor is spent (TOTP step, recovery code, WebAuthn counter)
// only after the password was right.
func (h *ReauthHandler) check(ctx context.Context, u store.User, req reauthRequest, ceremony []byte) (method, reason string, err error) {
	if u.PasswordHash == "" {
		return "", "no password set", nil
	}
	ok, _, err := h.Hasher.Verify(ctx, u.PasswordHash, req.Password)
	if errors.Is(err, password.ErrMalformedHash) {
		return "", "stored password hash is malformed", nil
	}
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "wrong password", nil
	}
	if r := unusable(&u); r != "" {
		return "", r, nil
	}
	if len(req.Credential) > 0 && string(req.Credential) != "null" {
		reason, err := h.checkAssertion(ctx, u, req.Credential, ceremony)
		return login.MethodHardware, reason, err
	}
	if code := otpDigits(req.Code); totpShaped(code) {
		reason, err := h.checkTOTP(ctx, u, code)
		return login.MethodOTP, reason, err
	}
	if !token.ValidRecoveryCode(req.Code) {
		return "", "not a code", nil
	}
	err = h.Recovery.UseRecoveryCode(ctx, u.ID, token.HashRecoveryCode(req.Code), h.Now())
	if errors.Is(err, store.ErrNotFound) {
		return "", "unknown or used recovery code", nil
	}
	if err != nil {
		return "", "", err
	}
	return login.MethodRecovery, "", nil
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

// checkTOTP checks a code (RFC 6238, one step of drift back) and accepts its
// time step at most once, as login does.
func (h *ReauthHandler) checkTOTP(ctx context.Context, u store.User, code string) (string, error) {
	if u.TOTPSecret == nil {
		return "no authenticator app enrolled", nil
	}
	secret, err := h.Box.Open(u.TOTPSecret, TOTPAD(u.ID))
	if err != nil {
		h.Log.Error("TOTP secret cannot be opened", "user", u.ID, "err", err)
		return "TOTP secret cannot be opened", nil
	}
	step, err := totp.Check(string(secret), code, h.Now())
	if errors.Is(err, totp.ErrInvalidCode) {
		return "wrong code", nil
	}
	if err != nil {
		return "", err
	}
	err = h.Users.AcceptTOTPStep(ctx, u.ID, step)
	if errors.Is(err, store.ErrConflict) {
		return "code already used (replay)", nil
	}
	return "", err
}

// checkAssertion verifies a WebAuthn assertion (§7.2) against the session's
// ceremony, for one of u's own credentials, and stores the new counter and
// flags. A clone warning (§6.1.1) refuses it.
func (h *ReauthHandler) checkAssertion(ctx context.Context, u store.User, credJSON []byte, ceremony []byte) (string, error) {
	if h.RP == nil {
		return "passkeys are off", nil
	}
	if ceremony == nil {
		return "no pending WebAuthn challenge", nil
	}
	cer, err := passkey.UnmarshalCeremony(ceremony)
	if err != nil {
		return "", err
	}
	creds, err := h.Credentials.ListCredentials(ctx, u.ID)
	if err != nil {
		return "", err
	}
	owner := passkey.User{Account: u, Credentials: creds}
	_, cred, err := h.RP.FinishLogin(cer, credJSON, func(handle []byte) (passkey.User, error) {
		if passkey.UserIDFromHandle(handle) != u.ID {
			return passkey.User{}, passkey.ErrInvalid
		}
		return owner, nil
	})
	if err != nil {
		h.Log.Debug("webauthn re-authentication refused", "user", u.ID, "err", err)
		return "assertion not valid", nil
	}
	i := slices.IndexFunc(creds, func(x store.Credential) bool { return string(x.ID) == string(cred.ID) })
	if i < 0 {
		return "credential not registered to this account", nil
	}
	rec := creds[i]
	passkey.Update(&rec, cred, h.Now())
	if err := h.Credentials.UpdateCredential(ctx, rec); err != nil {
		return "", err
	}
	if cred.Authenticator.CloneWarning {
		h.Log.Warn("webauthn clone warning at re-authentication: signature counter did not increase",
			"user", u.ID, "credential", base64.RawURLEncoding.EncodeToString(rec.ID), "sign_count", rec.SignCount)
		return "signature counter did not increase (possible cloned authenticator)", nil
	}
	return "", nil
}

// lock locks the account after login.LockAfter consecutive failures on its
// username counter, as login does; an admin unlocks it.
func (h *ReauthHandler) lock(c echo.Context, u store.User, count int) {
	_, err := h.Users.UpdateUser(c.Request().Context(), u.ID, func(x *store.User) error {
		x.Locked = true
		return nil
	})
	if err != nil {
		h.Log.Error("locking account failed", "user", u.ID, "err", err)
		return
	}
	h.Audit.Record(c.Request().Context(), store.AuditEvent{Subject: u.ID, Action: "account.locked", Result: "locked",
		Detail: "consecutive failed sign-in attempts: " + strconv.Itoa(count)})
}

func (h *ReauthHandler) record(c echo.Context, s store.Session, result, detail string) {
	h.Audit.Record(c.Request().Context(), store.AuditEvent{Actor: s.UserID, Subject: s.UserID, Action: AuditReauth, Result: result,
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
// else the 403 reauth_required problem (store errors as they are).
func (h *ReauthHandler) Require(ctx context.Context, s store.Session) error {
	until, err := h.Until(ctx, s)
	if err != nil {
		return err
	}
	if until.IsZero() {
		return errReauthRequired()
	}
	return nil
}
