package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCacheSize bounds the cache. The store's queries are constants of
// this package (about a hundred), so it only stops a query built from
// input, should one ever be added, from growing the cache.
const stmtCacheSize = 512

// stmtCache keeps a prepared statement for each query run on the pool
// outside a transaction. modernc.org/sqlite compiles the SQL again on
// every unprepared call (sqlite3_prepare_v2, a tenth of the CPU of a login
// begin, whose user lookup is one such query); a *sql.Stmt is compiled once
// per connection and reused. pgx caches statements per connection by
// itself, so PostgreSQL does not use this cache.
type stmtCache struct {
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

// get returns the statement for query, preparing it on first use. A
// statement that cannot be prepared is not cached: the caller runs the
// query unprepared and gets the driver's error from that.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) *sql.Stmt {
	c.mu.RLock()
	st := c.m[query]
	c.mu.RUnlock()
	if st != nil {
		return st
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if had := c.m[query]; had != nil {
		_ = st.Close()
		return had
	}
	if len(c.m) >= stmtCacheSize {
		_ = st.Close()
		return nil
	}
	if c.m == nil {
		c.m = make(map[string]*sql.Stmt)
	}
	c.m[query] = st
	return st
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m = nil
}

// on is the querier that runs query: its cached statement when q is the
// pool and this store caches statements, else q itself.
func (s *Store) on(ctx context.Context, q querier, query string) querier {
	if s.stmts == nil || q != querier(s.db) {
		return q
	}
	if st := s.stmts.get(ctx, s.db, query); st != nil {
		return stmtQuerier{st}
	}
	return q
}

// stmtQuerier runs its prepared statement whatever query it is given: on
// calls it only with the query the statement was prepared from.
type stmtQuerier struct{ st *sql.Stmt }

func (p stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return p.st.ExecContext(ctx, args...)
}

func (p stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return p.st.QueryContext(ctx, args...)
}

func (p stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return p.st.QueryRowContext(ctx, args...)
}
