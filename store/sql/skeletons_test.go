package sqlstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"mutualauth/store"
)

func TestSQLiteSkeletonBackfill(t *testing.T) {
	dir := t.TempDir()
	testSkeletonBackfill(t, func(t *testing.T) *Store {
		s, err := Open(testCtx(t), "", dir)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestPostgresSkeletonBackfill(t *testing.T) {
	u := postgresSchemaURL(t)
	testSkeletonBackfill(t, func(t *testing.T) *Store {
		s, err := Open(testCtx(t), u, "")
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// lockedBuffer is a log destination that Open may write from any goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// openLogged opens the store with the default logger writing JSON to a
// buffer, and returns the store and what was logged.
func openLogged(t *testing.T, open func(t *testing.T) *Store) (*Store, string) {
	t.Helper()
	var buf lockedBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	return open(t), buf.String()
}

// skeletonWarning returns the count of the look-alike warning in log, or
// 0 when there is none.
func skeletonWarning(t *testing.T, log string) int {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var rec struct {
			Level string
			Msg   string
			Count int
		}
		if line == "" || json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec.Level == "WARN" && strings.Contains(rec.Msg, "look") {
			return rec.Count
		}
	}
	return 0
}

// skeletonOf reads the stored skeleton of a user ("" for NULL).
func skeletonOf(t *testing.T, s *Store, id string) string {
	t.Helper()
	var v *string
	if err := s.queryRow(testCtx(t), s.db, "SELECT username_skeleton FROM users WHERE id = ?", id).Scan(&v); err != nil {
		t.Fatalf("skeleton of %s: %v", id, err)
	}
	if v == nil {
		return ""
	}
	return *v
}

// testSkeletonBackfill takes a database back to before migration 0005,
// writes look-alike users into it, and checks what the next Open makes of
// them. open opens the same database at each call.
func testSkeletonBackfill(t *testing.T, open func(t *testing.T) *Store) {
	ctx := testCtx(t)
	s := open(t)
	for _, q := range []string{
		"DROP INDEX users_username_skeleton_key",
		"ALTER TABLE users DROP COLUMN username_skeleton",
		"DELETE FROM schema_migrations WHERE version >= 5",
	} {
		if _, err := s.exec(ctx, s.db, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t0 := now().Add(-time.Hour)
	insert := func(s *Store, id, username string, age time.Duration) {
		t.Helper()
		if _, err := s.exec(ctx, s.db, "INSERT INTO users (id, username, role, created_at, updated_at) VALUES (?, ?, 'user', ?, ?)",
			id, username, s.d.timeArg(t0.Add(age)), s.d.timeArg(t0.Add(age))); err != nil {
			t.Fatalf("insert %s: %v", username, err)
		}
	}
	// Inserted newest first, so that the backfill's order is by age.
	insert(s, "plain", "plain", 4*time.Second)
	insert(s, "mixed", "c\u043epe", 3*time.Second) // Latin c, p, e with Cyrillic о
	insert(s, "cyrillic", "\u0441\u043e\u0440\u0435", 2*time.Second)
	insert(s, "latin", "cope", time.Second)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, log := openLogged(t, open)
	if got := skeletonWarning(t, log); got != 2 {
		t.Errorf("warning count = %d, want 2; log:\n%s", got, log)
	}
	for _, name := range []string{"cope", "\u0441\u043e\u0440\u0435", "c\u043epe"} {
		if strings.Contains(log, name) {
			t.Errorf("the log names the username %q:\n%s", name, log)
		}
	}
	for id, want := range map[string]string{"latin": "cope", "cyrillic": "", "mixed": "", "plain": store.Skeleton("plain")} {
		if got := skeletonOf(t, s, id); got != want {
			t.Errorf("skeleton of %s = %q, want %q", id, got, want)
		}
	}
	// The oldest holds the skeleton for the whole group.
	lookAlike := store.User{ID: "new", Username: "\u0441ope", Role: store.RoleUser}
	if err := s.CreateUser(ctx, lookAlike); !errors.Is(err, store.ErrLookAlike) {
		t.Errorf("CreateUser of a look-alike after the backfill: %v, want ErrLookAlike", err)
	}
	exact := store.User{ID: "again", Username: "\u0441\u043e\u0440\u0435", Role: store.RoleUser}
	if err := s.CreateUser(ctx, exact); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("CreateUser of a username without a skeleton: %v, want ErrAlreadyExists", err)
	}

	// A user that holds a skeleton keeps it against an older row without
	// one, and a deleted holder's skeleton goes to the oldest of the rest.
	if err := s.CreateUser(ctx, store.User{ID: "mike", Username: "mike", Role: store.RoleUser}); err != nil {
		t.Fatal(err)
	}
	insert(s, "rnike", "rnike", -time.Hour)
	if err := s.DeleteUser(ctx, "latin"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, log = openLogged(t, open)
	defer s.Close()
	if got := skeletonWarning(t, log); got != 2 {
		t.Errorf("second open: warning count = %d, want 2 (mixed, rnike); log:\n%s", got, log)
	}
	for id, want := range map[string]string{"cyrillic": "cope", "mixed": "", "mike": "rnike", "rnike": ""} {
		if got := skeletonOf(t, s, id); got != want {
			t.Errorf("second open: skeleton of %s = %q, want %q", id, got, want)
		}
	}

	// Without rows to fill there is no warning.
	for _, id := range []string{"mixed", "rnike"} {
		if err := s.DeleteUser(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	s2, log := openLogged(t, open)
	defer s2.Close()
	if got := skeletonWarning(t, log); got != 0 {
		t.Errorf("third open: warning count = %d, want none; log:\n%s", got, log)
	}
}
