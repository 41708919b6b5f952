// Package redisstore implements [store.Ephemeral] on Redis with go-redis v9:
// a standalone server, a Sentinel-managed primary, or a Redis Cluster.
//
// # URLs
//
// [Open] accepts:
//
//	redis://[[user]:password@]host[:6379][/db][?option=value...]
//	rediss://...                        the same over TLS
//	unix://[[user]:password@]/path/to/redis.sock[?db=N]
//	redis+sentinel://[[user]:password@]host1[:26379],host2[:26379]/[db]?master=NAME[&...]
//	rediss+sentinel://...               the same over TLS
//	redis+cluster://[[user]:password@]host1[:6379],host2[:6379][?...]
//	rediss+cluster://...                the same over TLS
//
// The single-node forms are parsed by go-redis's ParseURL. The Sentinel and
// Cluster forms list their seed addresses comma-separated in the host part
// and are handed to go-redis's ParseFailoverURL and ParseClusterURL (which
// also accept further seeds as addr=host:port parameters). In the Sentinel
// form the userinfo holds the credentials of the Redis primary and replicas;
// Sentinels that require authentication take sentinel_username= and
// sentinel_password= parameters. A Cluster has database 0 only.
//
// go-redis's option parameters (snake case, e.g. dial_timeout=3s,
// read_timeout=2s, pool_size=64, max_retries=1) are honoured. When a URL does
// not set them, the timeouts are short so that an unreachable Redis fails
// fast and the server answers 503 instead of hanging: dial 2 s (two
// attempts), read and write 1 s, pool wait 2 s. Request contexts bound every
// command (ContextTimeoutEnabled). The pool keeps go-redis's default of 10
// connections per GOMAXPROCS.
//
// Open pings Redis once; when that fails, the error names the address (never
// the password) and wraps [store.ErrUnavailable]. Errors of later operations
// that mean Redis cannot serve (refused or reset connections, timeouts,
// LOADING, READONLY, MASTERDOWN, CLUSTERDOWN, TRYAGAIN, OOM, ...) also wrap
// [store.ErrUnavailable]; redis.Nil becomes [store.ErrNotFound]. go-redis
// reconnects on its own, so a store recovers when Redis comes back.
//
// # Key layout
//
// Every key starts with a prefix ([DefaultPrefix], "mutualauth:", for Open)
// and carries a Redis Cluster hash tag ({...}, Redis Cluster specification,
// "Hash tags") around its identifying part:
//
//	<prefix>kv:{<logical key>}          KV value (string)
//	<prefix>s:{<token hash>}            session (hash)
//	<prefix>u:{<user id>}:sessions      the user's session index (sorted set)
//
// The fixed kv:, s: and u: segments keep the three families apart, so no
// logical key can collide with a session. Every script and transaction
// touches exactly one key, hence one slot; operations that touch both a
// session and its index (create, delete, list, delete all) issue separate
// commands or pipelines, which go-redis routes per slot. No multi-key
// script spans slots.
//
// A session hash holds the fields id, uid, un (username), dn (display name),
// grp and amr (JSON arrays), auth, created, seen, exp and idle (Unix
// milliseconds; empty for the zero time), ip and ua.
// Its TTL follows the idle expiry; TouchSession checks exp and idle against
// the caller's time, updates seen and idle and resets the TTL in one script
// run (EVALSHA, one round trip). TTLs are set relative to the server's clock
// (PEXPIRE), so clock skew between the server and Redis cannot cut sessions
// short; the stored exp and idle fields are what decide validity.
//
// A session is usually looked up many times a second while it is in use
// (every request of a page, every forward-auth subrequest), and writing
// seen and idle each time buys nothing; worse, with the client-side cache
// below every write invalidates the session's cached copy on every server
// instance. So TouchSession reads the session and checks exp and idle
// itself, and writes seen and idle (the touch script) only when the stored
// values are a touch interval or more behind what a touch would write: a
// thirtieth of the idle timeout, at least 1 s and at most 60 s (60 s for
// the default idle timeout of 30 minutes). The stored seen then lags real
// use by less than that interval, and the idle timeout runs out between
// idle − interval and idle after the session's last use (29 to 30 minutes
// by default): never later than configured. A change of the idle timeout
// makes the stored idle expiry differ by more than the interval, so the
// next touch writes it. Without the cache each read is one HGETALL.
//
// # Client-side cache
//
// On a standalone Redis with database 0 (redis://, rediss://, unix://),
// session reads go through go-redis's built-in client-side cache
// (Options.ClientSideCache, server-assisted caching with RESP3 and CLIENT
// TRACKING in its default mode: Redis remembers which keys each connection
// read and pushes an invalidation when one changes). It is used for the
// session HGETALL of TouchSession only, on a second client of its own;
// every write, and every KV operation, goes through the plain client, so
// nothing else is ever served from memory. go-redis supports the cache
// only for standalone clients and database 0: with Sentinel, Cluster or
// another database the store runs without it, reading Redis on every
// touch as described above. The URL parameter client_cache=off turns it
// off on a standalone Redis too. go-redis marks the cache API
// experimental; the tests below pin the behaviour the store relies on.
//
// The rules, and how they hold:
//
//   - Another instance's end of a session (logout, revocation, disabling a
//     user, a password change: DeleteSession or DeleteUserSessions) is seen
//     here within about 10 ms: the DEL makes Redis push an invalidation to
//     the connection that read the key; go-redis applies it when it next
//     reads that connection, and reads idle connections for pushes every 5
//     ms (CacheConfig.DrainInterval). As a backstop for an invalidation
//     lost in some way nobody foresaw, no entry is served more than 2 s
//     after it was fetched (CacheConfig.MaxStaleness).
//   - The instance that ends a session never serves it again: before its
//     DEL it records the token hash for 5 s (longer than any entry fetched
//     before the DEL can live), and a cached read of a recorded session
//     counts as not found. Its own invalidation may trail the DEL's reply.
//   - A broken tracking connection takes its entries with it: go-redis
//     evicts the entries a connection fetched when it closes or is
//     replaced, since Redis no longer sends their invalidations.
//   - A Redis that stops answering without closing connections (SIGSTOP,
//     a dead network path) cannot push invalidations either. A health check
//     PINGs Redis every 250 ms with a 1 s timeout; when one fails, the cache
//     is flushed and turned off, and session reads go straight to Redis
//     as without a cache: they fail with store.ErrUnavailable (the server
//     answers 503) while Redis is quiet, and answer again as soon as it is
//     back, before the next PING succeeds, flushes the cache once more and
//     turns it back on. So nothing cached is served once Redis has been
//     quiet for about 1.25 s, and recovery does not wait for the cache.
//   - Memory stays bounded: at most 20,000 cached replies (about 1 KiB
//     each with go-redis's bookkeeping) and as many decoded sessions.
//
// A cache hit still costs go-redis a parse of the stored reply into a map
// and the store a decode; so the store also keeps the session it decoded
// from each cache entry, until go-redis removes that entry: the cache is
// handed to go-redis wrapped (watchedCache) so that every removal (a key's
// invalidation, a connection's eviction, a flush) drops the decoded copies
// it concerns first, and a copy is kept only if no removal happened since
// before the read it came from. Decoded copies also live at most 2 s.
//
// Writes that must survive a failover: with Sentinel, a session written to
// the primary just before it fails may not have reached a replica, and the
// promoted replica then does not know it (the user must log in again; no
// session becomes valid that was not). Redis's WAIT numreplicas timeout
// would make such writes wait for replicas, trading a round trip to a
// replica on every login and logout for that durability; the store does
// not use it (docs/PERFORMANCE.md).
//
// The index is a sorted set of token hashes scored by creation time (so
// listing is oldest first). Its TTL is raised to at least the absolute
// expiry of each session added and never lowered. It is written before the
// session so that every stored session can be listed and revoked; members
// whose session is gone are pruned when the index is listed.
//
// KV operations: Put is SET PX, PutIfAbsent SET NX PX, Get GET, Take GETDEL
// (Redis 6.2 or later), Delete DEL; Swap (compare and set) and Incr (INCR, and
// PEXPIRE only when the counter has no TTL, i.e. was just created) are
// scripts. TTLs are rounded up to whole milliseconds.
package redisstore
