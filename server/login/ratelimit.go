package login

import (
	"context"
	"fmt"
	"strconv"
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

// RateLimiter allows Limit requests per client IP and group in each
// calendar minute (a fixed window: a Redis INCR per request). Limit 0
// turns it off.
type RateLimiter struct {
	KV    store.KV
	Limit int
	Now   func() time.Time
}

// windowTTL outlives the window, so a counter is never reset early.
const windowTTL = 2 * time.Minute

// Allow counts one request of ip in group and returns a *RateLimitedError
// when the window's limit is exceeded.
func (r *RateLimiter) Allow(ctx context.Context, group, ip string) error {
	if r.Limit <= 0 {
		return nil
	}
	now := r.Now()
	minute := now.Unix() / 60
	key := "ip:" + group + ":" + ip + ":" + strconv.FormatInt(minute, 10)
	n, err := r.KV.Incr(ctx, key, windowTTL)
	if err != nil {
		return err
	}
	if n > int64(r.Limit) {
		next := time.Unix((minute+1)*60, 0)
		return &RateLimitedError{RetryAfter: next.Sub(now)}
	}
	return nil
}
