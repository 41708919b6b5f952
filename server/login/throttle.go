package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"mutualauth/store"
)

// Throttling parameters (API contract, "Throttling").
const (
	// FreeFailures is the number of consecutive failures evaluated before
	// attempts are refused.
	FreeFailures = 5
	// BaseDelay is the wait after the FreeFailures-th failure; each further
	// failure doubles it, up to MaxDelay.
	BaseDelay = 30 * time.Second
	MaxDelay  = time.Hour
	// LockAfter consecutive failures on a username counter lock the account.
	LockAfter = 100
	// CounterTTL is how long a counter is kept after its last attempt.
	CounterTTL = 2 * time.Hour
)

// ErrThrottled is matched (errors.Is) by every *ThrottledError.
var ErrThrottled = errors.New("login: too many attempts")

// ThrottledError refuses an attempt until RetryAfter has passed.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("login: too many attempts, retry after %s", e.RetryAfter)
}

func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// Throttle counts consecutive failed attempts per key in the ephemeral store.
type Throttle struct {
	KV  store.KV
	Now func() time.Time
}

// counter is the stored state: the attempts counted since the last success
// (including ones still being evaluated) and the time before which new
// attempts are refused (zero: none).
type counter struct {
	Count int       `json:"count"`
	Until time.Time `json:"until,omitzero"`
}

// Delay is the wait imposed after the count-th consecutive failure: none
// below FreeFailures, then BaseDelay doubling per failure, at most MaxDelay.
func Delay(count int) time.Duration {
	if count < FreeFailures {
		return 0
	}
	shift := count - FreeFailures
	if shift >= 16 {
		return MaxDelay
	}
	return min(BaseDelay<<shift, MaxDelay)
}

// Reserve counts one attempt against key before its secret is evaluated
// and returns the count including it. The attempt is counted as a failure
// until Reset says otherwise, so racing requests cannot get more than
// FreeFailures evaluations: the FreeFailures-th reservation already sets
// the delay that refuses the next ones. While a delay runs, Reserve
// returns a *ThrottledError and counts nothing.
func (t *Throttle) Reserve(ctx context.Context, key string) (int, error) {
	var got counter
	_, err := store.UpdateKV(ctx, t.KV, key, CounterTTL, func(old []byte) ([]byte, error) {
		now := t.Now()
		var c counter
		if old != nil {
			if err := json.Unmarshal(old, &c); err != nil {
				c = counter{}
			}
		}
		if now.Before(c.Until) {
			return nil, &ThrottledError{RetryAfter: c.Until.Sub(now)}
		}
		c.Count++
		c.Until = time.Time{}
		if d := Delay(c.Count); d > 0 {
			c.Until = now.Add(d).UTC()
		}
		got = c
		return json.Marshal(c)
	})
	if err != nil {
		return 0, err
	}
	return got.Count, nil
}

// Reset forgets the failures counted against key: a success.
func (t *Throttle) Reset(ctx context.Context, key string) error {
	return t.KV.Delete(ctx, key)
}

// Check returns a *ThrottledError while a delay runs on key and counts
// nothing: for callers that count only failures (Reserve after one).
func (t *Throttle) Check(ctx context.Context, key string) error {
	raw, err := t.KV.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var c counter
	if json.Unmarshal(raw, &c) != nil {
		return nil
	}
	if now := t.Now(); now.Before(c.Until) {
		return &ThrottledError{RetryAfter: c.Until.Sub(now)}
	}
	return nil
}
