package redisstore

import (
	"context"
	"runtime"
	"testing"
	"time"

	"mutualauth/store"
	"mutualauth/store/redis/redistest"
)

// benchSession stores a session like the ones the server creates at login
// and returns its token hash.
func benchSession(b *testing.B, s *Store) string {
	b.Helper()
	now := time.Now()
	sess := store.Session{
		ID: "0123456789abcdef", TokenHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		UserID: "5f2b0c6e9a1d4e7f8a3b2c1d0e9f8a7b", Username: "alice", DisplayName: "Alice Example",
		Groups: []string{"user"}, AMR: []string{"pwd", "otp"},
		AuthTime: now, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(12 * time.Hour), IdleExpiresAt: now.Add(30 * time.Minute),
		IP: "127.0.0.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
	}
	if err := s.CreateSession(context.Background(), sess); err != nil {
		b.Fatal(err)
	}
	return sess.TokenHash
}

func newBenchStore(b *testing.B) *Store {
	b.Helper()
	cfg, err := parseURL(redistest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	s := NewFromClient(cfg.newClient(), redistest.NewPrefix())
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkTouchSession is the session lookup of every authenticated
// request and of GET /auth/verify: one call, one Redis round trip.
func BenchmarkTouchSession(b *testing.B) {
	s := newBenchStore(b)
	h := benchSession(b, s)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.TouchSession(ctx, h, time.Now(), 30*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTouchSessionParallel is the same at 32 concurrent callers on
// one session, as in the /auth/verify load benchmark.
func BenchmarkTouchSessionParallel(b *testing.B) {
	s := newBenchStore(b)
	h := benchSession(b, s)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.TouchSession(ctx, h, time.Now(), 30*time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDecodeSession is the Go side of a lookup: the reply turned into
// a store.Session.
func BenchmarkDecodeSession(b *testing.B) {
	s := newBenchStore(b)
	h := benchSession(b, s)
	vals, err := touchScript.Run(context.Background(), s.c, []string{s.sessionKey(h)}, time.Now().UnixMilli(), ms(30*time.Minute)).StringSlice()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m := make(map[string]string, len(vals)/2)
		for i := 0; i < len(vals); i += 2 {
			m[vals[i]] = vals[i+1]
		}
		if _, err := decodeSession(h, m); err != nil {
			b.Fatal(err)
		}
	}
}
