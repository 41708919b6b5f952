package server

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

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
	enroll := &EnrollHandler{
		Store: d.Durable, KV: d.Ephemeral, Box: d.Box, Hasher: d.Hasher,
		Policy: password.Policy{MinLength: cfg.PasswordMinLen}, RP: rp,
		Devices:    &DeviceManager{Store: d.Durable, TTL: cfg.DeviceTTL, Secure: cfg.Secure(), Now: d.Now},
		Audit:      &Auditor{Store: d.Durable, Log: d.Logger, Now: d.Now},
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
	loginTx := &LoginHandler{
		Issuer: issuer, Users: d.Durable, Credentials: d.Durable, Recovery: d.Durable, Clients: d.Durable,
		KV:       d.Ephemeral,
		Tx:       &login.Transactions{KV: d.Ephemeral, Now: d.Now},
		Throttle: &login.Throttle{KV: d.Ephemeral, Now: d.Now},
		IPLimit:  &login.RateLimiter{KV: d.Ephemeral, Limit: cfg.IPRateLimit, Now: d.Now},
		Keys:     d.Keys, Box: d.Box, Hasher: d.Hasher, RP: rp, Sessions: loginSessions,
		Devices: &DeviceManager{Store: d.Durable, TTL: cfg.DeviceTTL, Secure: cfg.Secure(), Now: d.Now},
		Audit:   &Auditor{Store: d.Durable, Log: d.Logger, Now: d.Now},
		Metrics: s.Metrics, Log: d.Logger, Now: d.Now,
	}
	sessionAPI := &SessionHandler{Sessions: loginSessions, Audit: loginTx.Audit}
	forwardAuth := &VerifyHandler{Issuer: issuer, Sessions: loginSessions, Metrics: s.Metrics, Log: d.Logger}
	s.verify = forwardAuth
	loginPage := &LoginPage{Issuer: issuer, Clients: d.Durable}
	e.GET("/login", loginPage.Serve)
	api.POST("/login/begin", loginTx.Begin)
	api.POST("/login/password", loginTx.Password)
	api.POST("/login/otp", loginTx.OTP)
	api.POST("/login/recovery", loginTx.RecoveryCode)
	api.POST("/login/webauthn/options", loginTx.WebAuthnOptions)
	api.POST("/login/webauthn", loginTx.WebAuthn)
	api.GET("/session", sessionAPI.Get)
	api.DELETE("/session", sessionAPI.Logout)
	api.GET("/sessions", sessionAPI.List)
	api.DELETE("/sessions/:id", sessionAPI.Revoke)
	e.Any(verifyRoute, echo.WrapHandler(forwardAuth)) // reached directly by Server.ServeHTTP

	// widget routes (issue 6)

	// account routes (issue 5)

	// admin routes (issue 5)

	return nil
}
