package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/store"
	"mutualauth/store/redis/redistest"
)

// cacheRig is one throwaway redis-server and two stores on it that share a
// key prefix, as two server instances do.
type cacheRig struct {
	srv  *redistest.Server
	a, b *Store
	raw  *redis.Client
}

func newCacheRig(t *testing.T) *cacheRig {
	t.Helper()
	srv := redistest.StartT(t)
	prefix := redistest.NewPrefix()
	open := func() *Store {
		cfg, err := parseURL(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		s, err := openConfig(context.Background(), cfg, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if !s.ClientCache() {
			t.Fatal("no client-side cache on a standalone Redis, database 0")
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = raw.Close() })
	return &cacheRig{srv: srv, a: open(), b: open(), raw: raw}
}

// session stores a session for user through a and returns its token hash.
func (r *cacheRig) session(t *testing.T, user string) string {
	t.Helper()
	now := time.Now()
	hash := fmt.Sprintf("%064x", now.UnixNano())
	err := r.a.CreateSession(context.Background(), store.Session{
		ID: "s" + hash[48:], TokenHash: hash, UserID: user, Username: user,
		Groups: []string{"user"}, AMR: []string{"pwd", "otp"},
		CreatedAt: now, LastSeenAt: now, AuthTime: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(30 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return hash
}

func touch(s *Store, hash string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.TouchSession(ctx, hash, time.Now(), 30*time.Minute)
	return err
}

// warm reads the session through s until reads come from the cache: the
// cache holds entries and the session decoded from one.
func warm(t *testing.T, s *Store, hash string) {
	t.Helper()
	for range 50 {
		if err := touch(s, hash); err != nil {
			t.Fatalf("touch: %v", err)
		}
		if _, kept := s.cache.decoded.get(s.sessionKey(hash)); kept && s.cache.local.Len() > 0 {
			return
		}
	}
	t.Fatalf("50 reads of a session and it is not in the cache (%d entries)", s.cache.local.Len())
}

// lagUntilGone is how long after start reads of hash through s keep
// succeeding, polling every millisecond for up to limit.
func lagUntilGone(t *testing.T, s *Store, hash string, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		err := touch(s, hash)
		if errors.Is(err, store.ErrNotFound) {
			return time.Since(start)
		}
		if err != nil {
			t.Fatalf("touch: %v", err)
		}
		if time.Since(start) > limit {
			t.Fatalf("the session is still served %v after it ended", limit)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCacheRevokedElsewhere: a session ended through one store is gone from
// the other's cache within 100 ms, for a logout (DeleteSession) and for
// "sign out everywhere" (DeleteUserSessions).
func TestCacheRevokedElsewhere(t *testing.T) {
	r := newCacheRig(t)
	for _, how := range []string{"DeleteSession", "DeleteUserSessions"} {
		t.Run(how, func(t *testing.T) {
			user := "u-" + how
			hash := r.session(t, user)
			warm(t, r.b, hash)
			start := time.Now()
			var err error
			if how == "DeleteSession" {
				err = r.a.DeleteSession(context.Background(), hash)
			} else {
				_, err = r.a.DeleteUserSessions(context.Background(), user, "")
			}
			if err != nil {
				t.Fatal(err)
			}
			lag := lagUntilGone(t, r.b, hash, start, 100*time.Millisecond)
			t.Logf("%s: the other store served the session for %v after the end began", how, lag)
		})
	}
}

// TestCacheEnderNeverStale: once DeleteSession or DeleteUserSessions
// returns, the store that called it never returns the session again, while
// readers on it and on another store keep its cache entry hot.
func TestCacheEnderNeverStale(t *testing.T) {
	r := newCacheRig(t)
	for i := range 40 {
		user := fmt.Sprintf("u%d", i)
		hash := r.session(t, user)
		warm(t, r.a, hash)
		warm(t, r.b, hash)
		var ended atomic.Bool
		var stale atomic.Int32
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for _, s := range []*Store{r.a, r.a, r.a, r.b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					after := ended.Load() && s == r.a
					if err := touch(s, hash); err == nil && after {
						stale.Add(1)
					}
				}
			}()
		}
		time.Sleep(2 * time.Millisecond)
		var err error
		if i%2 == 0 {
			err = r.a.DeleteSession(context.Background(), hash)
		} else {
			_, err = r.a.DeleteUserSessions(context.Background(), user, "")
		}
		ended.Store(true)
		time.Sleep(5 * time.Millisecond)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if n := stale.Load(); n > 0 {
			t.Fatalf("round %d: the ending store returned the session %d times after the end returned", i, n)
		}
	}
}

// TestCacheRedisPaused: with Redis stopped (SIGSTOP, so its connections
// stay open and no invalidation can arrive), reads fail with
// ErrUnavailable within 3 s instead of being served from the cache, and the
// cache works again after Redis resumes.
func TestCacheRedisPaused(t *testing.T) {
	r := newCacheRig(t)
	hash := r.session(t, "u")
	warm(t, r.a, hash)
	if err := r.srv.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = r.srv.Resume()
		}
	}()
	start := time.Now()
	for {
		err := touch(r.a, hash)
		if errors.Is(err, store.ErrUnavailable) {
			break
		}
		if err != nil {
			t.Fatalf("touch with Redis paused: %v, want ErrUnavailable", err)
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("the cache still serves the session 3 s after Redis stopped answering")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("reads failed closed %v after Redis stopped", time.Since(start))
	if r.a.cache.local.Len() != 0 {
		t.Errorf("%d cache entries left after the health check failed", r.a.cache.local.Len())
	}
	if err := r.srv.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	deadline := time.Now().Add(10 * time.Second)
	for !r.a.cache.on.Load() || touch(r.a, hash) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery 10 s after Redis resumed: cache on %v, touch %v", r.a.cache.on.Load(), touch(r.a, hash))
		}
		time.Sleep(50 * time.Millisecond)
	}
	warm(t, r.a, hash)
	// Invalidation works again.
	start = time.Now()
	if err := r.b.DeleteSession(context.Background(), hash); err != nil {
		t.Fatal(err)
	}
	lagUntilGone(t, r.a, hash, start, 100*time.Millisecond)
}

// TestCacheTrackingConnectionsKilled: when Redis drops the cached client's
// connections (CLIENT KILL, as on a network cut), the entries they fetched
// go with them, so an end written right after is not missed.
func TestCacheTrackingConnectionsKilled(t *testing.T) {
	r := newCacheRig(t)
	ctx := context.Background()
	for i := range 10 {
		hash := r.session(t, fmt.Sprintf("u%d", i))
		warm(t, r.a, hash)
		// Kill every connection that has tracking on: those of both cached
		// clients.
		list, err := r.raw.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		killed := 0
		for _, line := range strings.Split(list, "\n") {
			if !strings.Contains(line, "flags=") || !strings.Contains(strings.SplitN(strings.SplitN(line, "flags=", 2)[1], " ", 2)[0], "t") {
				continue
			}
			id := strings.TrimPrefix(strings.Fields(line)[0], "id=")
			if err := r.raw.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err == nil {
				killed++
			}
		}
		if killed == 0 {
			t.Fatal("no connection with tracking on (flag t) in CLIENT LIST")
		}
		start := time.Now()
		if err := r.raw.Del(ctx, r.a.sessionKey(hash)).Err(); err != nil {
			t.Fatal(err)
		}
		lagUntilGone(t, r.a, hash, start, 100*time.Millisecond)
	}
}

func TestTombstonesBounded(t *testing.T) {
	local := redis.NewLocalCache(redis.CacheConfig{MaxEntries: 10})
	var ts tombstones
	for i := range maxTombstones + 10 {
		ts.add(fmt.Sprint(i), local)
		if len(ts.m) > maxTombstones {
			t.Fatalf("%d tombstones after %d ends, want at most %d", len(ts.m), i+1, maxTombstones)
		}
	}
	if !ts.has(fmt.Sprint(maxTombstones + 9)) {
		t.Error("the latest tombstone is gone")
	}
	if ts.has("never ended") {
		t.Error("a session never ended has a tombstone")
	}
	ts.m["old"] = time.Now().Add(-time.Second)
	if ts.has("old") {
		t.Error("a lapsed tombstone still counts")
	}
	ts.prune()
	if _, ok := ts.m["old"]; ok || int(ts.n.Load()) != len(ts.m) {
		t.Errorf("prune kept a lapsed tombstone or miscounted: %d vs %d", ts.n.Load(), len(ts.m))
	}
}

// TestDecodedSessions: a decoded session is kept only when no cache entry
// was removed since before its read, goes with its key's invalidation (by
// go-redis's namespaced key) or any wider removal, and is handed out as a
// copy.
func TestDecodedSessions(t *testing.T) {
	d := &decodedSessions{keyPrefix: "p:s:{"}
	key := "p:s:{abc}"
	sess := store.Session{Username: "u", Groups: []string{"user"}, AMR: []string{"pwd"}}

	gen := d.generation()
	d.drop("0\x001:x\x00p:s:{other}")
	d.put(key, gen, sess)
	if _, ok := d.get(key); ok {
		t.Fatal("kept a session read before a removal")
	}
	d.put(key, d.generation(), sess)
	got, ok := d.get(key)
	if !ok || got.Username != "u" {
		t.Fatalf("get = %+v, %v", got, ok)
	}
	got.Groups[0] = "mutated"
	if again, _ := d.get(key); again.Groups[0] != "user" {
		t.Fatal("get handed out the kept slices")
	}
	// A username that contains the prefix does not hide the key.
	d.drop("0\x0010:p:s:{evil}\x00" + key)
	if _, ok := d.get(key); ok {
		t.Fatal("kept after its key's invalidation")
	}
	for _, remove := range []func(){
		func() { d.drop("not a session key") },
		d.clear,
	} {
		d.put(key, d.generation(), sess)
		remove()
		if _, ok := d.get(key); ok {
			t.Fatal("kept after a removal it cannot place")
		}
	}
}
