package testkit

import (
	"os"
	"testing"

	"github.com/sitepulse/sitepulse/internal/testpg"
)

// Dialect names, as the store names them.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Dialects lists the databases every store-backed suite runs on.
var Dialects = []string{SQLite, Postgres}

// Database is where one dialect's run of a case stores its data.
type Database struct {
	Dialect string
	// URL is a fresh PostgreSQL database of the case's own (dropped when it
	// ends); empty for SQLite, which uses Dir.
	URL string
	// Dir is a temp dir of the case's own for the SQLite file.
	Dir string
}

// EachDialect runs fn as the subtests "sqlite" and "postgres", each with an
// empty database. Without SITEPULSE_TEST_DATABASE_URL the postgres subtest
// is skipped on a laptop and fails under CI=true (see internal/testpg).
func EachDialect(t *testing.T, fn func(t *testing.T, db Database)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			db := Database{Dialect: d, Dir: t.TempDir()}
			if d == Postgres {
				db.URL = testpg.NewDatabase(t)
			}
			fn(t, db)
		})
	}
}

// EachDialectParallel is EachDialect with the two subtests run in
// parallel (t.Parallel), for suites that mostly wait on round trips.
func EachDialectParallel(t *testing.T, fn func(t *testing.T, db Database)) {
	t.Helper()
	EachDialect(t, func(t *testing.T, db Database) {
		t.Parallel()
		fn(t, db)
	})
}

// PostgresConfigured reports whether a PostgreSQL test server is
// configured, for suites that share one database among many cases and
// create it once.
func PostgresConfigured() bool { return os.Getenv(testpg.EnvURL) != "" }
