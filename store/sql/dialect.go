package sqlstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dialect holds the few differences between SQLite and PostgreSQL that the
// shared queries need. Queries are written once with `?` placeholders.
type dialect struct {
	name       string // "sqlite" or "postgres"
	driver     string // database/sql driver name
	dollarArgs bool   // placeholders are $1, $2, ... instead of ?
	timeAsInt  bool   // times are INTEGER unix microseconds instead of TIMESTAMPTZ
	forUpdate  string // row lock suffix for read-modify-write SELECTs
	// migrationLock is run first in every migration transaction, so that
	// processes starting at once apply each migration exactly once.
	migrationLock string
	// migrationsTable creates schema_migrations if it is missing.
	migrationsTable string
}

var (
	sqliteDialect = dialect{
		name:      "sqlite",
		driver:    "sqlite",
		timeAsInt: true,
		// Write transactions start with BEGIN IMMEDIATE (the _txlock DSN
		// parameter), which takes the database's single write lock up front;
		// no row lock clause is needed or supported.
		forUpdate:       "",
		migrationLock:   "",
		migrationsTable: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT",
	}
	postgresDialect = dialect{
		name:            "postgres",
		driver:          "pgx",
		dollarArgs:      true,
		forUpdate:       " FOR UPDATE",
		migrationLock:   "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(migrationLockKey, 10) + ")",
		migrationsTable: "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)",
	}
)

// migrationLockKey is the pg_advisory_xact_lock key taken by migrations
// (the bytes of "mutualau" read as a big-endian integer).
const migrationLockKey int64 = 0x6d757475616c6175

// rebind turns `?` placeholders into `$n` for PostgreSQL. Question marks
// inside single-quoted literals are left alone.
func (d dialect) rebind(query string) string {
	if !d.dollarArgs || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	inString := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inString = !inString
			b.WriteByte(c)
		case c == '?' && !inString:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// timePrecision is PostgreSQL's timestamp precision. Times are truncated to
// it on both backends so that they round-trip identically.
const timePrecision = time.Microsecond

// timeArg is the query argument for t: NULL for the zero time, otherwise
// the UTC instant truncated to microseconds, as INTEGER unix microseconds
// on SQLite and as a timestamptz on PostgreSQL.
func (d dialect) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(timePrecision)
	if d.timeAsInt {
		return t.UnixMicro()
	}
	return t
}

// normalizeTime returns t as it reads back from the database.
func normalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(timePrecision)
}

// timeScan reads a time column of either representation. NULL reads as the
// zero time; every other value is returned in UTC.
type timeScan struct{ t *time.Time }

func (s timeScan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.t = time.Time{}
	case int64:
		*s.t = time.UnixMicro(v).UTC()
	case time.Time:
		*s.t = v.UTC()
	default:
		return fmt.Errorf("sqlstore: cannot read %T as a time", src)
	}
	return nil
}

// bytesArg is the query argument for an optional byte string: NULL when
// empty, so that it reads back as nil.
func bytesArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// emptyToNil makes an empty byte string read back as nil, whatever the
// driver returned for an empty value.
func emptyToNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// stringsArg encodes a string list as JSON text ("[]" when empty).
func stringsArg(list []string) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// parseStrings decodes a JSON string list; an empty list reads as nil.
func parseStrings(text string) ([]string, error) {
	if text == "" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(text), &list); err != nil {
		return nil, fmt.Errorf("sqlstore: malformed string list: %w", err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}

// likeEscape escapes the LIKE wildcards of s for use with ESCAPE '\'.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
