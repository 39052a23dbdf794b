package provisioning

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// CreateTenant creates a pending tenant and its activation job on the
// tenant-management queue in one transaction, so that no crash can leave
// a tenant pending without the job that activates it. The job activates
// it, audits that and announces TenantCreated. EINVALID for a blank name,
// ECONFLICT for a duplicate one.
//
// admin, when not nil, is the tenant's first admin, created in the same
// transaction through Options.Users (its welcome email with it).
func (s *Service) CreateTenant(ctx context.Context, name string, admin *controlplane.CreateUserRequest) (controlplane.Tenant, error) {
	hash := ""
	if admin != nil {
		var err error
		if hash, err = s.st.HashPassword(admin.Password); err != nil {
			return controlplane.Tenant{}, err
		}
	}
	var t controlplane.Tenant
	err := s.st.Write(ctx, func(tx *store.Tx) (err error) {
		if t, err = tx.CreateTenant(ctx, name); err != nil {
			return err
		}
		if admin != nil {
			u := controlplane.User{TenantID: t.ID, Email: admin.Email, Name: admin.Name, Role: controlplane.RoleTenantAdmin}
			if s.opts.Users != nil {
				_, err = s.opts.Users.CreateUserTx(ctx, tx, controlplane.Principal{}, u, hash)
			} else {
				_, err = tx.CreateUser(ctx, u, hash)
			}
			if err != nil {
				return err
			}
		}
		return s.insertTx(ctx, tx, tenantActivateArgs{TenantID: t.ID})
	})
	if err != nil {
		return controlplane.Tenant{}, err
	}
	return t, nil
}

// activateTenant is the tenant-management job: it activates the tenant
// (idempotent, so a retry after a crash is harmless), audits it and
// announces TenantCreated.
func (s *Service) activateTenant(ctx context.Context, id int64, attempt int) error {
	t, err := s.st.ActivateTenant(ctx, id)
	result := "ok"
	if err != nil {
		result = controlplane.ErrorCode(err)
	}
	aerr := s.st.Audit(ctx, controlplane.AuditEntry{TenantID: id, Actor: system.Email, Action: "tenant.activate",
		Target: "tenant:" + strconv.FormatInt(id, 10), Result: result, Detail: fmt.Sprintf("job attempt %d", attempt)})
	if aerr != nil {
		s.log.Error("audit tenant activation", "tenant_id", id, "err", aerr)
	}
	if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
		// Deleted meanwhile: nothing will ever activate it.
		s.log.Warn("tenant to activate no longer exists", "tenant_id", id)
		return nil
	}
	if err != nil {
		return fmt.Errorf("activate tenant %d: %w", id, err)
	}
	s.log.Info("tenant activated", "tenant_id", id)
	s.publish(controlplane.TenantCreated{Tenant: t})
	return nil
}
