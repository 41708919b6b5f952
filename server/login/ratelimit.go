package login

import (
	"context"
	"fmt"
	"time"

	"mutualauth/store"
)

// RateLimitedError refuses a request until RetryAfter has passed.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("login: rate limited, retry after %s", e.RetryAfter)
}

// RateLimiter allows Limit requests per minute per client IP and group,
// as a generic cell rate (store.KV.AllowRate): a burst of Limit, then one
// request every minute/Limit, so no window boundary lets twice the limit
// through. Limit 0 turns it off.
type RateLimiter struct {
	KV    store.KV
	Limit int
}

// Allow counts one request of ip in group and returns a *RateLimitedError
// when it is over the limit.
func (r *RateLimiter) Allow(ctx context.Context, group, ip string) error {
	if r.Limit <= 0 {
		return nil
	}
	wait, err := r.KV.AllowRate(ctx, "ip:"+group+":"+ip, r.Limit, time.Minute)
	if err != nil {
		return err
	}
	if wait > 0 {
		return &RateLimitedError{RetryAfter: wait}
	}
	return nil
}
