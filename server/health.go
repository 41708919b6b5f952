package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/store"
	"mutualauth/templates/i18n"
)

// HealthHandler answers liveness and readiness probes.
type HealthHandler struct {
	Durable   store.Durable
	Ephemeral store.Ephemeral
}

// Healthz: the process is up.
func (h *HealthHandler) Healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// Readyz: the database and the session store answer within a second.
func (h *HealthHandler) Readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "session_store": "ok"}
	ready := true
	if err := h.Durable.Ping(ctx); err != nil {
		checks["database"] = "unavailable"
		ready = false
	}
	if err := h.Ephemeral.Ping(ctx); err != nil {
		checks["session_store"] = "unavailable"
		ready = false
	}
	if !ready {
		p := NewProblem(http.StatusServiceUnavailable, "store_unavailable", "problem.not-ready", i18n.Verbatim(describe(checks)))
		return p
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "checks": checks})
}

func describe(checks map[string]string) string {
	s := ""
	for _, k := range []string{"database", "session_store"} {
		if s != "" {
			s += ", "
		}
		s += k + " " + checks[k]
	}
	return s
}
