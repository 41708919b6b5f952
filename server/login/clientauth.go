package login

import (
	"context"
	"errors"

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
