package redisstore

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/store"
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
	ping  *redis.Client // one connection of its own for the health check
	local *watchedCache
	// decoded holds the sessions decoded from the cache's entries, so that
	// a hit does not parse the reply again. See decodedSessions.
	decoded decodedSessions
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
func newSessionCache(ctx context.Context, o *redis.Options, sessionPrefix string) *sessionCache {
	if o.DB != 0 || o.CredentialsProvider != nil || o.CredentialsProviderContext != nil || o.StreamingCredentialsProvider != nil {
		return nil
	}
	local := redis.NewLocalCache(redis.CacheConfig{
		MaxEntries:    cacheEntries,
		DrainInterval: cacheDrain,
		MaxStaleness:  cacheMaxStaleness,
	})
	sc := &sessionCache{done: make(chan struct{})}
	sc.decoded.keyPrefix = sessionPrefix
	sc.local = &watchedCache{LocalCache: local, decoded: &sc.decoded}
	co := *o
	co.Protocol = 3
	co.ClientSideCache = sc.local
	co.ClientSideCacheConfig = nil
	c := redis.NewClient(&co)
	pingCtx, cancel := context.WithTimeout(ctx, openPingTimeout)
	defer cancel()
	if err := c.Ping(pingCtx).Err(); err != nil {
		_ = c.Close()
		return nil
	}
	po := *o
	po.PoolSize, po.MinIdleConns, po.MaxIdleConns = 1, 0, 1
	mctx, stop := context.WithCancel(context.Background())
	sc.c, sc.ping, sc.stop = c, redis.NewClient(&po), stop
	sc.on.Store(true)
	go sc.watch(mctx)
	return sc
}

// watch pings Redis every healthEvery, on a client of its own so that a
// busy pool cannot delay the PING. A failed ping flushes the cache and
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
		err := sc.ping.Ping(pctx).Err()
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
	_ = sc.ping.Close()
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
func (t *tombstones) add(tokenHash string, local redis.Cache) {
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

// watchedCache is go-redis's LocalCache, handed to the client as its Cache
// so that every removal of entries reaches decoded first: a key's
// invalidation drops that key's decoded session; a connection's eviction,
// a flush or a corrupt entry drops them all.
type watchedCache struct {
	*redis.LocalCache
	decoded *decodedSessions
}

func (c *watchedCache) DeleteByRedisKey(redisKey string) int {
	c.decoded.drop(redisKey)
	return c.LocalCache.DeleteByRedisKey(redisKey)
}

func (c *watchedCache) DeleteByCacheKey(cacheKey string) bool {
	c.decoded.clear()
	return c.LocalCache.DeleteByCacheKey(cacheKey)
}

func (c *watchedCache) EvictByConn(connID uint64) int {
	c.decoded.clear()
	return c.LocalCache.EvictByConn(connID)
}

func (c *watchedCache) Flush() int {
	c.decoded.clear()
	return c.LocalCache.Flush()
}

// decodedSessions maps session keys to the session decoded from a cache
// read of that key. An entry is only added if no removal of cache entries
// happened since before the read (gen), and is dropped with the cache
// entry it came from; it is used for at most cacheMaxStaleness, the cache's
// own bound.
type decodedSessions struct {
	keyPrefix string // of session keys: the store's prefix and "s:{"

	mu  sync.RWMutex
	gen uint64 // removals so far
	m   map[string]decoded
}

type decoded struct {
	sess store.Session
	at   time.Time
}

// generation is read before a cache read whose result may be added.
func (d *decodedSessions) generation() uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.gen
}

// get returns the session decoded for key, with its own copies of the
// slices.
func (d *decodedSessions) get(key string) (store.Session, bool) {
	now := time.Now()
	d.mu.RLock()
	e, ok := d.m[key]
	d.mu.RUnlock()
	if !ok || now.Sub(e.at) >= cacheMaxStaleness || now.Before(e.at) {
		return store.Session{}, false
	}
	s := e.sess
	s.Groups, s.AMR = slices.Clone(s.Groups), slices.Clone(s.AMR)
	return s, true
}

// put adds the session read for key when nothing was removed from the
// cache since gen.
func (d *decodedSessions) put(key string, gen uint64, sess store.Session) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen != gen {
		return
	}
	if d.m == nil || len(d.m) >= cacheEntries {
		d.m = make(map[string]decoded)
	}
	sess.Groups, sess.AMR = slices.Clone(sess.Groups), slices.Clone(sess.AMR)
	d.m[key] = decoded{sess: sess, at: now}
}

// drop removes the entry of the key that nsKey names: go-redis puts a
// namespace (database and user) before the key, so the session key is the
// part from the last occurrence of keyPrefix on. A key it cannot place
// clears everything.
func (d *decodedSessions) drop(nsKey string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if i := strings.LastIndex(nsKey, d.keyPrefix); i >= 0 && strings.HasSuffix(nsKey, "}") {
		delete(d.m, nsKey[i:])
	} else {
		clear(d.m)
	}
}

func (d *decodedSessions) clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	clear(d.m)
}
