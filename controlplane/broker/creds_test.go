package broker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/internal/testpg"
)

// openStore opens a fresh store of dialect for the test.
func openStore(t testing.TB, dialect string) *store.Store {
	t.Helper()
	o := store.Options{PasswordIterations: 1000}
	switch dialect {
	case store.DialectSQLite:
		o.DataDir = t.TempDir()
	case store.DialectPostgres:
		o.DatabaseURL = testpg.NewDatabase(t)
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	st, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openStoreIn opens a store in one of testkit.EachDialect's databases.
func openStoreIn(t testing.TB, db testkit.Database) *store.Store {
	t.Helper()
	o := store.Options{PasswordIterations: 1000, DataDir: db.Dir}
	if db.Dialect == testkit.Postgres {
		o = store.Options{PasswordIterations: 1000, DatabaseURL: db.URL}
	}
	st, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// credentials manages routers in a real store and is the broker's
// Verifier in tests: it counts verifications, and fail makes them fail as
// if the database were down.
type credentials struct {
	st     *store.Store
	tenant int64
	calls  atomic.Int64
	fail   atomic.Bool
}

// newCredentials uses a fresh SQLite store.
func newCredentials(t testing.TB) *credentials {
	return newCredentialsOn(t, openStore(t, store.DialectSQLite))
}

func newCredentialsOn(t testing.TB, st *store.Store) *credentials {
	t.Helper()
	ten, err := st.CreateTenant(context.Background(), "tenant")
	if err != nil {
		t.Fatal(err)
	}
	return &credentials{st: st, tenant: ten.ID}
}

func (c *credentials) create(t testing.TB) (id, secret string) {
	t.Helper()
	r, secret, err := c.st.CreateRouter(context.Background(), c.tenant, "router", "site")
	if err != nil {
		t.Fatal(err)
	}
	return r.ID, secret
}

func (c *credentials) rotate(t testing.TB, id string) string {
	t.Helper()
	s, err := c.st.RotateRouterSecret(context.Background(), 0, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (c *credentials) revoke(t testing.TB, id string) {
	t.Helper()
	if _, err := c.st.RevokeRouter(context.Background(), 0, id); err != nil {
		t.Fatal(err)
	}
}

func (c *credentials) VerifyRouterSecret(ctx context.Context, id, secret string) (controlplane.Router, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return controlplane.Router{}, errors.New("database unavailable")
	}
	return c.st.VerifyRouterSecret(ctx, id, secret)
}
