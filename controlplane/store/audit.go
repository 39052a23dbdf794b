package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Audit records e. A zero At means now; TenantID 0 is a system-wide entry
// and ActorID 0 the system itself. Detail must never hold secrets.
func (s *Store) Audit(ctx context.Context, e controlplane.AuditEntry) error {
	if e.Action == "" {
		return controlplane.Errorf(controlplane.EINVALID, "audit action is required")
	}
	_, err := write(ctx, s, func(tx *dbtx) (struct{}, error) {
		return struct{}{}, audit(ctx, tx, e)
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// audit inserts e in tx, so that a change and its audit entry commit
// together.
func audit(ctx context.Context, tx *dbtx, e controlplane.AuditEntry) error {
	at := tx.now
	if !e.At.IsZero() {
		at = dbTime(e.At)
	}
	_, err := tx.exec(ctx, `INSERT INTO audit_log (tenant_id, actor_id, actor, action, target, result, detail, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		nullID(e.TenantID), nullID(e.ActorID), e.Actor, e.Action, e.Target, e.Result, e.Detail, at)
	return err
}

// ListAudit returns audit entries, newest first. scope 0 lists every
// tenant's and the system-wide entries; otherwise only that tenant's.
// limit <= 0 means 100.
func (s *Store) ListAudit(ctx context.Context, scope int64, limit, offset int) ([]controlplane.AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	offset = max(offset, 0)
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	w.args = append(w.args, limit, offset)
	q := `SELECT id, tenant_id, actor_id, actor, action, target, result, detail, at FROM audit_log` + w.sql() +
		fmt.Sprintf(` ORDER BY id DESC LIMIT $%d OFFSET $%d`, len(w.args)-1, len(w.args))
	es, err := read(ctx, s, func(tx *dbtx) ([]controlplane.AuditEntry, error) {
		return queryAll(ctx, tx, scanAudit, q, w.args...)
	})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return es, nil
}

func scanAudit(sc interface{ Scan(...any) error }) (controlplane.AuditEntry, error) {
	var e controlplane.AuditEntry
	var tenant, actor sql.NullInt64
	err := sc.Scan(&e.ID, &tenant, &actor, &e.Actor, &e.Action, &e.Target, &e.Result, &e.Detail, &e.At)
	e.TenantID, e.ActorID, e.At = tenant.Int64, actor.Int64, e.At.UTC()
	return e, err
}
