package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

const tenantColumns = `id, name, status, created_at`

func scanTenant(sc interface{ Scan(...any) error }) (controlplane.Tenant, error) {
	var t controlplane.Tenant
	err := sc.Scan(&t.ID, &t.Name, &t.Status, &t.CreatedAt)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, err
}

// CreateTenant adds a tenant in status pending in a transaction of its
// own. Production creates tenants through provisioning, which uses
// Tx.CreateTenant to commit the tenant with its activation job; this one
// is for tools and tests that need a tenant row and nothing else.
func (s *Store) CreateTenant(ctx context.Context, name string) (controlplane.Tenant, error) {
	var t controlplane.Tenant
	err := s.Write(ctx, func(tx *Tx) (err error) {
		t, err = tx.CreateTenant(ctx, name)
		return err
	})
	return t, err
}

// CreateTenant adds a tenant in status pending; its activation job makes
// it active (ActivateTenant). EINVALID for a blank name, ECONFLICT if
// another tenant has the same name in any letter case.
func (tx *Tx) CreateTenant(ctx context.Context, name string) (controlplane.Tenant, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > protocol.MaxFieldLen {
		return controlplane.Tenant{}, controlplane.Errorf(controlplane.EINVALID, "tenant name must be 1 to %d bytes", protocol.MaxFieldLen)
	}
	// The unique index decides, not a check before the insert: two
	// concurrent creations cannot both pass it.
	t, err := scanTenant(tx.t.queryRow(ctx,
		`INSERT INTO tenants (name, status, created_at) VALUES ($1, $2, $3) RETURNING `+tenantColumns,
		name, controlplane.TenantPending, tx.t.now))
	if isUniqueViolation(err) {
		return controlplane.Tenant{}, controlplane.Errorf(controlplane.ECONFLICT, "a tenant named %q exists", name)
	}
	if err != nil {
		return controlplane.Tenant{}, fmt.Errorf("create tenant: %w", err)
	}
	return t, nil
}

// ActivateTenant marks a tenant active. Activating an active tenant is a
// no-op, so a retried provisioning job succeeds. ENOTFOUND if unknown.
func (s *Store) ActivateTenant(ctx context.Context, id int64) (controlplane.Tenant, error) {
	t, err := write(ctx, s, func(tx *dbtx) (controlplane.Tenant, error) {
		return scanTenant(tx.queryRow(ctx,
			`UPDATE tenants SET status = $1 WHERE id = $2 RETURNING `+tenantColumns, controlplane.TenantActive, id))
	})
	if errors.Is(err, sql.ErrNoRows) {
		return controlplane.Tenant{}, notFound("tenant", id)
	}
	if err != nil {
		return controlplane.Tenant{}, fmt.Errorf("activate tenant %d: %w", id, err)
	}
	return t, nil
}

// GetTenant returns tenant id. ENOTFOUND if unknown or outside scope.
func (s *Store) GetTenant(ctx context.Context, scope, id int64) (controlplane.Tenant, error) {
	if scope != 0 && scope != id {
		return controlplane.Tenant{}, notFound("tenant", id)
	}
	t, err := read(ctx, s, func(tx *dbtx) (controlplane.Tenant, error) {
		return scanTenant(tx.queryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	})
	if errors.Is(err, sql.ErrNoRows) {
		return controlplane.Tenant{}, notFound("tenant", id)
	}
	if err != nil {
		return controlplane.Tenant{}, fmt.Errorf("get tenant %d: %w", id, err)
	}
	return t, nil
}

// ListTenants returns every tenant by id (system admins only; the caller
// checks the role).
func (s *Store) ListTenants(ctx context.Context) ([]controlplane.Tenant, error) {
	ts, err := read(ctx, s, func(tx *dbtx) ([]controlplane.Tenant, error) {
		return queryAll(ctx, tx, scanTenant, `SELECT `+tenantColumns+` FROM tenants ORDER BY id`)
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ts, nil
}

// queryAll runs query and scans every row with scan.
func queryAll[T any](ctx context.Context, tx *dbtx, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{} // non-nil: lists encode as [] in JSON
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
