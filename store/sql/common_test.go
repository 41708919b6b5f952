package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"mutualauth/store"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// runBackendTests holds the checks beyond the conformance suite that both
// dialects must pass. newStore returns a fresh, empty store.
func runBackendTests(t *testing.T, newStore func(t *testing.T) *Store) {
	t.Run("FreshStoreHasNoAdmin", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		ok, err := s.HasAdmin(testCtx(t))
		if err != nil || ok {
			t.Fatalf("HasAdmin on a fresh store = %v, %v; want false", ok, err)
		}
	})

	t.Run("MigrationsRecordedOnce", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		ctx := testCtx(t)
		list, err := s.d.migrations()
		if err != nil {
			t.Fatal(err)
		}
		// Running the migrations again applies nothing.
		if err := s.migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		var n int
		if err := s.queryRow(ctx, s.db, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(list) {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(list))
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil || v != list[len(list)-1].version {
			t.Errorf("SchemaVersion = %d, %v; want %d", v, err, list[len(list)-1].version)
		}
	})

	t.Run("PageLimitsCapped", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		ctx := testCtx(t)
		const n = 510
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			for i := range n {
				id := "cap-" + string(rune('a'+i/26/26)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
				if _, err := s.exec(ctx, tx, "INSERT INTO users (id, username, role, created_at, updated_at) VALUES (?, ?, 'user', ?, ?)",
					id, id, s.d.timeArg(now()), s.d.timeArg(now())); err != nil {
					return err
				}
				if _, err := s.exec(ctx, tx, "INSERT INTO audit_events (occurred_at, actor, action) VALUES (?, 'cap', 'x')", s.d.timeArg(now())); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		users, total, err := s.ListUsers(ctx, store.UserQuery{Limit: 10000})
		if err != nil || total != n || len(users) != 500 {
			t.Errorf("ListUsers Limit 10000: %d users, total %d, %v; want 500 of %d", len(users), total, err, n)
		}
		events, err := s.ListAudit(ctx, store.AuditQuery{Actor: "cap", Limit: 10000})
		if err != nil || len(events) != 500 {
			t.Errorf("ListAudit Limit 10000: %d events, %v; want 500", len(events), err)
		}
		users, total, err = s.ListUsers(ctx, store.UserQuery{Offset: -5, Limit: 3})
		if err != nil || total != n || len(users) != 3 || users[0].Username != "cap-aaa" {
			t.Errorf("ListUsers negative offset: %v, total %d, %v", users, total, err)
		}
	})

	t.Run("ClosedStoreUnavailable", func(t *testing.T) {
		s := newStore(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Ping after Close: %v, want ErrUnavailable", err)
		}
		if _, err := s.GetUser(ctx, "x"); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("GetUser after Close: %v, want ErrUnavailable", err)
		}
		if err := s.AcceptTOTPStep(ctx, "x", 1); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("AcceptTOTPStep after Close: %v, want ErrUnavailable", err)
		}
	})

	t.Run("DeadlineIsUnavailable", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err := s.GetUser(ctx, "x")
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GetUser past its deadline: %v; want ErrUnavailable and DeadlineExceeded", err)
		}
	})
}
