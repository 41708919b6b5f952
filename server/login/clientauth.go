package login

import (
	"context"
	"errors"
	"strconv"
	"time"

	"mutualauth/server/token"
)

// ClientAuth throttles failed client authentication (a client secret at a
// token endpoint, API.md "Input rules"): per client id and per IP, on the
// Throttle's schedule. Only failures count, so a busy client that
// authenticates correctly is never slowed down.
type ClientAuth struct {
	Throttle *Throttle
}

func clientAuthKeys(clientID, ip string) [2]string {
	return [2]string{"client-auth:" + token.HashHex(clientID), "client-auth-ip:" + ip}
}

// Check returns a *ThrottledError while either counter waits.
func (c *ClientAuth) Check(ctx context.Context, clientID, ip string) error {
	for _, k := range clientAuthKeys(clientID, ip) {
		if err := c.Throttle.Check(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// Failed counts a failed authentication against the client and the IP.
func (c *ClientAuth) Failed(ctx context.Context, clientID, ip string) error {
	for _, k := range clientAuthKeys(clientID, ip) {
		if _, err := c.Throttle.Reserve(ctx, k); err != nil && !errors.Is(err, ErrThrottled) {
			return err
		}
	}
	return nil
}

// Succeeded forgets the client's failures (not the IP's).
func (c *ClientAuth) Succeeded(ctx context.Context, clientID string) error {
	return c.Throttle.Reset(ctx, clientAuthKeys(clientID, "")[0])
}

// auditBurst is how many refusals a minute are audited one by one; past
// it, only the 100th, 1000th, ... of the minute are, each saying how many
// there were, so a flood adds a few rows a minute, not a row a request.
const auditBurst = 20

// SampleAudit counts one refusal (failed or throttled) of the current
// minute across all clients and IPs and says whether to write it to the
// audit log: the first auditBurst of a minute, then the 100th, 1000th, ...,
// whose detail then says how many there were.
func (c *ClientAuth) SampleAudit(ctx context.Context, detail string) (string, bool, error) {
	minute := c.Throttle.Now().Unix() / 60
	n, err := c.Throttle.KV.Incr(ctx, "client-auth-failures:"+strconv.FormatInt(minute, 10), 2*time.Minute)
	if err != nil {
		return "", false, err
	}
	if n > 1 {
		detail += "; refusal " + strconv.FormatInt(n, 10) + " of this minute"
	}
	if n <= auditBurst {
		return detail, true, nil
	}
	for p := int64(10); p <= n; p *= 10 {
		if p == n {
			return detail, true, nil
		}
	}
	return "", false, nil
}
