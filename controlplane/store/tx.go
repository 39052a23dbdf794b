package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Tx is one store transaction that another package composes steps into, so
// that they commit together: provisioning writes a command, the account
// state it changes, its audit entry and the River job that delivers it in
// one Tx. A Tx is valid only inside the function given to Write.
type Tx struct {
	t *dbtx
}

// Write runs fn in one transaction and commits when fn returns nil; any
// error rolls everything back and is returned as is.
//
// On SQLite the store has one connection, held by the transaction: inside
// fn, call only Tx methods (and River's InsertTx with Tx.SQL), never Store
// methods, which would wait for that connection forever.
func (s *Store) Write(ctx context.Context, fn func(tx *Tx) error) error {
	_, err := write(ctx, s, func(t *dbtx) (struct{}, error) {
		return struct{}{}, fn(&Tx{t: t})
	})
	return err
}

// SQL returns the transaction for River's InsertTx.
func (tx *Tx) SQL() *sql.Tx {
	// write always runs on a *sql.Tx.
	return tx.t.q.(*sql.Tx)
}

// Now is the transaction's clock reading: every row it stamps gets this
// time.
func (tx *Tx) Now() time.Time { return tx.t.now }

// Dialect returns DialectSQLite or DialectPostgres.
func (tx *Tx) Dialect() string { return tx.t.dialect }

// Audit records e in the transaction. A zero At means the transaction's
// time. Detail must never hold secrets.
func (tx *Tx) Audit(ctx context.Context, e controlplane.AuditEntry) error {
	if e.Action == "" {
		return controlplane.Errorf(controlplane.EINVALID, "audit action is required")
	}
	return audit(ctx, tx.t, e)
}

// Router returns router id if it lies within scope. ENOTFOUND otherwise.
func (tx *Tx) Router(ctx context.Context, scope int64, id string) (controlplane.Router, error) {
	return getRouter(ctx, tx.t, scope, id, false)
}

// Routers returns the routers within scope, by name.
func (tx *Tx) Routers(ctx context.Context, scope int64) ([]controlplane.Router, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	return queryAll(ctx, tx.t, scanRouter, `SELECT `+routerColumns+` FROM routers`+w.sql()+` ORDER BY tenant_id, name, id`, w.args...)
}

// TenantCreateHook runs inside CreateTenant's transaction, after the
// tenant row is inserted: provisioning enqueues the tenant's activation job
// there, so that a pending tenant always has its job. An error aborts the
// creation.
type TenantCreateHook func(ctx context.Context, tx *Tx, t controlplane.Tenant) error

// SetTenantCreateHook installs h (nil removes it). Call it before serving
// requests; it is not synchronized with CreateTenant.
func (s *Store) SetTenantCreateHook(h TenantCreateHook) { s.tenantHook = h }

// runTenantHook calls the installed TenantCreateHook, if any.
func (s *Store) runTenantHook(ctx context.Context, t *dbtx, tn controlplane.Tenant) error {
	if s.tenantHook == nil {
		return nil
	}
	if err := s.tenantHook(ctx, &Tx{t: t}, tn); err != nil {
		return fmt.Errorf("tenant create hook: %w", err)
	}
	return nil
}

// noRows maps sql.ErrNoRows to ENOTFOUND for what/id.
func noRows(err error, what string, id any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(what, id)
	}
	return err
}
