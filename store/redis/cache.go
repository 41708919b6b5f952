package redisstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client-side cache settings; the package comment says why.
const (
	// cacheEntries bounds the cached session records (about 1 KiB each with
	// the cache's bookkeeping).
	cacheEntries = 20000
	// cacheDrain is how often go-redis reads idle connections for
	// invalidation pushes: the bound on how long another instance's end of
	// a session goes unseen here.
	cacheDrain = 5 * time.Millisecond
	// cacheMaxStaleness is go-redis's backstop: no entry is served longer
	// than this after it was fetched, whatever happened to its
	// invalidation.
	cacheMaxStaleness = 2 * time.Second
	// healthEvery and healthTimeout pace the PING that watches Redis while
	// the cache serves: a Redis that stops answering (SIGSTOP, a dead
	// network) turns the cache off within healthEvery+healthTimeout.
	healthEvery   = 250 * time.Millisecond
	healthTimeout = time.Second
	// tombstoneTTL is how long a session this store ended is refused from
	// the cache: past the longest an entry fetched before the end can be
	// served (cacheMaxStaleness after a fetch bounded by the read timeout).
	tombstoneTTL = cacheMaxStaleness + 3*time.Second
	// maxTombstones bounds the tombstones; see tombstones.add.
	maxTombstones = 65536
)

// sessionCache is the client-side cache of session records: a second
// go-redis client, RESP3 with go-redis's built-in client-side cache
// (CLIENT TRACKING on each of its connections, invalidation pushes applied
// to a [redis.LocalCache]), used only for the HGETALL of TouchSession.
// Everything else, writes included, goes through the store's plain client.
type sessionCache struct {
	c     *redis.Client
	local *redis.LocalCache
	// on is false while the health check fails: reads then bypass the
	// cache and go to Redis, so they fail (503) as without a cache.
	on    atomic.Bool
	ended tombstones
	stop  context.CancelFunc
	done  chan struct{}
}

// newSessionCache starts a cached client with the options of the plain
// standalone client o, checks that Redis accepts RESP3 and tracking, and
// starts the health check. It returns nil when Redis does not (the store
// then runs without a cache).
func newSessionCache(ctx context.Context, o *redis.Options) *sessionCache {
	if o.DB != 0 || o.CredentialsProvider != nil || o.CredentialsProviderContext != nil || o.StreamingCredentialsProvider != nil {
		return nil
	}
	local := redis.NewLocalCache(redis.CacheConfig{
		MaxEntries:    cacheEntries,
		DrainInterval: cacheDrain,
		MaxStaleness:  cacheMaxStaleness,
	})
	co := *o
	co.Protocol = 3
	co.ClientSideCache = local
	co.ClientSideCacheConfig = nil
	c := redis.NewClient(&co)
	pingCtx, cancel := context.WithTimeout(ctx, openPingTimeout)
	defer cancel()
	if err := c.Ping(pingCtx).Err(); err != nil {
		_ = c.Close()
		return nil
	}
	mctx, stop := context.WithCancel(context.Background())
	sc := &sessionCache{c: c, local: local, stop: stop, done: make(chan struct{})}
	sc.on.Store(true)
	go sc.watch(mctx)
	return sc
}

// watch pings Redis every healthEvery. A failed ping flushes the cache and
// turns it off; the first ping that succeeds after that flushes it again
// (nothing fetched meanwhile is trusted) and turns it back on. A tracking
// connection that breaks while Redis answers is go-redis's to handle: it
// evicts the entries that connection fetched.
func (sc *sessionCache) watch(ctx context.Context) {
	defer close(sc.done)
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sc.ended.prune()
		pctx, cancel := context.WithTimeout(ctx, healthTimeout)
		err := sc.c.Ping(pctx).Err()
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && sc.on.Load():
			sc.on.Store(false)
			sc.local.Flush()
		case err == nil && !sc.on.Load():
			sc.local.Flush()
			sc.on.Store(true)
		}
	}
}

func (sc *sessionCache) close() error {
	sc.stop()
	<-sc.done
	return sc.c.Close()
}

// tombstones are the token hashes of sessions this store ended in the last
// tombstoneTTL. A cache hit for one of them is refused: the instance that
// ends a session never serves it again, even before the invalidation of
// its cache entry arrives (which can trail the write that caused it).
type tombstones struct {
	n  atomic.Int32 // len(m), read without the lock on the hot path
	mu sync.RWMutex
	m  map[string]time.Time // token hash → when the tombstone lapses
}

// add records tokenHash as ended. When maxTombstones are live, the cache is
// flushed instead of growing the set: an entry fetched before now is then
// gone anyway.
func (t *tombstones) add(tokenHash string, local *redis.LocalCache) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]time.Time)
	}
	if len(t.m) >= maxTombstones {
		for k, until := range t.m {
			if !now.Before(until) {
				delete(t.m, k)
			}
		}
		if len(t.m) >= maxTombstones {
			clear(t.m)
			local.Flush()
		}
	}
	t.m[tokenHash] = now.Add(tombstoneTTL)
	t.n.Store(int32(len(t.m)))
}

// has reports whether tokenHash was ended here within tombstoneTTL.
func (t *tombstones) has(tokenHash string) bool {
	if t.n.Load() == 0 {
		return false
	}
	t.mu.RLock()
	until, ok := t.m[tokenHash]
	t.mu.RUnlock()
	return ok && time.Now().Before(until)
}

// prune drops the tombstones that lapsed.
func (t *tombstones) prune() {
	if t.n.Load() == 0 {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, until := range t.m {
		if !now.Before(until) {
			delete(t.m, k)
		}
	}
	t.n.Store(int32(len(t.m)))
}
