package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// ApplyBatch applies an agent's event batch exactly once, in one
// transaction: it locks the router row (SELECT … FOR UPDATE on PostgreSQL;
// SQLite's single writer connection serializes anyway), skips events with
// seq <= last_seq, applies the rest and advances last_seq. A batch
// delivered twice, concurrently or not, or replayed with an overlapping
// range, therefore leaves the store as a single delivery would.
//
// Per event type:
//   - session.started and session.updated upsert the live session by router
//     and key: a new row is SessionStarted, a changed one SessionUpdated
//     (counters are absolute, so an update for an unknown session inserts
//     it), an unchanged one nothing. A session's first started_at is kept.
//   - session.ended moves the live row to history with the event's final
//     counters, ended_at = event ts, and the reason (SessionEnded).
//   - snapshot parts upsert their sessions as above, stamped with the
//     snapshot id; the last part ends every live session of the router that
//     no part of that snapshot listed, with reason vanished-on-resync.
//   - router.resources stores the reading, identity, board and version on
//     the router row (RouterResourcesUpdated).
//
// A live row is created for a key whose history row ended after the
// session's start only if that end was provisional (a resync or a stale
// sweep ended a session that turns out to be alive): the history row is
// removed, so each session appears once in history. Likewise an end for a
// session no longer live updates such a history row instead of adding one.
//
// EINVALID if the batch does not validate, ENOTFOUND if the router is
// unknown, EUNAUTHORIZED if it is revoked. On any error nothing is applied.
//
// A batch whose Prev is above the router's last_seq is refused with a
// *controlplane.PredecessorError (retryable): the event it follows has not been applied
// yet. Callers that know batches arrive in order clear Prev.
//
// Epochs: a batch whose Epoch differs from the router's (and is not empty)
// starts a new seq space: the agent lost its database and counts from 1
// again. The old epoch is retired with its last seq, last_seq restarts at
// 0 and the change is audited (router.epoch). A batch from a retired epoch
// is refused with EINVALID, so a stray old copy of the agent cannot make
// two epochs alternate. The first epoch a router reports is adopted
// without a reset.
func (s *Store) ApplyBatch(ctx context.Context, b *protocol.EventBatch) (controlplane.Applied, error) {
	if b == nil {
		return controlplane.Applied{}, controlplane.Errorf(controlplane.EINVALID, "nil batch")
	}
	if err := b.Validate(); err != nil {
		return controlplane.Applied{}, controlplane.Errorf(controlplane.EINVALID, "batch: %v", err)
	}
	a, err := write(ctx, s, func(tx *dbtx) (controlplane.Applied, error) { return applyBatch(ctx, tx, b) })
	if err != nil {
		return controlplane.Applied{}, fmt.Errorf("apply batch router %s: %w", b.Router, err)
	}
	return a, nil
}

func applyBatch(ctx context.Context, tx *dbtx, b *protocol.EventBatch) (controlplane.Applied, error) {
	var a controlplane.Applied
	var status string
	var last int64
	err := tx.queryRow(ctx, `SELECT tenant_id, status, last_seq, epoch FROM routers WHERE id = $1`+tx.forUpdate(), b.Router).
		Scan(&a.TenantID, &status, &last, &a.Epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return controlplane.Applied{}, notFound("router", b.Router)
	}
	if err != nil {
		return controlplane.Applied{}, err
	}
	if status == controlplane.RouterRevoked {
		return controlplane.Applied{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "router %s is revoked", b.Router)
	}
	if b.Epoch != "" && b.Epoch != a.Epoch {
		if last, err = switchEpoch(ctx, tx, a.TenantID, b.Router, a.Epoch, last, b.Epoch); err != nil {
			return controlplane.Applied{}, err
		}
		a.NewEpoch = a.Epoch != ""
		a.Epoch = b.Epoch
	}
	if b.Prev > uint64(last) {
		return controlplane.Applied{}, &controlplane.PredecessorError{Router: b.Router, Prev: b.Prev, LastSeq: uint64(last)}
	}
	a.PrevSeq = uint64(last)
	a.LastSeq = a.PrevSeq
	live, err := loadLive(ctx, tx, b.Router, sessionKeys(b.Events, a.LastSeq))
	if err != nil {
		return controlplane.Applied{}, err
	}
	for i := range b.Events {
		ev := &b.Events[i]
		if ev.Seq <= a.LastSeq {
			a.Skipped++
			continue
		}
		var err error
		a.Changes, err = applyEvent(ctx, tx, live, a.TenantID, b.Router, ev, a.Changes)
		if err != nil {
			return controlplane.Applied{}, fmt.Errorf("event seq %d (%s): %w", ev.Seq, ev.Type, err)
		}
		a.Applied++
		a.LastSeq = ev.Seq
	}
	if err := addLogins(ctx, tx, loginCounts(a.TenantID, b.Router, a.Changes)); err != nil {
		return controlplane.Applied{}, err
	}
	// last_seen_at moves even when every event was a redelivery: the agent
	// is evidently alive.
	if _, err := tx.exec(ctx, `UPDATE routers SET last_seq = $1, last_seen_at = $2, epoch = $3 WHERE id = $4`,
		int64(a.LastSeq), tx.now, a.Epoch, b.Router); err != nil {
		return controlplane.Applied{}, err
	}
	return a, nil
}

// switchEpoch moves router from epoch old (last seq last) to next and
// returns the last seq to compare next's events with: 0 for a new seq
// space, last when old is "" (the router's first epoch is adopted).
func switchEpoch(ctx context.Context, tx *dbtx, tenant int64, router, old string, last int64, next string) (int64, error) {
	var retired int64
	err := tx.queryRow(ctx, `SELECT last_seq FROM router_epochs WHERE router_id = $1 AND epoch = $2`, router, next).Scan(&retired)
	if err == nil {
		return 0, controlplane.Errorf(controlplane.EINVALID,
			"epoch %s of router %s was retired (its agent database was replaced); its events are dropped", next, router)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	if old == "" {
		return last, nil
	}
	if _, err := tx.exec(ctx, `INSERT INTO router_epochs (router_id, epoch, last_seq, retired_at) VALUES ($1, $2, $3, $4)`,
		router, old, last, tx.now); err != nil {
		return 0, err
	}
	return 0, audit(ctx, tx, controlplane.AuditEntry{
		TenantID: tenant, Actor: "system", Action: "router.epoch", Target: "router:" + router, Result: "ok",
		Detail: fmt.Sprintf("agent seqs restarted (new database): epoch %s at seq %d replaced by %s", old, last, next),
	})
}

// sessionKeys returns the distinct session keys of the events after seq.
func sessionKeys(evs []protocol.Event, after uint64) []string {
	seen := make(map[string]bool)
	var keys []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for i := range evs {
		ev := &evs[i]
		switch {
		case ev.Seq <= after:
		case ev.Session != nil:
			add(ev.Session.Key)
		case ev.Snapshot != nil:
			for j := range ev.Snapshot.Sessions {
				add(ev.Snapshot.Sessions[j].Key)
			}
		}
	}
	return keys
}

// applyEvent applies one event and appends its changes to out.
func applyEvent(ctx context.Context, tx *dbtx, live liveRows, tenant int64, router string, ev *protocol.Event, out []controlplane.Change) ([]controlplane.Change, error) {
	ts := dbTime(ev.TS)
	switch ev.Type {
	case protocol.EventVoucherUsed:
		c, err := recordVoucherUse(ctx, tx, tenant, router, ev.Voucher)
		if err != nil {
			return out, err
		}
		return append(out, c), nil
	case protocol.EventSessionStarted, protocol.EventSessionUpdated:
		c, err := upsertSession(ctx, tx, live, sessionFromWire(tenant, router, ev.Session, ts), "")
		if c != nil {
			out = append(out, c)
		}
		return out, err
	case protocol.EventSessionEnded:
		rec, err := endSessionEvent(ctx, tx, live, sessionFromWire(tenant, router, ev.Session, ts), ev.Reason, ts)
		if err != nil {
			return out, err
		}
		return append(out, controlplane.SessionEnded{Record: rec}), nil
	case protocol.EventSnapshot:
		snap := ev.Snapshot
		for i := range snap.Sessions {
			c, err := upsertSession(ctx, tx, live, sessionFromWire(tenant, router, &snap.Sessions[i], ts), snap.ID)
			if err != nil {
				return out, err
			}
			if c != nil {
				out = append(out, c)
			}
		}
		if snap.Part < snap.Parts {
			return out, nil
		}
		gone, err := queryAll(ctx, tx, scanSession, `SELECT `+sessionColumns+` FROM sessions
			WHERE router_id = $1 AND snapshot_id <> $2 ORDER BY session_key`, router, snap.ID)
		if err != nil {
			return out, err
		}
		for _, v := range gone {
			rec, err := endLiveSession(ctx, tx, live, v, protocol.EndVanished, ts)
			if err != nil {
				return out, err
			}
			out = append(out, controlplane.SessionEnded{Record: rec})
		}
		return out, nil
	case protocol.EventRouterResources:
		res, err := resourcesJSON(ev.Resources)
		if err != nil {
			return out, err
		}
		r := ev.Resources
		_, err = tx.exec(ctx, `UPDATE routers SET resources = $1,
			identity = CASE WHEN $2 = '' THEN identity ELSE $2 END,
			routeros_version = CASE WHEN $3 = '' THEN routeros_version ELSE $3 END,
			board = CASE WHEN $4 = '' THEN board ELSE $4 END
			WHERE id = $5`, res, r.Identity, r.Version, r.Board, router)
		if err != nil {
			return out, err
		}
		return append(out, controlplane.RouterResourcesUpdated{TenantID: tenant, RouterID: router, Resources: *r, At: ts}), nil
	default:
		// Validate rejects unknown types; this guards a new type added to
		// protocol without a case here.
		return out, controlplane.Errorf(controlplane.EINVALID, "unknown event type %q", ev.Type)
	}
}

// sessionFromWire converts an agent's session seen at ts.
func sessionFromWire(tenant int64, router string, p *protocol.Session, ts time.Time) controlplane.Session {
	return controlplane.Session{
		TenantID:   tenant,
		RouterID:   router,
		Kind:       p.Kind,
		Key:        p.Key,
		RouterOSID: p.RouterOSID,
		User:       p.User,
		Address:    p.Address,
		MAC:        p.MAC,
		Service:    p.Service,
		LoginBy:    p.LoginBy,
		SessionID:  p.SessionID,
		StartedAt:  dbTime(p.StartedAt),
		UpdatedAt:  ts,
		BytesIn:    p.BytesIn,
		BytesOut:   p.BytesOut,
		PacketsIn:  p.PacketsIn,
		PacketsOut: p.PacketsOut,
	}
}

// mergeSession returns next completed from cur: the first started_at, and
// cur's value for any text field next leaves empty.
func mergeSession(cur, next controlplane.Session) controlplane.Session {
	next.StartedAt = cur.StartedAt
	keep := func(n *string, c string) {
		if *n == "" {
			*n = c
		}
	}
	keep(&next.RouterOSID, cur.RouterOSID)
	keep(&next.Address, cur.Address)
	keep(&next.MAC, cur.MAC)
	keep(&next.Service, cur.Service)
	keep(&next.LoginBy, cur.LoginBy)
	keep(&next.SessionID, cur.SessionID)
	return next
}

// upsertSession writes a live session seen in an event. snapshotID stamps
// the row; "" leaves the stamp as it is. It returns SessionStarted for a new
// row, SessionUpdated for a changed one, nil for an unchanged one.
func upsertSession(ctx context.Context, tx *dbtx, live liveRows, next controlplane.Session, snapshotID string) (controlplane.Change, error) {
	cur, ok := live[next.Key]
	if !ok {
		if err := insertSession(ctx, tx, live, next, snapshotID); err != nil {
			return nil, err
		}
		return controlplane.SessionStarted{Session: next}, nil
	}
	next = mergeSession(cur, next)
	if err := updateSession(ctx, tx, live, next, snapshotID); err != nil {
		return nil, err
	}
	probe := cur
	probe.UpdatedAt = next.UpdatedAt
	if probe == next {
		return nil, nil
	}
	return controlplane.SessionUpdated{Session: next}, nil
}

// endSessionEvent ends a session reported ended by its agent: the live row
// (if any) moves to history with the event's final counters.
func endSessionEvent(ctx context.Context, tx *dbtx, live liveRows, final controlplane.Session, reason protocol.EndReason, at time.Time) (controlplane.SessionRecord, error) {
	rec := controlplane.SessionRecord{Session: final, EndedAt: at, EndReason: reason}
	if cur, ok := live[final.Key]; ok {
		rec.Session = mergeSession(cur, final)
		if err := deleteSession(ctx, tx, live, final.RouterID, final.Key); err != nil {
			return controlplane.SessionRecord{}, err
		}
		return rec, insertHistory(ctx, tx, rec)
	}
	// Not live: a resync or sweep may have ended it provisionally. The
	// agent's own end is better information, so it replaces that record.
	id, err := provisionalHistoryID(ctx, tx, final)
	if err != nil {
		return controlplane.SessionRecord{}, err
	}
	if id == 0 {
		return rec, insertHistory(ctx, tx, rec)
	}
	var started time.Time
	if err := tx.queryRow(ctx, `SELECT started_at FROM session_history WHERE id = $1`, id).Scan(&started); err != nil {
		return controlplane.SessionRecord{}, err
	}
	rec.StartedAt = started.UTC()
	_, err = tx.exec(ctx, `UPDATE session_history SET ros_id = $1, username = $2, address = $3, mac = $4, service = $5,
		login_by = $6, ppp_session_id = $7, updated_at = $8, ended_at = $9, end_reason = $10,
		bytes_in = $11, bytes_out = $12, packets_in = $13, packets_out = $14 WHERE id = $15`,
		rec.RouterOSID, rec.User, rec.Address, rec.MAC, rec.Service, rec.LoginBy, rec.SessionID, rec.UpdatedAt,
		rec.EndedAt, string(rec.EndReason), int64(rec.BytesIn), int64(rec.BytesOut), int64(rec.PacketsIn), int64(rec.PacketsOut), id)
	return rec, err
}

// endLiveSession moves a live session to history as it stands, for ends the
// control plane decides (vanished on resync, stale sweep).
func endLiveSession(ctx context.Context, tx *dbtx, live liveRows, v controlplane.Session, reason protocol.EndReason, at time.Time) (controlplane.SessionRecord, error) {
	rec := controlplane.SessionRecord{Session: v, EndedAt: at, EndReason: reason}
	if err := deleteSession(ctx, tx, live, v.RouterID, v.Key); err != nil {
		return controlplane.SessionRecord{}, err
	}
	return rec, insertHistory(ctx, tx, rec)
}

// loginCounts counts the batch's session starts per hour and service for
// the login series, by session kind (hotspot, pppoe): one upsert per
// (hour, kind) instead of one per session.
func loginCounts(tenant int64, router string, changes []controlplane.Change) []controlplane.LoginCount {
	var out []controlplane.LoginCount
	for _, c := range changes {
		st, ok := c.(controlplane.SessionStarted)
		if !ok {
			continue
		}
		h := st.Session.StartedAt.UTC().Truncate(time.Hour)
		i := 0
		for i < len(out) && (!out[i].Hour.Equal(h) || out[i].Service != string(st.Session.Kind)) {
			i++
		}
		if i == len(out) {
			out = append(out, controlplane.LoginCount{TenantID: tenant, RouterID: router, Hour: h, Service: string(st.Session.Kind)})
		}
		out[i].Logins++
	}
	return out
}
