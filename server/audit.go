package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"mutualauth/store"
)

// Auditor writes the audit log: every authentication attempt and every
// admin action (DESIGN.md, "Bars"). A failed write is logged, never hidden.
type Auditor struct {
	Store store.Audit
	Log   *slog.Logger
	Now   func() time.Time
}

// Record appends e, filling in the time and the client IP from c.
func (a *Auditor) Record(c echo.Context, e store.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = a.Now()
	}
	if e.IP == "" && c != nil {
		e.IP = c.RealIP()
	}
	ctx := context.Background()
	if c != nil {
		ctx = context.WithoutCancel(c.Request().Context())
	}
	if err := a.Store.AppendAudit(ctx, e); err != nil {
		a.Log.Error("audit write failed", "action", e.Action, "result", e.Result, "subject", e.Subject, "err", err)
	}
}
