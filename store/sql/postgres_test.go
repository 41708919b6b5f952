package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"mutualauth/internal/testenv"
	"mutualauth/store"
	"mutualauth/store/storetest"
)

// postgresSchemaURL creates an empty schema, dropped when the test ends,
// and returns the database URL with search_path set to it.
func postgresSchemaURL(t *testing.T) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "storetest_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(testCtx(t), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func newPostgresStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(testCtx(t), postgresSchemaURL(t), "")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestPostgresConformance(t *testing.T) {
	testenv.PostgresURL(t)
	storetest.RunDurable(t, func(t *testing.T) store.Durable { return newPostgresStore(t) })
}

func TestPostgresBackend(t *testing.T) {
	testenv.PostgresURL(t)
	runBackendTests(t, newPostgresStore)
}

func TestPostgresReopen(t *testing.T) {
	ctx := testCtx(t)
	u := postgresSchemaURL(t)
	s, err := Open(ctx, u, "")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if s.Dialect() != "postgres" {
		t.Errorf("dialect %s", s.Dialect())
	}
	if err := s.CreateUser(ctx, store.User{ID: "u1", Username: "alice", Role: store.RoleUser, CreatedAt: now(), UpdatedAt: now()}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, u, "")
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer s.Close()
	if got, err := s.GetUser(ctx, "u1"); err != nil || got.Username != "alice" {
		t.Errorf("after reopening: %+v, %v", got, err)
	}
}

// TestPostgresConcurrentOpen starts several stores on one empty schema at
// once: the advisory lock must let exactly one apply each migration.
func TestPostgresConcurrentOpen(t *testing.T) {
	ctx := testCtx(t)
	u := postgresSchemaURL(t)
	const n = 6
	stores := make([]*Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = Open(ctx, u, "")
		}()
	}
	close(start)
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
	list, _ := postgresDialect.migrations()
	var rows int
	if err := stores[0].queryRow(ctx, stores[0].db, "SELECT COUNT(*) FROM schema_migrations").Scan(&rows); err != nil || rows != len(list) {
		t.Errorf("schema_migrations rows = %d, %v; want %d", rows, err, len(list))
	}
}

// TestOpenUnreachablePostgres needs no server: nothing listens on port 1.
func TestOpenUnreachablePostgres(t *testing.T) {
	const password = "s3cret-Pa55word"
	for _, u := range []string{
		"postgres://mutualauth:" + password + "@127.0.0.1:1/mutualauth?sslmode=disable&connect_timeout=5",
		"postgresql://mutualauth@127.0.0.1:1/mutualauth?sslmode=disable&connect_timeout=5&password=" + password,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := Open(ctx, u, "")
		cancel()
		if err == nil {
			t.Fatal("Open of an unreachable server succeeded")
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("error %v does not wrap store.ErrUnavailable", err)
		}
		msg := err.Error()
		t.Logf("Open error: %s", msg)
		if strings.Contains(msg, password) {
			t.Errorf("error text reveals the password: %s", msg)
		}
		if !strings.Contains(msg, "postgres") || !strings.Contains(msg, "127.0.0.1:1") {
			t.Errorf("error text does not name the database: %s", msg)
		}
	}
}
