package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"mutualauth/store"
)

// Fields of a session hash. Times are Unix milliseconds; the zero time is "".
const (
	fID      = "id"
	fUser    = "uid"
	fName    = "un"
	fDisplay = "dn"
	fGroups  = "grp" // JSON array
	fAMR     = "amr" // JSON array
	fAuth    = "auth"
	fCreated = "created"
	fSeen    = "seen"
	fExp     = "exp"
	fIdle    = "idle"
	fIP      = "ip"
	fUA      = "ua"
	fCert    = "cert"
)

// touchScript checks that session KEYS[1] is valid at ARGV[1] (ms), then
// moves seen to ARGV[1] and idle to min(ARGV[1]+ARGV[2], exp), sets the key's
// TTL to match and returns all fields. An expired session is deleted and
// false (nil) returned.
var touchScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'exp', 'idle')
local exp, idle = tonumber(f[1]), tonumber(f[2])
if not exp or not idle then return false end
local now = tonumber(ARGV[1])
if now >= exp or now >= idle then
  redis.call('DEL', KEYS[1])
  return false
end
local nidle = now + tonumber(ARGV[2])
if nidle > exp then nidle = exp end
redis.call('HSET', KEYS[1], 'seen', ARGV[1], 'idle', string.format('%.0f', nidle))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', nidle - now))
return redis.call('HGETALL', KEYS[1])
`)

// indexScript adds member ARGV[2] with score ARGV[1] to the index KEYS[1] and
// makes the index live at least ARGV[3] ms, never shortening its TTL.
var indexScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local want = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < want then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
`)

// CreateSession stores sess in a hash that expires at sess.IdleExpiresAt and
// adds it to the user's index, which is kept at least until
// sess.ExpiresAt. The index is written first, so that a session is never
// stored without being listed (and revocable).
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	now := time.Now()
	idleTTL := sess.IdleExpiresAt.Sub(now)
	if idleTTL <= 0 {
		// Already expired: there is nothing to keep.
		return nil
	}
	indexTTL := max(sess.ExpiresAt.Sub(now), idleTTL)
	err := indexScript.Run(ctx, s.c, []string{s.userKey(sess.UserID)},
		sess.CreatedAt.UnixMilli(), sess.TokenHash, ms(indexTTL)).Err()
	if err != nil {
		return wrap("create session", err)
	}
	fields, err := encodeSession(sess)
	if err != nil {
		return err
	}
	key := s.sessionKey(sess.TokenHash)
	_, err = s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, fields)
		p.PExpire(ctx, key, ttlDuration(idleTTL))
		return nil
	})
	return wrap("create session", err)
}

// touchEvery is how stale the stored seen and idle fields may become before
// a touch writes them: a thirtieth of the idle timeout, between 1 s and
// 60 s. Every write of a session invalidates its cache entries on every
// instance, so a session in use is written once per touchEvery, not on every
// request; the idle timeout then runs out between idle-touchEvery and idle
// after the session's last use.
func touchEvery(idle time.Duration) int64 {
	return ms(min(max(idle/30, time.Second), time.Minute))
}

// TouchSession validates and extends the session. It reads the session
// (from the client-side cache when there is one, else in one HGETALL) and checks it here; only
// when the stored seen or idle field is touchEvery or more behind does
// touchScript check and extend it atomically in Redis. A cached copy that
// looks behind is read again from Redis first: it may predate a touch
// whose invalidation has not arrived yet, and writing again would
// invalidate every instance's copy for nothing. A session this store ended
// is never read back from the cache.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, now time.Time, idle time.Duration) (store.Session, error) {
	if idle <= 0 {
		return store.Session{}, errors.New("redisstore: idle timeout must be positive")
	}
	key := s.sessionKey(tokenHash)
	nowMs, idleMs, every := now.UnixMilli(), ms(idle), touchEvery(idle)
	if sess, ok := s.decoded(tokenHash, key); ok && freshSession(sess, nowMs, idleMs, every) {
		return sess, nil
	}
	m, cached, gen, err := s.read(ctx, tokenHash, key)
	if err == nil && cached && len(m) != 0 && !fresh(m, nowMs, idleMs, every) {
		cached = false
		m, err = s.lookup(ctx, key)
	}
	if err != nil {
		return store.Session{}, wrap("touch session", err)
	}
	if len(m) == 0 {
		return store.Session{}, store.ErrNotFound
	}
	if fresh(m, nowMs, idleMs, every) {
		sess, err := decodeSession(tokenHash, m)
		if err == nil && cached {
			s.cache.decoded.put(key, gen, sess)
		}
		return sess, err
	}
	vals, err := touchScript.Run(ctx, s.c, []string{key}, nowMs, idleMs).StringSlice()
	if err != nil {
		return store.Session{}, wrap("touch session", err)
	}
	if len(vals)%2 != 0 {
		return store.Session{}, fmt.Errorf("redisstore: touch session: odd number of hash fields")
	}
	m = make(map[string]string, len(vals)/2)
	for i := 0; i < len(vals); i += 2 {
		m[vals[i]] = vals[i+1]
	}
	return decodeSession(tokenHash, m)
}

// read returns the session hash at key and whether it came through the
// client-side cache: from the cache while it is on (nothing for a session
// this store ended), else straight from Redis, as without a cache. While
// the cache is off (Redis missed its last health check) nothing cached is
// trusted; the direct read fails closed while Redis is down and answers as
// soon as Redis is back, without waiting for the next health check. gen is
// the generation of the cache's decoded sessions before the read.
func (s *Store) read(ctx context.Context, tokenHash, key string) (m map[string]string, cached bool, gen uint64, err error) {
	sc := s.cache
	if sc == nil || !sc.on.Load() {
		m, err := s.lookup(ctx, key)
		return m, false, 0, err
	}
	gen = sc.decoded.generation()
	m, err = sc.c.HGetAll(ctx, key).Result()
	if err != nil || sc.ended.has(tokenHash) {
		return nil, true, gen, err
	}
	return m, true, gen, nil
}

// decoded returns the session decoded from a cache entry of key that is
// still in the cache, while the cache is on and the session was not ended
// here.
func (s *Store) decoded(tokenHash, key string) (store.Session, bool) {
	sc := s.cache
	if sc == nil || !sc.on.Load() {
		return store.Session{}, false
	}
	sess, ok := sc.decoded.get(key)
	if !ok || sc.ended.has(tokenHash) {
		return store.Session{}, false
	}
	return sess, true
}

// freshSession is fresh for a decoded session.
func freshSession(sess store.Session, nowMs, idleMs, every int64) bool {
	exp, idle, seen := sess.ExpiresAt.UnixMilli(), sess.IdleExpiresAt.UnixMilli(), sess.LastSeenAt.UnixMilli()
	if sess.ExpiresAt.IsZero() || sess.IdleExpiresAt.IsZero() || sess.LastSeenAt.IsZero() || nowMs >= exp || nowMs >= idle {
		return false
	}
	nidle := min(nowMs+idleMs, exp)
	return abs(nowMs-seen) < every && abs(nidle-idle) < every
}

// fresh reports whether the stored session is valid at nowMs and its seen
// and idle fields are less than every ms behind what a touch would write.
func fresh(m map[string]string, nowMs, idleMs, every int64) bool {
	exp, err1 := strconv.ParseInt(m[fExp], 10, 64)
	idle, err2 := strconv.ParseInt(m[fIdle], 10, 64)
	seen, err3 := strconv.ParseInt(m[fSeen], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || nowMs >= exp || nowMs >= idle {
		return false
	}
	nidle := min(nowMs+idleMs, exp)
	return abs(nowMs-seen) < every && abs(nidle-idle) < every
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// ended records that this store ends the session, before it does: its
// cache never serves it again.
func (s *Store) ended(tokenHash string) {
	if s.cache != nil {
		s.cache.ended.add(tokenHash, s.cache.local)
	}
}

// DeleteSession removes the session and its index entry; a missing session
// is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	s.ended(tokenHash)
	key := s.sessionKey(tokenHash)
	var uid *redis.StringCmd
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		uid = p.HGet(ctx, key, fUser)
		p.Del(ctx, key)
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return wrap("delete session", err)
	}
	return wrap("delete session", s.c.ZRem(ctx, s.userKey(uid.Val()), tokenHash).Err())
}

// ListSessions returns the user's live sessions, oldest first, and drops
// index entries of sessions that are gone.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	idx := s.userKey(userID)
	members, err := s.c.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(members))
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range members {
			cmds[i] = p.HGetAll(ctx, s.sessionKey(h))
		}
		return nil
	})
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	now := time.Now()
	var out []store.Session
	var dead []any
	for i, h := range members {
		m := cmds[i].Val()
		if len(m) == 0 || m[fUser] != userID {
			dead = append(dead, h)
			continue
		}
		sess, err := decodeSession(h, m)
		if err != nil {
			return nil, err
		}
		if !now.Before(sess.IdleExpiresAt) || !now.Before(sess.ExpiresAt) {
			continue // Redis drops it within the millisecond
		}
		out = append(out, sess)
	}
	if len(dead) > 0 {
		if err := s.c.ZRem(ctx, idx, dead...).Err(); err != nil {
			return nil, wrap("list sessions", err)
		}
	}
	slices.SortStableFunc(out, func(a, b store.Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.TokenHash, b.TokenHash)
	})
	return out, nil
}

// DeleteUserSessions deletes all the user's sessions but keepTokenHash and
// returns how many existed.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, keepTokenHash string) (int, error) {
	idx := s.userKey(userID)
	members, err := s.c.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return 0, wrap("delete user sessions", err)
	}
	var gone []any
	var dels []*redis.IntCmd
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, h := range members {
			if h == keepTokenHash {
				continue
			}
			s.ended(h)
			gone = append(gone, h)
			dels = append(dels, p.Del(ctx, s.sessionKey(h)))
		}
		return nil
	})
	if err != nil {
		return 0, wrap("delete user sessions", err)
	}
	n := 0
	for _, d := range dels {
		n += int(d.Val())
	}
	if len(gone) > 0 {
		if err := s.c.ZRem(ctx, idx, gone...).Err(); err != nil {
			return n, wrap("delete user sessions", err)
		}
	}
	return n, nil
}

func encodeSession(sess store.Session) (map[string]any, error) {
	amr, err := json.Marshal(sess.AMR)
	if err != nil {
		return nil, fmt.Errorf("redisstore: encode session: %w", err)
	}
	groups, err := json.Marshal(sess.Groups)
	if err != nil {
		return nil, fmt.Errorf("redisstore: encode session: %w", err)
	}
	return map[string]any{
		fID:      sess.ID,
		fUser:    sess.UserID,
		fName:    sess.Username,
		fDisplay: sess.DisplayName,
		fGroups:  groups,
		fAMR:     amr,
		fAuth:    msTime(sess.AuthTime),
		fCreated: msTime(sess.CreatedAt),
		fSeen:    msTime(sess.LastSeenAt),
		fExp:     msTime(sess.ExpiresAt),
		fIdle:    msTime(sess.IdleExpiresAt),
		fIP:      sess.IP,
		fUA:      sess.UserAgent,
		fCert:    sess.ClientCert,
	}, nil
}

func decodeSession(tokenHash string, m map[string]string) (store.Session, error) {
	sess := store.Session{
		ID:          m[fID],
		TokenHash:   tokenHash,
		UserID:      m[fUser],
		Username:    m[fName],
		DisplayName: m[fDisplay],
		IP:          m[fIP],
		UserAgent:   m[fUA],
		ClientCert:  m[fCert],
	}
	for _, f := range []struct {
		name string
		dst  *[]string
	}{
		{fAMR, &sess.AMR},
		{fGroups, &sess.Groups},
	} {
		if a := m[f.name]; a != "" && a != "null" {
			list, err := decodeStrings(a)
			if err != nil {
				return store.Session{}, fmt.Errorf("redisstore: decode session %s: %w", f.name, err)
			}
			*f.dst = list
		}
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{
		{fAuth, &sess.AuthTime},
		{fCreated, &sess.CreatedAt},
		{fSeen, &sess.LastSeenAt},
		{fExp, &sess.ExpiresAt},
		{fIdle, &sess.IdleExpiresAt},
	} {
		t, err := parseMsTime(m[f.name])
		if err != nil {
			return store.Session{}, fmt.Errorf("redisstore: decode session %s: %w", f.name, err)
		}
		*f.dst = t
	}
	return sess, nil
}

// decodeStrings decodes a JSON array of strings. The arrays encodeSession
// writes (json.Marshal of role and AMR names) are split directly when no
// element holds a quote or an escape; anything else goes through
// encoding/json.
func decodeStrings(a string) ([]string, error) {
	if len(a) >= 2 && a[0] == '[' && a[len(a)-1] == ']' && !strings.ContainsRune(a, '\\') {
		inner := a[1 : len(a)-1]
		if inner == "" {
			return []string{}, nil
		}
		if len(inner) >= 2 && inner[0] == '"' && inner[len(inner)-1] == '"' {
			parts := strings.Split(inner[1:len(inner)-1], `","`)
			if !slices.ContainsFunc(parts, func(p string) bool { return strings.ContainsRune(p, '"') }) {
				return parts, nil
			}
		}
	}
	var out []string
	if err := json.Unmarshal([]byte(a), &out); err != nil {
		return nil, err
	}
	return out, nil
}

func msTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

func parseMsTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(n).UTC(), nil
}
