package provisioning

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// JobSet is another service's River queues, workers and periodic jobs,
// run by provisioning's client: one River client per process, since River
// runs periodic jobs only on the client that holds its leadership.
type JobSet interface {
	// RegisterJobs adds the set's workers.
	RegisterJobs(ws *river.Workers)
	// JobQueues maps each of the set's queues to its workers.
	JobQueues() map[string]int
	// PeriodicJobs returns the set's periodic jobs.
	PeriodicJobs() []*river.PeriodicJob
}

// InsertJobsTx enqueues jobs (of provisioning or of a JobSet) in tx.
func (s *Service) InsertJobsTx(ctx context.Context, tx *store.Tx, args ...river.JobArgs) error {
	return s.insertTx(ctx, tx, args...)
}

// QueueCommandTx queues req for router r in tx on behalf of p, with its
// audit entry and deliver job; call Announce with it after the commit.
// detail goes into the audit entry. Errors as CreateCommand.
func (s *Service) QueueCommandTx(ctx context.Context, tx *store.Tx, p controlplane.Principal, r controlplane.Router,
	req controlplane.CommandRequest, detail string) (controlplane.Command, error) {
	ttl, err := s.checkCommand(p, req)
	if err != nil {
		return controlplane.Command{}, err
	}
	c, err := s.queueInTx(ctx, tx, newCommand(p, r, req, tx.Now().Add(ttl)), detail)
	if err != nil {
		return controlplane.Command{}, err
	}
	return c, s.insertTx(ctx, tx, deliverArgs{RouterID: r.ID})
}

// AccountOp is what ApplyAccountTx did to an account: AccountCreated,
// AccountUpdated, or "" when it was already as asked.
type AccountOp = string

// ApplyAccountTx makes the account as want in tx, for a service that owns
// accounts (billing's subscriptions): want.ID 0 creates it (an add on each
// of routers); otherwise its routers-visible fields are set from want (a
// renewal: a new expiry in the future enables an expired account again)
// and it is added to the routers of routers it is not on yet. Nothing is
// queued when it is already as asked, so a retried job sends no second
// set of commands. Call Announce after the commit.
func (s *Service) ApplyAccountTx(ctx context.Context, tx *store.Tx, p controlplane.Principal, want controlplane.Account,
	routers []controlplane.Router) (controlplane.AccountResult, AccountOp, error) {
	var res controlplane.AccountResult
	if err := s.validateAccount(want); err != nil {
		return res, "", err
	}
	if want.ID == 0 {
		a, err := tx.InsertAccount(ctx, want)
		if err != nil {
			return res, "", err
		}
		for _, r := range routers {
			if err := s.provisionInTx(ctx, tx, p, a, r, opAdd, true, &res); err != nil {
				return res, "", err
			}
		}
		if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: a.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "account.create", Target: accountTarget(a.ID), Result: "ok",
			Detail: fmt.Sprintf("%s account on %d routers", a.Kind, len(routers))}); err != nil {
			return res, "", err
		}
		if res.Account, err = tx.Account(ctx, 0, a.ID, false); err != nil {
			return res, "", err
		}
		return res, controlplane.AccountCreated, s.insertTx(ctx, tx, deliverJobs(res.Commands)...)
	}
	old, err := tx.Account(ctx, 0, want.ID, true)
	if err != nil {
		return res, "", err
	}
	a := old
	a.Password, a.Profile, a.Service, a.LimitUptime, a.LimitBytesTotal = want.Password, want.Profile, want.Service, want.LimitUptime, want.LimitBytesTotal
	a.ExpiresAt, a.Disabled, a.Phone, a.Email, a.Comment = want.ExpiresAt, want.Disabled, want.Phone, want.Email, want.Comment
	if a.ExpiresAt == nil || a.ExpiresAt.After(tx.Now()) {
		a.Expired = false // renewed
	}
	routersSee := a.Password != old.Password || a.Profile != old.Profile || a.Service != old.Service ||
		a.LimitUptime != old.LimitUptime || a.LimitBytesTotal != old.LimitBytesTotal || a.Disabled != old.Disabled ||
		a.Email != old.Email || a.Comment != old.Comment
	changed := routersSee || a.Phone != old.Phone || !sameTime(a.ExpiresAt, old.ExpiresAt) || a.Expired != old.Expired
	// A RADIUS copy holds the expiry too: the agent ends sessions and
	// rejects logins by it, so a renewal alone changes the entry.
	radiusSees := routersSee || !sameTime(a.ExpiresAt, old.ExpiresAt) || a.Expired != old.Expired
	on := map[string]bool{}
	for _, ar := range old.Routers {
		on[ar.RouterID] = true
	}
	if changed {
		if _, err := tx.UpdateAccount(ctx, a); err != nil {
			return res, "", err
		}
	}
	if radiusSees {
		for _, ar := range old.Routers {
			r, err := tx.Router(ctx, 0, ar.RouterID)
			if err != nil {
				return res, "", err
			}
			if r.Status == controlplane.RouterRevoked || (!routersSee && r.AuthMode != protocol.AuthRadius) {
				continue
			}
			op, err := updateOp(ctx, tx, ar)
			if err != nil {
				return res, "", err
			}
			if err := s.provisionInTx(ctx, tx, p, a, r, op, true, &res); err != nil {
				return res, "", err
			}
			if a.Disabled && !old.Disabled {
				if err := s.provisionInTx(ctx, tx, p, a, r, opKick, false, &res); err != nil {
					return res, "", err
				}
			}
		}
	}
	for _, r := range routers {
		if on[r.ID] || r.Status == controlplane.RouterRevoked {
			continue
		}
		if err := s.provisionInTx(ctx, tx, p, a, r, opAdd, true, &res); err != nil {
			return res, "", err
		}
		changed = true
	}
	if !changed {
		res.Account = old
		return res, "", nil
	}
	if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: a.TenantID, ActorID: p.UserID, Actor: p.Email,
		Action: "account.update", Target: accountTarget(a.ID), Result: "ok",
		Detail: fmt.Sprintf("%d router commands", len(res.Commands))}); err != nil {
		return res, "", err
	}
	if res.Account, err = tx.Account(ctx, 0, a.ID, false); err != nil {
		return res, "", err
	}
	return res, controlplane.AccountUpdated, s.insertTx(ctx, tx, deliverJobs(res.Commands)...)
}

// ExpireAccountTx disables account id and kicks its sessions on each of
// its routers now, whatever its expiry (a data cap, a suspension), with
// reason in the audit entry. It reports false when the account was already
// expired. Call Announce after the commit.
func (s *Service) ExpireAccountTx(ctx context.Context, tx *store.Tx, id int64, reason string) (controlplane.AccountResult, bool, error) {
	return s.expireAccountTx(ctx, tx, id, reason, true)
}

// Announce publishes what a composed transaction did to an account (op
// from ApplyAccountTx; "" publishes only the commands) and starts
// delivering its commands. Call it after the commit.
func (s *Service) Announce(op AccountOp, res controlplane.AccountResult) {
	if op != "" {
		s.publish(controlplane.AccountChanged{Op: op, Account: res.Account})
	}
	s.announceQueued(res.Commands)
	s.announceRadius(res)
}

// AnnounceCommands publishes commands queued by QueueCommandTx and starts
// delivering them. Call it after the commit.
func (s *Service) AnnounceCommands(cmds []controlplane.Command) { s.announceQueued(cmds) }
