package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/store"
)

// DefaultPrefix is the key prefix used by [Open].
const DefaultPrefix = "mutualauth:"

// openPingTimeout bounds the PING that [Open] sends.
const openPingTimeout = 3 * time.Second

// errBadTTL is returned for a ttl that is not positive.
var errBadTTL = errors.New("redisstore: ttl must be positive")

// Store is a [store.Ephemeral] on Redis (standalone, Sentinel or Cluster).
type Store struct {
	c      redis.UniversalClient
	prefix string
	cache  *sessionCache // nil: no client-side cache
}

var _ store.Ephemeral = (*Store)(nil)

// Open connects to the Redis named by rawURL (see the package comment for
// the accepted forms), checks it answers PING and returns a store using
// [DefaultPrefix]. A Redis that cannot be reached gives an error wrapping
// [store.ErrUnavailable]; error texts never contain the password.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	cfg, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: bad Redis URL: %w", err)
	}
	return openConfig(ctx, cfg, DefaultPrefix)
}

// openConfig is [Open] with a parsed URL and a key prefix. It adds the
// client-side cache of session records where cfg allows one and Redis
// accepts it.
func openConfig(ctx context.Context, cfg *config, prefix string) (*Store, error) {
	c := cfg.newClient()
	pingCtx, cancel := context.WithTimeout(ctx, openPingTimeout)
	defer cancel()
	if err := c.Ping(pingCtx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%w: redis at %s: %v", store.ErrUnavailable, cfg.describe(), err)
	}
	s := NewFromClient(c, prefix)
	if cfg.cache {
		s.cache = newSessionCache(ctx, cfg.simple, prefix+"s:{")
	}
	return s, nil
}

// ClientCache reports whether session reads go through the client-side
// cache (see the package comment for when they do).
func (s *Store) ClientCache() bool { return s.cache != nil }

// NewFromClient returns a store on c whose keys all start with prefix. The
// prefix must not contain '{' or '}', which would break the hash tags. Close
// closes c.
func NewFromClient(c redis.UniversalClient, prefix string) *Store {
	return &Store{c: c, prefix: prefix}
}

// lookup reads the session hash at key from Redis, past the client-side
// cache. It is a plain HGETALL: go-redis's autopipeliner, which sent the
// lookups of concurrent requests as one pipeline, took up to 7 s to fail
// them when Redis was down, past the 3 s in which a request must fail
// closed.
func (s *Store) lookup(ctx context.Context, key string) (map[string]string, error) {
	return s.c.HGetAll(ctx, key).Result()
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	return wrap("ping", s.c.Ping(ctx).Err())
}

// Close closes the clients.
func (s *Store) Close() error {
	if s.cache != nil {
		_ = s.cache.close()
	}
	err := s.c.Close()
	if errors.Is(err, redis.ErrClosed) {
		return nil
	}
	return err
}

// kvKey, sessionKey and userKey lay out the key space; see the package
// comment.
func (s *Store) kvKey(key string) string { return s.prefix + "kv:{" + key + "}" }

func (s *Store) sessionKey(tokenHash string) string { return s.prefix + "s:{" + tokenHash + "}" }

func (s *Store) userKey(userID string) string { return s.prefix + "u:{" + userID + "}:sessions" }

// wrap maps go-redis errors to the store's sentinel errors: redis.Nil to
// store.ErrNotFound, and anything that means Redis cannot serve right now to
// store.ErrUnavailable. Other errors (a wrong type, a script bug) are wrapped
// as they are.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return store.ErrNotFound
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("redisstore: %s: %w", op, err)
	case unavailable(err):
		return fmt.Errorf("%w: redis %s: %w", store.ErrUnavailable, op, err)
	default:
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
}

// unavailable reports whether err means Redis cannot serve right now: any
// failure below the Redis protocol (dial, timeout, reset, TLS, closed pool)
// and the replies of a server that is up but not serving.
func unavailable(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) ||
		redis.IsClusterDownError(err) || redis.IsTryAgainError(err) ||
		redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) ||
		redis.IsAuthError(err) || redis.IsOOMError(err) ||
		redis.IsNoReplicasError(err) || redis.HasErrorPrefix(err, "BUSY")
}

// ms converts a duration to whole milliseconds, rounding up so that a
// positive duration never becomes zero.
func ms(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
