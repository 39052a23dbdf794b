package billing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// profileSpec is the RouterOS profile of plan p.
func profileSpec(p controlplane.Plan) *protocol.ProfileSpec {
	spec := &protocol.ProfileSpec{Name: p.Profile, RateLimit: p.RateLimit}
	if p.RateLimit == "" {
		spec.RateLimit = "0/0" // unlimited; clears an earlier limit on set
	}
	// The session timeout is the plan's whole duration at most; the
	// account's expiry ends it sooner.
	spec.SessionTimeout = controlplane.RouterOSDuration(time.Duration(p.DurationSeconds) * time.Second)
	if p.Kind == controlplane.PlanHotspot {
		spec.SharedUsers = max(1, p.SharedUsers)
	} else {
		spec.Comment = "SitePulse plan " + p.Name
	}
	return spec
}

// profileCommand is the command that applies op (add, set, remove) of
// plan p's profile.
func profileCommand(p controlplane.Plan, op string) controlplane.CommandRequest {
	kinds := map[string]protocol.CommandKind{"add": protocol.CmdHotspotProfileAdd, "set": protocol.CmdHotspotProfileSet,
		"remove": protocol.CmdHotspotProfileRemove}
	if p.Kind == controlplane.PlanPPPoE {
		kinds = map[string]protocol.CommandKind{"add": protocol.CmdPPPProfileAdd, "set": protocol.CmdPPPProfileSet,
			"remove": protocol.CmdPPPProfileRemove}
	}
	spec := profileSpec(p)
	if op == "remove" {
		spec = &protocol.ProfileSpec{Name: p.Profile}
	}
	return controlplane.CommandRequest{Kind: kinds[op], CommandParams: controlplane.CommandParams{ProfileSpec: spec}}
}

// validatePlan checks p's own fields and its profile against the wire
// contract.
func validatePlan(p controlplane.Plan) error {
	if strings.TrimSpace(p.Name) == "" || len(p.Name) > 100 || !utf8.ValidString(p.Name) {
		return controlplane.Errorf(controlplane.EINVALID, "name: required, at most 100 bytes")
	}
	if !p.Kind.Valid() {
		return controlplane.Errorf(controlplane.EINVALID, "kind: must be hotspot or pppoe")
	}
	if p.Price.Amount <= 0 {
		return controlplane.Errorf(controlplane.EINVALID, "price: must be a positive amount in minor units")
	}
	if p.Price.Currency == "KES" && p.Price.Amount%100 != 0 {
		// M-Pesa takes whole shillings only.
		return controlplane.Errorf(controlplane.EINVALID, "price: M-Pesa takes whole shillings; %s has cents", p.Price)
	}
	if p.SharedUsers < 0 || p.SharedUsers > 1000 {
		return controlplane.Errorf(controlplane.EINVALID, "shared_users: must be between 1 and 1000")
	}
	if p.Kind == controlplane.PlanPPPoE && p.SharedUsers > 1 {
		return controlplane.Errorf(controlplane.EINVALID, "shared_users: hotspot plans only")
	}
	if p.GraceSeconds < 0 || p.GraceSeconds > 30*86400 {
		return controlplane.Errorf(controlplane.EINVALID, "grace_seconds: must be between 0 and 30 days")
	}
	now := time.Now()
	probe := controlplane.Command{ID: "validate", RouterID: "r000000000000", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	req := profileCommand(p, "add")
	probe.Kind, probe.Params = req.Kind, req.CommandParams
	if err := probe.Wire().Validate(); err != nil {
		var fe *protocol.FieldError
		if errors.As(err, &fe) {
			field := strings.TrimPrefix(fe.Field, "profile_spec.")
			return controlplane.Errorf(controlplane.EINVALID, "%s: %s", field, fe.Reason)
		}
		return controlplane.Errorf(controlplane.EINVALID, "plan: %v", err)
	}
	return nil
}

// CreatePlan stores a plan and queues its profile on every router of the
// tenant. EFORBIDDEN below tenant admin, EINVALID, ECONFLICT for a
// duplicate name.
func (s *Service) CreatePlan(ctx context.Context, p controlplane.Principal, req controlplane.PlanRequest) (controlplane.Plan, error) {
	if err := needManage(p, "manage plans"); err != nil {
		return controlplane.Plan{}, err
	}
	tenant, err := tenantOf(p, req.TenantID)
	if err != nil {
		return controlplane.Plan{}, err
	}
	d, err := controlplane.ParseDuration(req.Duration)
	if err != nil {
		return controlplane.Plan{}, err
	}
	plan := controlplane.Plan{TenantID: tenant, Name: strings.TrimSpace(req.Name), Kind: req.Kind,
		Price: controlplane.Money{Amount: req.Price}, Duration: strings.TrimSpace(req.Duration),
		DurationSeconds: int64(d / time.Second), DataCapBytes: req.DataCapBytes, RateLimit: req.RateLimit,
		SharedUsers: req.SharedUsers, GraceSeconds: req.GraceSeconds, Active: req.Active == nil || *req.Active,
		Profile: controlplane.PlanProfile(0)}
	var cmds []controlplane.Command
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		set, err := tx.BillingSettings(ctx, tenant)
		if err != nil {
			return err
		}
		plan.Price.Currency = set.Currency
		if req.Currency != "" && req.Currency != set.Currency {
			return controlplane.Errorf(controlplane.EINVALID, "currency: the tenant sells in %s", set.Currency)
		}
		if err := validatePlan(plan); err != nil {
			return err
		}
		if plan, err = tx.InsertPlan(ctx, plan); err != nil {
			return err
		}
		if cmds, err = s.syncPlanTx(ctx, tx, p, plan, "add", nil); err != nil {
			return err
		}
		if plan, err = tx.Plan(ctx, 0, plan.ID, false); err != nil {
			return err
		}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: tenant, ActorID: p.UserID, Actor: p.Email,
			Action: "plan.create", Target: planTarget(plan.ID), Result: "ok",
			Detail: fmt.Sprintf("%s %s for %s on %d routers", plan.Kind, plan.Name, plan.Price, len(cmds))})
	})
	if err != nil {
		return controlplane.Plan{}, fmt.Errorf("create plan: %w", err)
	}
	s.publish(controlplane.PlanChanged{Op: controlplane.AccountCreated, Plan: plan})
	s.prov.AnnounceCommands(cmds)
	return plan, nil
}

func planTarget(id int64) string { return fmt.Sprintf("plan:%d", id) }

// syncPlanTx queues op of plan's profile on routers (every router of the
// tenant that is not revoked when nil), recording each command as the one
// that decides the plan's state there.
func (s *Service) syncPlanTx(ctx context.Context, tx *store.Tx, p controlplane.Principal, plan controlplane.Plan,
	op string, routers []controlplane.Router) ([]controlplane.Command, error) {
	if routers == nil {
		all, err := tx.Routers(ctx, plan.TenantID)
		if err != nil {
			return nil, err
		}
		for _, r := range all {
			if r.Status != controlplane.RouterRevoked {
				routers = append(routers, r)
			}
		}
	}
	var cmds []controlplane.Command
	for _, r := range routers {
		c, err := s.prov.QueueCommandTx(ctx, tx, p, r, profileCommand(plan, op), planTarget(plan.ID))
		if err != nil {
			return nil, err
		}
		if op != "remove" {
			if err := tx.SetPlanRouter(ctx, plan.ID, c); err != nil {
				return nil, err
			}
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

// UpdatePlan applies patch and queues a profile set on the plan's routers
// when something they hold changed. Errors as CreatePlan, ENOTFOUND.
func (s *Service) UpdatePlan(ctx context.Context, p controlplane.Principal, id int64, patch controlplane.PlanPatch) (controlplane.Plan, error) {
	if err := needManage(p, "manage plans"); err != nil {
		return controlplane.Plan{}, err
	}
	var plan controlplane.Plan
	var cmds []controlplane.Command
	var radius []string
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		old, err := tx.Plan(ctx, p.Scope(), id, true)
		if err != nil {
			return err
		}
		plan = old
		if patch.Name != nil {
			plan.Name = strings.TrimSpace(*patch.Name)
		}
		if patch.Price != nil {
			plan.Price.Amount = *patch.Price
		}
		if patch.Duration != nil {
			d, err := controlplane.ParseDuration(*patch.Duration)
			if err != nil {
				return err
			}
			plan.Duration, plan.DurationSeconds = strings.TrimSpace(*patch.Duration), int64(d/time.Second)
		}
		if patch.DataCapBytes != nil {
			plan.DataCapBytes = *patch.DataCapBytes
		}
		if patch.RateLimit != nil {
			plan.RateLimit = *patch.RateLimit
		}
		if patch.SharedUsers != nil {
			plan.SharedUsers = *patch.SharedUsers
		}
		if patch.GraceSeconds != nil {
			plan.GraceSeconds = *patch.GraceSeconds
		}
		if patch.Active != nil {
			plan.Active = *patch.Active
		}
		if err := validatePlan(plan); err != nil {
			return err
		}
		if plan, err = tx.UpdatePlan(ctx, plan); err != nil {
			return err
		}
		if *profileSpec(plan) != *profileSpec(old) {
			var routers []controlplane.Router
			for _, pr := range old.Routers {
				r, err := tx.Router(ctx, 0, pr.RouterID)
				if err != nil {
					return err
				}
				if r.Status != controlplane.RouterRevoked {
					routers = append(routers, r)
				}
			}
			if len(routers) > 0 {
				if cmds, err = s.syncPlanTx(ctx, tx, p, plan, "set", routers); err != nil {
					return err
				}
			}
			if plan, err = tx.Plan(ctx, 0, plan.ID, false); err != nil {
				return err
			}
		}
		// The RADIUS copies carry the plan's limits in each entry.
		if plan.RateLimit != old.RateLimit || plan.SharedUsers != old.SharedUsers || plan.DataCapBytes != old.DataCapBytes ||
			plan.DurationSeconds != old.DurationSeconds {
			if radius, err = tx.BumpPlanEntries(ctx, plan); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: plan.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "plan.update", Target: planTarget(plan.ID), Result: "ok",
			Detail: fmt.Sprintf("%s for %s; %d router commands", plan.Name, plan.Price, len(cmds))})
	})
	if err != nil {
		return controlplane.Plan{}, fmt.Errorf("update plan %d: %w", id, err)
	}
	s.publish(controlplane.PlanChanged{Op: controlplane.AccountUpdated, Plan: plan})
	s.publishRadius(plan.TenantID, radius)
	s.prov.AnnounceCommands(cmds)
	return plan, nil
}

// DeletePlan removes a plan without live subscriptions and its profile
// from its routers. ECONFLICT while subscriptions use it.
func (s *Service) DeletePlan(ctx context.Context, p controlplane.Principal, id int64) error {
	if err := needManage(p, "manage plans"); err != nil {
		return err
	}
	var plan controlplane.Plan
	var cmds []controlplane.Command
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if plan, err = tx.Plan(ctx, p.Scope(), id, true); err != nil {
			return err
		}
		var routers []controlplane.Router
		for _, pr := range plan.Routers {
			r, err := tx.Router(ctx, 0, pr.RouterID)
			if err != nil {
				return err
			}
			if r.Status != controlplane.RouterRevoked {
				routers = append(routers, r)
			}
		}
		if err := tx.DeletePlan(ctx, id); err != nil {
			return err
		}
		if len(routers) > 0 {
			if cmds, err = s.syncPlanTx(ctx, tx, p, plan, "remove", routers); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: plan.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "plan.delete", Target: planTarget(id), Result: "ok", Detail: plan.Name})
	})
	if err != nil {
		return fmt.Errorf("delete plan %d: %w", id, err)
	}
	plan.Active = false
	s.publish(controlplane.PlanChanged{Op: controlplane.AccountDeleted, Plan: plan})
	s.prov.AnnounceCommands(cmds)
	return nil
}

// GetPlan returns plan id within scope.
func (s *Service) GetPlan(ctx context.Context, scope, id int64) (controlplane.Plan, error) {
	return s.st.GetPlan(ctx, scope, id)
}

// ListPlans returns the plans within scope matching f.
func (s *Service) ListPlans(ctx context.Context, scope int64, f controlplane.PlanFilter) ([]controlplane.Plan, int, error) {
	return s.st.ListPlans(ctx, scope, f)
}

// SyncPlans queues every plan's profile on the routers that do not have
// it yet (enrolled after the plan was made), then the accounts of active
// subscriptions there, so a new site serves the tenant's customers.
func (s *Service) SyncPlans(ctx context.Context) error {
	tenants, err := s.st.TenantsWithPlans(ctx)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		var cmds []controlplane.Command
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			missing, err := tx.PlansMissingOn(ctx, t)
			if err != nil {
				return err
			}
			for routerID, plans := range missing {
				r, err := tx.Router(ctx, 0, routerID)
				if err != nil {
					return err
				}
				for _, plan := range plans {
					c, err := s.syncPlanTx(ctx, tx, system, plan, "add", []controlplane.Router{r})
					if err != nil {
						return err
					}
					cmds = append(cmds, c...)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sync plans of tenant %d: %w", t, err)
		}
		s.prov.AnnounceCommands(cmds)
		var subs []int64
		if err := s.st.ReadTx(ctx, func(tx *store.Tx) error {
			subs, err = tx.SubscriptionsMissingRouters(ctx, t)
			return err
		}); err != nil {
			return fmt.Errorf("sync accounts of tenant %d: %w", t, err)
		}
		for _, id := range subs {
			if err := s.reconnect(ctx, reconnectArgs{SubscriptionID: id}); err != nil {
				return err
			}
		}
	}
	return nil
}
