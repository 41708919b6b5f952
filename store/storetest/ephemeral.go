package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"mutualauth/store"
)

// Timing knobs of the ephemeral suite. Short TTLs are only ever waited out;
// no assertion depends on how fast an operation runs.
const (
	ephShortTTL = 150 * time.Millisecond
	ephLongTTL  = time.Hour
	// ephGoneWithin bounds the wait for a short-TTL value to disappear. It is
	// generous on purpose: a value that never expires fails, a slow machine
	// does not.
	ephGoneWithin = 10 * time.Second
	ephWorkers    = 50
)

// RunEphemeral runs the conformance suite for [store.Ephemeral] backends.
//
// newStore is called once per subtest; subtests run in parallel, so it may be
// called concurrently. Each call must return a store whose keys do not collide
// with those of the other calls (a fresh in-process store, or a fresh key
// prefix on a shared server). The suite closes the store when the subtest
// ends.
//
// Backends must keep session times to at least millisecond precision: the
// suite uses times truncated to the millisecond and compares them exactly.
func RunEphemeral(t *testing.T, newStore func(t *testing.T) store.Ephemeral) {
	open := func(t *testing.T) store.Ephemeral {
		t.Helper()
		s := newStore(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Ephemeral)
	}{
		{"Ping", ephPing},
		{"KV/PutGetDelete", ephPutGetDelete},
		{"KV/EmptyValue", ephEmptyValue},
		{"KV/KeysAreDistinct", ephKeysDistinct},
		{"KV/InvalidTTL", ephInvalidTTL},
		{"KV/TTLExpiry", ephTTLExpiry},
		{"KV/PutIfAbsent", ephPutIfAbsent},
		{"KV/PutIfAbsentConcurrent", ephPutIfAbsentConcurrent},
		{"KV/Take", ephTake},
		{"KV/TakeConcurrent", ephTakeConcurrent},
		{"KV/Swap", ephSwap},
		{"KV/SwapTTL", ephSwapTTL},
		{"KV/UpdateKVConcurrent", ephUpdateKVConcurrent},
		{"KV/Incr", ephIncr},
		{"KV/IncrConcurrent", ephIncrConcurrent},
		{"KV/IncrTTLNotExtended", ephIncrTTL},
		{"Sessions/CreateTouch", ephSessionCreateTouch},
		{"Sessions/TouchUnknown", ephSessionTouchUnknown},
		{"Sessions/IdleExpiry", ephSessionIdleExpiry},
		{"Sessions/IdleExpiryRealTime", ephSessionIdleExpiryRealTime},
		{"Sessions/AbsoluteExpiry", ephSessionAbsoluteExpiry},
		{"Sessions/AbsoluteExpiryRealTime", ephSessionAbsoluteExpiryRealTime},
		{"Sessions/List", ephSessionList},
		{"Sessions/Delete", ephSessionDelete},
		{"Sessions/DeleteUserSessions", ephDeleteUserSessions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// ephHex returns n random bytes in hex.
func ephHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ephKey(kind string) string { return "storetest:" + kind + ":" + ephHex(8) }

// ephNow is the current time truncated to the millisecond, without a
// monotonic clock reading.
func ephNow() time.Time { return time.Now().Truncate(time.Millisecond) }

func ephWantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func ephNoErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ephWantValue(t *testing.T, s store.Ephemeral, key string, want []byte) {
	t.Helper()
	got, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

// ephWaitNotFound polls op until it reports ErrNotFound.
func ephWaitNotFound(t *testing.T, what string, op func() error) {
	t.Helper()
	deadline := time.Now().Add(ephGoneWithin)
	for {
		err := op()
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still present after %v", what, ephGoneWithin)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// ephRace runs fn(i) for i in [0, n) on n goroutines released at once.
func ephRace(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func ephPing(t *testing.T, s store.Ephemeral) {
	ephNoErr(t, "Ping", s.Ping(context.Background()))
}

func ephPutGetDelete(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("pgd")

	_, err := s.Get(ctx, k)
	ephWantErr(t, "Get of unknown key", err, store.ErrNotFound)

	v1 := []byte("value\x00\xff one")
	ephNoErr(t, "Put", s.Put(ctx, k, v1, ephLongTTL))
	v1[0] = 'X' // the store must have kept its own copy
	ephWantValue(t, s, k, []byte("value\x00\xff one"))

	got, _ := s.Get(ctx, k)
	got[0] = 'Y' // and must hand out copies
	ephWantValue(t, s, k, []byte("value\x00\xff one"))

	ephNoErr(t, "Put (overwrite)", s.Put(ctx, k, []byte("two"), ephLongTTL))
	ephWantValue(t, s, k, []byte("two"))

	ephNoErr(t, "Delete", s.Delete(ctx, k))
	_, err = s.Get(ctx, k)
	ephWantErr(t, "Get after Delete", err, store.ErrNotFound)
	ephNoErr(t, "Delete of a missing key", s.Delete(ctx, k))
}

// ephEmptyValue: an empty value is present, and Get returns it as a non-nil
// slice (store.UpdateKV tells missing from present by nil).
func ephEmptyValue(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("empty")
	ephNoErr(t, "Put", s.Put(ctx, k, []byte{}, ephLongTTL))
	got, err := s.Get(ctx, k)
	ephNoErr(t, "Get", err)
	if got == nil || len(got) != 0 {
		t.Fatalf("Get of an empty value = %#v, want a non-nil empty slice", got)
	}
	ephWantErr(t, "PutIfAbsent over an empty value", s.PutIfAbsent(ctx, k, []byte("x"), ephLongTTL), store.ErrAlreadyExists)
	ephNoErr(t, "Swap from an empty value", s.Swap(ctx, k, []byte{}, []byte("x"), ephLongTTL))
	ephWantValue(t, s, k, []byte("x"))
}

// ephKeysDistinct: keys that differ only around braces, colons or spaces are
// different keys.
func ephKeysDistinct(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	base := ephKey("distinct")
	keys := []string{
		base,
		base + "{a}",
		base + "{a}b",
		"{" + base + "}",
		base + ":x y",
		base + "}{",
		base + ":é",
	}
	for i, k := range keys {
		ephNoErr(t, "Put", s.Put(ctx, k, fmt.Appendf(nil, "v%d", i), ephLongTTL))
	}
	for i, k := range keys {
		ephWantValue(t, s, k, fmt.Appendf(nil, "v%d", i))
	}
}

func ephInvalidTTL(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("badttl")
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := s.Put(ctx, k, []byte("v"), ttl); err == nil {
			t.Errorf("Put with ttl %v: no error", ttl)
		}
		if err := s.PutIfAbsent(ctx, k, []byte("v"), ttl); err == nil {
			t.Errorf("PutIfAbsent with ttl %v: no error", ttl)
		}
		if _, err := s.Incr(ctx, k, ttl); err == nil {
			t.Errorf("Incr with ttl %v: no error", ttl)
		}
	}
	_, err := s.Get(ctx, k)
	ephWantErr(t, "Get after rejected writes", err, store.ErrNotFound)

	ephNoErr(t, "Put", s.Put(ctx, k, []byte("v"), ephLongTTL))
	if err := s.Swap(ctx, k, []byte("v"), []byte("w"), 0); err == nil {
		t.Errorf("Swap with ttl 0: no error")
	}
	ephWantValue(t, s, k, []byte("v"))
}

func ephTTLExpiry(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("ttl")
	ephNoErr(t, "Put", s.Put(ctx, k, []byte("long"), ephLongTTL))
	ephWantValue(t, s, k, []byte("long"))
	// Overwriting replaces the TTL as well: the value must now expire.
	ephNoErr(t, "Put (short ttl)", s.Put(ctx, k, []byte("short"), ephShortTTL))
	ephWaitNotFound(t, "Get of an expired key", func() error {
		_, err := s.Get(ctx, k)
		return err
	})
	_, err := s.Take(ctx, k)
	ephWantErr(t, "Take of an expired key", err, store.ErrNotFound)
	ephWantErr(t, "Swap of an expired key", s.Swap(ctx, k, []byte("short"), []byte("x"), ephLongTTL), store.ErrNotFound)

	// A key with a long TTL next to it is unaffected.
	k2 := ephKey("ttl")
	ephNoErr(t, "Put", s.Put(ctx, k2, []byte("stays"), ephLongTTL))
	ephNoErr(t, "Put (short ttl)", s.Put(ctx, k, []byte("short"), ephShortTTL))
	ephWaitNotFound(t, "Get of an expired key", func() error {
		_, err := s.Get(ctx, k)
		return err
	})
	ephWantValue(t, s, k2, []byte("stays"))
}

func ephPutIfAbsent(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("pia")
	ephNoErr(t, "PutIfAbsent on a new key", s.PutIfAbsent(ctx, k, []byte("first"), ephLongTTL))
	ephWantErr(t, "PutIfAbsent on a present key", s.PutIfAbsent(ctx, k, []byte("second"), ephLongTTL), store.ErrAlreadyExists)
	ephWantValue(t, s, k, []byte("first"))

	ephNoErr(t, "Delete", s.Delete(ctx, k))
	ephNoErr(t, "PutIfAbsent after Delete", s.PutIfAbsent(ctx, k, []byte("third"), ephShortTTL))
	ephWantErr(t, "PutIfAbsent on a present key", s.PutIfAbsent(ctx, k, []byte("fourth"), ephLongTTL), store.ErrAlreadyExists)
	ephWaitNotFound(t, "Get of an expired key", func() error {
		_, err := s.Get(ctx, k)
		return err
	})
	ephNoErr(t, "PutIfAbsent after expiry", s.PutIfAbsent(ctx, k, []byte("fifth"), ephLongTTL))
	ephWantValue(t, s, k, []byte("fifth"))
}

func ephPutIfAbsentConcurrent(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("piac")
	var mu sync.Mutex
	var won []int
	var errs []error
	ephRace(ephWorkers, func(i int) {
		err := s.PutIfAbsent(ctx, k, fmt.Appendf(nil, "%d", i), ephLongTTL)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			won = append(won, i)
		case !errors.Is(err, store.ErrAlreadyExists):
			errs = append(errs, err)
		}
	})
	if len(errs) > 0 {
		t.Fatalf("PutIfAbsent: unexpected errors: %v", errs)
	}
	if len(won) != 1 {
		t.Fatalf("%d of %d concurrent PutIfAbsent calls succeeded, want exactly 1", len(won), ephWorkers)
	}
	ephWantValue(t, s, k, fmt.Appendf(nil, "%d", won[0]))
}

func ephTake(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("take")
	_, err := s.Take(ctx, k)
	ephWantErr(t, "Take of an unknown key", err, store.ErrNotFound)

	ephNoErr(t, "Put", s.Put(ctx, k, []byte("once"), ephLongTTL))
	got, err := s.Take(ctx, k)
	ephNoErr(t, "Take", err)
	if string(got) != "once" {
		t.Fatalf("Take = %q, want %q", got, "once")
	}
	_, err = s.Take(ctx, k)
	ephWantErr(t, "second Take", err, store.ErrNotFound)
	_, err = s.Get(ctx, k)
	ephWantErr(t, "Get after Take", err, store.ErrNotFound)
}

func ephTakeConcurrent(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("takec")
	ephNoErr(t, "Put", s.Put(ctx, k, []byte("ceremony"), ephLongTTL))
	var mu sync.Mutex
	var got [][]byte
	var errs []error
	ephRace(ephWorkers, func(int) {
		v, err := s.Take(ctx, k)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			got = append(got, v)
		case !errors.Is(err, store.ErrNotFound):
			errs = append(errs, err)
		}
	})
	if len(errs) > 0 {
		t.Fatalf("Take: unexpected errors: %v", errs)
	}
	if len(got) != 1 {
		t.Fatalf("%d of %d concurrent Take calls got the value, want exactly 1", len(got), ephWorkers)
	}
	if string(got[0]) != "ceremony" {
		t.Fatalf("Take = %q, want %q", got[0], "ceremony")
	}
}

func ephSwap(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("swap")
	ephWantErr(t, "Swap of an unknown key", s.Swap(ctx, k, []byte("a"), []byte("b"), ephLongTTL), store.ErrNotFound)
	_, err := s.Get(ctx, k)
	ephWantErr(t, "Get after failed Swap", err, store.ErrNotFound)

	ephNoErr(t, "Put", s.Put(ctx, k, []byte("a"), ephLongTTL))
	ephWantErr(t, "Swap with a stale prev", s.Swap(ctx, k, []byte("x"), []byte("b"), ephLongTTL), store.ErrConflict)
	ephWantValue(t, s, k, []byte("a"))
	ephWantErr(t, "Swap with a prefix of the value", s.Swap(ctx, k, []byte(""), []byte("b"), ephLongTTL), store.ErrConflict)
	ephWantValue(t, s, k, []byte("a"))

	ephNoErr(t, "Swap", s.Swap(ctx, k, []byte("a"), []byte("b"), ephLongTTL))
	ephWantValue(t, s, k, []byte("b"))
	ephWantErr(t, "Swap with the replaced value", s.Swap(ctx, k, []byte("a"), []byte("c"), ephLongTTL), store.ErrConflict)
	ephWantValue(t, s, k, []byte("b"))
}

func ephSwapTTL(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("swapttl")
	ephNoErr(t, "Put", s.Put(ctx, k, []byte("a"), ephLongTTL))
	ephNoErr(t, "Swap (short ttl)", s.Swap(ctx, k, []byte("a"), []byte("b"), ephShortTTL))
	ephWaitNotFound(t, "Get after the Swap's ttl", func() error {
		_, err := s.Get(ctx, k)
		return err
	})
}

func ephUpdateKVConcurrent(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("update")
	type counter struct {
		N int `json:"n"`
	}
	var mu sync.Mutex
	var errs []error
	ephRace(ephWorkers, func(int) {
		_, err := store.UpdateKV(ctx, s, k, ephLongTTL, func(old []byte) ([]byte, error) {
			var c counter
			if old != nil {
				if err := json.Unmarshal(old, &c); err != nil {
					return nil, err
				}
			}
			c.N++
			return json.Marshal(c)
		})
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	})
	if len(errs) > 0 {
		t.Fatalf("UpdateKV: %v", errs)
	}
	raw, err := s.Get(ctx, k)
	ephNoErr(t, "Get", err)
	var c counter
	ephNoErr(t, "decode counter", json.Unmarshal(raw, &c))
	if c.N != ephWorkers {
		t.Fatalf("counter after %d concurrent UpdateKV increments = %d", ephWorkers, c.N)
	}

	// An error from fn leaves the value alone.
	stop := errors.New("stop")
	_, err = store.UpdateKV(ctx, s, k, ephLongTTL, func([]byte) ([]byte, error) { return nil, stop })
	ephWantErr(t, "UpdateKV with failing fn", err, stop)
	ephWantValue(t, s, k, raw)
}

func ephIncr(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("incr")
	for want := int64(1); want <= 3; want++ {
		n, err := s.Incr(ctx, k, ephLongTTL)
		ephNoErr(t, "Incr", err)
		if n != want {
			t.Fatalf("Incr = %d, want %d", n, want)
		}
	}
	other := ephKey("incr")
	n, err := s.Incr(ctx, other, ephLongTTL)
	ephNoErr(t, "Incr", err)
	if n != 1 {
		t.Fatalf("Incr of a second key = %d, want 1", n)
	}
}

func ephIncrConcurrent(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("incrc")
	const per = 20
	var mu sync.Mutex
	seen := make(map[int64]int)
	var errs []error
	ephRace(ephWorkers, func(int) {
		for range per {
			n, err := s.Incr(ctx, k, ephLongTTL)
			mu.Lock()
			if err != nil {
				errs = append(errs, err)
			} else {
				seen[n]++
			}
			mu.Unlock()
		}
	})
	if len(errs) > 0 {
		t.Fatalf("Incr: %v", errs)
	}
	for n := int64(1); n <= ephWorkers*per; n++ {
		if seen[n] != 1 {
			t.Fatalf("Incr returned %d %d times, want once (each of 1..%d exactly once)", n, seen[n], ephWorkers*per)
		}
	}
	if len(seen) != ephWorkers*per {
		t.Fatalf("Incr returned %d distinct values, want %d", len(seen), ephWorkers*per)
	}
	n, err := s.Incr(ctx, k, ephLongTTL)
	ephNoErr(t, "Incr", err)
	if n != ephWorkers*per+1 {
		t.Fatalf("Incr after %d increments = %d", ephWorkers*per, n)
	}
}

func ephIncrTTL(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	k := ephKey("incrttl")
	n, err := s.Incr(ctx, k, ephShortTTL)
	ephNoErr(t, "Incr", err)
	if n != 1 {
		t.Fatalf("Incr of a new key = %d, want 1", n)
	}
	// A later Incr with a long ttl must not extend the counter's life.
	n, err = s.Incr(ctx, k, ephLongTTL)
	ephNoErr(t, "Incr", err)
	if n != 2 {
		t.Fatalf("second Incr = %d, want 2", n)
	}
	ephWaitNotFound(t, "Get of an expired counter", func() error {
		_, err := s.Get(ctx, k)
		return err
	})
	n, err = s.Incr(ctx, k, ephLongTTL)
	ephNoErr(t, "Incr", err)
	if n != 1 {
		t.Fatalf("Incr after the counter expired = %d, want 1", n)
	}
}

// ephSession returns a session of userID created at created, with a 30
// minute idle and a 12 hour absolute timeout.
func ephSession(userID string, created time.Time) store.Session {
	return store.Session{
		ID:            ephHex(16),
		TokenHash:     ephHex(32),
		UserID:        userID,
		Username:      "user-" + userID,
		DisplayName:   "Ünïcode \"Display\" Name",
		Groups:        []string{"user"},
		AMR:           []string{"pwd", "otp"},
		AuthTime:      created.Add(-time.Second),
		CreatedAt:     created,
		LastSeenAt:    created,
		ExpiresAt:     created.Add(12 * time.Hour),
		IdleExpiresAt: created.Add(30 * time.Minute),
		IP:            "192.0.2.7",
		UserAgent:     "storetest/1.0 (\"quoted\", ünïcode)",
		ClientCert:    ephHex(32),
	}
}

func ephDiffSession(got, want store.Session) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	tm := func(name string, g, w time.Time) {
		if !g.Equal(w) {
			d = append(d, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	str("ID", got.ID, want.ID)
	str("TokenHash", got.TokenHash, want.TokenHash)
	str("UserID", got.UserID, want.UserID)
	str("Username", got.Username, want.Username)
	str("DisplayName", got.DisplayName, want.DisplayName)
	if !slices.Equal(got.Groups, want.Groups) {
		d = append(d, fmt.Sprintf("Groups = %q, want %q", got.Groups, want.Groups))
	}
	if !slices.Equal(got.AMR, want.AMR) {
		d = append(d, fmt.Sprintf("AMR = %q, want %q", got.AMR, want.AMR))
	}
	tm("AuthTime", got.AuthTime, want.AuthTime)
	tm("CreatedAt", got.CreatedAt, want.CreatedAt)
	tm("LastSeenAt", got.LastSeenAt, want.LastSeenAt)
	tm("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	tm("IdleExpiresAt", got.IdleExpiresAt, want.IdleExpiresAt)
	str("IP", got.IP, want.IP)
	str("UserAgent", got.UserAgent, want.UserAgent)
	str("ClientCert", got.ClientCert, want.ClientCert)
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

func ephWantSessions(t *testing.T, s store.Ephemeral, userID string, want ...store.Session) {
	t.Helper()
	got, err := s.ListSessions(context.Background(), userID)
	ephNoErr(t, "ListSessions", err)
	if len(got) != len(want) {
		t.Fatalf("ListSessions returned %d sessions, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if d := ephDiffSession(got[i], want[i]); d != "" {
			t.Fatalf("ListSessions[%d]: %s", i, d)
		}
	}
}

func ephSessionCreateTouch(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	t0 := ephNow()
	sess := ephSession(ephKey("user"), t0)
	sess.ExpiresAt = t0.Add(time.Hour)
	sess.IdleExpiresAt = t0.Add(10 * time.Minute)
	ephNoErr(t, "CreateSession", s.CreateSession(ctx, sess))
	// The store keeps its own copies of the slices.
	sess.AMR[0], sess.Groups[0] = "mutated", "mutated"
	sess.AMR, sess.Groups = []string{"pwd", "otp"}, []string{"user"}
	ephWantSessions(t, s, sess.UserID, sess)

	want := sess
	for _, step := range []time.Duration{1, 5, 14, 23, 32, 41, 50} {
		step *= time.Minute
		now := t0.Add(step)
		got, err := s.TouchSession(ctx, sess.TokenHash, now, 10*time.Minute)
		ephNoErr(t, "TouchSession", err)
		want.LastSeenAt = now
		want.IdleExpiresAt = now.Add(10 * time.Minute)
		if d := ephDiffSession(got, want); d != "" {
			t.Fatalf("TouchSession at t0+%v: %s", step, d)
		}
	}
	// The touches were stored, not only returned.
	ephWantSessions(t, s, sess.UserID, want)

	// Near the absolute timeout the idle expiry stops at ExpiresAt.
	for _, step := range []time.Duration{55 * time.Minute, 59 * time.Minute} {
		now := t0.Add(step)
		got, err := s.TouchSession(ctx, sess.TokenHash, now, 10*time.Minute)
		ephNoErr(t, "TouchSession", err)
		want.LastSeenAt = now
		want.IdleExpiresAt = sess.ExpiresAt
		if d := ephDiffSession(got, want); d != "" {
			t.Fatalf("TouchSession at t0+%v: %s", step, d)
		}
	}
	ephWantSessions(t, s, sess.UserID, want)
}

func ephSessionTouchUnknown(t *testing.T, s store.Ephemeral) {
	_, err := s.TouchSession(context.Background(), ephHex(32), time.Now(), time.Minute)
	ephWantErr(t, "TouchSession of an unknown token", err, store.ErrNotFound)
}

func ephSessionIdleExpiry(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	t0 := ephNow()
	user := ephKey("user")

	a := ephSession(user, t0)
	a.IdleExpiresAt = t0.Add(10 * time.Minute)
	ephNoErr(t, "CreateSession", s.CreateSession(ctx, a))
	_, err := s.TouchSession(ctx, a.TokenHash, t0.Add(10*time.Minute), 10*time.Minute)
	ephWantErr(t, "TouchSession at the idle expiry", err, store.ErrNotFound)

	b := ephSession(user, t0)
	b.IdleExpiresAt = t0.Add(10 * time.Minute)
	ephNoErr(t, "CreateSession", s.CreateSession(ctx, b))
	_, err = s.TouchSession(ctx, b.TokenHash, t0.Add(25*time.Minute), 30*time.Minute)
	ephWantErr(t, "TouchSession after the idle expiry", err, store.ErrNotFound)

	c := ephSession(user, t0)
	c.IdleExpiresAt = t0.Add(10 * time.Minute)
	ephNoErr(t, "CreateSession", s.CreateSession(ctx, c))
	_, err = s.TouchSession(ctx, c.TokenHash, t0.Add(10*time.Minute-time.Millisecond), 10*time.Minute)
	ephNoErr(t, "TouchSession just before the idle expiry", err)
}

func ephSessionIdleExpiryRealTime(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	t0 := ephNow()
	user := ephKey("user")
	live := ephSession(user, t0)
	ephNoErr(t, "CreateSession", s.CreateSession(ctx, live))
	idle := ephSession(user, t0)
	idle.IdleExpiresAt = t0.Add(ephShortTTL)
	ephNoErr(t, "CreateSession", s.CreateSession(ctx, idle))

	time.Sleep(time.Until(idle.IdleExpiresAt) + 100*time.Millisecond)
	_, err := s.TouchSession(ctx, idle.TokenHash, time.Now(), time.Hour)
	ephWantErr(t, "TouchSession after the idle timeout passed", err, store.ErrNotFound)
	ephWantSessions(t, s, user, live)
}

func ephSessionAbsoluteExpiry(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	t0 := ephNow()
	sess := ephSession(ephKey("user"), t0)
	sess.ExpiresAt = t0.Add(30 * time.Minute)
	sess.IdleExpiresAt = t0.Add(10 * time.Minute)
	ephNoErr(t, "CreateSession", s.CreateSession(ctx, sess))

	// Activity keeps extending the idle expiry, never past ExpiresAt.
	for _, step := range []time.Duration{9, 18, 27, 29} {
		now := t0.Add(step * time.Minute)
		got, err := s.TouchSession(ctx, sess.TokenHash, now, 10*time.Minute)
		ephNoErr(t, fmt.Sprintf("TouchSession at t0+%dm", step), err)
		want := now.Add(10 * time.Minute)
		if want.After(sess.ExpiresAt) {
			want = sess.ExpiresAt
		}
		if !got.IdleExpiresAt.Equal(want) {
			t.Fatalf("TouchSession at t0+%dm: IdleExpiresAt = %v, want %v", step, got.IdleExpiresAt, want)
		}
		if got.IdleExpiresAt.After(sess.ExpiresAt) {
			t.Fatalf("IdleExpiresAt %v is after ExpiresAt %v", got.IdleExpiresAt, sess.ExpiresAt)
		}
	}
	_, err := s.TouchSession(ctx, sess.TokenHash, sess.ExpiresAt, 10*time.Minute)
	ephWantErr(t, "TouchSession at the absolute expiry", err, store.ErrNotFound)
}

func ephSessionAbsoluteExpiryRealTime(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	t0 := ephNow()
	user := ephKey("user")
	sess := ephSession(user, t0)
	sess.ExpiresAt = t0.Add(ephShortTTL)
	sess.IdleExpiresAt = sess.ExpiresAt
	ephNoErr(t, "CreateSession", s.CreateSession(ctx, sess))

	time.Sleep(time.Until(sess.ExpiresAt) + 100*time.Millisecond)
	_, err := s.TouchSession(ctx, sess.TokenHash, time.Now(), time.Hour)
	ephWantErr(t, "TouchSession after the absolute timeout passed", err, store.ErrNotFound)
	ephWantSessions(t, s, user)
}

func ephSessionList(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	t0 := ephNow()
	userA, userB := ephKey("user"), ephKey("user")

	a1 := ephSession(userA, t0.Add(-3*time.Minute))
	a2 := ephSession(userA, t0.Add(-2*time.Minute))
	a2.AMR = []string{"pwd", "hwk", "user"}
	a2.Groups = []string{"admin", "user"}
	a2.IP = "2001:db8::1"
	a3 := ephSession(userA, t0.Add(-time.Minute))
	a3.AMR = nil
	a3.Groups = nil
	a3.Username, a3.DisplayName = "", ""
	a3.IP, a3.UserAgent = "", ""
	a3.AuthTime = time.Time{}
	expired := ephSession(userA, t0)
	expired.IdleExpiresAt = t0.Add(ephShortTTL)
	b1 := ephSession(userB, t0.Add(-4*time.Minute))
	for _, sess := range []store.Session{a2, expired, b1, a3, a1} {
		ephNoErr(t, "CreateSession", s.CreateSession(ctx, sess))
	}

	ephWantSessions(t, s, ephKey("user"))
	ephWantSessions(t, s, userB, b1)
	got, err := s.ListSessions(ctx, userB)
	ephNoErr(t, "ListSessions", err)
	got[0].AMR[0], got[0].Groups[0] = "mutated", "mutated"
	ephWantSessions(t, s, userB, b1)
	time.Sleep(time.Until(expired.IdleExpiresAt) + 100*time.Millisecond)
	ephWantSessions(t, s, userA, a1, a2, a3)
	// Listing twice (after any pruning) gives the same answer.
	ephWantSessions(t, s, userA, a1, a2, a3)
}

func ephSessionDelete(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	t0 := ephNow()
	user := ephKey("user")
	a := ephSession(user, t0.Add(-time.Minute))
	b := ephSession(user, t0)
	ephNoErr(t, "CreateSession", s.CreateSession(ctx, a))
	ephNoErr(t, "CreateSession", s.CreateSession(ctx, b))

	ephNoErr(t, "DeleteSession", s.DeleteSession(ctx, a.TokenHash))
	_, err := s.TouchSession(ctx, a.TokenHash, t0, time.Minute)
	ephWantErr(t, "TouchSession of a deleted session", err, store.ErrNotFound)
	ephWantSessions(t, s, user, b)
	_, err = s.TouchSession(ctx, b.TokenHash, t0, time.Minute)
	ephNoErr(t, "TouchSession of the other session", err)

	ephNoErr(t, "DeleteSession of a deleted session", s.DeleteSession(ctx, a.TokenHash))
	ephNoErr(t, "DeleteSession of an unknown session", s.DeleteSession(ctx, ephHex(32)))
}

func ephDeleteUserSessions(t *testing.T, s store.Ephemeral) {
	ctx := context.Background()
	t0 := ephNow()
	userA, userB := ephKey("user"), ephKey("user")
	a1 := ephSession(userA, t0.Add(-3*time.Minute))
	a2 := ephSession(userA, t0.Add(-2*time.Minute))
	a3 := ephSession(userA, t0.Add(-time.Minute))
	expired := ephSession(userA, t0)
	expired.IdleExpiresAt = t0.Add(ephShortTTL)
	b1 := ephSession(userB, t0)
	for _, sess := range []store.Session{a1, a2, a3, expired, b1} {
		ephNoErr(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	time.Sleep(time.Until(expired.IdleExpiresAt) + 100*time.Millisecond)

	n, err := s.DeleteUserSessions(ctx, userA, a2.TokenHash)
	ephNoErr(t, "DeleteUserSessions", err)
	if n != 2 {
		t.Fatalf("DeleteUserSessions keeping one of 3 live sessions ended %d, want 2", n)
	}
	ephWantSessions(t, s, userA, a2)
	for _, gone := range []store.Session{a1, a3} {
		_, err := s.TouchSession(ctx, gone.TokenHash, t0, time.Minute)
		ephWantErr(t, "TouchSession of an ended session", err, store.ErrNotFound)
	}
	_, err = s.TouchSession(ctx, a2.TokenHash, t0, time.Minute)
	ephNoErr(t, "TouchSession of the kept session", err)
	ephWantSessions(t, s, userB, b1)

	n, err = s.DeleteUserSessions(ctx, userA, "")
	ephNoErr(t, "DeleteUserSessions", err)
	if n != 1 {
		t.Fatalf("DeleteUserSessions of all ended %d, want 1", n)
	}
	ephWantSessions(t, s, userA)
	n, err = s.DeleteUserSessions(ctx, userA, "")
	ephNoErr(t, "DeleteUserSessions", err)
	if n != 0 {
		t.Fatalf("DeleteUserSessions with nothing left ended %d, want 0", n)
	}
	ephWantSessions(t, s, userB, b1)
}
