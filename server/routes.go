package server

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"mutualauth/server/audit"
	"mutualauth/server/factor"
	"mutualauth/server/login"
	"mutualauth/server/passkey"
	"mutualauth/server/password"
)

// routes lists every route and middleware of the server, in one place.
func (s *Server) routes(d Deps) error {
	e := s.echo
	cfg := d.Config
	issuer := cfg.Issuer()

	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{}))
	e.Use(middleware.Recover())
	e.Use(middleware.RequestID())
	e.Use(clientIP)
	e.Use(s.Metrics.middleware)
	e.Use(securityHeaders(cfg.Secure()))
	e.Use(middleware.BodyLimit("64K"))

	health := &HealthHandler{Durable: d.Durable, Ephemeral: d.Ephemeral}
	identity := &IdentityHandler{Issuer: issuer, Keys: d.Keys}

	e.GET("/healthz", health.Healthz)
	e.GET("/readyz", health.Readyz)
	e.GET("/metrics", echo.WrapHandler(s.Metrics.Handler()))
	e.GET("/.well-known/jwks.json", identity.JWKS)
	e.GET("/.well-known/mutualauth", identity.Discovery)
	e.GET("/static/:name", StaticHandler{}.Serve)

	api := e.Group("/api/v1", crossSiteGuard(issuer, nil, false))
	_ = api

	// enrollment routes (issue 3)
	// WebAuthn needs a domain name as RP ID (an IP address is refused): with
	// such a public URL the server runs without passkeys (rp == nil).
	rp, err := passkey.New(cfg.RPID(), "mutualauth", issuer)
	if err != nil {
		d.Logger.Warn("passkeys are off: the public URL's host cannot be a WebAuthn RP ID", "rp_id", cfg.RPID(), "err", err)
	}
	auditor := &audit.Auditor{Store: d.Durable, Log: d.Logger, Now: d.Now}
	ceremonies := &passkey.Ceremonies{RP: rp, KV: d.Ephemeral, Credentials: d.Durable, Now: d.Now}
	verifier := &factor.Verifier{
		Users: d.Durable, Recovery: d.Durable, Ceremonies: ceremonies,
		Throttle: &login.Throttle{KV: d.Ephemeral, Now: d.Now},
		Hasher:   d.Hasher, Box: d.Box, Audit: auditor,
		Locks: s.Metrics.Logins.WithLabelValues("lock", "locked"),
		Log:   d.Logger, Now: d.Now,
	}
	enroll := &EnrollHandler{
		Store: d.Durable, Box: d.Box, Hasher: d.Hasher,
		Policy: password.Policy{MinLength: cfg.PasswordMinLen}, Ceremonies: ceremonies,
		Devices:    &DeviceManager{Store: d.Durable, TTL: cfg.DeviceTTL, Secure: cfg.Secure(), Now: d.Now},
		Audit:      auditor,
		Keys:       d.Keys,
		Issuer:     issuer,
		TOTPIssuer: cfg.RPID(),
		Now:        d.Now,
	}
	e.GET("/enroll/:token", enroll.Page)
	api.GET("/enroll/:token", enroll.Status)
	api.POST("/enroll/:token/password", enroll.Password)
	api.POST("/enroll/:token/phrase", enroll.Phrase)
	api.GET("/enroll/:token/phrase/suggestion", enroll.PhraseSuggestion)
	api.POST("/enroll/:token/totp", enroll.TOTP)
	api.POST("/enroll/:token/totp/confirm", enroll.TOTPConfirm)
	api.POST("/enroll/:token/webauthn/options", enroll.WebAuthnOptions)
	api.POST("/enroll/:token/webauthn", enroll.WebAuthn)
	api.POST("/enroll/:token/complete", enroll.Complete)

	// login and session routes (issue 4)
	loginSessions := &SessionManager{Store: d.Ephemeral, Idle: cfg.SessionIdle, Absolute: cfg.SessionAbsolute,
		Secure: cfg.Secure(), Now: d.Now}
	loginTx := &SignInHandler{
		Issuer: issuer, Users: d.Durable, Credentials: d.Durable, Clients: d.Durable,
		KV:       d.Ephemeral,
		Tx:       &login.Transactions{KV: d.Ephemeral, Now: d.Now},
		IPLimit:  &login.RateLimiter{KV: d.Ephemeral, Limit: cfg.IPRateLimit, Now: d.Now},
		Verifier: verifier, Ceremonies: ceremonies,
		Keys: d.Keys, Box: d.Box, Sessions: loginSessions,
		Devices: &DeviceManager{Store: d.Durable, TTL: cfg.DeviceTTL, Secure: cfg.Secure(), Now: d.Now},
		Audit:   auditor,
		Metrics: s.Metrics, Log: d.Logger, Now: d.Now,
		Policy: login.Policy(cfg.PhishingResistant),
	}
	sessionAPI := &SessionHandler{Sessions: loginSessions, Audit: loginTx.Audit}
	forwardAuth := &VerifyHandler{Issuer: issuer, Sessions: loginSessions, Metrics: s.Metrics, Log: d.Logger}
	s.verify = forwardAuth
	loginPage := &LoginPage{Issuer: issuer, Clients: d.Durable}
	e.GET("/login", loginPage.Serve)
	// The login API alone may be called cross-origin, and only by registered
	// widget clients' origins: CORS and the cross-site guard both ask
	// clientOrigins (issue 6).
	clientOrigins := &ClientOrigins{Store: d.Durable, Now: d.Now}
	loginAPI := e.Group("/api/v1/login", clientCORS(issuer, clientOrigins), crossSiteGuard(issuer, clientOrigins, true))
	loginAPI.POST("/begin", loginTx.Begin)
	loginAPI.POST("/password", loginTx.Password)
	loginAPI.POST("/otp", loginTx.OTP)
	loginAPI.POST("/recovery", loginTx.RecoveryCode)
	loginAPI.POST("/webauthn/options", loginTx.WebAuthnOptions)
	loginAPI.POST("/webauthn", loginTx.WebAuthn)
	for _, path := range []string{"/begin", "/password", "/otp", "/recovery", "/webauthn/options", "/webauthn"} {
		loginAPI.OPTIONS(path, preflight)
	}
	api.GET("/session", sessionAPI.Get)
	api.DELETE("/session", sessionAPI.Logout)
	api.GET("/sessions", sessionAPI.List)
	api.DELETE("/sessions/:id", sessionAPI.Revoke)
	e.Any(verifyRoute, echo.WrapHandler(forwardAuth)) // reached directly by Server.ServeHTTP

	// widget routes (issue 6)
	widgetScript, err := LoadWidgetScript()
	if err != nil {
		return err
	}
	identity.WidgetIntegrity = widgetScript.Integrity
	widget := &WidgetHandler{
		Issuer: issuer, Clients: d.Durable, Users: d.Durable, KV: d.Ephemeral, Script: widgetScript,
		Audit: auditor, Now: d.Now,
	}
	e.GET("/widget.js", widget.ServeScript)
	e.GET("/embed/login", widget.Embed)
	e.POST("/api/v1/token", widget.Token) // server to server: HTTP Basic, no cookie, no cross-site guard

	// account routes (issue 5)
	reauth := &ReauthHandler{
		Users: d.Durable, Credentials: d.Durable, KV: d.Ephemeral,
		Verifier: verifier, Ceremonies: ceremonies, Audit: auditor, Now: d.Now,
	}
	acct := &AccountHandler{
		Store: d.Durable, Sessions: loginSessions, Reauth: reauth,
		Box: d.Box, Hasher: d.Hasher, Policy: password.Policy{MinLength: cfg.PasswordMinLen}, Ceremonies: ceremonies,
		Audit: reauth.Audit, TOTPIssuer: cfg.RPID(), Secure: cfg.Secure(), Now: d.Now,
	}
	acctAPI := api.Group("/account", loginSessions.RequireSession)
	acctAPI.GET("", acct.Get)
	acctAPI.POST("/reauth", reauth.Reauth)
	acctAPI.POST("/reauth/webauthn/options", reauth.WebAuthnOptions)
	acctAPI.PATCH("/credentials/:id", acct.RenameCredential)
	acctAPI.DELETE("/credentials/:id", acct.RemoveCredential)
	acctAPI.POST("/webauthn/options", acct.WebAuthnOptions)
	acctAPI.POST("/webauthn", acct.AddCredential)
	acctAPI.POST("/totp", acct.TOTP)
	acctAPI.POST("/totp/confirm", acct.TOTPConfirm)
	acctAPI.POST("/recovery-codes", acct.RecoveryCodes)
	acctAPI.POST("/password", acct.Password)
	acctAPI.POST("/phrase", acct.Phrase)
	acctAPI.GET("/phrase/suggestion", acct.PhraseSuggestion)
	acctAPI.GET("/devices", acct.Devices)
	acctAPI.DELETE("/devices/:id", acct.ForgetDevice)
	acctAPI.POST("/sessions/revoke-others", acct.RevokeOthers)
	acctPage := e.Group("/account", crossSiteGuard(issuer, nil, false), requirePageSession(loginSessions))
	acctPage.GET("", acct.Page)
	acctPage.POST("/reauth", acct.FormReauth)
	acctPage.POST("/password", acct.FormPassword)
	acctPage.POST("/phrase", acct.FormPhrase)
	acctPage.POST("/totp", acct.FormTOTP)
	acctPage.POST("/totp/confirm", acct.FormTOTPConfirm)
	acctPage.POST("/recovery-codes", acct.FormRecoveryCodes)
	acctPage.POST("/credentials/:id/rename", acct.FormRenameCredential)
	acctPage.POST("/credentials/:id/remove", acct.FormRemoveCredential)
	acctPage.POST("/devices/:id/forget", acct.FormForgetDevice)
	acctPage.POST("/sessions/:id/revoke", acct.FormRevokeSession)
	acctPage.POST("/sessions/revoke-others", acct.FormRevokeOthers)
	acctPage.POST("/signout", acct.FormSignOut)

	// admin routes (issue 5)
	admin := &AdminHandler{
		Store: d.Durable, Sessions: loginSessions, KV: d.Ephemeral,
		Audit:  auditor,
		Issuer: issuer, InviteTTL: cfg.InviteTTL, Now: d.Now,
	}
	adminAPI := api.Group("/admin", loginSessions.RequireSession, RequireAdmin)
	adminAPI.GET("/users", admin.ListUsers)
	adminAPI.POST("/users", admin.CreateUser)
	adminAPI.GET("/users/:id", admin.GetUser)
	adminAPI.POST("/users/:id/disable", admin.DisableUser)
	adminAPI.POST("/users/:id/enable", admin.EnableUser)
	adminAPI.POST("/users/:id/unlock", admin.UnlockUser)
	adminAPI.POST("/users/:id/reset", admin.ResetUser)
	adminAPI.DELETE("/users/:id/sessions/:sid", admin.RevokeSession)
	adminAPI.DELETE("/users/:id/devices/:did", admin.DeleteDevice)
	adminAPI.DELETE("/users/:id/credentials/:cid", admin.DeleteCredential)
	adminAPI.GET("/audit", admin.ListAudit)
	adminAPI.GET("/clients", admin.ListClients)
	adminAPI.POST("/clients", admin.CreateClient)
	adminAPI.POST("/clients/:id/rotate", admin.RotateClient)
	adminAPI.PATCH("/clients/:id", admin.UpdateClient)
	adminAPI.DELETE("/clients/:id", admin.DeleteClient)
	adminPages := &AdminPages{Admin: admin, Secure: cfg.Secure()}
	adminPage := e.Group("/admin", crossSiteGuard(issuer, nil, false), loginSessions.RequireSession, RequireAdmin)
	adminPage.GET("", adminPages.Users)
	adminPage.POST("/users", adminPages.CreateUser)
	adminPage.GET("/users/:id", adminPages.User)
	adminPage.POST("/users/:id/invite", adminPages.InviteUser)
	adminPage.POST("/users/:id/disable", adminPages.DisableUser)
	adminPage.POST("/users/:id/enable", adminPages.EnableUser)
	adminPage.POST("/users/:id/unlock", adminPages.UnlockUser)
	adminPage.POST("/users/:id/reset", adminPages.ResetUser)
	adminPage.POST("/users/:id/sessions/:sid/revoke", adminPages.RevokeSession)
	adminPage.POST("/users/:id/devices/:did/delete", adminPages.DeleteDevice)
	adminPage.POST("/users/:id/credentials/:cid/delete", adminPages.DeleteCredential)
	adminPage.GET("/audit", adminPages.Audit)
	adminPage.GET("/clients", adminPages.Clients)
	adminPage.POST("/clients", adminPages.CreateClient)
	adminPage.POST("/clients/:id", adminPages.UpdateClient)
	adminPage.POST("/clients/:id/rotate", adminPages.RotateClient)
	adminPage.POST("/clients/:id/delete", adminPages.DeleteClient)

	return nil
}
