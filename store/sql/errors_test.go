package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"mutualauth/store"
)

func TestClassify(t *testing.T) {
	plain := errors.New("syntax error")
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"no rows", sql.ErrNoRows, store.ErrNotFound},
		{"pg unique", &pgconn.PgError{Code: "23505"}, store.ErrAlreadyExists},
		{"pg foreign key", &pgconn.PgError{Code: "23503"}, store.ErrNotFound},
		{"pg connection failure", &pgconn.PgError{Code: "08006"}, store.ErrUnavailable},
		{"pg too many connections", &pgconn.PgError{Code: "53300"}, store.ErrUnavailable},
		{"pg shutdown", &pgconn.PgError{Code: "57P01"}, store.ErrUnavailable},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, store.ErrUnavailable},
		{"bad conn", fmt.Errorf("query: %w", driver.ErrBadConn), store.ErrUnavailable},
		{"conn done", sql.ErrConnDone, store.ErrUnavailable},
		{"deadline", context.DeadlineExceeded, store.ErrUnavailable},
	}
	for _, c := range cases {
		got := classify(c.err)
		if !errors.Is(got, c.want) {
			t.Errorf("%s: classify = %v, want %v", c.name, got, c.want)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("%s: classify dropped the original error", c.name)
		}
	}

	if got := classify(plain); got != plain {
		t.Errorf("unknown error changed: %v", got)
	}
	if got := classify(&pgconn.PgError{Code: "42601"}); errors.Is(got, store.ErrUnavailable) || errors.Is(got, store.ErrNotFound) {
		t.Errorf("syntax error classified as %v", got)
	}
	if got := classify(context.Canceled); errors.Is(got, store.ErrUnavailable) {
		t.Error("a canceled context is not an unavailable store")
	}
	already := fmt.Errorf("x: %w", store.ErrConflict)
	if got := classify(already); got != already {
		t.Errorf("classified error wrapped again: %v", got)
	}
	if classify(nil) != nil || wrap("op", nil) != nil {
		t.Error("nil error classified as non-nil")
	}
}
