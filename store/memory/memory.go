package memory

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"mutualauth/store"
)

// sweepInterval is the least time between two sweeps of expired entries.
const sweepInterval = 30 * time.Second

// errBadTTL is returned for a ttl that is not positive.
var errBadTTL = errors.New("memory: ttl must be positive")

type entry struct {
	value   []byte
	expires time.Time
}

func (e entry) live(now time.Time) bool { return now.Before(e.expires) }

// Store is an in-process [store.Ephemeral]. The zero value is not usable; use
// [New].
type Store struct {
	mu        sync.Mutex
	kv        map[string]entry
	sessions  map[string]store.Session       // by token hash
	byUser    map[string]map[string]struct{} // user id → token hashes
	lastSweep time.Time
}

var _ store.Ephemeral = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		kv:        make(map[string]entry),
		sessions:  make(map[string]store.Session),
		byUser:    make(map[string]map[string]struct{}),
		lastSweep: time.Now(),
	}
}

// Ping always succeeds.
func (s *Store) Ping(ctx context.Context) error { return nil }

// Close does nothing: the store holds no goroutines or connections.
func (s *Store) Close() error { return nil }

// maybeSweep drops expired entries when the last sweep is old enough. The
// caller holds s.mu.
func (s *Store) maybeSweep(now time.Time) {
	if now.Sub(s.lastSweep) < sweepInterval {
		return
	}
	s.lastSweep = now
	for k, e := range s.kv {
		if !e.live(now) {
			delete(s.kv, k)
		}
	}
	for h, sess := range s.sessions {
		if !sessionLive(sess, now) {
			s.removeSession(h)
		}
	}
}

// getLive returns the live entry at key, dropping it if it has expired. The
// caller holds s.mu.
func (s *Store) getLive(key string, now time.Time) (entry, bool) {
	e, ok := s.kv[key]
	if !ok {
		return entry{}, false
	}
	if !e.live(now) {
		delete(s.kv, key)
		return entry{}, false
	}
	return e, true
}

// Put stores value at key for ttl.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errBadTTL
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeSweep(now)
	s.kv[key] = entry{value: clone(value), expires: now.Add(ttl)}
	return nil
}

// PutIfAbsent stores value at key for ttl unless the key holds a live value.
func (s *Store) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errBadTTL
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeSweep(now)
	if _, ok := s.getLive(key, now); ok {
		return store.ErrAlreadyExists
	}
	s.kv[key] = entry{value: clone(value), expires: now.Add(ttl)}
	return nil
}

// Get returns a copy of the value at key.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.getLive(key, time.Now())
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(e.value), nil
}

// Take returns the value at key and deletes it.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.getLive(key, time.Now())
	if !ok {
		return nil, store.ErrNotFound
	}
	delete(s.kv, key)
	return e.value, nil
}

// Swap replaces prev with next at key and sets ttl.
func (s *Store) Swap(ctx context.Context, key string, prev, next []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errBadTTL
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeSweep(now)
	e, ok := s.getLive(key, now)
	if !ok {
		return store.ErrNotFound
	}
	if !bytes.Equal(e.value, prev) {
		return store.ErrConflict
	}
	s.kv[key] = entry{value: clone(next), expires: now.Add(ttl)}
	return nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.kv, key)
	return nil
}

// Incr adds one to the decimal counter at key. A new counter expires after
// ttl; incrementing an existing one keeps its expiry.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, errBadTTL
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeSweep(now)
	e, ok := s.getLive(key, now)
	if !ok {
		s.kv[key] = entry{value: []byte("1"), expires: now.Add(ttl)}
		return 1, nil
	}
	n, err := strconv.ParseInt(string(e.value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory: incr %q: value is not an integer", key)
	}
	n++
	e.value = strconv.AppendInt(nil, n, 10)
	s.kv[key] = e
	return n, nil
}

// AllowRate implements [store.KV.AllowRate] with the arithmetic of
// redis_rate's script: the state is the theoretical arrival time (TAT) of
// the next request.
func (s *Store) AllowRate(ctx context.Context, key string, limit int, period time.Duration) (time.Duration, error) {
	if limit <= 0 || period <= 0 {
		return 0, errBadTTL
	}
	now := time.Now()
	interval := period / time.Duration(limit)
	key = "rate:" + key
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeSweep(now)
	tat := now
	if e, ok := s.getLive(key, now); ok && len(e.value) == 8 {
		if stored := time.Unix(0, int64(binary.BigEndian.Uint64(e.value))); stored.After(now) {
			tat = stored
		}
	}
	next := tat.Add(interval)
	if allowAt := next.Add(-interval * time.Duration(limit)); now.Before(allowAt) {
		return allowAt.Sub(now), nil
	}
	s.kv[key] = entry{value: binary.BigEndian.AppendUint64(nil, uint64(next.UnixNano())), expires: next}
	return 0, nil
}

func sessionLive(s store.Session, now time.Time) bool {
	return now.Before(s.IdleExpiresAt) && now.Before(s.ExpiresAt)
}

// removeSession drops the session and its index entry. The caller holds s.mu.
func (s *Store) removeSession(tokenHash string) bool {
	sess, ok := s.sessions[tokenHash]
	if !ok {
		return false
	}
	delete(s.sessions, tokenHash)
	if idx := s.byUser[sess.UserID]; idx != nil {
		delete(idx, tokenHash)
		if len(idx) == 0 {
			delete(s.byUser, sess.UserID)
		}
	}
	return true
}

// CreateSession stores sess, replacing any session with the same token hash.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeSweep(now)
	s.removeSession(sess.TokenHash)
	sess = cloneSession(sess)
	s.sessions[sess.TokenHash] = sess
	idx := s.byUser[sess.UserID]
	if idx == nil {
		idx = make(map[string]struct{})
		s.byUser[sess.UserID] = idx
	}
	idx[sess.TokenHash] = struct{}{}
	return nil
}

// TouchSession moves LastSeenAt to now and IdleExpiresAt to
// min(now+idle, ExpiresAt) of a session valid at now.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, now time.Time, idle time.Duration) (store.Session, error) {
	if idle <= 0 {
		return store.Session{}, errors.New("memory: idle timeout must be positive")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[tokenHash]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	if !sessionLive(sess, now) {
		s.removeSession(tokenHash)
		return store.Session{}, store.ErrNotFound
	}
	sess.LastSeenAt = now
	sess.IdleExpiresAt = now.Add(idle)
	if sess.IdleExpiresAt.After(sess.ExpiresAt) {
		sess.IdleExpiresAt = sess.ExpiresAt
	}
	s.sessions[tokenHash] = sess
	sess = cloneSession(sess)
	return sess, nil
}

// DeleteSession removes the session; a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeSession(tokenHash)
	return nil
}

// ListSessions returns the user's live sessions, oldest first.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Session
	for h := range s.byUser[userID] {
		sess := s.sessions[h]
		if !sessionLive(sess, now) {
			s.removeSession(h)
			continue
		}
		sess = cloneSession(sess)
		out = append(out, sess)
	}
	sortSessions(out)
	return out, nil
}

// DeleteUserSessions removes the user's live sessions except keepTokenHash
// and returns how many it removed.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, keepTokenHash string) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h := range s.byUser[userID] {
		if h == keepTokenHash {
			continue
		}
		if sessionLive(s.sessions[h], now) {
			n++
		}
		s.removeSession(h)
	}
	return n, nil
}

func sortSessions(ss []store.Session) {
	slices.SortFunc(ss, func(a, b store.Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.TokenHash, b.TokenHash)
	})
}

// clone returns a copy of b that is never nil, so that a stored empty value
// reads back as present.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// cloneSession copies the slices of sess, so that callers and the store
// never share them.
func cloneSession(sess store.Session) store.Session {
	sess.AMR = slices.Clone(sess.AMR)
	sess.Groups = slices.Clone(sess.Groups)
	return sess
}
