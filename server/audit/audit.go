package audit

import (
	"context"
	"log/slog"
	"time"

	"mutualauth/store"
)

// Auditor appends events to the audit log. A failed write is logged, never
// hidden, and never fails the operation that is being audited.
type Auditor struct {
	Store store.Audit
	Log   *slog.Logger
	Now   func() time.Time
}

type clientIPKey struct{}

// WithClientIP returns ctx carrying the client's IP address for the events
// recorded under it.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the IP address WithClientIP put into ctx, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// Record appends e, filling in the time and the client IP of ctx. The write
// outlives the cancellation of ctx: an attempt whose client went away is
// still audited.
func (a *Auditor) Record(ctx context.Context, e store.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = a.Now()
	}
	if e.IP == "" {
		e.IP = ClientIP(ctx)
	}
	if err := a.Store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		a.Log.Error("audit write failed", "action", e.Action, "result", e.Result, "subject", e.Subject, "err", err)
	}
}
