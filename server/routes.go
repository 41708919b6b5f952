package server

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
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

	// login and session routes (issue 4)

	return nil
}
