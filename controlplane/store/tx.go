package store

import (
	"context"
	"database/sql"
	"errors"
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
// On SQLite the store has one writer connection, held by the transaction:
// inside fn, call only Tx methods (and River's InsertTx with Tx.SQL), never
// Store methods that write, which would wait for that connection forever.
// Store methods that read do not wait (they use the read pool) but see only
// what was committed, not fn's own writes: read through the Tx instead.
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

// noRows maps sql.ErrNoRows to ENOTFOUND for what/id.
func noRows(err error, what string, id any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(what, id)
	}
	return err
}
