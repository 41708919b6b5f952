package sqlstore

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"mutualauth/store"
)

// TestSQLiteReusesPreparedStatements: reads on the pool go through one
// cached statement per query, transactions do not add to the cache, and
// the answers are the same as without it.
func TestSQLiteReusesPreparedStatements(t *testing.T) {
	s := newSQLiteStore(t)
	ctx := testCtx(t)
	now := time.Now().UTC().Truncate(time.Second)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Username: "ada", DisplayName: "Ada", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	cached := func() int {
		s.stmts.mu.RLock()
		defer s.stmts.mu.RUnlock()
		return len(s.stmts.m)
	}
	before := cached()
	for range 3 {
		u, err := s.GetUserByUsername(ctx, "ada")
		if err != nil || u.ID != "u1" {
			t.Fatalf("GetUserByUsername: %+v %v", u, err)
		}
		if _, err := s.GetUserByUsername(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	}
	if got := cached(); got != before+1 {
		t.Errorf("%d statements cached after one query run six times, want %d", got, before+1)
	}
	inTx := cached()
	if _, err := s.UpdateUser(ctx, "u1", func(u *store.User) error { u.DisplayName = "Ada L."; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := cached(); got != inTx {
		t.Errorf("a transaction cached %d statements", got-inTx)
	}
	if u, err := s.GetUserByUsername(ctx, "ada"); err != nil || u.DisplayName != "Ada L." {
		t.Errorf("after the update: %+v %v", u, err)
	}
}

// TestStatementCacheBound: past stmtCacheSize queries run unprepared
// instead of growing the cache.
func TestStatementCacheBound(t *testing.T) {
	s := newSQLiteStore(t)
	ctx := testCtx(t)
	for i := range stmtCacheSize + 10 {
		var n int
		if err := s.queryRow(ctx, s.db, "SELECT "+strconv.Itoa(i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d: %d %v", i, n, err)
		}
	}
	if got := len(s.stmts.m); got > stmtCacheSize {
		t.Errorf("%d statements cached, bound %d", got, stmtCacheSize)
	}
}
