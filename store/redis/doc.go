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
// seen and idle each time buys nothing. So when this store wrote a
// session's seen field less than a second ago (by the caller's clock; the
// store remembers that for up to 8192 sessions), TouchSession instead sends
// a plain HGETALL and checks exp and idle itself; if the hash read shows
// seen or idle more than a second away from what a touch would write (for
// instance after a change of the idle timeout), it runs the script as well.
// The stored seen and idle then lag real use by less than a second, and the
// session returned is the one stored. These lookups go through go-redis's
// autopipeliner, which sends the lookups of concurrent requests to Redis as
// one pipeline: one write and one read for many of them, on the server and
// in Redis.
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
