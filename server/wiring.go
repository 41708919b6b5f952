package server

import (
	"context"
	"net"
	"net/http"
	"strings"

	"mutualauth/server/account"
	"mutualauth/server/audit"
	"mutualauth/server/factor"
	"mutualauth/server/login"
	"mutualauth/server/oidc"
	"mutualauth/server/passkey"
	"mutualauth/server/password"
	"mutualauth/templates"
)

// handlers are the server's handlers and middleware holders. wire builds
// each shared object once (one Auditor, one DeviceManager, one
// SessionManager, one ceremony store, one factor verifier, ...) and hands
// it to every handler that needs it; routes.go maps the handlers to paths.
type handlers struct {
	issuer        string
	sessions      *SessionManager
	clientOrigins *ClientOrigins

	root       *RootHandler
	language   LanguageHandler
	health     *HealthHandler
	identity   *IdentityHandler
	enroll     *EnrollHandler
	signIn     *SignInHandler
	loginPage  *LoginPage
	sessionAPI *SessionHandler
	verify     *VerifyHandler
	widget     *WidgetHandler
	reauth     *ReauthHandler
	account    *AccountHandler
	admin      *AdminHandler
	adminPages *AdminPages
	// metrics is /metrics on the main listener; nil when it has its own
	// (MUTUALAUTH_METRICS_LISTEN).
	metrics http.Handler
	oidc    *OIDCHandler
}

func wire(d Deps, metrics *Metrics, renderer *Renderer) (*handlers, error) {
	cfg := d.Config
	issuer := cfg.Issuer()

	// WebAuthn needs a domain name as RP ID (an IP address is refused): with
	// such a public URL the server runs without passkeys (rp == nil).
	rp, err := passkey.New(cfg.RPID(), "mutualauth", issuer)
	if err != nil {
		d.Log.Warn("passkeys are off: the public URL's host cannot be a WebAuthn RP ID", "rp_id", cfg.RPID(), "err", err)
	}
	widgetScript, err := LoadWidgetScript()
	if err != nil {
		return nil, err
	}

	auditor := &audit.Auditor{Store: d.Durable, Log: d.Log, Now: d.Now}
	// Revoking sessions in bulk revokes the OIDC grants made in them
	// (sessionGrants); so does revoking one (SessionManager.Revoke,
	// account.RevokeSession).
	sessionStore := sessionGrants{Sessions: d.Ephemeral, Grants: d.Durable, Now: d.Now}
	sessions := &SessionManager{Store: sessionStore, Grants: d.Durable, Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute,
		Secure: cfg.Secure(), Now: d.Now, Certs: d.ClientCerts, BindCerts: cfg.TLSBindSessions}
	devices := &DeviceManager{Store: d.Durable, TTL: cfg.DeviceTTL, Secure: cfg.Secure(), Now: d.Now}
	ceremonies := &passkey.Ceremonies{RP: rp, KV: d.Ephemeral, Credentials: d.Durable, Now: d.Now}
	verifier := &factor.Verifier{
		Users: d.Durable, RecoveryCodes: d.Durable, Ceremonies: ceremonies,
		Throttle: &login.Throttle{KV: d.Ephemeral, Now: d.Now},
		Hasher:   d.Hasher, Box: d.Box, Audit: auditor,
		Locks: metrics.Logins.WithLabelValues("lock", "locked"),
		Log:   d.Log, Now: d.Now,
	}
	rules := &account.FactorRules{Users: d.Durable, Box: d.Box, Hasher: d.Hasher,
		Policy: password.Policy{MinLength: cfg.PasswordMinLen}, Now: d.Now}

	h := &handlers{issuer: issuer, sessions: sessions, clientOrigins: &ClientOrigins{Store: d.Durable, Now: d.Now}}
	h.root = &RootHandler{Sessions: sessions}
	h.language = LanguageHandler{Secure: cfg.Secure()}
	if cfg.MetricsListen == "" {
		h.metrics = metrics.Protected(cfg.MetricsToken)
	}
	h.health = &HealthHandler{Durable: d.Durable, Ephemeral: d.Ephemeral}
	h.identity = &IdentityHandler{Issuer: issuer, Keys: d.Keys, WidgetIntegrity: widgetScript.Integrity}
	h.enroll = &EnrollHandler{
		Durable: d.Durable, Rules: rules, Ceremonies: ceremonies, Devices: devices, Audit: auditor, Keys: d.Keys, Issuer: issuer, TOTPIssuer: totpIssuer(cfg.RPID()), Now: d.Now,
	}
	h.signIn = &SignInHandler{
		Issuer: issuer, Users: d.Durable, Credentials: d.Durable, Clients: d.Durable, KV: d.Ephemeral,
		Tx:       &login.Transactions{KV: d.Ephemeral, Now: d.Now},
		IPLimit:  &login.RateLimiter{KV: d.Ephemeral, Limit: cfg.IPRateLimit},
		Verifier: verifier, Ceremonies: ceremonies, Keys: d.Keys, Box: d.Box,
		Sessions: sessions, Devices: devices, Audit: auditor, Metrics: metrics, Log: d.Log, Now: d.Now,
		CertLogin: &CertLogin{Certs: d.ClientCerts, Bindings: d.Durable},
		Policy:    login.Policy(cfg.PhishingResistant),
	}
	h.loginPage = &LoginPage{Issuer: issuer, Clients: d.Durable, Sessions: sessions, RecoveryCodes: d.Durable}
	h.sessionAPI = &SessionHandler{Sessions: sessions, Audit: auditor}
	h.verify = &VerifyHandler{Issuer: issuer, Sessions: sessions, Metrics: metrics, Log: d.Log}
	h.widget = &WidgetHandler{
		Issuer: issuer, Clients: d.Durable, Users: d.Durable, KV: d.Ephemeral, Script: widgetScript,
		Audit: auditor, ClientAuth: &login.ClientAuth{Throttle: &login.Throttle{KV: d.Ephemeral, Now: d.Now}}, Now: d.Now,
	}
	h.reauth = &ReauthHandler{
		Users: d.Durable, Credentials: d.Durable, KV: d.Ephemeral,
		Verifier: verifier, Ceremonies: ceremonies, Audit: auditor, Now: d.Now,
	}
	h.account = &AccountHandler{
		Self: &account.Self{
			Durable: d.Durable, Sessions: sessionStore, Ceremonies: ceremonies, Rules: rules, Audit: auditor,
			RequireReauth: h.reauth.Require, TOTPIssuer: totpIssuer(cfg.RPID()), Now: d.Now,
		},
		Durable: d.Durable, Sessions: sessions, Reauth: h.reauth,
		Flash: flashes{Cookie: accountFlashCookie, Path: "/account", Secure: cfg.Secure()},
		Certs: d.ClientCerts, Secure: cfg.Secure(), Now: d.Now,
	}
	h.admin = &AdminHandler{
		Ops: &account.Admin{
			Durable: d.Durable, Sessions: sessionStore, KV: d.Ephemeral, Audit: auditor,
			InviteTTL: cfg.InviteTTL, Certs: d.ClientCerts, Now: d.Now,
		},
		Durable: d.Durable, Sessions: sessions, Issuer: issuer,
	}
	h.adminPages = &AdminPages{Admin: h.admin, KV: d.Ephemeral,
		Flash: flashes{Cookie: adminFlashCookie, Path: "/admin", Secure: cfg.Secure()}}

	// The OpenID Connect provider (server/oidc; docs/oidc.md).
	provider, err := oidc.New(context.Background(), oidc.Config{
		Issuer: issuer, Durable: d.Durable, KV: d.Ephemeral, Box: d.Box, IDTokenAlg: cfg.OIDCIDTokenAlg,
		Sessions: oidcSessions{m: sessions}, ErrorPage: oidcErrorPage(renderer), Audit: auditor, Log: d.Log, Now: d.Now,
	})
	if err != nil {
		return nil, err
	}
	h.oidc = &OIDCHandler{Provider: provider, Sessions: sessions, Users: d.Durable, Now: d.Now}
	h.loginPage.Apps = h.oidc
	return h, nil
}

// totpIssuer is the name authenticator apps show above the username: the
// product, with the server's host when it is a real one (so that two
// deployments stay apart in the app), never a bare "localhost".
func totpIssuer(host string) string {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host) != nil {
		return templates.Product
	}
	return templates.Product + " (" + host + ")"
}
