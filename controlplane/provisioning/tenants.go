package provisioning

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// enqueueTenantActivation is the store's tenant-create hook: the
// activation job commits with the pending tenant, so no crash can leave a
// tenant pending without its job.
func (s *Service) enqueueTenantActivation(ctx context.Context, tx *store.Tx, t controlplane.Tenant) error {
	return s.insertTx(ctx, tx, tenantActivateArgs{TenantID: t.ID})
}

// ProvisionTenant implements the API's TenantProvisioner. The activation
// job was already enqueued in CreateTenant's transaction (the store hook);
// this inserts it again for a tenant created without the hook (before the
// service existed), which River's uniqueness by arguments turns into a
// no-op otherwise.
func (s *Service) ProvisionTenant(ctx context.Context, t controlplane.Tenant, actor controlplane.Principal) error {
	if t.Status == controlplane.TenantActive {
		return nil
	}
	if _, err := s.river.Insert(ctx, tenantActivateArgs{TenantID: t.ID}, nil); err != nil {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "queue the activation of tenant %d: %v", t.ID, err)
	}
	return nil
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
