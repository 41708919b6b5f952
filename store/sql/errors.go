package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"mutualauth/store"
)

// classify maps a driver error to the store's sentinel errors. The result
// wraps both the sentinel and err, so errors.Is works with either; errors
// that match no sentinel are returned unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{store.ErrNotFound, store.ErrAlreadyExists, store.ErrConflict, store.ErrLookAlike, store.ErrUnavailable} {
		if errors.Is(err, s) {
			return err
		}
	}
	if s := sentinelFor(err); s != nil {
		return fmt.Errorf("%w (%w)", s, err)
	}
	return err
}

// wrap classifies err and prefixes it with the failed operation.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlstore: %s: %w", op, classify(err))
}

func sentinelFor(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}

	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgSentinel(pgErr.Code)
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return sqliteSentinel(liteErr.Code())
	}

	if unreachable(err) {
		return store.ErrUnavailable
	}
	return nil
}

// pgSentinel maps a PostgreSQL SQLSTATE (Appendix A of the PostgreSQL
// manual) to a sentinel.
func pgSentinel(code string) error {
	switch {
	case code == "23505": // unique_violation
		return store.ErrAlreadyExists
	case code == "23503": // foreign_key_violation: the referenced user is missing
		return store.ErrNotFound
	case code == "40001", code == "40P01": // serialization_failure, deadlock_detected
		return store.ErrConflict
	case code == "22021": // character_not_in_repertoire: a NUL byte or invalid UTF-8 in a text argument
		// No row can hold such a value, so a lookup by it finds nothing,
		// as on SQLite, which stores and compares any bytes.
		return store.ErrNotFound
	case strings.HasPrefix(code, "08"), // connection exception
		strings.HasPrefix(code, "53"),                     // insufficient resources (too many connections, disk full)
		code == "57P01", code == "57P02", code == "57P03", // admin/crash shutdown, cannot connect now
		code == "57014": // query_canceled (statement_timeout)
		return store.ErrUnavailable
	}
	return nil
}

// sqliteSentinel maps an extended SQLite result code to a sentinel.
func sqliteSentinel(code int) error {
	switch code {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.ErrAlreadyExists
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ErrNotFound
	}
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_INTERRUPT:
		return store.ErrUnavailable
	}
	return nil
}

// unreachable reports errors that mean the database cannot be used right
// now: network failures, a closed pool or connection, a deadline.
func unreachable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	// database/sql reports a closed *sql.DB with an unexported error.
	return strings.Contains(err.Error(), "sql: database is closed")
}

// openError is returned by Open when the database cannot be reached. Its
// text names the database without the password of the URL.
type openError struct {
	db     string  // redacted description of the database
	hidden secrets // passwords to scrub from the cause's text
	cause  error
}

func (e *openError) Error() string {
	return fmt.Sprintf("sqlstore: open %s: %v: %s", e.db, store.ErrUnavailable, e.hidden.scrub(e.cause.Error()))
}

func (e *openError) Unwrap() []error { return []error{store.ErrUnavailable, e.cause} }

// skeletonIndex is the UNIQUE index on users.username_skeleton (migration
// 0005).
const skeletonIndex = "users_username_skeleton_key"

// isSkeletonViolation reports whether err is a unique violation of
// skeletonIndex. PostgreSQL names the index; SQLite names its column.
func isSkeletonViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" && pgErr.ConstraintName == skeletonIndex
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(liteErr.Error(), "users.username_skeleton")
	}
	return false
}
