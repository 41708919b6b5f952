package login

import (
	"context"
	"errors"
	"strconv"
	"time"

	"mutualauth/server/token"
)

// ClientAuth throttles failed client authentication (a wrong or unknown
// client secret at a token endpoint) per client and per IP, with the login
// throttle's schedule: FreeFailures free, then BaseDelay doubling up to
// MaxDelay (API.md v1.1, "Input rules"). A success clears the client's
// counter; the IP's counter runs out on its own.
type ClientAuth struct {
	Throttle *Throttle
}

// auditBurst is how many failures a minute are audited one by one; past
// it, only the 10th, 100th, 1000th, ... of the minute are, each saying
// how many there were, so a flood adds a few rows a minute, not a row a
// request.
const auditBurst = 20

func clientKey(clientID string) string { return "client-auth:" + token.HashHex(clientID) }
func clientIPKey(ip string) string     { return "client-auth-ip:" + ip }

// Check refuses (a *ThrottledError) while a delay runs on the client or
// the IP, before any secret is looked at.
func (a *ClientAuth) Check(ctx context.Context, clientID, ip string) error {
	for _, k := range []string{clientKey(clientID), clientIPKey(ip)} {
		if err := a.Throttle.Check(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// Failed counts a failed authentication against the client and the IP.
func (a *ClientAuth) Failed(ctx context.Context, clientID, ip string) error {
	for _, k := range []string{clientKey(clientID), clientIPKey(ip)} {
		if _, err := a.Throttle.Reserve(ctx, k); err != nil && !errors.Is(err, ErrThrottled) {
			return err
		}
	}
	return nil
}

// Succeeded clears the client's counter.
func (a *ClientAuth) Succeeded(ctx context.Context, clientID string) error {
	return a.Throttle.Reset(ctx, clientKey(clientID))
}

// ShouldAudit counts one refusal (failed or throttled) of the current
// minute across all clients and IPs and says whether to write it to the
// audit log, and with what count: the first auditBurst of a minute, then
// the powers of ten.
func (a *ClientAuth) ShouldAudit(ctx context.Context) (bool, int64, error) {
	minute := a.Throttle.Now().Unix() / 60
	n, err := a.Throttle.KV.Incr(ctx, "client-auth-failures:"+strconv.FormatInt(minute, 10), 2*time.Minute)
	if err != nil {
		return false, 0, err
	}
	if n <= auditBurst {
		return true, n, nil
	}
	for p := int64(10); p <= n; p *= 10 {
		if p == n {
			return true, n, nil
		}
	}
	return false, n, nil
}
