package provisioning

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// system is the actor of what the service does on its own (expiry).
var system = controlplane.Principal{Role: controlplane.RoleSystemAdmin, Email: "system"}

// accountOp is what a command does to an account on a router.
type accountOp int

const (
	opAdd accountOp = iota
	opSet
	opRemove
	opDisable
	opKick
)

// accountCommand is the command that applies op for a on a router.
func accountCommand(a controlplane.Account, op accountOp) controlplane.CommandRequest {
	var req controlplane.CommandRequest
	if a.Kind == controlplane.AccountHotspot {
		u := &protocol.HotspotUser{Name: a.Name}
		switch op {
		case opAdd, opSet:
			u.Password, u.Profile, u.LimitUptime, u.LimitBytesTotal = a.Password, a.Profile, a.LimitUptime, a.LimitBytesTotal
			u.Email, u.Comment = a.Email, a.Comment
			if disabled := a.Disabled; op == opSet || disabled {
				u.Disabled = &disabled
			}
		}
		req.HotspotUser = u
		req.Kind = map[accountOp]protocol.CommandKind{opAdd: protocol.CmdHotspotUserAdd, opSet: protocol.CmdHotspotUserSet,
			opRemove: protocol.CmdHotspotUserRemove, opDisable: protocol.CmdHotspotUserDisable}[op]
		if op == opKick {
			req.HotspotUser = nil
			req.Kind, req.Kick = protocol.CmdHotspotActiveKick, &protocol.Kick{User: a.Name}
		}
		return req
	}
	sec := &protocol.PPPSecret{Name: a.Name}
	switch op {
	case opAdd, opSet:
		sec.Password, sec.Service, sec.Profile, sec.Comment = a.Password, a.Service, a.Profile, a.Comment
		if disabled := a.Disabled; op == opSet || disabled {
			sec.Disabled = &disabled
		}
	}
	req.PPPSecret = sec
	req.Kind = map[accountOp]protocol.CommandKind{opAdd: protocol.CmdPPPSecretAdd, opSet: protocol.CmdPPPSecretSet,
		opRemove: protocol.CmdPPPSecretRemove, opDisable: protocol.CmdPPPSecretDisable}[op]
	if op == opKick {
		req.PPPSecret = nil
		req.Kind, req.Kick = protocol.CmdPPPActiveKick, &protocol.Kick{User: a.Name}
	}
	return req
}

// checkText validates a free-text account field.
func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) || len(v) > max {
		return controlplane.Errorf(controlplane.EINVALID, "%s: must be valid UTF-8 of at most %d bytes", field, max)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return controlplane.Errorf(controlplane.EINVALID, "%s: must not contain control characters", field)
		}
	}
	return nil
}

// validateAccount checks a against the wire contract of the command that
// adds it, and its own fields.
func (s *Service) validateAccount(a controlplane.Account) error {
	if !a.Kind.Valid() {
		return controlplane.Errorf(controlplane.EINVALID, "kind: must be hotspot or ppp")
	}
	if strings.TrimSpace(a.Name) == "" {
		return controlplane.Errorf(controlplane.EINVALID, "name: required")
	}
	if a.Kind == controlplane.AccountPPP && (a.LimitUptime != "" || a.LimitBytesTotal != 0) {
		return controlplane.Errorf(controlplane.EINVALID, "limit_uptime: hotspot accounts only")
	}
	if a.Kind == controlplane.AccountHotspot && a.Service != "" {
		return controlplane.Errorf(controlplane.EINVALID, "service: PPP accounts only")
	}
	for _, f := range []struct{ name, v string }{{"phone", a.Phone}, {"email", a.Email}, {"comment", a.Comment}} {
		if err := checkText(f.name, f.v, 200); err != nil {
			return err
		}
	}
	_, err := s.checkCommand(system, accountCommand(a, opAdd))
	return err
}

// resolveRouters returns the routers a request names: all of them visible
// to p and of tenant (which it fixes when 0), none revoked.
func resolveRouters(ctx context.Context, tx *store.Tx, p controlplane.Principal, tenant *int64, ids []string, all bool) ([]controlplane.Router, error) {
	if all {
		if *tenant == 0 {
			return nil, controlplane.Errorf(controlplane.EINVALID, "tenant_id: required with all_routers")
		}
		rs, err := tx.Routers(ctx, *tenant)
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(rs, func(r controlplane.Router) bool { return r.Status == controlplane.RouterRevoked }), nil
	}
	var out []controlplane.Router
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return nil, controlplane.Errorf(controlplane.EINVALID, "router_ids: %s listed twice", id)
		}
		seen[id] = true
		r, err := tx.Router(ctx, p.Scope(), id)
		if err != nil {
			return nil, err
		}
		if *tenant == 0 {
			*tenant = r.TenantID
		}
		if r.TenantID != *tenant {
			return nil, controlplane.Errorf(controlplane.ENOTFOUND, "router %s not found in tenant %d", id, *tenant)
		}
		if r.Status == controlplane.RouterRevoked {
			return nil, controlplane.Errorf(controlplane.ECONFLICT, "router %s is revoked", id)
		}
		out = append(out, r)
	}
	return out, nil
}

// provisionInTx carries op for a to router r in tx and records it in res;
// decides makes it what decides a's sync state there. On a router in
// RADIUS mode every op but a kick is a change of a's entry in the router's
// synced copy (res.RadiusRouters; the state stays pending until the agent
// holds it), since the router checks logins with its agent and holds no
// local user; a kick is a command still, which the agent turns into a
// Disconnect-Request. Elsewhere op is a command (res.Commands), and a
// deciding one decides the state when it finishes.
func (s *Service) provisionInTx(ctx context.Context, tx *store.Tx, p controlplane.Principal, a controlplane.Account,
	r controlplane.Router, op accountOp, decides bool, res *controlplane.AccountResult) error {
	if r.AuthMode == protocol.AuthRadius && op != opKick {
		if _, err := tx.BumpRadius(ctx, r.ID, store.AccountKey(a, op == opRemove)); err != nil {
			return err
		}
		if !slices.Contains(res.RadiusRouters, r.ID) {
			res.RadiusRouters = append(res.RadiusRouters, r.ID)
		}
		if decides {
			return tx.SetAccountRouterRadius(ctx, a.ID, r.ID)
		}
		return nil
	}
	req := accountCommand(a, op)
	c := newCommand(p, r, req, tx.Now().Add(s.opts.DefaultTTL))
	c.AccountID = a.ID
	c, err := s.queueInTx(ctx, tx, c, fmt.Sprintf("account %d", a.ID))
	if err != nil {
		return err
	}
	if decides {
		if err := tx.SetAccountRouter(ctx, a.ID, c); err != nil {
			return err
		}
	}
	res.Commands = append(res.Commands, c)
	return nil
}

// announceRadius tells the RADIUS sync which routers' copies res changed.
// Call it after the commit.
func (s *Service) announceRadius(res controlplane.AccountResult) {
	for _, id := range res.RadiusRouters {
		s.publish(controlplane.RadiusChanged{TenantID: res.Account.TenantID, RouterID: id})
	}
}

func accountTarget(id int64) string { return fmt.Sprintf("account:%d", id) }

// CreateAccount stores a new account and queues its add command on each
// router the request names. EFORBIDDEN for viewers, EINVALID, ENOTFOUND
// for a router or tenant p cannot see, ECONFLICT for a duplicate name.
func (s *Service) CreateAccount(ctx context.Context, p controlplane.Principal, req controlplane.AccountRequest) (controlplane.AccountResult, error) {
	if !p.CanMutate() {
		return controlplane.AccountResult{}, controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not manage accounts", p.Role)
	}
	tenant := req.TenantID
	if !p.IsSystemAdmin() {
		if tenant != 0 && tenant != p.TenantID {
			return controlplane.AccountResult{}, controlplane.Errorf(controlplane.ENOTFOUND, "tenant %d not found", tenant)
		}
		tenant = p.TenantID
	}
	a := controlplane.Account{Kind: req.Kind, Name: strings.TrimSpace(req.Name), Password: req.Password,
		Profile: req.Profile, Service: req.Service, LimitUptime: req.LimitUptime, LimitBytesTotal: req.LimitBytesTotal,
		ExpiresAt: req.ExpiresAt, Disabled: req.Disabled, Phone: req.Phone, Email: req.Email, Comment: req.Comment}
	if err := s.validateAccount(a); err != nil {
		return controlplane.AccountResult{}, err
	}
	if req.AllRouters && len(req.RouterIDs) > 0 {
		return controlplane.AccountResult{}, controlplane.Errorf(controlplane.EINVALID, "router_ids: not allowed with all_routers")
	}
	var res controlplane.AccountResult
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		routers, err := resolveRouters(ctx, tx, p, &tenant, req.RouterIDs, req.AllRouters)
		if err != nil {
			return err
		}
		if tenant == 0 {
			return controlplane.Errorf(controlplane.EINVALID, "tenant_id: required")
		}
		if a.ExpiresAt != nil && !a.ExpiresAt.After(tx.Now()) {
			return controlplane.Errorf(controlplane.EINVALID, "expires_at: must be in the future")
		}
		a.TenantID = tenant
		if a, err = tx.InsertAccount(ctx, a); err != nil {
			return err
		}
		for _, r := range routers {
			if err := s.provisionInTx(ctx, tx, p, a, r, opAdd, true, &res); err != nil {
				return err
			}
		}
		if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: tenant, ActorID: p.UserID, Actor: p.Email,
			Action: "account.create", Target: accountTarget(a.ID), Result: "ok",
			Detail: fmt.Sprintf("%s account on %d routers", a.Kind, len(routers))}); err != nil {
			return err
		}
		if res.Account, err = tx.Account(ctx, 0, a.ID, false); err != nil {
			return err
		}
		return s.insertTx(ctx, tx, deliverJobs(res.Commands)...)
	})
	if err != nil {
		return controlplane.AccountResult{}, fmt.Errorf("create account: %w", err)
	}
	s.publish(controlplane.AccountChanged{Op: controlplane.AccountCreated, Account: res.Account})
	s.announceQueued(res.Commands)
	s.announceRadius(res)
	return res, nil
}

// GetAccount returns account id within scope. ENOTFOUND otherwise.
func (s *Service) GetAccount(ctx context.Context, scope, id int64) (controlplane.Account, error) {
	return s.st.GetAccount(ctx, scope, id)
}

// ListAccounts returns the accounts within scope that match f.
func (s *Service) ListAccounts(ctx context.Context, scope int64, f controlplane.AccountFilter) ([]controlplane.Account, int, error) {
	return s.st.ListAccounts(ctx, scope, f)
}

// UpdateAccount applies patch and queues a set command on every router of
// the account when something the routers hold changed (an add again where
// the account's add had failed, so fixing the cause retries it). Errors as
// CreateAccount.
func (s *Service) UpdateAccount(ctx context.Context, p controlplane.Principal, id int64, patch controlplane.AccountPatch) (controlplane.AccountResult, error) {
	if !p.CanMutate() {
		return controlplane.AccountResult{}, controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not manage accounts", p.Role)
	}
	var res controlplane.AccountResult
	changed := false
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		old, err := tx.Account(ctx, p.Scope(), id, true)
		if err != nil {
			return err
		}
		a := old
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&a.Password, patch.Password)
		set(&a.Profile, patch.Profile)
		set(&a.Service, patch.Service)
		set(&a.LimitUptime, patch.LimitUptime)
		set(&a.Phone, patch.Phone)
		set(&a.Email, patch.Email)
		set(&a.Comment, patch.Comment)
		if patch.LimitBytesTotal != nil {
			a.LimitBytesTotal = *patch.LimitBytesTotal
		}
		switch {
		case patch.ClearExpiry && patch.ExpiresAt != nil:
			return controlplane.Errorf(controlplane.EINVALID, "clear_expiry: not allowed with expires_at")
		case patch.ClearExpiry:
			a.ExpiresAt = nil
		case patch.ExpiresAt != nil:
			if !patch.ExpiresAt.After(tx.Now()) {
				return controlplane.Errorf(controlplane.EINVALID, "expires_at: must be in the future")
			}
			e := patch.ExpiresAt.UTC()
			a.ExpiresAt = &e
		}
		if a.Expired && (patch.ClearExpiry || patch.ExpiresAt != nil) {
			// Renewed: enabled again unless the patch says otherwise.
			a.Expired, a.Disabled = false, false
		}
		if patch.Disabled != nil {
			a.Disabled = *patch.Disabled
		}
		if err := s.validateAccount(a); err != nil {
			return err
		}
		routersSee := a.Password != old.Password || a.Profile != old.Profile || a.Service != old.Service ||
			a.LimitUptime != old.LimitUptime || a.LimitBytesTotal != old.LimitBytesTotal || a.Disabled != old.Disabled ||
			a.Email != old.Email || a.Comment != old.Comment
		changed = routersSee || a.Phone != old.Phone || !sameTime(a.ExpiresAt, old.ExpiresAt) || a.Expired != old.Expired
		// A RADIUS copy holds the expiry too: the agent ends sessions and
		// rejects logins by it, so a renewal alone changes the entry.
		radiusSees := routersSee || !sameTime(a.ExpiresAt, old.ExpiresAt) || a.Expired != old.Expired
		if !changed {
			res.Account = old
			return nil
		}
		if _, err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		if radiusSees {
			for _, ar := range old.Routers {
				r, err := tx.Router(ctx, 0, ar.RouterID)
				if err != nil {
					return err
				}
				if r.Status == controlplane.RouterRevoked || (!routersSee && r.AuthMode != protocol.AuthRadius) {
					continue
				}
				op, err := updateOp(ctx, tx, ar)
				if err != nil {
					return err
				}
				if err := s.provisionInTx(ctx, tx, p, a, r, op, true, &res); err != nil {
					return err
				}
				if a.Disabled && !old.Disabled {
					// Disabling does not end live sessions on RouterOS.
					if err := s.provisionInTx(ctx, tx, p, a, r, opKick, false, &res); err != nil {
						return err
					}
				}
			}
		}
		if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: a.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "account.update", Target: accountTarget(a.ID), Result: "ok",
			Detail: fmt.Sprintf("%d router commands", len(res.Commands))}); err != nil {
			return err
		}
		if res.Account, err = tx.Account(ctx, 0, a.ID, false); err != nil {
			return err
		}
		return s.insertTx(ctx, tx, deliverJobs(res.Commands)...)
	})
	if err != nil {
		return controlplane.AccountResult{}, fmt.Errorf("update account %d: %w", id, err)
	}
	if changed {
		s.publish(controlplane.AccountChanged{Op: controlplane.AccountUpdated, Account: res.Account})
		s.announceQueued(res.Commands)
		s.announceRadius(res)
	}
	return res, nil
}

// updateOp is how an update reaches a router: a set, unless the account
// never got there (its add failed, e.g. for an unknown profile), when the
// update is the retry of the add.
func updateOp(ctx context.Context, tx *store.Tx, ar controlplane.AccountRouter) (accountOp, error) {
	if ar.State != controlplane.SyncFailed || ar.CommandID == "" {
		return opSet, nil
	}
	c, err := tx.Command(ctx, 0, ar.CommandID, false)
	if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
		return opSet, nil
	}
	if err != nil {
		return 0, err
	}
	if c.Kind == protocol.CmdHotspotUserAdd || c.Kind == protocol.CmdPPPSecretAdd {
		return opAdd, nil
	}
	return opSet, nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// SetAccountRouters makes routerIDs the account's routers: it queues an
// add on each new one and a remove on each dropped one. Errors as
// CreateAccount.
func (s *Service) SetAccountRouters(ctx context.Context, p controlplane.Principal, id int64, routerIDs []string) (controlplane.AccountResult, error) {
	if !p.CanMutate() {
		return controlplane.AccountResult{}, controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not manage accounts", p.Role)
	}
	var res controlplane.AccountResult
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.Account(ctx, p.Scope(), id, true)
		if err != nil {
			return err
		}
		tenant := a.TenantID
		want, err := resolveRouters(ctx, tx, p, &tenant, routerIDs, false)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, ar := range a.Routers {
			have[ar.RouterID] = true
		}
		keep := map[string]bool{}
		for _, r := range want {
			keep[r.ID] = true
			if have[r.ID] {
				continue
			}
			if err := s.provisionInTx(ctx, tx, p, a, r, opAdd, true, &res); err != nil {
				return err
			}
		}
		for _, ar := range a.Routers {
			if keep[ar.RouterID] {
				continue
			}
			if err := tx.RemoveAccountRouter(ctx, a.ID, ar.RouterID); err != nil {
				return err
			}
			r, err := tx.Router(ctx, 0, ar.RouterID)
			if err != nil {
				return err
			}
			if r.Status == controlplane.RouterRevoked {
				continue
			}
			if err := s.provisionInTx(ctx, tx, p, a, r, opRemove, false, &res); err != nil {
				return err
			}
		}
		if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: a.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "account.routers", Target: accountTarget(a.ID), Result: "ok",
			Detail: fmt.Sprintf("now on %d routers; %d router commands", len(want), len(res.Commands))}); err != nil {
			return err
		}
		if res.Account, err = tx.Account(ctx, 0, a.ID, false); err != nil {
			return err
		}
		return s.insertTx(ctx, tx, deliverJobs(res.Commands)...)
	})
	if err != nil {
		return controlplane.AccountResult{}, fmt.Errorf("set routers of account %d: %w", id, err)
	}
	if len(res.Commands) > 0 || len(res.RadiusRouters) > 0 {
		s.publish(controlplane.AccountChanged{Op: controlplane.AccountUpdated, Account: res.Account})
		s.announceQueued(res.Commands)
		s.announceRadius(res)
	}
	return res, nil
}

// DeleteAccount deletes the account and queues its removal (after a kick
// of its live sessions) on each of its routers. Errors as CreateAccount.
func (s *Service) DeleteAccount(ctx context.Context, p controlplane.Principal, id int64) (controlplane.AccountResult, error) {
	if !p.CanMutate() {
		return controlplane.AccountResult{}, controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not manage accounts", p.Role)
	}
	var res controlplane.AccountResult
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.Account(ctx, p.Scope(), id, true)
		if err != nil {
			return err
		}
		res.Account = a
		for _, ar := range a.Routers {
			r, err := tx.Router(ctx, 0, ar.RouterID)
			if err != nil {
				return err
			}
			if r.Status == controlplane.RouterRevoked {
				continue
			}
			for _, op := range []accountOp{opRemove, opKick} {
				if err := s.provisionInTx(ctx, tx, p, a, r, op, false, &res); err != nil {
					return err
				}
			}
		}
		if err := tx.DeleteAccount(ctx, a.ID); err != nil {
			return err
		}
		if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: a.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "account.delete", Target: accountTarget(a.ID), Result: "ok",
			Detail: fmt.Sprintf("%s account removed from %d routers", a.Kind, len(a.Routers))}); err != nil {
			return err
		}
		return s.insertTx(ctx, tx, deliverJobs(res.Commands)...)
	})
	if err != nil {
		return controlplane.AccountResult{}, fmt.Errorf("delete account %d: %w", id, err)
	}
	s.publish(controlplane.AccountChanged{Op: controlplane.AccountDeleted, Account: res.Account})
	s.announceQueued(res.Commands)
	s.announceRadius(res)
	return res, nil
}

// ExpireAccounts disables every account whose expiry has passed and kicks
// its live sessions, on each of its routers, and returns how many it
// expired.
func (s *Service) ExpireAccounts(ctx context.Context) (int, error) {
	n := 0
	for {
		due, err := s.st.ExpiringAccounts(ctx, s.now(), 100)
		if err != nil {
			return n, err
		}
		progress := 0
		for _, a := range due {
			done, err := s.expireAccount(ctx, a.ID)
			if err != nil {
				return n, err
			}
			if done {
				progress++
			}
		}
		n += progress
		if progress == 0 {
			// Nothing left, or only accounts renewed meanwhile.
			return n, nil
		}
	}
}

// expireAccount expires one account and reports whether it did (false
// when it was renewed or expired meanwhile).
func (s *Service) expireAccount(ctx context.Context, id int64) (bool, error) {
	var res controlplane.AccountResult
	expired := false
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		res, expired, err = s.expireAccountTx(ctx, tx, id, "", false)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("expire account %d: %w", id, err)
	}
	if expired {
		s.Announce(controlplane.AccountUpdated, res)
	}
	return expired, nil
}

// expireAccountTx disables and kicks account id on its routers: when its
// expiry has passed, or now when force (reason says why in the audit).
func (s *Service) expireAccountTx(ctx context.Context, tx *store.Tx, id int64, reason string, force bool) (controlplane.AccountResult, bool, error) {
	var res controlplane.AccountResult
	a, err := tx.Account(ctx, 0, id, true)
	if err != nil {
		return res, false, err
	}
	if a.Expired || (!force && (a.ExpiresAt == nil || a.ExpiresAt.After(tx.Now()))) {
		return res, false, nil // renewed or expired meanwhile
	}
	a.Expired, a.Disabled = true, true
	if _, err := tx.UpdateAccount(ctx, a); err != nil {
		return res, false, err
	}
	var jobs []river.JobArgs
	for _, ar := range a.Routers {
		r, err := tx.Router(ctx, 0, ar.RouterID)
		if err != nil {
			return res, false, err
		}
		if r.Status == controlplane.RouterRevoked {
			continue
		}
		if err := s.provisionInTx(ctx, tx, system, a, r, opDisable, true, &res); err != nil {
			return res, false, err
		}
		if err := s.provisionInTx(ctx, tx, system, a, r, opKick, false, &res); err != nil {
			return res, false, err
		}
		jobs = append(jobs, deliverArgs{RouterID: r.ID})
	}
	detail := fmt.Sprintf("disabled and kicked on %d routers", len(jobs))
	switch {
	case reason != "":
		detail = reason + "; " + detail
	case a.ExpiresAt != nil:
		detail = fmt.Sprintf("expired at %s; %s", a.ExpiresAt.Format(time.RFC3339), detail)
	}
	if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: a.TenantID, Actor: system.Email,
		Action: "account.expire", Target: accountTarget(a.ID), Result: "ok", Detail: detail}); err != nil {
		return res, false, err
	}
	if res.Account, err = tx.Account(ctx, 0, a.ID, false); err != nil {
		return res, false, err
	}
	s.m.accountsExpired.Inc()
	return res, true, s.insertTx(ctx, tx, jobs...)
}
