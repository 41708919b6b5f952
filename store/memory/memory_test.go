package memory

import (
	"context"
	"testing"
	"time"

	"mutualauth/store"
	"mutualauth/store/storetest"
)

func TestEphemeral(t *testing.T) {
	storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral { return New() })
}

func TestSweepDropsExpiredEntries(t *testing.T) {
	ctx := context.Background()
	s := New()
	if err := s.Put(ctx, "old", []byte("v"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	sess := store.Session{TokenHash: "h", UserID: "u", ExpiresAt: time.Now().Add(time.Millisecond), IdleExpiresAt: time.Now().Add(time.Millisecond)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)

	s.mu.Lock()
	s.lastSweep = time.Now().Add(-sweepInterval)
	s.mu.Unlock()
	if err := s.Put(ctx, "new", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.kv["old"]; ok {
		t.Error("expired key still held after a sweep")
	}
	if _, ok := s.sessions["h"]; ok {
		t.Error("expired session still held after a sweep")
	}
	if _, ok := s.byUser["u"]; ok {
		t.Error("index of a user without sessions still held after a sweep")
	}
	if _, ok := s.kv["new"]; !ok {
		t.Error("live key dropped by the sweep")
	}
}
