package sqlstore

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"mutualauth/store"
	"mutualauth/store/storetest"
)

func newSQLiteStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(testCtx(t), "", t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T) store.Durable { return newSQLiteStore(t) })
}

func TestSQLiteBackend(t *testing.T) {
	runBackendTests(t, newSQLiteStore)
}

func TestSQLiteReopenKeepsDataAndSchema(t *testing.T) {
	ctx := testCtx(t)
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s, err := Open(ctx, "", dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	u := store.User{ID: "u1", Username: "alice", Role: store.RoleAdmin, CreatedAt: now(), UpdatedAt: now()}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode %o, want 700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Errorf("database file: %v", err)
	}

	s, err = Open(ctx, "", dir)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer s.Close()
	got, err := s.GetUserByUsername(ctx, "alice")
	if err != nil || got.ID != "u1" {
		t.Errorf("after reopening: %+v, %v", got, err)
	}
	list, _ := s.d.migrations()
	var n int
	if err := s.queryRow(ctx, s.db, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != len(list) {
		t.Errorf("schema_migrations rows = %d, %v; want %d", n, err, len(list))
	}
}

func TestSQLiteConcurrentOpen(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(ctx, "", dir)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	list, _ := stores[0].d.migrations()
	var rows int
	if err := stores[0].queryRow(ctx, stores[0].db, "SELECT COUNT(*) FROM schema_migrations").Scan(&rows); err != nil || rows != len(list) {
		t.Errorf("schema_migrations rows = %d, %v; want %d", rows, err, len(list))
	}
}

func TestSQLiteConnectionSettings(t *testing.T) {
	s := newSQLiteStore(t)
	defer s.Close()
	ctx := testCtx(t)
	var mode string
	var fk, busy int
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy < 5000 {
		t.Errorf("busy_timeout = %d, %v; want at least 5000", busy, err)
	}
}

func TestSQLiteURLForms(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	for _, u := range []string{
		"sqlite://" + filepath.Join(dir, "a.db"),
		"file:" + filepath.Join(dir, "b.db"),
		"file:" + filepath.Join(dir, "c.db") + "?cache=private",
	} {
		s, err := Open(ctx, u, "")
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		if s.Dialect() != "sqlite" {
			t.Errorf("Open(%q): dialect %s", u, s.Dialect())
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping %q: %v", u, err)
		}
		s.Close()
	}
	for _, name := range []string{"a.db", "b.db", "c.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{"mysql://x", "sqlite://", "redis://localhost"} {
		if s, err := Open(ctx, bad, dir); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if s, err := Open(ctx, "", ""); err == nil {
		s.Close()
		t.Error("Open without URL or data dir succeeded")
	}
}

func TestSQLiteUnusableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(testCtx(t), "", file)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open in a file: %v, want ErrUnavailable", err)
	}
}
