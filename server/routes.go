package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"mutualauth/server/oidc"
)

// routes lists every route and middleware of the server, in one place; the
// handlers come from wire (wiring.go).
func (s *Server) routes(h *handlers, secure bool) {
	e := s.echo
	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{}))
	e.Use(middleware.Recover())
	e.Use(middleware.RequestID())
	e.Use(clientIP)
	e.Use(s.Metrics.middleware)
	e.Use(securityHeaders(secure))
	e.Use(middleware.BodyLimit("64K"))

	e.GET("/healthz", h.health.Healthz)
	e.GET("/readyz", h.health.Readyz)
	e.GET("/metrics", echo.WrapHandler(s.Metrics.Handler()))
	e.GET("/.well-known/jwks.json", h.identity.JWKS)
	e.GET("/.well-known/mutualauth", h.identity.Discovery)
	e.GET("/static/:name", StaticHandler{}.Serve)
	e.Any(verifyRoute, echo.WrapHandler(h.verify)) // reached directly by Server.ServeHTTP

	api := e.Group("/api/v1", crossSiteGuard(h.issuer, nil, false))

	// Enrollment from an invite link.
	e.GET("/enroll/:token", h.enroll.Page)
	api.GET("/enroll/:token", h.enroll.Status)
	api.POST("/enroll/:token/password", h.enroll.Password)
	api.POST("/enroll/:token/phrase", h.enroll.Phrase)
	api.GET("/enroll/:token/phrase/suggestion", h.enroll.PhraseSuggestion)
	api.POST("/enroll/:token/totp", h.enroll.TOTP)
	api.POST("/enroll/:token/totp/confirm", h.enroll.TOTPConfirm)
	api.POST("/enroll/:token/webauthn/options", h.enroll.WebAuthnOptions)
	api.POST("/enroll/:token/webauthn", h.enroll.WebAuthn)
	api.POST("/enroll/:token/complete", h.enroll.Complete)

	// Sign-in. The login API alone may be called cross-origin, and only by
	// registered widget clients' origins: CORS and the cross-site guard
	// both ask clientOrigins.
	e.GET("/login", h.loginPage.Serve)
	loginAPI := e.Group("/api/v1/login", clientCORS(h.issuer, h.clientOrigins), crossSiteGuard(h.issuer, h.clientOrigins, true))
	loginAPI.POST("/begin", h.signIn.Begin)
	loginAPI.POST("/password", h.signIn.Password)
	loginAPI.POST("/otp", h.signIn.OTP)
	loginAPI.POST("/recovery", h.signIn.RecoveryCode)
	loginAPI.POST("/webauthn/options", h.signIn.WebAuthnOptions)
	loginAPI.POST("/webauthn", h.signIn.WebAuthn)
	for _, path := range []string{"/begin", "/password", "/otp", "/recovery", "/webauthn/options", "/webauthn"} {
		loginAPI.OPTIONS(path, preflight)
	}

	// Sessions.
	api.GET("/session", h.sessionAPI.Get)
	api.DELETE("/session", h.sessionAPI.Logout)
	api.GET("/sessions", h.sessionAPI.List)
	api.DELETE("/sessions/:id", h.sessionAPI.Revoke)

	// The widget.
	e.GET("/widget.js", h.widget.ServeScript)
	e.GET("/embed/login", h.widget.Embed)
	e.POST("/api/v1/token", h.widget.Token) // server to server: HTTP Basic, no cookie, no cross-site guard

	// Self-service: the JSON API and the page's form posts.
	acctAPI := api.Group("/account", h.sessions.RequireSession)
	acctAPI.GET("", h.account.Get)
	acctAPI.POST("/reauth", h.reauth.Reauth)
	acctAPI.POST("/reauth/webauthn/options", h.reauth.WebAuthnOptions)
	acctAPI.PATCH("/credentials/:id", h.account.RenameCredential)
	acctAPI.DELETE("/credentials/:id", h.account.RemoveCredential)
	acctAPI.POST("/webauthn/options", h.account.WebAuthnOptions)
	acctAPI.POST("/webauthn", h.account.AddCredential)
	acctAPI.POST("/totp", h.account.TOTP)
	acctAPI.POST("/totp/confirm", h.account.TOTPConfirm)
	acctAPI.POST("/recovery-codes", h.account.RecoveryCodes)
	acctAPI.POST("/password", h.account.Password)
	acctAPI.POST("/phrase", h.account.Phrase)
	acctAPI.GET("/phrase/suggestion", h.account.PhraseSuggestion)
	acctAPI.GET("/devices", h.account.Devices)
	acctAPI.DELETE("/devices/:id", h.account.ForgetDevice)
	acctAPI.POST("/sessions/revoke-others", h.account.RevokeOthers)
	acctAPI.GET("/certificates", h.account.Certificates)
	acctAPI.POST("/certificates", h.account.AddCertificate)
	acctAPI.DELETE("/certificates/:fingerprint", h.account.RemoveCertificate)
	acctPage := e.Group("/account", crossSiteGuard(h.issuer, nil, false), requirePageSession(h.sessions))
	acctPage.GET("", h.account.Page)
	acctPage.POST("/reauth", h.account.FormReauth)
	acctPage.POST("/password", h.account.FormPassword)
	acctPage.POST("/phrase", h.account.FormPhrase)
	acctPage.POST("/totp", h.account.FormTOTP)
	acctPage.POST("/totp/confirm", h.account.FormTOTPConfirm)
	acctPage.POST("/recovery-codes", h.account.FormRecoveryCodes)
	acctPage.POST("/credentials/:id/rename", h.account.FormRenameCredential)
	acctPage.POST("/credentials/:id/remove", h.account.FormRemoveCredential)
	acctPage.POST("/devices/:id/forget", h.account.FormForgetDevice)
	acctPage.POST("/sessions/:id/revoke", h.account.FormRevokeSession)
	acctPage.POST("/sessions/revoke-others", h.account.FormRevokeOthers)
	acctPage.POST("/signout", h.account.FormSignOut)
	acctPage.POST("/certificates", h.account.FormAddCertificate)
	acctPage.POST("/certificates/:fingerprint/remove", h.account.FormRemoveCertificate)

	// The admin center: the JSON API and the pages.
	adminAPI := api.Group("/admin", h.sessions.RequireSession, RequireAdmin)
	adminAPI.GET("/users", h.admin.ListUsers)
	adminAPI.POST("/users", h.admin.CreateUser)
	adminAPI.GET("/users/:id", h.admin.GetUser)
	adminAPI.PATCH("/users/:id", h.admin.UpdateUser)
	adminAPI.POST("/users/:id/disable", h.admin.DisableUser)
	adminAPI.POST("/users/:id/enable", h.admin.EnableUser)
	adminAPI.POST("/users/:id/unlock", h.admin.UnlockUser)
	adminAPI.POST("/users/:id/reset", h.admin.ResetUser)
	adminAPI.DELETE("/users/:id/sessions/:sid", h.admin.RevokeSession)
	adminAPI.DELETE("/users/:id/devices/:did", h.admin.DeleteDevice)
	adminAPI.DELETE("/users/:id/credentials/:cid", h.admin.DeleteCredential)
	adminAPI.POST("/users/:id/certificates", h.admin.AddCertificate)
	adminAPI.DELETE("/users/:id/certificates/:fingerprint", h.admin.RemoveCertificate)
	adminAPI.GET("/audit", h.admin.ListAudit)
	adminAPI.GET("/clients", h.admin.ListClients)
	adminAPI.POST("/clients", h.admin.CreateClient)
	adminAPI.POST("/clients/:id/rotate", h.admin.RotateClient)
	adminAPI.PATCH("/clients/:id", h.admin.UpdateClient)
	adminAPI.DELETE("/clients/:id", h.admin.DeleteClient)
	adminPage := e.Group("/admin", crossSiteGuard(h.issuer, nil, false), h.sessions.RequireSession, RequireAdmin)
	adminPage.GET("", h.adminPages.Users)
	adminPage.POST("/users", h.adminPages.CreateUser)
	adminPage.GET("/users/:id", h.adminPages.User)
	adminPage.POST("/users/:id/invite", h.adminPages.InviteUser)
	adminPage.POST("/users/:id/email", h.adminPages.SetEmail)
	adminPage.POST("/users/:id/disable", h.adminPages.DisableUser)
	adminPage.POST("/users/:id/enable", h.adminPages.EnableUser)
	adminPage.POST("/users/:id/unlock", h.adminPages.UnlockUser)
	adminPage.POST("/users/:id/reset", h.adminPages.ResetUser)
	adminPage.POST("/users/:id/sessions/:sid/revoke", h.adminPages.RevokeSession)
	adminPage.POST("/users/:id/devices/:did/delete", h.adminPages.DeleteDevice)
	adminPage.POST("/users/:id/credentials/:cid/delete", h.adminPages.DeleteCredential)
	adminPage.POST("/users/:id/certificates/:fingerprint/delete", h.adminPages.RemoveCertificate)
	adminPage.GET("/audit", h.adminPages.Audit)
	adminPage.GET("/clients", h.adminPages.Clients)
	adminPage.POST("/clients", h.adminPages.CreateClient)
	adminPage.POST("/clients/:id", h.adminPages.UpdateClient)
	adminPage.POST("/clients/:id/rotate", h.adminPages.RotateClient)
	adminPage.POST("/clients/:id/delete", h.adminPages.DeleteClient)

	// The OpenID Connect provider (docs/oidc.md): the library's endpoints,
	// the hand-off to the login page and back, the logout confirmation and
	// the device verification page (behind the session).
	e.GET(oidc.DiscoveryPath, h.oidc.Serve)
	oidcMethods := []string{http.MethodGet, http.MethodPost, http.MethodOptions}
	e.Match(oidcMethods, oidc.AuthorizationPath, h.oidc.Serve)
	e.Match(oidcMethods, oidc.TokenPath, h.oidc.Serve) // client authentication throttled in oidc.Storage
	e.Match(oidcMethods, oidc.UserinfoPath, h.oidc.Serve)
	e.Match(oidcMethods, oidc.IntrospectionPath, h.oidc.Serve)
	e.Match(oidcMethods, oidc.RevocationPath, h.oidc.Serve)
	e.Match(oidcMethods, oidc.EndSessionPath, h.oidc.Serve)
	e.Match(oidcMethods, oidc.JWKSPath, h.oidc.Serve)
	e.Match(oidcMethods, oidc.DeviceAuthPath, h.oidc.Serve)
	e.GET(oidc.ContinuePath, h.oidc.Continue)
	e.GET(oidc.LogoutPath, h.oidc.Logout)
	devicePage := e.Group(oidc.DevicePath, crossSiteGuard(h.issuer, nil, false), requirePageSession(h.sessions))
	devicePage.GET("", h.oidc.Device)
	devicePage.POST("", h.oidc.DeviceSubmit)
}
