package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/store"
	"mutualauth/store/redis/redistest"
)

// TestSentinelFailoverUnderLoad kills the primary (SIGKILL) while a writer
// creates and deletes sessions through a Sentinel-backed store, waits for
// Sentinel to promote the replica, and reports what the failover lost:
// sessions whose creation was acknowledged but are gone, and deletions
// that were acknowledged but undone (the session is back). Redis
// replication is asynchronous, so both can happen for writes in the last
// moments before the kill; the test requires that nothing acknowledged
// more than a second before the kill was lost, that the store fails with
// ErrUnavailable meanwhile (never another error), and that it works again
// after the failover.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test")
	}
	primary := redistest.StartT(t)
	replica := redistest.StartT(t, "--replicaof", "127.0.0.1", strconv.Itoa(portOf(t, primary)))
	waitReplicated(t, replica)
	sentinel, err := redistest.StartSentinel("mymaster", primary,
		"sentinel down-after-milliseconds mymaster 500",
		"sentinel failover-timeout mymaster 5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sentinel.Close() })
	s := newTestStore(t, sentinel.SentinelURL(0))
	t.Cleanup(func() { _ = s.Close() })
	if s.ClientCache() {
		t.Fatal("a Sentinel store has the client-side cache, which go-redis supports on standalone clients only")
	}
	// Sentinel learns of the replica from the primary's INFO.
	time.Sleep(1500 * time.Millisecond)

	type write struct {
		hash    string
		acked   time.Time
		deleted time.Time // zero: created, not deleted
	}
	var (
		mu      sync.Mutex
		writes  []*write
		badErrs []error
		failed  int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			now := time.Now()
			w := &write{hash: fmt.Sprintf("f%063d", i)}
			err := s.CreateSession(ctx, store.Session{
				ID: strconv.Itoa(i), TokenHash: w.hash, UserID: "u" + strconv.Itoa(i%10),
				CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour),
			})
			if err == nil && i%3 == 0 {
				w.acked = time.Now()
				err = s.DeleteSession(ctx, w.hash)
				if err == nil {
					w.deleted = time.Now()
				}
			} else if err == nil {
				w.acked = time.Now()
			}
			cancel()
			mu.Lock()
			if err != nil {
				failed++
				if !errors.Is(err, store.ErrUnavailable) {
					badErrs = append(badErrs, err)
				}
			}
			if !w.acked.IsZero() {
				writes = append(writes, w)
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()

	time.Sleep(time.Second)
	killedAt := time.Now()
	if err := primary.Kill(); err != nil {
		t.Fatal(err)
	}
	// Wait for the store to work again (the replica promoted).
	deadline := time.Now().Add(30 * time.Second)
	var recovered time.Time
	for recovered.IsZero() {
		mu.Lock()
		n := len(writes)
		last := time.Time{}
		if n > 0 {
			last = writes[n-1].acked
		}
		mu.Unlock()
		if last.After(killedAt.Add(100 * time.Millisecond)) {
			recovered = last
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no write succeeded within 30 s of killing the primary")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	for _, err := range badErrs {
		t.Errorf("a write during the failover failed with %v, want ErrUnavailable", err)
	}
	ctx := context.Background()
	var lostCreates, undoneDeletes, before int
	var lateLost time.Duration
	for _, w := range writes {
		_, err := s.TouchSession(ctx, w.hash, time.Now(), time.Hour)
		present := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("touch after the failover: %v", err)
		}
		ackedAt := w.acked
		if !w.deleted.IsZero() {
			ackedAt = w.deleted
		}
		lost := (w.deleted.IsZero() && !present) || (!w.deleted.IsZero() && present)
		if ackedAt.Before(killedAt) {
			before++
		}
		if !lost {
			continue
		}
		if w.deleted.IsZero() {
			lostCreates++
		} else {
			undoneDeletes++
		}
		if d := killedAt.Sub(ackedAt); d > lateLost {
			lateLost = d
		}
		if ackedAt.Before(killedAt.Add(-time.Second)) {
			t.Errorf("a write acknowledged %v before the kill was lost", killedAt.Sub(ackedAt))
		}
	}
	t.Logf("failover: writes failed for %v (%d failed writes, all ErrUnavailable); of %d writes acknowledged before the kill, "+
		"%d created sessions lost and %d deletions undone (the latest acknowledged %v before the kill)",
		recovered.Sub(killedAt).Round(time.Millisecond), failed, before, lostCreates, undoneDeletes, lateLost)
}

func portOf(t *testing.T, s *redistest.Server) int {
	t.Helper()
	_, p, _ := strings.Cut(s.Addr(), "127.0.0.1:")
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitReplicated waits until the replica has synchronized with its primary.
func waitReplicated(t *testing.T, replica *redistest.Server) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: replica.Addr()})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := c.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not synchronize: %v\n%s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
