package redisstore

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"mutualauth/store"
)

// swapScript sets KEYS[1] to ARGV[2] with a TTL of ARGV[3] ms if it holds
// ARGV[1]. It returns 0 when the key is missing, 1 when it holds another
// value, 2 when swapped.
var swapScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if v ~= ARGV[1] then return 1 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 2
`)

// incrScript increments KEYS[1] and gives it a TTL of ARGV[1] ms when it has
// none, which is the case exactly when INCR created it.
var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`)

// ttlDuration rounds ttl up to whole milliseconds, the resolution of PX.
func ttlDuration(ttl time.Duration) time.Duration {
	return time.Duration(ms(ttl)) * time.Millisecond
}

// Put stores value at key for ttl (SET PX).
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errBadTTL
	}
	return wrap("put", s.c.Set(ctx, s.kvKey(key), value, ttlDuration(ttl)).Err())
}

// PutIfAbsent stores value at key for ttl unless the key exists (SET NX PX).
func (s *Store) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errBadTTL
	}
	ok, err := s.c.SetNX(ctx, s.kvKey(key), value, ttlDuration(ttl)).Result()
	if err != nil {
		return wrap("put if absent", err)
	}
	if !ok {
		return store.ErrAlreadyExists
	}
	return nil
}

// Get returns the value at key.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.c.Get(ctx, s.kvKey(key)).Bytes()
	if err != nil {
		return nil, wrap("get", err)
	}
	return v, nil
}

// Take returns the value at key and deletes it (GETDEL, Redis 6.2+).
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	v, err := s.c.GetDel(ctx, s.kvKey(key)).Bytes()
	if err != nil {
		return nil, wrap("take", err)
	}
	return v, nil
}

// Swap replaces prev with next at key and sets ttl, atomically (a script).
func (s *Store) Swap(ctx context.Context, key string, prev, next []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errBadTTL
	}
	r, err := swapScript.Run(ctx, s.c, []string{s.kvKey(key)}, prev, next, ms(ttl)).Int()
	if err != nil {
		return wrap("swap", err)
	}
	switch r {
	case 0:
		return store.ErrNotFound
	case 1:
		return store.ErrConflict
	default:
		return nil
	}
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	return wrap("delete", s.c.Del(ctx, s.kvKey(key)).Err())
}

// Incr increments the counter at key; a new counter gets ttl, an existing
// one keeps its TTL (INCR and PEXPIRE in one script).
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, errBadTTL
	}
	n, err := incrScript.Run(ctx, s.c, []string{s.kvKey(key)}, ms(ttl)).Int64()
	if err != nil {
		return 0, wrap("incr", err)
	}
	return n, nil
}

// AllowRate implements [store.KV.AllowRate] with redis_rate's GCRA script
// (one EVALSHA on one key; the clock is Redis's TIME, shared by every
// instance).
func (s *Store) AllowRate(ctx context.Context, key string, limit int, period time.Duration) (time.Duration, error) {
	if limit <= 0 || period <= 0 {
		return 0, errBadTTL
	}
	res, err := s.limiter.Allow(ctx, s.kvKey(key), redis_rate.Limit{Rate: limit, Burst: limit, Period: period})
	if err != nil {
		return 0, wrap("rate", err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Millisecond), nil
}
