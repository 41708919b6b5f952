package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/account"
	"mutualauth/server/audit"
	"mutualauth/server/factor"
	"mutualauth/server/keys"
	"mutualauth/server/login"
	"mutualauth/server/passkey"
	"mutualauth/server/secretbox"
	"mutualauth/server/token"
	"mutualauth/store"
	"mutualauth/templates"
	"mutualauth/templates/i18n"
)

// Limits on login requests.
const (
	maxUsernameBytes = 256
	minNonceBytes    = 16
	maxNonceBytes    = 64
	// WidgetCodeTTL is the life of a widget code (API contract, "Widget clients").
	WidgetCodeTTL = 60 * time.Second
)

// SignInHandler serves the login transaction of the API contract ("Login",
// "Throttling"). The state machine, counters and limits live in package
// login, the factor checks in package factor; this handler turns their
// outcomes into responses, audit events and metrics.
type SignInHandler struct {
	Issuer      string
	Users       store.Users
	Credentials store.Credentials
	Clients     store.Clients
	KV          store.KV // widget codes
	Tx          *login.Transactions
	IPLimit     *login.RateLimiter
	Verifier    *factor.Verifier
	Ceremonies  *passkey.Ceremonies
	Keys        *keys.Ring
	Box         *secretbox.Box
	Sessions    *SessionManager
	Devices     *DeviceManager
	CertLogin   *CertLogin
	Audit       *audit.Auditor
	Metrics     *Metrics
	Log         *slog.Logger
	Now         func() time.Time
	// Policy is the downgrade protection (MUTUALAUTH_PHISHING_RESISTANT);
	// empty is login.PolicyPasskeyUsers.
	Policy login.Policy

	decoy atomic.Pointer[string] // see subject
}

// loginRequest is the body of every login step; each step reads its fields.
type loginRequest struct {
	Username    string          `json:"username"`
	ClientNonce string          `json:"client_nonce"`
	DeviceToken string          `json:"device_token"`
	ClientID    string          `json:"client_id"`
	LoginID     string          `json:"login_id"`
	Password    string          `json:"password"`
	Code        string          `json:"code"`
	Credential  json.RawMessage `json:"credential"`
	// Passkey asks begin for a passkey-first login (no username).
	Passkey bool `json:"passkey"`
	// TrustDevice false on the completing step: no device token.
	TrustDevice *bool `json:"trust_device"`
}

// stepResponse answers a step after which steps remain.
type stepResponse struct {
	LoginID     string       `json:"login_id,omitempty"`
	Proof       string       `json:"proof,omitempty"`
	Next        []login.Step `json:"next"`
	PhraseShown bool         `json:"phrase_shown"`
	// ClientCertificate is true when begin recognized the device by its
	// client certificate (the hosted page says so).
	ClientCertificate bool `json:"client_certificate,omitempty"`
}

// completion answers the step that completes a login.
type completion struct {
	Done        bool      `json:"done"`
	User        userInfo  `json:"user"`
	AMR         []string  `json:"amr"`
	AuthTime    time.Time `json:"auth_time"`
	ExpiresAt   time.Time `json:"expires_at"`
	DeviceToken string    `json:"device_token,omitempty"`
	Code        string    `json:"code,omitempty"`
	Proof       string    `json:"proof,omitempty"`
}

// widgetCode is what a widget code stands for, kept under "wcode:<hex
// SHA-256 of the code>" until the host's backend exchanges it.
type widgetCode struct {
	ClientID    string    `json:"client_id"`
	UserID      string    `json:"user_id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	AMR         []string  `json:"amr"`
	AuthTime    time.Time `json:"auth_time"`
}

// WidgetCodeKey is the ephemeral store key of a widget code.
func WidgetCodeKey(code string) string { return "wcode:" + token.HashHex(code) }

func errUnknownLogin() *Problem {
	return NewProblem(http.StatusNotFound, "unknown_login",
		"problem.unknown-login")
}

func errWrongStep() *Problem {
	return NewProblem(http.StatusConflict, "wrong_step", "problem.wrong-step")
}

// errUsernameSyntax refuses a username with a control character or invalid
// UTF-8 (API.md v1.1, "Input rules").
func errUsernameSyntax() *Problem {
	return NewProblem(http.StatusBadRequest, "invalid_request",
		"problem.username-syntax")
}

// errPhishingResistant refuses a code where a passkey is required (API
// contract v1.1, "Downgrade protection").
func errPhishingResistant() *Problem {
	return NewProblem(http.StatusForbidden, "phishing_resistant_required",
		"problem.phishing-resistant-required")
}

func errInvalidNonce() *Problem {
	return NewProblem(http.StatusBadRequest, "invalid_nonce",
		"problem.invalid-nonce")
}

// Begin serves POST /api/v1/login/begin.
func (h *SignInHandler) Begin(c echo.Context) error {
	const step = "begin"
	if err := h.limit(c, "begin", step); err != nil {
		return err
	}
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		if errors.Is(err, errBodyNotUTF8) {
			return errUsernameSyntax()
		}
		return err
	}
	raw := strings.TrimSpace(req.Username)
	passkeyFirst := req.Passkey && req.Username == ""
	if (raw == "" && !passkeyFirst) || len(req.Username) > maxUsernameBytes {
		return badRequest("problem.username-length")
	}
	if account.CheckUsernameSyntax(req.Username) != nil {
		return errUsernameSyntax()
	}
	if err := checkNonce(req.ClientNonce); err != nil {
		return err
	}
	ctx := c.Request().Context()
	audience, err := h.beginAudience(c, req.ClientID)
	if err != nil {
		return err
	}
	if passkeyFirst {
		return h.beginPasskey(c, req, audience)
	}

	// Every path does the same reads: the user by name, and the device by
	// its token when one is sent (bound to an id no account has when the
	// name is unknown), so that unknown names cost what known ones do.
	username, nerr := account.NormalizeUsername(raw)
	valid := nerr == nil
	if !valid {
		username = raw
	}
	u, err := h.Users.GetUserByUsername(ctx, username)
	known := err == nil && valid
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	bindTo := "-"
	if known {
		bindTo = u.ID
	}
	devTok := TokenFrom(c, req.DeviceToken)
	dev, recognized, err := h.Devices.Recognize(ctx, devTok, bindTo)
	if err != nil {
		return err
	}
	recognized = recognized && known && factor.Unusable(&u) == ""
	var holder *store.User
	if known && factor.Unusable(&u) == "" {
		holder = &u
	}
	cert, err := h.CertLogin.Check(ctx, c.Request(), holder)
	if err != nil {
		return err
	}

	tx := login.Transaction{Username: username, ClientID: req.ClientID, Audience: audience}
	if known {
		tx.UserID = u.ID
	}
	if recognized {
		if tx, err = h.recognize(tx, dev, devTok); err != nil {
			return err
		}
	}
	if cert.OK {
		tx = tx.WithCert(cert.Fingerprint)
	}
	tx.CodesBarred = h.policy().BarsCodes(&tx)
	tx, err = h.Tx.Create(ctx, tx)
	if err != nil {
		return err
	}
	if cert.Presented {
		result := "failure"
		if cert.OK {
			result = "success"
		}
		h.record(ctx, tx, audit.LoginCert, result, cert.auditDetail())
	}
	var subject *store.User
	if known {
		subject = &u
	}
	proof, shown, err := h.proof(c, tx, subject, req.ClientNonce)
	if err != nil {
		return err
	}
	// begin checks no secret, so it is counted in the metrics but not
	// written to the audit log: an audit row per begin would cost more than
	// the rest of begin together (DESIGN.md: one signature, one Redis
	// write). Every factor step of the transaction is audited.
	h.count(step, "success")
	return c.JSON(http.StatusOK, stepResponse{LoginID: tx.ID, Proof: proof, Next: tx.Next(), PhraseShown: shown,
		ClientCertificate: cert.OK})
}

// beginPasskey starts a passkey-first login (API contract v1.1,
// "Passkey-first"): no username, the passkey names the account. A device
// token sent along is kept sealed until then.
func (h *SignInHandler) beginPasskey(c echo.Context, req loginRequest, audience string) error {
	ctx := c.Request().Context()
	tx := login.Transaction{Passkey: true, ClientID: req.ClientID, Audience: audience}
	if devTok := TokenFrom(c, req.DeviceToken); token.Valid(devTok) {
		seal, err := h.Box.Seal([]byte(devTok), pendingDeviceAD)
		if err != nil {
			return err
		}
		tx.PendingDevice = seal
	}
	tx, err := h.Tx.Create(ctx, tx)
	if err != nil {
		return err
	}
	proof, _, err := h.proof(c, tx, nil, req.ClientNonce)
	if err != nil {
		return err
	}
	h.count("begin", "success")
	return c.JSON(http.StatusOK, stepResponse{LoginID: tx.ID, Proof: proof, Next: tx.Next()})
}

// beginAudience is the audience of a transaction's proofs: the request's
// Origin when it is the issuer's or an origin of the named widget client,
// else the issuer.
func (h *SignInHandler) beginAudience(c echo.Context, clientID string) (string, error) {
	audience := h.Issuer
	origin := c.Request().Header.Get("Origin")
	if clientID != "" {
		cl, err := h.Clients.GetClient(c.Request().Context(), clientID)
		if errors.Is(err, store.ErrNotFound) {
			return "", NewProblem(http.StatusBadRequest, "invalid_client", "problem.unknown-client-id")
		}
		if err != nil {
			return "", err
		}
		if slices.Contains(cl.Origins, origin) {
			audience = origin
		}
	}
	if origin == h.Issuer {
		audience = origin
	}
	return audience, nil
}

// recognize marks tx as made on the recognized device dev, keeping its
// token sealed so that completion can hand the same token back.
func (h *SignInHandler) recognize(tx login.Transaction, dev store.Device, devTok string) (login.Transaction, error) {
	seal, err := h.Box.Seal([]byte(devTok), deviceSealAD(dev.ID))
	if err != nil {
		return tx, err
	}
	tx.Recognized, tx.DeviceID, tx.DeviceSeal = true, dev.ID, seal
	return tx, nil
}

// identify binds a passkey-first transaction to the account its passkey
// named, recognizing the device when the token begin kept is that
// account's.
func (h *SignInHandler) identify(ctx context.Context, tx login.Transaction, u *store.User) (login.Transaction, error) {
	tx = tx.Identify(u.ID, u.Username)
	if tx.PendingDevice == nil {
		return tx, nil
	}
	raw, err := h.Box.Open(tx.PendingDevice, pendingDeviceAD)
	tx.PendingDevice = nil
	if err != nil {
		return tx, err
	}
	dev, ok, err := h.Devices.Recognize(ctx, string(raw), u.ID)
	if err != nil || !ok {
		return tx, err
	}
	return h.recognize(tx, dev, string(raw))
}

func (h *SignInHandler) policy() login.Policy {
	if h.Policy == "" {
		return login.PolicyPasskeyUsers
	}
	return h.Policy
}

// Password serves POST /api/v1/login/password.
func (h *SignInHandler) Password(c echo.Context) error {
	return h.factor(c, login.StepPassword, h.checkPassword)
}

// OTP serves POST /api/v1/login/otp.
func (h *SignInHandler) OTP(c echo.Context) error {
	return h.factor(c, login.StepOTP, h.checkOTP)
}

// RecoveryCode serves POST /api/v1/login/recovery.
func (h *SignInHandler) RecoveryCode(c echo.Context) error {
	return h.factor(c, login.StepRecovery, h.checkRecovery)
}

// WebAuthn serves POST /api/v1/login/webauthn.
func (h *SignInHandler) WebAuthn(c echo.Context) error {
	return h.factor(c, login.StepWebAuthn, h.checkWebAuthn)
}

// WebAuthnOptions serves POST /api/v1/login/webauthn/options. On a
// recognized device the request lists the user's credentials; anywhere
// else it lists none (a discoverable-credential request), so the options
// say nothing about whether the username exists or which credentials it has.
func (h *SignInHandler) WebAuthnOptions(c echo.Context) error {
	const step = "webauthn_options"
	if err := h.limit(c, "step", step); err != nil {
		return err
	}
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	tx, err := h.loadChecked(ctx, req.LoginID)
	if err != nil {
		return err
	}
	if !tx.Allows(login.StepWebAuthn) {
		return errWrongStep()
	}
	if !h.Ceremonies.Available() {
		return NewProblem(http.StatusNotImplemented, "webauthn_unavailable",
			"problem.webauthn-off")
	}
	var user *passkey.User
	if tx.Recognized {
		u, err := h.Users.GetUser(ctx, tx.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil {
			creds, err := h.Credentials.ListCredentials(ctx, u.ID)
			if err != nil {
				return err
			}
			user = &passkey.User{Account: u, Credentials: creds}
		}
	}
	var topOrigins []string
	if tx.ClientID != "" {
		cl, err := h.Clients.GetClient(ctx, tx.ClientID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		topOrigins = cl.Origins
	}
	assertion, err := h.Ceremonies.BeginLogin(ctx, passkey.ScopeLogin, tx.ID, user, topOrigins)
	if err != nil {
		return err
	}
	h.count(step, "success")
	return c.JSON(http.StatusOK, map[string]any{"publicKey": assertion.Response})
}

// checker checks one factor. u is nil when the transaction's username
// names no account.
type checker func(ctx context.Context, tx login.Transaction, u *store.User, req loginRequest) (factor.Result, error)

// factor runs one factor step: rate limit, transaction and order checks,
// the throttle reservation (before the secret is looked at), the check,
// then the transaction moved forward with compare-and-set, or the
// completion.
func (h *SignInHandler) factor(c echo.Context, step login.Step, check checker) error {
	name := string(step)
	action := audit.LoginPrefix + name
	if err := h.limit(c, "step", name); err != nil {
		return err
	}
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := checkNonce(req.ClientNonce); err != nil {
		return err
	}
	ctx := c.Request().Context()
	tx, err := h.loadChecked(ctx, req.LoginID)
	if err != nil {
		return err
	}
	if !tx.Allows(step) {
		h.count(name, "wrong_step")
		return errWrongStep()
	}
	// A certificate login goes on only over a request that still presents
	// the certificate (a login id is no bearer of the second factor).
	if tx.Cert != "" && !h.CertLogin.Presents(c.Request(), tx.Cert) {
		h.record(ctx, tx, action, "failure", "fingerprint "+tx.Cert+": certificate not presented")
		h.count(name, "failure")
		return errInvalidCredentials()
	}
	if (step == login.StepOTP || step == login.StepRecovery) && tx.CodesBarred && !tx.Recognized {
		// The same refusal for every username, before any code is looked at.
		h.record(ctx, tx, action, "refused", "phishing-resistant factor required")
		h.count(name, "refused")
		return errPhishingResistant()
	}
	u, err := h.subject(ctx, tx)
	if err != nil {
		return err
	}

	// Every factor counts on the transaction's failure counter, WebAuthn
	// included. A passkey-first assertion has no username to count on
	// before it is verified; it answers a fresh single-use challenge and
	// cannot be guessed, so it is limited per IP only.
	attempt := factor.Attempt{Counter: tx.ThrottleKey(), Unthrottled: tx.Passkey && !tx.Known(),
		Lockable: tx.PerUsername(), User: u}
	out, err := h.Verifier.Check(ctx, attempt, func() (factor.Result, error) { return check(ctx, tx, u, req) })
	if errors.Is(err, login.ErrThrottled) {
		h.record(ctx, tx, action, "throttled", "counter "+counterKind(tx))
		h.count(name, "throttled")
	}
	if err != nil {
		return err
	}
	if !out.OK {
		result := out.AuditResult()
		h.record(ctx, tx, action, result, out.Reason)
		h.count(name, result)
		return errInvalidCredentials()
	}

	if refuse, err := h.refusesRightCode(ctx, tx, step, u); err != nil || refuse {
		if err != nil {
			return err
		}
		h.record(ctx, tx, action, "refused", "right code refused: phishing-resistant factor required")
		h.count(name, "refused")
		return errPhishingResistant()
	}
	if out.User != nil && !tx.Known() {
		if tx, err = h.identify(ctx, tx, out.User); err != nil {
			return err
		}
		u = out.User
	}
	next := tx.Succeed(step, out.UserVerified)
	h.record(ctx, next, action, "success", "")
	h.count(name, "success")
	if next.Complete() {
		return h.complete(c, next, u, req)
	}
	saved, err := h.Tx.Save(ctx, next)
	if err != nil {
		return h.saveError(err)
	}
	proof, shown, err := h.proof(c, saved, u, req.ClientNonce)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, stepResponse{Proof: proof, Next: saved.Next(), PhraseShown: shown})
}

// refusesRightCode applies the downgrade protection to a right code.
func (h *SignInHandler) refusesRightCode(ctx context.Context, tx login.Transaction, step login.Step, u *store.User) (bool, error) {
	p := h.policy()
	if u == nil || !p.RefusesRightCode(&tx, step, true) {
		return false, nil
	}
	creds, err := h.Credentials.ListCredentials(ctx, u.ID)
	if err != nil {
		return false, err
	}
	return p.RefusesRightCode(&tx, step, len(creds) > 0), nil
}

// complete ends a transaction whose factors both succeeded: exactly one
// request wins the compare-and-set to done and gets a new session.
func (h *SignInHandler) complete(c echo.Context, tx login.Transaction, u *store.User, req loginRequest) error {
	ctx := c.Request().Context()
	if err := h.Tx.Finish(ctx, tx); err != nil {
		return h.saveError(err)
	}
	// The login replaces the client's current session, if it has one
	// (ASVS 5.0 V7.2.4): that token stops working, whoever holds a copy.
	if old := h.Sessions.token(c.Request()); token.Valid(old) {
		if err := h.Sessions.Store.DeleteSession(ctx, token.HashHex(old)); err != nil {
			return err
		}
	}
	now := h.Now()
	amr := tx.AMR()
	sess, _, err := h.Sessions.CreateWithCert(c, *u, amr, now, tx.Cert)
	if err != nil {
		return err
	}
	if tx.Cert != "" {
		if err := h.CertLogin.Bindings.TouchClientCert(ctx, tx.Cert, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	devTok := ""
	if req.TrustDevice == nil || *req.TrustDevice {
		if devTok, err = h.deviceToken(c, tx, u); err != nil {
			return err
		}
	}
	out := completion{
		Done:        true,
		User:        userInfo{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName},
		AMR:         amr,
		AuthTime:    sess.AuthTime.UTC(),
		ExpiresAt:   sess.ExpiresAt.UTC(),
		DeviceToken: devTok,
	}
	if tx.ClientID != "" {
		code, err := token.New()
		if err != nil {
			return err
		}
		raw, err := json.Marshal(widgetCode{
			ClientID: tx.ClientID, UserID: u.ID, Username: u.Username, DisplayName: u.DisplayName,
			AMR: amr, AuthTime: sess.AuthTime.UTC(),
		})
		if err != nil {
			return err
		}
		if err := h.KV.Put(ctx, WidgetCodeKey(code), raw, WidgetCodeTTL); err != nil {
			return err
		}
		out.Code = code
	}
	if out.Proof, _, err = h.proof(c, tx, u, req.ClientNonce); err != nil {
		return err
	}
	detail := "amr " + strings.Join(amr, "+") + ", session " + sess.ID
	if tx.Cert != "" {
		detail += ", certificate fingerprint " + tx.Cert
	}
	h.record(ctx, tx, audit.LoginComplete, "success", detail)
	h.count("complete", "success")
	return c.JSON(http.StatusOK, out)
}

// deviceToken returns the token of the device the login was recognized
// on (kept sealed in the transaction) while that device is still valid,
// and otherwise makes this device a recognized one with a new token.
func (h *SignInHandler) deviceToken(c echo.Context, tx login.Transaction, u *store.User) (string, error) {
	if tx.Recognized && tx.DeviceSeal != nil {
		raw, err := h.Box.Open(tx.DeviceSeal, deviceSealAD(tx.DeviceID))
		if err != nil {
			return "", err
		}
		tok := string(raw)
		dev, ok, err := h.Devices.Recognize(c.Request().Context(), tok, u.ID)
		if err != nil {
			return "", err
		}
		if ok && dev.ID == tx.DeviceID {
			c.SetCookie(&http.Cookie{
				Name: DeviceCookie, Value: tok, Path: "/", HttpOnly: true, Secure: h.Devices.Secure,
				SameSite: http.SameSiteLaxMode, MaxAge: int(dev.ExpiresAt.Sub(h.Now()) / time.Second),
			})
			return tok, nil
		}
	}
	return h.Devices.Issue(c, u.ID, "")
}

func deviceSealAD(deviceID string) []byte { return []byte("login-device:" + deviceID) }

// pendingDeviceAD binds the sealed device token of a passkey-first begin.
var pendingDeviceAD = []byte("login-device:pending")

func (h *SignInHandler) checkPassword(ctx context.Context, _ login.Transaction, u *store.User, req loginRequest) (factor.Result, error) {
	return h.Verifier.Password(ctx, u, req.Password)
}

func (h *SignInHandler) checkOTP(ctx context.Context, _ login.Transaction, u *store.User, req loginRequest) (factor.Result, error) {
	return h.Verifier.TOTP(ctx, u, req.Code)
}

func (h *SignInHandler) checkRecovery(ctx context.Context, _ login.Transaction, u *store.User, req loginRequest) (factor.Result, error) {
	return h.Verifier.RecoveryCode(ctx, u, req.Code)
}

// checkWebAuthn verifies an assertion against the ceremony of this
// transaction, taken from the store first (single use), and only for the
// transaction's own account.
func (h *SignInHandler) checkWebAuthn(ctx context.Context, tx login.Transaction, u *store.User, req loginRequest) (factor.Result, error) {
	cer, err := h.Verifier.TakeAssertionCeremony(ctx, passkey.ScopeLogin, tx.ID)
	if err != nil {
		return factor.Result{}, err
	}
	if tx.Passkey && !tx.Known() {
		return h.Verifier.DiscoverableAssertion(ctx, cer, req.Credential)
	}
	return h.Verifier.Assertion(ctx, u, cer, req.Credential)
}

// subject returns the transaction's account, or nil for an unknown
// username (or an account deleted since begin). Both paths read one
// account row by id: an unknown username reads the row of the account a
// step read last (a decoy, discarded), so that it costs what a known one
// does; before any account was read it looks the name up instead.
func (h *SignInHandler) subject(ctx context.Context, tx login.Transaction) (*store.User, error) {
	var (
		u   store.User
		err error
	)
	switch decoy := h.decoy.Load(); {
	case tx.Known():
		u, err = h.Users.GetUser(ctx, tx.UserID)
		if err == nil {
			h.decoy.Store(&u.ID)
		}
	case decoy != nil:
		if _, err = h.Users.GetUser(ctx, *decoy); err == nil {
			err = store.ErrNotFound
		}
	default:
		if _, err = h.Users.GetUserByUsername(ctx, tx.Username); err == nil {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// load returns the transaction or the 404 unknown_login problem.
func (h *SignInHandler) load(ctx context.Context, id string) (login.Transaction, error) {
	tx, err := h.Tx.Load(ctx, id)
	if errors.Is(err, login.ErrUnknown) {
		return login.Transaction{}, errUnknownLogin()
	}
	return tx, err
}

// loadChecked loads the transaction and, when it was begun on a
// recognized device, checks at every step that the device still is one
// (not revoked, expired or moved to another user since begin): otherwise
// the sign-in ends (it was begun with the device's phrase and counter) and
// the client starts again, as an unrecognized device.
func (h *SignInHandler) loadChecked(ctx context.Context, id string) (login.Transaction, error) {
	tx, err := h.load(ctx, id)
	if err != nil || !tx.Recognized || tx.DeviceSeal == nil {
		// (A certificate-recognized login re-checks its certificate in
		// factor, at each step too.)
		return tx, err
	}
	still := false
	if raw, err := h.Box.Open(tx.DeviceSeal, deviceSealAD(tx.DeviceID)); err == nil {
		dev, ok, err := h.Devices.Recognize(ctx, string(raw), tx.UserID)
		if err != nil {
			return login.Transaction{}, err
		}
		still = ok && dev.ID == tx.DeviceID
	}
	if still {
		return tx, nil
	}
	if err := h.Tx.Finish(ctx, tx); err != nil && !errors.Is(err, login.ErrStale) && !errors.Is(err, login.ErrUnknown) {
		return login.Transaction{}, err
	}
	h.record(ctx, tx, audit.LoginPrefix+"device", "device_revoked", "the device is no longer recognized; sign-in ended")
	return login.Transaction{}, NewProblem(http.StatusNotFound, "unknown_login",
		"problem.device-revoked")
}

func (h *SignInHandler) saveError(err error) error {
	switch {
	case errors.Is(err, login.ErrStale):
		return errWrongStep()
	case errors.Is(err, login.ErrUnknown):
		return errUnknownLogin()
	}
	return err
}

// proof signs a server proof over nonce (none when nonce is empty). The
// phrase is in it only once the transaction reveals it. shown reports
// whether this proof carries the phrase.
func (h *SignInHandler) proof(c echo.Context, tx login.Transaction, u *store.User, nonce string) (string, bool, error) {
	if nonce == "" {
		return "", false, nil
	}
	phrase := ""
	if tx.PhraseRevealed() && u != nil && u.ID == tx.UserID && u.Phrase != nil {
		p, err := h.Box.Open(u.Phrase, factor.PhraseAD(u.ID))
		if err != nil {
			h.Log.Error("security phrase cannot be opened", "user", u.ID, "err", err)
		} else {
			phrase = string(p)
		}
	}
	now := h.Now()
	jws, err := h.Keys.Sign(keys.ProofClaims{
		Issuer:   h.Issuer,
		Audience: h.audience(c, tx),
		Nonce:    nonce,
		LoginID:  tx.ID,
		Username: tx.Username,
		Phrase:   phrase,
		IssuedAt: now,
		Expiry:   now.Add(keys.MaxProofLifetime),
	})
	if err != nil {
		return "", false, err
	}
	return jws, phrase != "", nil
}

// audience is the request's Origin when it is the issuer or the origin
// begin accepted for the transaction's client; otherwise the issuer.
func (h *SignInHandler) audience(c echo.Context, tx login.Transaction) string {
	origin := c.Request().Header.Get("Origin")
	if origin != "" && (origin == h.Issuer || origin == tx.Audience) {
		return origin
	}
	return h.Issuer
}

// limit applies the per-IP limit of group.
func (h *SignInHandler) limit(c echo.Context, group, step string) error {
	err := h.IPLimit.Allow(c.Request().Context(), group, c.RealIP())
	var re *login.RateLimitedError
	if errors.As(err, &re) {
		h.count(step, "rate_limited")
		p := NewProblem(http.StatusTooManyRequests, "rate_limited",
			"problem.rate-limited")
		p.RetryAfter = re.RetryAfter
		return p
	}
	return err
}

func (h *SignInHandler) record(ctx context.Context, tx login.Transaction, action, result, detail string) {
	subject := tx.UserID
	if subject == "" {
		subject = tx.Username
	}
	actor := ""
	if result == "success" && action == audit.LoginComplete {
		actor = tx.UserID
	}
	if tx.ID != "" {
		if detail != "" {
			detail += "; "
		}
		detail += "login " + token.HashHex(tx.ID)[:12]
	}
	h.Audit.Record(ctx, store.AuditEvent{Actor: actor, Subject: subject, Action: action, Result: result, Detail: detail})
}

func (h *SignInHandler) count(step, result string) {
	if h.Metrics != nil {
		h.Metrics.Logins.WithLabelValues(step, result).Inc()
	}
}

func counterKind(tx login.Transaction) string {
	if tx.PerUsername() {
		return "username"
	}
	return "device " + tx.DeviceID
}

// checkNonce accepts an empty nonce or one of 16 to 64 bytes in unpadded
// base64url. The decoder skips CR and LF even in strict mode, so they are
// refused first: the nonce comes back verbatim in the proof.
func checkNonce(n string) error {
	if n == "" {
		return nil
	}
	if len(n) > base64.RawURLEncoding.EncodedLen(maxNonceBytes) || strings.ContainsAny(n, "\r\n") {
		return errInvalidNonce()
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(n)
	if err != nil || len(b) < minNonceBytes || len(b) > maxNonceBytes {
		return errInvalidNonce()
	}
	return nil
}

// LoginPage serves GET /login, the hosted login page. return_to is passed
// on only when it is safe to redirect to: on the issuer's origin or on a
// registered widget client's origin (no open redirect).
type LoginPage struct {
	Issuer  string
	Clients store.Clients
	// Sessions and RecoveryCodes tell a visitor who is signed in already
	// (and how many recovery codes are left after a recovery-code login).
	Sessions      *SessionManager
	RecoveryCodes store.RecoveryCodes
	// Apps names the app an OIDC hand-off return_to leads to, and the
	// login_hint it sent; may be nil.
	Apps interface {
		Handoff(ctx context.Context, returnTo string) (app, loginHint string)
	}
}

// Serve renders the page.
func (p *LoginPage) Serve(c echo.Context) error {
	returnTo, err := p.safeReturn(c.Request().Context(), c.QueryParam("return_to"))
	if err != nil {
		return err
	}
	data := map[string]string{"issuer": p.Issuer, "return-to": returnTo}
	if p.Apps != nil {
		if app, hint := p.Apps.Handoff(c.Request().Context(), returnTo); app != "" {
			data["app"], data["login-hint"] = app, hint
		}
	}
	body, err := p.notices(c)
	if err != nil {
		return err
	}
	return render(c, "login", templates.Page{
		Title:   i18n.M("login.sign-in"),
		Scripts: []string{"proof.js", "login.js"},
		Data:    data,
		Body:    body,
	})
}

// loginNotices are what the login page says before anything else: that the
// visitor just signed out, or is signed in already (and how many recovery
// codes are left when that session began with one).
type loginNotices struct {
	SignedOut    bool
	SignedInAs   string
	RecoveryLeft int // -1: the session did not begin with a recovery code
}

func (p *LoginPage) notices(c echo.Context) (loginNotices, error) {
	n := loginNotices{SignedOut: c.QueryParam("signed_out") == "1", RecoveryLeft: -1}
	if p.Sessions == nil {
		return n, nil
	}
	s, err := p.Sessions.Current(c)
	if errors.Is(err, store.ErrUnavailable) {
		return n, err
	}
	if err != nil {
		return n, nil
	}
	n.SignedOut, n.SignedInAs = false, s.Username
	if slices.Contains(s.AMR, login.MethodRecovery) && p.RecoveryCodes != nil {
		if n.RecoveryLeft, err = p.RecoveryCodes.CountRecoveryCodes(c.Request().Context(), s.UserID); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (p *LoginPage) safeReturn(ctx context.Context, raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if s, ok := sameOriginURL(p.Issuer, raw); ok {
		return s, nil
	}
	u, err := url.Parse(raw)
	if err != nil || strings.ContainsAny(raw, "\r\n\\\x00") || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", nil
	}
	origin, err := account.NormalizeOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return "", nil
	}
	clients, err := p.Clients.ListClients(ctx)
	if err != nil {
		return "", err
	}
	for _, cl := range clients {
		if slices.Contains(cl.Origins, origin) {
			return u.String(), nil
		}
	}
	return "", nil
}
