package sqlstore

import (
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c LIKE '%?%' AND d IN (?, ?)"
	if got := sqliteDialect.rebind(q); got != q {
		t.Errorf("sqlite rebind changed the query: %s", got)
	}
	want := "SELECT a FROM t WHERE b = $1 AND c LIKE '%?%' AND d IN ($2, $3)"
	if got := postgresDialect.rebind(q); got != want {
		t.Errorf("postgres rebind = %s, want %s", got, want)
	}
}

func TestTimeArgRoundTrip(t *testing.T) {
	tm := time.Date(2024, 2, 29, 13, 14, 15, 987654321, time.FixedZone("x", 3600))
	want := tm.UTC().Truncate(time.Microsecond)
	for _, d := range []dialect{sqliteDialect, postgresDialect} {
		var got time.Time
		if err := (timeScan{&got}).Scan(d.timeArg(tm)); err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: %v read back as %v", d.name, tm, got)
		}
		if d.timeArg(time.Time{}) != nil {
			t.Errorf("%s: zero time is not NULL", d.name)
		}
	}
	var got time.Time
	if err := (timeScan{&got}).Scan(nil); err != nil || !got.IsZero() {
		t.Errorf("NULL read as %v, %v", got, err)
	}
	if err := (timeScan{&got}).Scan("2024-01-01"); err == nil {
		t.Error("a text time was accepted")
	}
}

func TestLikeEscape(t *testing.T) {
	if got, want := likeEscape(`a%b_c\d`), `a\%b\_c\\d`; got != want {
		t.Errorf("likeEscape = %s, want %s", got, want)
	}
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	lite, err := sqliteDialect.migrations()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := postgresDialect.migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("%d SQLite and %d PostgreSQL migrations", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].version != pg[i].version || lite[i].name != pg[i].name {
			t.Errorf("migration %d: %s vs %s", i, lite[i].name, pg[i].name)
		}
		if i > 0 && lite[i].version <= lite[i-1].version {
			t.Errorf("migrations out of order at %s", lite[i].name)
		}
	}
}
