package provisioning

import (
	"context"
	"fmt"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// SetRouterAuthMode switches router id between local users and RADIUS, in
// one transaction, audited:
//
//   - local → radius: every account on the router becomes an entry of its
//     synced copy (pending until the agent holds it), and its hotspot user
//     or PPP secret is removed from the router by the usual remove command:
//     RouterOS checks its local users before RADIUS, so one left behind
//     would log in past the RADIUS decision. The tenant's unused vouchers
//     become voucher entries.
//   - radius → local: every entry is tombstoned and the accounts are added
//     to the router again by add commands, which decide their state.
//
// Switching to the mode the router has changes nothing. EFORBIDDEN below
// tenant admin, EINVALID for an unknown mode, ENOTFOUND for a router p
// cannot see, ECONFLICT for a revoked one.
func (s *Service) SetRouterAuthMode(ctx context.Context, p controlplane.Principal, id, mode string) (controlplane.RouterChange, error) {
	var out controlplane.RouterChange
	if mode != protocol.AuthLocal && mode != protocol.AuthRadius {
		return out, controlplane.Errorf(controlplane.EINVALID, "auth_mode: want %q or %q", protocol.AuthLocal, protocol.AuthRadius)
	}
	var accounts []controlplane.Account
	changed := false
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		old, err := tx.Router(ctx, p.Scope(), id)
		if err != nil {
			return err
		}
		if !p.CanManage() {
			return controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not change routers", p.Role)
		}
		if old.AuthMode == mode {
			out.Router = old
			return nil
		}
		changed = true
		r, err := tx.SetRouterAuthMode(ctx, p.Scope(), id, mode)
		if err != nil {
			return err
		}
		as, err := tx.RouterAccounts(ctx, id)
		if err != nil {
			return err
		}
		var res controlplane.AccountResult
		for _, a := range as {
			if mode == protocol.AuthRadius {
				// old is still local: the remove is a command.
				if err := s.provisionInTx(ctx, tx, p, a, old, opRemove, false, &res); err != nil {
					return err
				}
			}
			if err := s.provisionInTx(ctx, tx, p, a, r, opAdd, true, &res); err != nil {
				return err
			}
		}
		if mode == protocol.AuthRadius {
			vs, err := tx.UnusedVouchers(ctx, r.TenantID)
			if err != nil {
				return err
			}
			keys := make([]store.RadiusKey, len(vs))
			for i, v := range vs {
				keys[i] = store.VoucherKey(v, false)
			}
			if _, err := tx.BumpRadius(ctx, id, keys...); err != nil {
				return err
			}
		} else {
			// The adds above were commands: tombstone every live entry,
			// the vouchers' too.
			keys, err := tx.LiveRadiusKeys(ctx, id)
			if err != nil {
				return err
			}
			for i := range keys {
				keys[i] = store.RadiusKey{Kind: keys[i].Kind, Name: keys[i].Name, Deleted: true}
			}
			if _, err := tx.BumpRadius(ctx, id, keys...); err != nil {
				return err
			}
		}
		out.Commands = res.Commands
		if out.Router, err = tx.Router(ctx, 0, id); err != nil {
			return err
		}
		for _, a := range as {
			if a, err = tx.Account(ctx, 0, a.ID, false); err != nil {
				return err
			}
			accounts = append(accounts, a)
		}
		if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: r.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "router.auth_mode", Target: "router:" + id, Result: "ok",
			Detail: fmt.Sprintf("%s → %s; %d accounts, %d router commands", old.AuthMode, mode, len(as), len(res.Commands))}); err != nil {
			return err
		}
		return s.insertTx(ctx, tx, deliverJobs(res.Commands)...)
	})
	if err != nil {
		return controlplane.RouterChange{}, fmt.Errorf("set auth mode of router %s: %w", id, err)
	}
	if out.Commands == nil {
		out.Commands = []controlplane.Command{}
	}
	if !changed {
		return out, nil
	}
	changes := []controlplane.Change{controlplane.RouterStatusChanged{Router: out.Router},
		controlplane.RadiusChanged{TenantID: out.Router.TenantID, RouterID: id}}
	for _, a := range accounts {
		changes = append(changes, controlplane.AccountChanged{Op: controlplane.AccountUpdated, Account: a})
	}
	s.publish(changes...)
	s.announceQueued(out.Commands)
	return out, nil
}
