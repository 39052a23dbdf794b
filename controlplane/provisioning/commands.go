package provisioning

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// checkCommand authorizes p to send req and validates it against the wire
// contract. EFORBIDDEN for viewers, and for raw commands from anyone but a
// system admin; EINVALID naming the bad field.
func (s *Service) checkCommand(p controlplane.Principal, req controlplane.CommandRequest) (time.Duration, error) {
	if !p.CanMutate() {
		return 0, controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not send commands", p.Role)
	}
	if req.Kind == protocol.CmdRaw && !p.IsSystemAdmin() {
		return 0, controlplane.Errorf(controlplane.EFORBIDDEN, "only system admins may send raw RouterOS commands")
	}
	ttl := s.opts.DefaultTTL
	switch {
	case req.TTLSeconds < 0 || time.Duration(req.TTLSeconds)*time.Second > MaxTTL:
		return 0, controlplane.Errorf(controlplane.EINVALID, "ttl_seconds: must be between 1 and %d", int(MaxTTL/time.Second))
	case req.TTLSeconds > 0:
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	now := s.now()
	probe := controlplane.Command{ID: "validate", RouterID: "r000000000000", Kind: req.Kind, Params: req.CommandParams,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := probe.Wire().Validate(); err != nil {
		var fe *protocol.FieldError
		if errors.As(err, &fe) {
			return 0, controlplane.Errorf(controlplane.EINVALID, "%s: %s", fe.Field, fe.Reason)
		}
		return 0, controlplane.Errorf(controlplane.EINVALID, "command: %v", err)
	}
	return ttl, nil
}

// newCommand is the row of req for router r, created by p.
func newCommand(p controlplane.Principal, r controlplane.Router, req controlplane.CommandRequest, expires time.Time) controlplane.Command {
	return controlplane.Command{TenantID: r.TenantID, RouterID: r.ID, Kind: req.Kind, Params: req.CommandParams,
		ActorID: p.UserID, Actor: p.Email, ExpiresAt: expires}
}

// queueInTx stores c as queued with its creation audit entry and its
// deliver job, in tx.
func (s *Service) queueInTx(ctx context.Context, tx *store.Tx, c controlplane.Command, detail string) (controlplane.Command, error) {
	c, err := tx.InsertCommand(ctx, c)
	if err != nil {
		return controlplane.Command{}, err
	}
	d := fmt.Sprintf("%s on router %s", c.Kind, c.RouterID)
	if c.Kind == protocol.CmdRaw && c.Params.Raw != nil {
		d += " path " + c.Params.Raw.Path
	}
	if detail != "" {
		d += " (" + detail + ")"
	}
	err = tx.Audit(ctx, controlplane.AuditEntry{TenantID: c.TenantID, ActorID: c.ActorID, Actor: c.Actor,
		Action: "command.create", Target: "command:" + c.ID, Result: "ok", Detail: d})
	if err != nil {
		return controlplane.Command{}, err
	}
	return c, nil
}

// announceQueued publishes newly queued commands and starts delivering
// them.
func (s *Service) announceQueued(cmds []controlplane.Command) {
	changes := make([]controlplane.Change, len(cmds))
	routers := map[string]bool{}
	for i, c := range cmds {
		changes[i] = controlplane.CommandChanged{Command: c}
		routers[c.RouterID] = true
		s.m.transitions.WithLabelValues(string(controlplane.CommandQueued)).Inc()
	}
	s.publish(changes...)
	for _, c := range cmds {
		if routers[c.RouterID] {
			delete(routers, c.RouterID)
			s.disp.schedule(c.RouterID, time.Time{})
		}
	}
}

// deliverJobs returns one deliver job per router of cmds.
func deliverJobs(cmds []controlplane.Command) []river.JobArgs {
	seen := map[string]bool{}
	var jobs []river.JobArgs
	for _, c := range cmds {
		if !seen[c.RouterID] {
			seen[c.RouterID] = true
			jobs = append(jobs, deliverArgs{RouterID: c.RouterID})
		}
	}
	return jobs
}

// CreateCommand queues req for router routerID on behalf of p and starts
// delivering it; the answer is the command as queued. EFORBIDDEN (see
// checkCommand), EINVALID, ENOTFOUND for a router p cannot see, ECONFLICT
// for a revoked router.
func (s *Service) CreateCommand(ctx context.Context, p controlplane.Principal, routerID string, req controlplane.CommandRequest) (controlplane.Command, error) {
	ttl, err := s.checkCommand(p, req)
	if err != nil {
		return controlplane.Command{}, err
	}
	var c controlplane.Command
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		r, err := tx.Router(ctx, p.Scope(), routerID)
		if err != nil {
			return err
		}
		if c, err = s.queueInTx(ctx, tx, newCommand(p, r, req, tx.Now().Add(ttl)), ""); err != nil {
			return err
		}
		return s.insertTx(ctx, tx, deliverArgs{RouterID: r.ID})
	})
	if err != nil {
		return controlplane.Command{}, fmt.Errorf("create command: %w", err)
	}
	s.announceQueued([]controlplane.Command{c})
	return c, nil
}

// BulkCommand queues req.Command for every router req names, all or
// nothing, each as its own command under one bulk id. Errors as
// CreateCommand; EINVALID without routers or above MaxBulk.
func (s *Service) BulkCommand(ctx context.Context, p controlplane.Principal, req controlplane.BulkRequest) (controlplane.BulkResult, error) {
	ttl, err := s.checkCommand(p, req.Command)
	if err != nil {
		return controlplane.BulkResult{}, err
	}
	switch {
	case req.AllRouters && len(req.RouterIDs) > 0:
		return controlplane.BulkResult{}, controlplane.Errorf(controlplane.EINVALID, "router_ids: not allowed with all_routers")
	case !req.AllRouters && len(req.RouterIDs) == 0:
		return controlplane.BulkResult{}, controlplane.Errorf(controlplane.EINVALID, "router_ids: required unless all_routers is set")
	case len(req.RouterIDs) > s.opts.MaxBulk:
		return controlplane.BulkResult{}, controlplane.Errorf(controlplane.EINVALID, "router_ids: at most %d routers", s.opts.MaxBulk)
	}
	tenant := p.TenantID
	if p.IsSystemAdmin() {
		tenant = req.TenantID
		if req.AllRouters && tenant == 0 {
			return controlplane.BulkResult{}, controlplane.Errorf(controlplane.EINVALID, "tenant_id: required for a system admin's all_routers")
		}
	} else if req.TenantID != 0 && req.TenantID != p.TenantID {
		return controlplane.BulkResult{}, controlplane.Errorf(controlplane.ENOTFOUND, "tenant %d not found", req.TenantID)
	}
	bulkID, err := store.NewBulkID()
	if err != nil {
		return controlplane.BulkResult{}, err
	}
	var cmds []controlplane.Command
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		var routers []controlplane.Router
		if req.AllRouters {
			all, err := tx.Routers(ctx, tenant)
			if err != nil {
				return err
			}
			for _, r := range all {
				if r.Status != controlplane.RouterRevoked {
					routers = append(routers, r)
				}
			}
			if len(routers) > s.opts.MaxBulk {
				return controlplane.Errorf(controlplane.EINVALID, "all_routers: the tenant has more than %d routers", s.opts.MaxBulk)
			}
		} else {
			seen := map[string]bool{}
			for _, id := range req.RouterIDs {
				if seen[id] {
					return controlplane.Errorf(controlplane.EINVALID, "router_ids: %s listed twice", id)
				}
				seen[id] = true
				r, err := tx.Router(ctx, p.Scope(), id)
				if err != nil {
					return err
				}
				routers = append(routers, r)
			}
		}
		if len(routers) == 0 {
			return controlplane.Errorf(controlplane.EINVALID, "all_routers: the tenant has no routers")
		}
		expires := tx.Now().Add(ttl)
		for _, r := range routers {
			c := newCommand(p, r, req.Command, expires)
			c.BulkID = bulkID
			c, err := s.queueInTx(ctx, tx, c, "bulk "+bulkID)
			if err != nil {
				return err
			}
			cmds = append(cmds, c)
		}
		err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: routers[0].TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "command.bulk", Target: "bulk:" + bulkID, Result: "ok",
			Detail: fmt.Sprintf("%s to %d routers", req.Command.Kind, len(routers))})
		if err != nil {
			return err
		}
		return s.insertTx(ctx, tx, deliverJobs(cmds)...)
	})
	if err != nil {
		return controlplane.BulkResult{}, fmt.Errorf("bulk command: %w", err)
	}
	s.announceQueued(cmds)
	return controlplane.BulkResult{BulkID: bulkID, Commands: cmds}, nil
}

// GetCommand returns command id within scope (0: every tenant).
// ENOTFOUND if unknown or outside scope.
func (s *Service) GetCommand(ctx context.Context, scope int64, id string) (controlplane.Command, error) {
	return s.st.GetCommand(ctx, scope, id)
}

// ListCommands returns the commands within scope that match f, newest
// first, and how many match.
func (s *Service) ListCommands(ctx context.Context, scope int64, f controlplane.CommandFilter) ([]controlplane.Command, int, error) {
	return s.st.ListCommands(ctx, scope, f)
}

// CancelCommand cancels a command that has not started running on behalf
// of p. EFORBIDDEN for viewers, ENOTFOUND outside p's tenant, ECONFLICT
// once it runs or has finished.
func (s *Service) CancelCommand(ctx context.Context, p controlplane.Principal, id string) (controlplane.Command, error) {
	if !p.CanMutate() {
		return controlplane.Command{}, controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not cancel commands", p.Role)
	}
	u, err := s.st.CancelCommand(ctx, p.Scope(), id, p)
	if err != nil {
		return controlplane.Command{}, err
	}
	s.publishUpdate(u)
	return u.Command, nil
}

// ApplyCommandResult records an agent's report on a command and announces
// the command's and its account's new state. It implements
// ingest.CommandResults: ENOTFOUND for an unknown command or one of
// another router; other errors make the agent resend the report.
func (s *Service) ApplyCommandResult(ctx context.Context, r *protocol.CommandResult) error {
	u, err := s.st.ApplyCommandResult(ctx, r)
	if err != nil {
		return err
	}
	if r.Duplicate {
		s.m.results.WithLabelValues("duplicate").Inc()
	} else {
		s.m.results.WithLabelValues(string(r.Status)).Inc()
	}
	s.publishUpdate(u)
	return nil
}

// SweepCommands expires the queued and sent commands past their TTL, then
// delivers what waits for connected routers: queued commands whose scheduled delivery
// was lost, and commands sent longer than RedeliverAfter ago without an
// answer (the agent answers a duplicate from its record).
func (s *Service) SweepCommands(ctx context.Context) error {
	now := s.now()
	us, err := s.st.ExpireCommands(ctx, now)
	if err != nil {
		return err
	}
	for _, u := range us {
		s.publishUpdate(u)
	}
	cutoff := now.Add(-s.opts.RedeliverAfter)
	routers, err := s.st.RoutersWithPendingCommands(ctx, cutoff)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range routers {
		if err := s.disp.flush(ctx, r, cutoff); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
