package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"mutualauth/store"
)

// FileName is the SQLite database file created in the data dir.
const FileName = "mutualauth.db"

// sqliteParams are the DSN parameters of every SQLite connection:
// busy_timeout first (so that the others wait for locks too), WAL so that
// readers never block the writer, foreign keys for ON DELETE CASCADE, and
// BEGIN IMMEDIATE for write transactions, which take the single write lock
// when they start instead of failing with SQLITE_BUSY when they upgrade.
const sqliteParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// openTimeout bounds the ping at Open when ctx has no deadline.
const openTimeout = 15 * time.Second

// Store implements store.Durable on SQLite or PostgreSQL.
type Store struct {
	db *sql.DB
	d  dialect
	// desc names the database in errors (a path, or a URL without password).
	desc string
	// timeout bounds each query and transaction (SetTimeout).
	timeout time.Duration
	// stmts holds prepared statements on SQLite (nil on PostgreSQL).
	stmts *stmtCache
}

var _ store.Durable = (*Store)(nil)

// Open connects to the database, checks that it answers and applies the
// pending migrations. A databaseURL starting with postgres:// or
// postgresql:// selects PostgreSQL; an empty one selects the SQLite file
// mutualauth.db in dataDir (created with mode 0700 if missing);
// sqlite://PATH and file:PATH name another SQLite file. When the database
// cannot be reached the error wraps store.ErrUnavailable. Open also fills
// in the username skeletons that rows lack (backfillSkeletons).
func Open(ctx context.Context, databaseURL string, dataDir string) (*Store, error) {
	d, dsn, desc, hidden, err := resolve(databaseURL, dataDir)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(d.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %s", desc, hidden.scrub(err.Error()))
	}
	configurePool(db, d)

	pingCtx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		pingCtx, cancel = context.WithTimeout(ctx, openTimeout)
		defer cancel()
	}
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, &openError{db: desc, hidden: hidden, cause: err}
	}

	s := &Store{db: db, d: d, desc: desc}
	if d.name == sqliteDialect.name {
		s.stmts = &stmtCache{}
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", desc, &scrubbed{err: err, hidden: hidden})
	}
	if err := s.backfillSkeletons(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", desc, &scrubbed{err: err, hidden: hidden})
	}
	// Migrations may wait for another instance's lock; queries from now on
	// get the deadline.
	s.timeout = DefaultTimeout
	return s, nil
}

// resolve picks the dialect and the driver DSN for databaseURL, describes
// the database for error messages and lists the secrets in the URL.
func resolve(databaseURL, dataDir string) (d dialect, dsn, desc string, hidden secrets, err error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		u, err := url.Parse(databaseURL)
		if err != nil {
			// url.Error repeats the URL, password included.
			return d, "", "", nil, errors.New("sqlstore: malformed PostgreSQL URL")
		}
		if p, ok := u.User.Password(); ok && p != "" {
			hidden = append(hidden, p)
		}
		// libpq also takes the password as a query parameter.
		if q := u.Query(); q.Get("password") != "" {
			hidden = append(hidden, q.Get("password"))
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return postgresDialect, databaseURL, "postgres " + u.Redacted(), hidden, nil

	case databaseURL == "":
		if dataDir == "" {
			return d, "", "", nil, errors.New("sqlstore: neither a database URL nor a data dir is set")
		}
		path := filepath.Join(dataDir, FileName)
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return d, "", "", nil, &openError{db: "sqlite " + path, cause: err}
		}
		// Create the file readable by its owner only: it holds password
		// hashes and sealed secrets.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return d, "", "", nil, &openError{db: "sqlite " + path, cause: err}
		}
		f.Close()
		return sqliteDialect, sqliteDSN(path), "sqlite " + path, nil, nil

	case strings.HasPrefix(databaseURL, "sqlite://"):
		path := strings.TrimPrefix(databaseURL, "sqlite://")
		if path == "" || strings.ContainsAny(path, "?#") {
			return d, "", "", nil, fmt.Errorf("sqlstore: unsupported SQLite URL %q (want sqlite://PATH)", databaseURL)
		}
		return sqliteDialect, sqliteDSN(path), "sqlite " + path, nil, nil

	case strings.HasPrefix(databaseURL, "file:"):
		sep := "?"
		if strings.Contains(databaseURL, "?") {
			sep = "&"
		}
		return sqliteDialect, databaseURL + sep + sqliteParams, "sqlite " + databaseURL, nil, nil
	}
	scheme, _, _ := strings.Cut(databaseURL, ":")
	return d, "", "", nil, fmt.Errorf("sqlstore: unsupported database URL scheme %q (want postgres://, postgresql://, sqlite:// or file:)", scheme)
}

func sqliteDSN(path string) string {
	return path + "?" + sqliteParams
}

func configurePool(db *sql.DB, d dialect) {
	if d.name == sqliteDialect.name {
		// One writer at a time in any case; a few connections serve readers.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		return
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

// Ping reports store.ErrUnavailable when the database cannot be reached.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return wrap("ping "+s.desc, s.db.PingContext(ctx))
}

// Close closes the connection pool.
func (s *Store) Close() error {
	if s.stmts != nil {
		s.stmts.close()
	}
	return s.db.Close()
}

// DefaultTimeout bounds every query (and every transaction as a whole)
// unless SetTimeout says otherwise.
const DefaultTimeout = 5 * time.Second

// SetTimeout sets the deadline of every query and transaction from now on
// (0: none but the caller's). A database that accepts connections but
// never answers then fails in d with store.ErrUnavailable instead of
// holding requests. Call it before the store is shared.
func (s *Store) SetTimeout(d time.Duration) { s.timeout = d }

// bound gives ctx the store's deadline (an earlier one of ctx stays).
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	query = s.d.rebind(query)
	return s.on(ctx, q, query).ExecContext(ctx, query, args...)
}

// boundRows are rows whose deadline ends with Close.
type boundRows struct {
	*sql.Rows
	cancel context.CancelFunc
}

func (r *boundRows) Close() error {
	defer r.cancel()
	return r.Rows.Close()
}

func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*boundRows, error) {
	ctx, cancel := s.bound(ctx)
	query = s.d.rebind(query)
	rows, err := s.on(ctx, q, query).QueryContext(ctx, query, args...)
	if err != nil {
		cancel()
		return nil, err
	}
	return &boundRows{Rows: rows, cancel: cancel}, nil
}

// boundRow is a row whose deadline ends with Scan.
type boundRow struct {
	row    *sql.Row
	cancel context.CancelFunc
}

func (r boundRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.row.Scan(dest...)
}

func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) boundRow {
	ctx, cancel := s.bound(ctx)
	query = s.d.rebind(query)
	return boundRow{row: s.on(ctx, q, query).QueryRowContext(ctx, query, args...), cancel: cancel}
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a transaction, committing when it returns nil. On SQLite
// the transaction holds the write lock from its start.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// affectedOne turns a result that touched no row into store.ErrNotFound.
func affectedOne(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// secrets are passwords that error texts must not show.
type secrets []string

// scrub hides every secret, as is and URL-escaped, in msg.
func (h secrets) scrub(msg string) string {
	for _, secret := range h {
		for _, s := range []string{secret, url.PathEscape(secret), url.QueryEscape(secret)} {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}

// scrubbed hides secrets in the text of err, keeping err in the chain.
type scrubbed struct {
	err    error
	hidden secrets
}

func (e *scrubbed) Error() string { return e.hidden.scrub(e.err.Error()) }
func (e *scrubbed) Unwrap() error { return e.err }

func now() time.Time { return time.Now().UTC().Truncate(timePrecision) }

// pageLimit applies the default (50) and maximum (500) page sizes.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 500:
		return 500
	}
	return n
}
