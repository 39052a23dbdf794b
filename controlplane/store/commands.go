package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

const commandColumns = `id, tenant_id, router_id, kind, params, status, bulk_id, account_id, actor_id, actor, code,
	message, ret, result_rows, attempts, created_at, updated_at, expires_at, sent_at, started_at, finished_at`

func scanCommand(sc interface{ Scan(...any) error }) (controlplane.Command, error) {
	var c controlplane.Command
	var params string
	var account, actor sql.NullInt64
	var rows sql.NullString
	var sent, started, finished sql.NullTime
	err := sc.Scan(&c.ID, &c.TenantID, &c.RouterID, &c.Kind, &params, &c.Status, &c.BulkID, &account, &actor, &c.Actor,
		&c.Code, &c.Message, &c.Ret, &rows, &c.Attempts, &c.CreatedAt, &c.UpdatedAt, &c.ExpiresAt, &sent, &started, &finished)
	if err != nil {
		return controlplane.Command{}, err
	}
	c.AccountID, c.ActorID = account.Int64, actor.Int64
	c.CreatedAt, c.UpdatedAt, c.ExpiresAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), c.ExpiresAt.UTC()
	c.SentAt, c.StartedAt, c.FinishedAt = timePtr(sent), timePtr(started), timePtr(finished)
	c.TTLSeconds = int64(c.ExpiresAt.Sub(c.CreatedAt) / time.Second)
	if err := json.Unmarshal([]byte(params), &c.Params); err != nil {
		return controlplane.Command{}, fmt.Errorf("command %s params: %w", c.ID, err)
	}
	if rows.Valid && rows.String != "" {
		if err := json.Unmarshal([]byte(rows.String), &c.Rows); err != nil {
			return controlplane.Command{}, fmt.Errorf("command %s rows: %w", c.ID, err)
		}
	}
	return c, nil
}

// newCommandID returns "c" and 24 random lowercase hex digits. Random, not a
// sequence: agents remember executed ids for a month, so a rebuilt database
// must never hand out an id an agent has seen.
func newCommandID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random command id: %w", err)
	}
	return "c" + hex.EncodeToString(b), nil
}

// NewBulkID returns a random id grouping the commands of one bulk request.
func NewBulkID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random bulk id: %w", err)
	}
	return "b" + hex.EncodeToString(b), nil
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// InsertCommand stores c as queued and returns it as stored. An empty ID is
// generated; TenantID, RouterID, Kind and ExpiresAt are required and the
// router must belong to the tenant (ENOTFOUND otherwise). The audit entry
// of the creation is the caller's, which knows the request.
func (tx *Tx) InsertCommand(ctx context.Context, c controlplane.Command) (controlplane.Command, error) {
	t := tx.t
	if c.Kind == "" || c.RouterID == "" || c.TenantID == 0 || c.ExpiresAt.IsZero() {
		return controlplane.Command{}, controlplane.Errorf(controlplane.EINVALID, "command needs a tenant, router, kind and expiry")
	}
	r, err := getRouter(ctx, t, c.TenantID, c.RouterID, false)
	if err != nil {
		return controlplane.Command{}, err
	}
	if r.Status == controlplane.RouterRevoked {
		return controlplane.Command{}, controlplane.Errorf(controlplane.ECONFLICT, "router %s is revoked", r.ID)
	}
	if c.ID == "" {
		if c.ID, err = newCommandID(); err != nil {
			return controlplane.Command{}, err
		}
	}
	params, err := jsonText(c.Params)
	if err != nil {
		return controlplane.Command{}, fmt.Errorf("command params: %w", err)
	}
	out, err := scanCommand(t.queryRow(ctx, `INSERT INTO commands (id, tenant_id, router_id, kind, params, status, bulk_id,
		account_id, actor_id, actor, created_at, updated_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12) RETURNING `+commandColumns,
		c.ID, c.TenantID, c.RouterID, string(c.Kind), params, string(controlplane.CommandQueued), c.BulkID,
		nullID(c.AccountID), nullID(c.ActorID), c.Actor, t.now, dbTime(c.ExpiresAt)))
	if isUniqueViolation(err) {
		return controlplane.Command{}, controlplane.Errorf(controlplane.ECONFLICT, "command %s exists", c.ID)
	}
	return out, err
}

// Command returns command id if it lies within scope; lock takes its row
// lock on PostgreSQL for a read-modify-write. ENOTFOUND otherwise.
func (tx *Tx) Command(ctx context.Context, scope int64, id string, lock bool) (controlplane.Command, error) {
	return getCommand(ctx, tx.t, scope, id, lock)
}

func getCommand(ctx context.Context, t *dbtx, scope int64, id string, lock bool) (controlplane.Command, error) {
	var w where
	w.add("id = ?", id)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	q := `SELECT ` + commandColumns + ` FROM commands` + w.sql()
	if lock {
		q += t.forUpdate()
	}
	c, err := scanCommand(t.queryRow(ctx, q, w.args...))
	return c, noRows(err, "command", id)
}

// GetCommand returns command id. ENOTFOUND if unknown or outside scope.
func (s *Store) GetCommand(ctx context.Context, scope int64, id string) (controlplane.Command, error) {
	c, err := read(ctx, s, func(t *dbtx) (controlplane.Command, error) { return getCommand(ctx, t, scope, id, false) })
	if err != nil {
		return controlplane.Command{}, fmt.Errorf("get command %s: %w", id, err)
	}
	return c, nil
}

// ListCommands returns the commands within scope that match f, newest
// first, and how many match in all.
func (s *Store) ListCommands(ctx context.Context, scope int64, f controlplane.CommandFilter) ([]controlplane.Command, int, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	if f.RouterID != "" {
		w.add("router_id = ?", f.RouterID)
	}
	if f.BulkID != "" {
		w.add("bulk_id = ?", f.BulkID)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if f.Kind != "" {
		w.add("kind = ?", string(f.Kind))
	}
	if f.AccountID != 0 {
		w.add("account_id = ?", f.AccountID)
	}
	type page struct {
		rows  []controlplane.Command
		total int
	}
	p, err := read(ctx, s, func(t *dbtx) (page, error) {
		var p page
		if err := t.queryRow(ctx, `SELECT count(*) FROM commands`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, f.Limit, f.Offset)
		var err error
		p.rows, err = queryAll(ctx, t, scanCommand, `SELECT `+commandColumns+` FROM commands`+cond+` ORDER BY seq DESC`+lim, w.args...)
		return p, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list commands: %w", err)
	}
	return p.rows, p.total, nil
}

// PendingCommands returns routerID's commands in one of statuses (queued
// and, for a redelivery, sent) in the order they were created: the order
// they must reach the router in.
func (s *Store) PendingCommands(ctx context.Context, routerID string, statuses ...controlplane.CommandStatus) ([]controlplane.Command, error) {
	if len(statuses) == 0 {
		statuses = []controlplane.CommandStatus{controlplane.CommandQueued}
	}
	var w where
	w.add("router_id = ?", routerID)
	in := make([]string, len(statuses))
	for i, st := range statuses {
		w.args = append(w.args, string(st))
		in[i] = fmt.Sprintf("$%d", len(w.args))
	}
	w.conds = append(w.conds, "status IN ("+strings.Join(in, ", ")+")")
	cs, err := read(ctx, s, func(t *dbtx) ([]controlplane.Command, error) {
		return queryAll(ctx, t, scanCommand, `SELECT `+commandColumns+` FROM commands`+w.sql()+` ORDER BY seq`, w.args...)
	})
	if err != nil {
		return nil, fmt.Errorf("pending commands of router %s: %w", routerID, err)
	}
	return cs, nil
}

// RoutersWithPendingCommands returns the routers that have a queued
// command, or a sent one last delivered before sentBefore, by router id.
func (s *Store) RoutersWithPendingCommands(ctx context.Context, sentBefore time.Time) ([]string, error) {
	ids, err := read(ctx, s, func(t *dbtx) ([]string, error) {
		return queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (string, error) {
			var id string
			return id, sc.Scan(&id)
		}, `SELECT DISTINCT router_id FROM commands WHERE status = $1 OR (status = $2 AND sent_at < $3) ORDER BY router_id`,
			string(controlplane.CommandQueued), string(controlplane.CommandSent), dbTime(sentBefore))
	})
	if err != nil {
		return nil, fmt.Errorf("routers with pending commands: %w", err)
	}
	return ids, nil
}

// MarkCommandSent records a delivery of command id: it moves from status
// from (queued, or sent for a redelivery) to sent and counts the attempt.
// It changes nothing and reports Changed false when the command is no
// longer in status from or has expired, so that of two dispatchers racing
// for a command only one delivers it. Moving from queued is audited.
func (s *Store) MarkCommandSent(ctx context.Context, id string, from controlplane.CommandStatus) (controlplane.CommandUpdate, error) {
	if !from.Pending() {
		return controlplane.CommandUpdate{}, controlplane.Errorf(controlplane.EINVALID, "cannot send a command in status %s", from)
	}
	u, err := write(ctx, s, func(t *dbtx) (controlplane.CommandUpdate, error) {
		c, err := scanCommand(t.queryRow(ctx, `UPDATE commands SET status = $1, attempts = attempts + 1, sent_at = $2,
			updated_at = $2 WHERE id = $3 AND status = $4 AND expires_at > $2 RETURNING `+commandColumns,
			string(controlplane.CommandSent), t.now, id, string(from)))
		if errors.Is(err, sql.ErrNoRows) {
			c, err := getCommand(ctx, t, 0, id, false)
			return controlplane.CommandUpdate{Command: c}, err
		}
		if err != nil {
			return controlplane.CommandUpdate{}, err
		}
		if from == controlplane.CommandQueued {
			if err := auditTransition(ctx, t, c, ""); err != nil {
				return controlplane.CommandUpdate{}, err
			}
		}
		return controlplane.CommandUpdate{Command: c, Changed: true}, nil
	})
	if err != nil {
		return controlplane.CommandUpdate{}, fmt.Errorf("mark command %s sent: %w", id, err)
	}
	return u, nil
}

// RequeueCommand puts a command whose delivery failed (the broker refused
// the publish) back to queued, so the next delivery sends it again as
// new; it audits why. It changes nothing and reports Changed false unless
// the command is still sent.
func (s *Store) RequeueCommand(ctx context.Context, id, reason string) (controlplane.CommandUpdate, error) {
	u, err := write(ctx, s, func(t *dbtx) (controlplane.CommandUpdate, error) {
		c, err := scanCommand(t.queryRow(ctx, `UPDATE commands SET status = $1, sent_at = NULL, updated_at = $2
			WHERE id = $3 AND status = $4 RETURNING `+commandColumns,
			string(controlplane.CommandQueued), t.now, id, string(controlplane.CommandSent)))
		if errors.Is(err, sql.ErrNoRows) {
			c, err := getCommand(ctx, t, 0, id, false)
			return controlplane.CommandUpdate{Command: c}, err
		}
		if err != nil {
			return controlplane.CommandUpdate{}, err
		}
		if err := auditTransition(ctx, t, c, "delivery failed: "+reason); err != nil {
			return controlplane.CommandUpdate{}, err
		}
		return controlplane.CommandUpdate{Command: c, Changed: true}, nil
	})
	if err != nil {
		return controlplane.CommandUpdate{}, fmt.Errorf("requeue command %s: %w", id, err)
	}
	return u, nil
}

// ApplyCommandResult records an agent's report on a command in one
// transaction: the command's new state, its account's sync state on that
// router and the audit entry.
//
// running moves a queued or sent command to running; succeeded and failed
// end it (failed with code expired ends it expired). Reports that do not
// move it forward (a duplicate answer for a finished command, a late
// running) change nothing. One exception: a command cancelled or expired
// here that the agent nevertheless ran (it had been delivered) takes the
// agent's state, because what the router did is the truth to show.
//
// ENOTFOUND for an unknown command or one of another router (an agent
// cannot report on another router's commands).
func (s *Store) ApplyCommandResult(ctx context.Context, r *protocol.CommandResult) (controlplane.CommandUpdate, error) {
	u, err := write(ctx, s, func(t *dbtx) (controlplane.CommandUpdate, error) {
		c, err := getCommand(ctx, t, 0, r.ID, true)
		if err != nil {
			return controlplane.CommandUpdate{}, err
		}
		if c.RouterID != r.Router {
			return controlplane.CommandUpdate{}, notFound("command", r.ID)
		}
		to, ok := c.Status.AfterResult(r)
		if !ok {
			return controlplane.CommandUpdate{Command: c}, nil
		}
		next := c
		next.Status = to
		detail := ""
		switch to {
		case controlplane.CommandRunning:
			next.StartedAt = &t.now
			if c.Status.Final() {
				detail = "ran although it was " + string(c.Status)
			}
		default:
			next.Code, next.Message, next.Ret, next.Rows = r.Code, r.Message, r.Ret, r.Rows
			next.FinishedAt = &t.now
			if c.Status == controlplane.CommandExpired || c.Status == controlplane.CommandCancelled {
				detail = "ran although it was " + string(c.Status)
			}
		}
		return transition(ctx, t, next, detail)
	})
	if err != nil {
		return controlplane.CommandUpdate{}, fmt.Errorf("apply result of command %s: %w", r.ID, err)
	}
	return u, nil
}

// CancelCommand cancels a command that has not started running: it is
// never delivered again. A command already delivered (sent) may still run
// if the agent had received it; its real outcome is then recorded (see
// ApplyCommandResult). ENOTFOUND if unknown or outside scope, ECONFLICT
// once it is running or finished.
func (s *Store) CancelCommand(ctx context.Context, scope int64, id string, actor controlplane.Principal) (controlplane.CommandUpdate, error) {
	u, err := write(ctx, s, func(t *dbtx) (controlplane.CommandUpdate, error) {
		c, err := getCommand(ctx, t, scope, id, true)
		if err != nil {
			return controlplane.CommandUpdate{}, err
		}
		if !c.Status.Cancellable() {
			return controlplane.CommandUpdate{}, controlplane.Errorf(controlplane.ECONFLICT, "command %s is %s and can no longer be cancelled", id, c.Status)
		}
		c.Status, c.Code = controlplane.CommandCancelled, "cancelled"
		c.Message = "cancelled by " + actor.Email
		c.FinishedAt = &t.now
		return transition(ctx, t, c, "cancelled by "+actor.Email)
	})
	if err != nil {
		return controlplane.CommandUpdate{}, fmt.Errorf("cancel command %s: %w", id, err)
	}
	return u, nil
}

// ExpireCommands ends every queued or sent command whose expiry is at or
// before now as expired: it will never be delivered. It returns one update
// per expired command, oldest first.
func (s *Store) ExpireCommands(ctx context.Context, now time.Time) ([]controlplane.CommandUpdate, error) {
	us, err := write(ctx, s, func(t *dbtx) ([]controlplane.CommandUpdate, error) {
		return expireDue(ctx, t, now, "")
	})
	if err != nil {
		return nil, fmt.Errorf("expire commands: %w", err)
	}
	return us, nil
}

// ExpireRouterCommands is ExpireCommands for one router's commands: the
// dispatcher calls it whenever it considers a delivery, so a command whose
// TTL passed while its router was offline is expired the moment the
// router is back, not at the next sweep.
func (s *Store) ExpireRouterCommands(ctx context.Context, router string, now time.Time) ([]controlplane.CommandUpdate, error) {
	us, err := write(ctx, s, func(t *dbtx) ([]controlplane.CommandUpdate, error) {
		return expireDue(ctx, t, now, router)
	})
	if err != nil {
		return nil, fmt.Errorf("expire commands of router %s: %w", router, err)
	}
	return us, nil
}

// expireDue ends as expired every pending command past its expiry at now,
// of router or (router "") of every router.
func expireDue(ctx context.Context, t *dbtx, now time.Time, router string) ([]controlplane.CommandUpdate, error) {
	q := `SELECT ` + commandColumns + ` FROM commands WHERE status IN ($1, $2) AND expires_at <= $3`
	args := []any{string(controlplane.CommandQueued), string(controlplane.CommandSent), dbTime(now)}
	if router != "" {
		q += ` AND router_id = $4`
		args = append(args, router)
	}
	due, err := queryAll(ctx, t, scanCommand, q+` ORDER BY seq`+t.forUpdate(), args...)
	if err != nil {
		return nil, err
	}
	out := make([]controlplane.CommandUpdate, 0, len(due))
	for _, c := range due {
		c.Status, c.Code = controlplane.CommandExpired, protocol.CodeExpired
		c.Message = "expired at " + c.ExpiresAt.Format(time.RFC3339) + " before the router acknowledged it"
		c.FinishedAt = &t.now
		u, err := transition(ctx, t, c, "")
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// transition stores c's new state (status, result fields, timestamps),
// removes passwords from its parameters once it is final, updates its
// account's sync state on its router and audits the transition.
func transition(ctx context.Context, t *dbtx, c controlplane.Command, detail string) (controlplane.CommandUpdate, error) {
	if c.Status.Final() {
		c.Params = c.Params.Redacted()
	}
	params, err := jsonText(c.Params)
	if err != nil {
		return controlplane.CommandUpdate{}, err
	}
	var rows any
	if len(c.Rows) > 0 {
		s, err := jsonText(c.Rows)
		if err != nil {
			return controlplane.CommandUpdate{}, err
		}
		rows = s
	}
	c.Code = truncate(c.Code, protocol.MaxFieldLen)
	c.Message = truncate(c.Message, protocol.MaxFieldLen)
	c, err = scanCommand(t.queryRow(ctx, `UPDATE commands SET status = $1, params = $2, code = $3, message = $4, ret = $5,
		result_rows = $6, started_at = $7, finished_at = $8, updated_at = $9 WHERE id = $10 RETURNING `+commandColumns,
		string(c.Status), params, c.Code, c.Message, c.Ret, rows, nullTime(c.StartedAt), nullTime(c.FinishedAt), t.now, c.ID))
	if err != nil {
		return controlplane.CommandUpdate{}, err
	}
	if err := auditTransition(ctx, t, c, detail); err != nil {
		return controlplane.CommandUpdate{}, err
	}
	acct, err := syncAccountState(ctx, t, c)
	if err != nil {
		return controlplane.CommandUpdate{}, err
	}
	plan, err := syncPlanState(ctx, t, c)
	if err != nil {
		return controlplane.CommandUpdate{}, err
	}
	return controlplane.CommandUpdate{Command: c, Changed: true, Account: acct, Plan: plan}, nil
}

// auditTransition records that c reached its current status, with the
// actor who created it.
func auditTransition(ctx context.Context, t *dbtx, c controlplane.Command, detail string) error {
	result := "ok"
	if c.Status == controlplane.CommandFailed || c.Status == controlplane.CommandExpired {
		result = c.Code
		if result == "" {
			result = string(c.Status)
		}
	}
	d := fmt.Sprintf("%s on router %s", c.Kind, c.RouterID)
	if c.Message != "" {
		d += ": " + c.Message
	}
	if detail != "" {
		d += " (" + detail + ")"
	}
	return audit(ctx, t, controlplane.AuditEntry{
		TenantID: c.TenantID,
		ActorID:  c.ActorID,
		Actor:    c.Actor,
		Action:   "command." + string(c.Status),
		Target:   "command:" + c.ID,
		Result:   result,
		Detail:   truncate(d, protocol.MaxFieldLen),
	})
}

// syncState is an account's sync state on a router given the state of the
// command that decides it.
func syncState(c controlplane.Command) (state, message string) {
	switch c.Status {
	case controlplane.CommandSucceeded:
		return controlplane.SyncSynced, ""
	case controlplane.CommandFailed, controlplane.CommandExpired, controlplane.CommandCancelled:
		msg := c.Message
		if msg == "" {
			msg = string(c.Status)
		}
		return controlplane.SyncFailed, msg
	default:
		return controlplane.SyncPending, ""
	}
}

// syncAccountState updates the sync state of c's account on c's router
// when c is the command that decides it, and returns the account then.
func syncAccountState(ctx context.Context, t *dbtx, c controlplane.Command) (*controlplane.Account, error) {
	if c.AccountID == 0 {
		return nil, nil
	}
	state, msg := syncState(c)
	res, err := t.exec(ctx, `UPDATE account_routers SET state = $1, message = $2, updated_at = $3
		WHERE account_id = $4 AND router_id = $5 AND command_id = $6 AND (state <> $1 OR message <> $2)`,
		state, truncate(msg, protocol.MaxFieldLen), t.now, c.AccountID, c.RouterID, c.ID)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil, err
	}
	a, err := getAccount(ctx, t, 0, c.AccountID, false)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
