package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus series the server exports at /metrics. Each
// server has its own registry, so tests can run several in one process.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// Logins counts authentication attempts by step and result.
	Logins *prometheus.CounterVec

	hotMu sync.RWMutex
	hot   map[seriesKey]series
}

// seriesKey and series are the resolved request series of one route,
// method and status: a label lookup costs more than a cached verify.
type seriesKey struct {
	route, method string
	status        int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// NewMetrics registers the server's series and the Go runtime collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutualauth_http_requests_total",
			Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mutualauth_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutualauth_login_attempts_total",
			Help: "Authentication attempts by step and result.",
		}, []string{"step", "result"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.Logins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Protected serves Handler to requests that carry "Authorization: Bearer
// token" (RFC 6750 §2.1), compared in constant time; every other request
// gets 401 with a Bearer challenge. An empty token protects nothing.
func (m *Metrics) Protected(token string) http.Handler {
	h := m.Handler()
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte("Bearer " + token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mutualauth metrics"`)
			writeProblem(w, r, NewProblem(http.StatusUnauthorized, "unauthenticated", "problem.metrics-token"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// middleware records every request by its route template (never the raw
// path, so cardinality stays bounded).
func (m *Metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			status = toProblem(err).Status
			var he *echo.HTTPError
			if errors.As(err, &he) {
				status = he.Code
			}
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		m.observe(route, c.Request().Method, status, time.Since(start))
		return err
	}
}

func (m *Metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

// observeHot is observe for the forward-auth route: it resolves each
// method and status once. Methods other than GET, HEAD and POST (any a
// client sends) go through observe, so the map stays small.
func (m *Metrics) observeHot(route, method string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		m.observe(route, method, status, d)
		return
	}
	k := seriesKey{route, method, status}
	m.hotMu.RLock()
	s, ok := m.hot[k]
	m.hotMu.RUnlock()
	if !ok {
		s = series{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(route, method),
		}
		m.hotMu.Lock()
		if m.hot == nil {
			m.hot = make(map[seriesKey]series)
		}
		m.hot[k] = s
		m.hotMu.Unlock()
	}
	s.requests.Inc()
	s.latency.Observe(d.Seconds())
}
