package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"mutualauth/store"
	"mutualauth/store/redis/redistest"
)

func TestDecodeStringsMatchesJSON(t *testing.T) {
	for _, a := range []string{
		`[]`, `[""]`, `["user"]`, `["pwd","otp"]`, `["a",""]`, `["","b"]`,
		`["ünïcode","日本"]`, `["a\"b"]`, `["a\\b"]`, `["\u003cx\u003e"]`, `["a", "b"]`,
		`[ "a" ]`, `["a","b\",\"c"]`, `["x","y","z","w"]`,
	} {
		var want []string
		if err := json.Unmarshal([]byte(a), &want); err != nil {
			t.Fatalf("json.Unmarshal(%s): %v", a, err)
		}
		got, err := decodeStrings(a)
		if err != nil {
			t.Errorf("decodeStrings(%s): %v", a, err)
			continue
		}
		if !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("decodeStrings(%s) = %q, want %q", a, got, want)
		}
	}
	// What encodeSession writes comes back unchanged.
	for _, list := range [][]string{{}, {"pwd", "otp"}, {`"quoted"`, `back\slash`, "<html>", "tab\t"}} {
		b, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeStrings(string(b))
		if err != nil || !slices.Equal(got, list) {
			t.Errorf("round trip of %q through %s = %q, %v", list, b, got, err)
		}
	}
	for _, bad := range []string{`[`, `["a"`, `[1,2]`, `{"a":1}`, `["a",]`} {
		if _, err := decodeStrings(bad); err == nil {
			t.Errorf("decodeStrings(%s): no error", bad)
		}
	}
}

// TestTouchWithinSlack: a touch less than touchEvery after the stored seen
// field reads the session without writing, still checks it, and a later
// touch writes again.
func TestTouchWithinSlack(t *testing.T) {
	ctx := context.Background()
	url := redistest.URL(t)
	s := newTestStore(t, url)
	t.Cleanup(func() { _ = s.Close() })
	raw := rawClient(t, url)

	idle := 10 * time.Minute
	every := time.Duration(touchEvery(idle)) * time.Millisecond
	if every != 20*time.Second {
		t.Fatalf("touchEvery(%v) = %v, want 20s", idle, every)
	}
	t0 := time.UnixMilli(time.Now().UnixMilli())
	sess := store.Session{
		ID: "sid", TokenHash: "abcd", UserID: "u", Username: "alice", AMR: []string{"pwd", "otp"},
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour), IdleExpiresAt: t0.Add(idle),
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	seen := func() int64 {
		t.Helper()
		v, err := raw.HGet(ctx, s.sessionKey("abcd"), fSeen).Result()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}

	t1 := t0.Add(every + time.Second)
	got, err := s.TouchSession(ctx, "abcd", t1, idle)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastSeenAt.Equal(t1) || seen() != t1.UnixMilli() {
		t.Fatalf("first touch: LastSeenAt %v, stored %d, want %v written", got.LastSeenAt, seen(), t1)
	}

	t2 := t1.Add(every - time.Second)
	got, err = s.TouchSession(ctx, "abcd", t2, idle)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastSeenAt.Equal(t1) || !got.IdleExpiresAt.Equal(t1.Add(idle)) || seen() != t1.UnixMilli() {
		t.Fatalf("touch within the slack: LastSeenAt %v idle %v, stored seen %d; want the stored %v unchanged",
			got.LastSeenAt, got.IdleExpiresAt, seen(), t1)
	}
	if got.Username != "alice" || !slices.Equal(got.AMR, sess.AMR) {
		t.Fatalf("touch within the slack returned %+v", got)
	}

	// A longer idle timeout than the one stored is not within the slack.
	got, err = s.TouchSession(ctx, "abcd", t2, 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !got.IdleExpiresAt.Equal(t2.Add(20 * time.Minute)) {
		t.Fatalf("touch with a longer idle timeout: idle %v, want %v", got.IdleExpiresAt, t2.Add(20*time.Minute))
	}

	t3 := t2.Add(time.Duration(touchEvery(20*time.Minute)) * time.Millisecond)
	got, err = s.TouchSession(ctx, "abcd", t3, 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastSeenAt.Equal(t3) || seen() != t3.UnixMilli() {
		t.Fatalf("touch after the slack: LastSeenAt %v, stored %d, want %v written", got.LastSeenAt, seen(), t3)
	}

	// Within the slack, a session deleted behind the store's back is gone.
	if err := raw.Del(ctx, s.sessionKey("abcd")).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = s.TouchSession(ctx, "abcd", t3.Add(10*time.Millisecond), 20*time.Minute)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch of a deleted session within the slack: %v, want ErrNotFound", err)
	}
}

func TestTouchEveryBounds(t *testing.T) {
	for _, c := range []struct{ idle, want time.Duration }{
		{time.Second, time.Second}, {10 * time.Second, time.Second}, {time.Minute, 2 * time.Second}, {30 * time.Minute, time.Minute},
		{5 * time.Minute, 10 * time.Second}, {24 * time.Hour, time.Minute},
	} {
		if got := time.Duration(touchEvery(c.idle)) * time.Millisecond; got != c.want {
			t.Errorf("touchEvery(%v) = %v, want %v", c.idle, got, c.want)
		}
	}
}

// TestTouchWithinSlackExpiry: the absolute expiry holds to the millisecond
// even within the slack.
func TestTouchWithinSlackExpiry(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, redistest.URL(t))
	t.Cleanup(func() { _ = s.Close() })

	t0 := time.UnixMilli(time.Now().UnixMilli())
	sess := store.Session{
		ID: "sid", TokenHash: "ef01", UserID: "u",
		CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(5 * time.Minute), IdleExpiresAt: t0.Add(5 * time.Minute),
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	before := sess.ExpiresAt.Add(-300 * time.Millisecond)
	if _, err := s.TouchSession(ctx, "ef01", before, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err := s.TouchSession(ctx, "ef01", sess.ExpiresAt, 10*time.Minute)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("touch at the absolute expiry, 300 ms after a write: %v, want ErrNotFound", err)
	}
}

// TestTouchWithinSlackRedisDown: the lookup fails closed
// (ErrUnavailable) while Redis is down and works again once it is back.
func TestTouchWithinSlackRedisDown(t *testing.T) {
	srv := redistest.StartT(t)
	ctx := context.Background()
	s, err := Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	now := time.Now()
	sess := store.Session{
		ID: "sid", TokenHash: "beef", UserID: "u",
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour),
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TouchSession(ctx, "beef", now, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TouchSession(ctx, "beef", now.Add(time.Millisecond), time.Hour); err != nil {
		t.Fatalf("lookup within the slack: %v", err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// The cache may answer until it sees its connections close, for at
	// most 3 s.
	down := time.Now()
	for {
		opCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err = s.TouchSession(opCtx, "beef", now.Add(2*time.Millisecond), time.Hour)
		cancel()
		if errors.Is(err, store.ErrUnavailable) {
			break
		}
		if err != nil || time.Since(down) > 3*time.Second {
			t.Fatalf("lookup within the slack with Redis down for %v: %v, want ErrUnavailable", time.Since(down), err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The restarted Redis kept nothing (no persistence): the session is gone.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = s.TouchSession(ctx, "beef", now.Add(3*time.Millisecond), time.Hour)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("lookup after Redis came back: %v, want ErrNotFound", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
