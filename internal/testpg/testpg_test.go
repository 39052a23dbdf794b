package testpg_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sitepulse/sitepulse/internal/testpg"
)

func TestNewDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var first, second string
	t.Run("create", func(t *testing.T) {
		first = testpg.NewDatabase(t)
		second = testpg.NewDatabase(t)
		if first == second {
			t.Fatalf("two databases share the URL %s", first)
		}
		for _, u := range []string{first, second} {
			conn, err := pgx.Connect(ctx, u)
			if err != nil {
				t.Fatalf("connect %s: %v", u, err)
			}
			var db string
			if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
				t.Fatal(err)
			}
			if want := dbName(t, u); db != want {
				t.Errorf("current_database() = %q, want %q", db, want)
			}
			if _, err := conn.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
				t.Errorf("create table in %s: %v", db, err)
			}
			// conn is left open on purpose: cleanup must drop the
			// database all the same.
		}
	})

	// The subtest's cleanup has run: both databases must be gone.
	admin, err := pgx.Connect(ctx, testpg.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, u := range []string{first, second} {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", dbName(t, u)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists after cleanup", dbName(t, u))
		}
	}
}

func dbName(t *testing.T, s string) string {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path[1:]
}

// stopTB records how URL ended a test. Fatal and Skip stop the caller the
// way the real ones do (by unwinding), through a panic that run recovers.
type stopTB struct {
	testing.TB
	how string
}

type stopped struct{}

func (s *stopTB) Helper()           {}
func (s *stopTB) Fatal(args ...any) { s.how = "fatal: " + fmt.Sprint(args...); panic(stopped{}) }
func (s *stopTB) Skip(args ...any)  { s.how = "skip: " + fmt.Sprint(args...); panic(stopped{}) }
func (s *stopTB) run(f func(testing.TB)) {
	defer func() {
		if r := recover(); r != nil && r != (stopped{}) {
			panic(r)
		}
	}()
	f(s)
}

func TestURL(t *testing.T) {
	tests := []struct {
		name, env, ci string
		want          string
	}{
		{"set", "postgres://x@127.0.0.1:1/db", "true", "url postgres://x@127.0.0.1:1/db"},
		{"missing on a laptop", "", "", "skip: " + testpg.EnvURL + " not set"},
		{"missing under CI", "", "true", "fatal: " + testpg.EnvURL + " not set under CI=true: .ci/run must start PostgreSQL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(testpg.EnvURL, tt.env)
			t.Setenv("CI", tt.ci)
			tb := &stopTB{TB: t}
			tb.run(func(tb testing.TB) {
				u := testpg.URL(tb)
				tb.(*stopTB).how = "url " + u
			})
			if tb.how != tt.want {
				t.Errorf("URL ended with %q, want %q", tb.how, tt.want)
			}
		})
	}
}
