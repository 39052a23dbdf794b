package store

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/internal/testpg"
)

// storeCase is one case of the suite that TestStore runs against every
// dialect.
type storeCase struct {
	name string
	run  func(t *testing.T, e *env)
}

// cases is filled by the *_test.go files' init functions, one group per
// file, so each file keeps its cases next to its helpers.
var cases []storeCase

func addCases(cs ...storeCase) { cases = append(cases, cs...) }

// TestStore runs every case as sqlite/<case> and postgres/<case>. SQLite
// gets a temp dir per case; PostgreSQL one fresh database per run (dropped
// afterwards) and a schema per case, since creating a database takes about
// a second.
func TestStore(t *testing.T) {
	pgURL := testDatabase(t)
	for _, dialect := range []string{DialectSQLite, DialectPostgres} {
		for i, c := range cases {
			t.Run(dialect+"/"+c.name, func(t *testing.T) {
				// Every case has its own database (file or schema), and
				// PostgreSQL cases mostly wait on round trips.
				t.Parallel()
				if dialect == DialectPostgres && pgURL == "" {
					testpg.URL(t) // skips, or fails under CI=true
				}
				e := newEnv(t, dialect, pgURL, i)
				c.run(t, e)
			})
		}
	}
}

// env is one case's database and clock.
type env struct {
	t       *testing.T
	dialect string
	clock   *testkit.Clock
	opts    Options // what open uses; a case may change it before reopening
	s       *Store  // opened with opts
	pgURL   string
	name    string
	fresh   int // databases made by freshOptions
}

func newEnv(t *testing.T, dialect, pgURL string, n int) *env {
	e := &env{
		t:       t,
		dialect: dialect,
		clock:   testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
	}
	e.pgURL, e.name = pgURL, fmt.Sprintf("case_%d", n)
	e.opts = e.freshOptions()
	e.s = e.open()
	return e
}

// freshOptions returns options for another empty database of the case's
// dialect.
func (e *env) freshOptions() Options {
	e.t.Helper()
	o := Options{Now: e.clock.Now, PasswordIterations: 1000}
	switch e.dialect {
	case DialectSQLite:
		o.DataDir = e.t.TempDir()
	case DialectPostgres:
		o.DatabaseURL = newTestSchema(e.t, e.pgURL, fmt.Sprintf("%s_%d", e.name, e.fresh))
	}
	e.fresh++
	return o
}

// open opens another Store on the case's database and closes it when the
// case ends.
func (e *env) open() *Store {
	e.t.Helper()
	s, err := Open(context.Background(), e.opts)
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

// testDatabase returns a fresh PostgreSQL database for tb, or "" when no
// test server is configured; the postgres cases then skip (or fail under
// CI=true) one by one while the SQLite cases run.
func testDatabase(tb testing.TB) string {
	if os.Getenv(testpg.EnvURL) == "" {
		return ""
	}
	return testpg.NewDatabase(tb)
}

// newTestSchema creates schema in the database at dbURL and returns a URL
// whose connections use it.
func newTestSchema(tb testing.TB, dbURL, schema string) string {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("parse URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func init() {
	addCases(storeCase{"PanicInWriteRollsBack", testPanicInWriteRollsBack})
}

// testPanicInWriteRollsBack panics inside a Write whose context is never
// cancelled (as an API handler's audit write is), recovers like the API
// does, and checks that the transaction ended: on SQLite it held the only
// connection, so the next write waited forever.
func testPanicInWriteRollsBack(t *testing.T, e *env) {
	ctx := context.WithoutCancel(context.Background())
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the panic boom", r)
			}
		}()
		e.s.Write(ctx, func(tx *Tx) error {
			if err := tx.Audit(ctx, controlplane.AuditEntry{Action: "test.panic"}); err != nil {
				t.Errorf("Audit: %v", err)
			}
			panic("boom")
		})
	}()
	done := make(chan error, 1)
	go func() {
		_, err := e.s.CreateTenant(ctx, "after-panic")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("CreateTenant after the panic: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CreateTenant after a panic in Write did not return within 10s: the transaction still holds the connection")
	}
	es, err := e.s.ListAudit(context.Background(), 0, 100, 0)
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	for _, a := range es {
		if a.Action == "test.panic" {
			t.Errorf("the audit entry written before the panic was committed: %+v", a)
		}
	}
}
