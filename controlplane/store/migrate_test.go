package store

import (
	"context"
	"testing"
	"time"
)

func init() {
	addCases(
		storeCase{"migrate/idempotent", testMigrateIdempotent},
		storeCase{"migrate/concurrent", testMigrateConcurrent},
		storeCase{"dialect/placeholders", testPlaceholders},
		storeCase{"dialect/times", testTimes},
	)
}

func migrationCount(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("count migrations: %v", err)
	}
	return n
}

func testMigrateIdempotent(t *testing.T, e *env) {
	ctx := context.Background()
	ms, err := migrations(e.dialect)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	if got, want := migrationCount(t, e.s), len(ms); got != want {
		t.Fatalf("after Open: %d migrations recorded, want %d", got, want)
	}
	if err := e.s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	e.s.Close()
	s2 := e.open() // Open twice on the same database
	if got, want := migrationCount(t, s2), len(ms); got != want {
		t.Fatalf("after second Open: %d migrations recorded, want %d", got, want)
	}
	if got := s2.Dialect(); got != e.dialect {
		t.Errorf("Dialect() = %q, want %q", got, e.dialect)
	}
	if (s2.PgxPool() != nil) != (e.dialect == DialectPostgres) {
		t.Errorf("PgxPool() = %v on %s", s2.PgxPool(), e.dialect)
	}
	if err := s2.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// testMigrateConcurrent opens several stores on one fresh database at once,
// as replicas starting together do.
func testMigrateConcurrent(t *testing.T, e *env) {
	o := e.freshOptions()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			s, err := Open(context.Background(), o)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
}

// testPlaceholders checks that $N placeholders bind by number on both
// drivers, including a reused and an out-of-order one.
func testPlaceholders(t *testing.T, e *env) {
	var a, b, c int64
	err := e.s.DB().QueryRowContext(context.Background(),
		`SELECT CAST($2 AS BIGINT), CAST($1 AS BIGINT), CAST($2 AS BIGINT) + 1`, int64(10), int64(20)).Scan(&a, &b, &c)
	if err != nil {
		t.Fatal(err)
	}
	if a != 20 || b != 10 || c != 21 {
		t.Errorf("got %d %d %d, want 20 10 21", a, b, c)
	}
}

// testTimes checks that a time survives a round trip exactly (UTC,
// microseconds) and compares in order.
func testTimes(t *testing.T, e *env) {
	ctx := context.Background()
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("EAT", 3*3600))
	t2 := t1.Add(time.Microsecond)
	for i, at := range []time.Time{t1, t2} {
		if _, err := e.s.DB().ExecContext(ctx,
			`INSERT INTO audit_log (action, at) VALUES ($1, $2)`, "t"+string(rune('1'+i)), dbTime(at)); err != nil {
			t.Fatal(err)
		}
	}
	var got time.Time
	if err := e.s.DB().QueryRowContext(ctx, `SELECT at FROM audit_log WHERE action = 't1'`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := dbTime(t1); !got.Equal(want) {
		t.Errorf("round trip: got %v, want %v", got, want)
	}
	if e.dialect == DialectSQLite {
		var typ string
		if err := e.s.DB().QueryRowContext(ctx, `SELECT typeof(at) FROM audit_log WHERE action = 't1'`).Scan(&typ); err != nil {
			t.Fatal(err)
		}
		if typ != "integer" {
			t.Errorf("SQLite stores times as %s, want integer", typ)
		}
	}
	var n int
	if err := e.s.DB().QueryRowContext(ctx, `SELECT count(*) FROM audit_log WHERE at > $1`, dbTime(t1)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("rows after t1: %d, want 1", n)
	}
}
