package ingest

import (
	"context"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testpg"
)

var dialects = []string{store.DialectSQLite, store.DialectPostgres}

// openStore opens a fresh store of dialect for the test.
func openStore(tb testing.TB, dialect string) *store.Store {
	tb.Helper()
	o := store.Options{PasswordIterations: 1000}
	switch dialect {
	case store.DialectSQLite:
		o.DataDir = tb.TempDir()
	case store.DialectPostgres:
		o.DatabaseURL = testpg.NewDatabase(tb)
	}
	st, err := store.Open(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// forEachStore runs fn on SQLite and on PostgreSQL.
func forEachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			st := openStore(t, d)
			fn(t, newEnv(t, st, func(router string) []controlplane.Session {
				t.Helper()
				ss, _, err := st.ListSessions(context.Background(), 0, controlplane.SessionFilter{RouterID: router, Limit: 10000})
				if err != nil {
					t.Fatal(err)
				}
				return ss
			}))
		})
	}
}
