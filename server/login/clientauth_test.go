package login

import (
	"context"
	"errors"
	"testing"
	"time"

	"mutualauth/store/memory"
)

func TestClientAuthCountsOnlyFailures(t *testing.T) {
	kv := memory.New()
	defer kv.Close()
	now := time.Unix(1_800_000_000, 0)
	c := &ClientAuth{Throttle: &Throttle{KV: kv, Now: func() time.Time { return now }}}
	ctx := context.Background()
	// Successes never count.
	for range 20 {
		if err := c.Check(ctx, "good", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if err := c.Succeeded(ctx, "good"); err != nil {
			t.Fatal(err)
		}
	}
	// FreeFailures failures of one client, then it waits.
	for i := range FreeFailures {
		if err := c.Check(ctx, "bad", "10.0.0.2"); err != nil {
			t.Fatalf("failure %d refused: %v", i+1, err)
		}
		if err := c.Failed(ctx, "bad", "10.0.0.2"); err != nil {
			t.Fatal(err)
		}
	}
	var te *ThrottledError
	if err := c.Check(ctx, "bad", "10.0.0.9"); !errors.As(err, &te) || te.RetryAfter != BaseDelay {
		t.Fatalf("the client after %d failures: %v, want a wait of %v", FreeFailures, err, BaseDelay)
	}
	// The IP waits too, for any client.
	if err := c.Check(ctx, "other", "10.0.0.2"); !errors.As(err, &te) {
		t.Fatalf("another client from the same IP: %v", err)
	}
	if err := c.Check(ctx, "good", "10.0.0.1"); err != nil {
		t.Fatalf("an unrelated client and IP: %v", err)
	}
	// A success clears the client's count, not the IP's.
	if err := c.Succeeded(ctx, "bad"); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx, "bad", "10.0.0.9"); err != nil {
		t.Fatalf("the client after a success: %v", err)
	}
	if err := c.Check(ctx, "bad", "10.0.0.2"); !errors.As(err, &te) {
		t.Fatalf("the IP after the client's success: %v", err)
	}
	// The wait ends.
	now = now.Add(BaseDelay)
	if err := c.Check(ctx, "other", "10.0.0.2"); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}
