package server

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/server/clientcert"
	"mutualauth/server/config"
	"mutualauth/server/keys"
	"mutualauth/server/password"
	"mutualauth/server/secretbox"
	"mutualauth/store"
	"mutualauth/templates"
)

// Deps are everything the server needs, opened by the caller.
type Deps struct {
	Config    config.Config
	Durable   store.Durable
	Ephemeral store.Ephemeral
	Keys      *keys.Ring
	Box       *secretbox.Box
	Hasher    *password.Hasher
	Log       *slog.Logger
	// ClientCerts finds requests' verified client certificates; nil when
	// no client CA is configured.
	ClientCerts *clientcert.Source
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the HTTP application.
type Server struct {
	echo    *echo.Echo
	verify  http.Handler // the forward-auth fast path
	Metrics *Metrics
}

// New builds the application. It does not listen.
func New(d Deps) (*Server, error) {
	if d.Durable == nil || d.Ephemeral == nil || d.Keys == nil || d.Box == nil || d.Hasher == nil {
		return nil, errors.New("server: missing dependency")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = ErrorHandler(d.Log)
	e.IPExtractor = ipExtractor(d.Config)
	set, err := templates.Parse()
	if err != nil {
		return nil, err
	}
	renderer := &Renderer{Set: set, Support: templates.Support{Contact: d.Config.SupportContact, Href: d.Config.SupportHref()}}
	e.Renderer = renderer
	s := &Server{echo: e, Metrics: NewMetrics()}
	h, err := wire(d, s.Metrics, renderer)
	if err != nil {
		return nil, err
	}
	s.verify = h.verify
	s.routes(h, d.Config.Secure())
	return s, nil
}

// ServeHTTP makes the server an http.Handler.
// /auth/verify, the hottest route, skips echo's router and middleware.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == verifyRoute && s.verify != nil {
		s.verify.ServeHTTP(w, r)
		return
	}
	s.echo.ServeHTTP(w, r)
}

// ipExtractor believes X-Forwarded-For only from configured proxies.
func ipExtractor(cfg config.Config) echo.IPExtractor {
	if len(cfg.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range cfg.TrustedProxies {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
