package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

const sessionColumns = `tenant_id, router_id, kind, session_key, ros_id, username, address, mac, service, login_by,
	ppp_session_id, started_at, updated_at, bytes_in, bytes_out, packets_in, packets_out`

// sessionDest returns scan destinations for sessionColumns into v; fix
// completes v after the scan.
func sessionDest(v *controlplane.Session, counters *[4]int64) []any {
	return []any{&v.TenantID, &v.RouterID, &v.Kind, &v.Key, &v.RouterOSID, &v.User, &v.Address, &v.MAC, &v.Service,
		&v.LoginBy, &v.SessionID, &v.StartedAt, &v.UpdatedAt, &counters[0], &counters[1], &counters[2], &counters[3]}
}

func fixSession(v *controlplane.Session, c [4]int64) {
	v.StartedAt, v.UpdatedAt = v.StartedAt.UTC(), v.UpdatedAt.UTC()
	v.BytesIn, v.BytesOut, v.PacketsIn, v.PacketsOut = uint64(c[0]), uint64(c[1]), uint64(c[2]), uint64(c[3])
}

func scanSession(sc interface{ Scan(...any) error }) (controlplane.Session, error) {
	var v controlplane.Session
	var c [4]int64
	err := sc.Scan(sessionDest(&v, &c)...)
	fixSession(&v, c)
	return v, err
}

const recordColumns = sessionColumns + `, ended_at, end_reason`

func scanRecord(sc interface{ Scan(...any) error }) (controlplane.SessionRecord, error) {
	var v controlplane.SessionRecord
	var c [4]int64
	err := sc.Scan(append(sessionDest(&v.Session, &c), &v.EndedAt, &v.EndReason)...)
	fixSession(&v.Session, c)
	v.EndedAt = v.EndedAt.UTC()
	return v, err
}

// sessionArgs returns v's values in sessionColumns order.
func sessionArgs(v controlplane.Session) []any {
	return []any{v.TenantID, v.RouterID, string(v.Kind), v.Key, v.RouterOSID, v.User, v.Address, v.MAC, v.Service,
		v.LoginBy, v.SessionID, v.StartedAt, v.UpdatedAt,
		int64(v.BytesIn), int64(v.BytesOut), int64(v.PacketsIn), int64(v.PacketsOut)}
}

// liveRows holds the live sessions of one router that a batch touches,
// read in one query before the batch applies, so that each event costs one
// write instead of a read and a write. The functions that write sessions
// keep it in step; a key not in it is not live.
type liveRows map[string]controlplane.Session

// liveKeysPerQuery bounds the placeholders of one loadLive query.
const liveKeysPerQuery = 500

// loadLive returns the live rows of router among keys.
func loadLive(ctx context.Context, tx *dbtx, router string, keys []string) (liveRows, error) {
	live := make(liveRows, len(keys))
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), liveKeysPerQuery)]
		keys = keys[len(chunk):]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, router)
		var in strings.Builder
		for i, k := range chunk {
			if i > 0 {
				in.WriteString(", ")
			}
			fmt.Fprintf(&in, "$%d", i+2)
			args = append(args, k)
		}
		// Not prepared: the text differs with the number of keys.
		rows, err := tx.q.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
			WHERE router_id = $1 AND session_key IN (`+in.String()+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			v, err := scanSession(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			live[v.Key] = v
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return live, nil
}

// insertSession adds a live session. A history row for the same key that
// ended after this session started was a provisional end of this very
// session (see ApplyBatch) and is removed.
func insertSession(ctx context.Context, tx *dbtx, live liveRows, v controlplane.Session, snapshotID string) error {
	if _, err := tx.exec(ctx, `DELETE FROM session_history WHERE router_id = $1 AND session_key = $2 AND ended_at >= $3`,
		v.RouterID, v.Key, v.StartedAt); err != nil {
		return err
	}
	_, err := tx.exec(ctx, `INSERT INTO sessions (`+sessionColumns+`, snapshot_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		append(sessionArgs(v), snapshotID)...)
	if err == nil {
		live[v.Key] = v
	}
	return err
}

// updateSession overwrites a live session's mutable fields; snapshotID ""
// keeps its snapshot stamp.
func updateSession(ctx context.Context, tx *dbtx, live liveRows, v controlplane.Session, snapshotID string) error {
	_, err := tx.exec(ctx, `UPDATE sessions SET ros_id = $1, username = $2, address = $3, mac = $4, service = $5,
		login_by = $6, ppp_session_id = $7, updated_at = $8, bytes_in = $9, bytes_out = $10, packets_in = $11,
		packets_out = $12, snapshot_id = CASE WHEN $13 = '' THEN snapshot_id ELSE $13 END
		WHERE router_id = $14 AND session_key = $15`,
		v.RouterOSID, v.User, v.Address, v.MAC, v.Service, v.LoginBy, v.SessionID, v.UpdatedAt,
		int64(v.BytesIn), int64(v.BytesOut), int64(v.PacketsIn), int64(v.PacketsOut), snapshotID, v.RouterID, v.Key)
	if err == nil {
		live[v.Key] = v
	}
	return err
}

// deleteSession removes a live row; live may be nil when no batch is
// being applied.
func deleteSession(ctx context.Context, tx *dbtx, live liveRows, router, key string) error {
	_, err := tx.exec(ctx, `DELETE FROM sessions WHERE router_id = $1 AND session_key = $2`, router, key)
	if err == nil {
		delete(live, key)
	}
	return err
}

func insertHistory(ctx context.Context, tx *dbtx, r controlplane.SessionRecord) error {
	_, err := tx.exec(ctx, `INSERT INTO session_history (`+recordColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		append(sessionArgs(r.Session), r.EndedAt, string(r.EndReason))...)
	return err
}

// provisionalHistoryID returns the id of the newest history row of v's key
// that ended after v started, or 0.
func provisionalHistoryID(ctx context.Context, tx *dbtx, v controlplane.Session) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM session_history WHERE router_id = $1 AND session_key = $2 AND ended_at >= $3
		ORDER BY id DESC LIMIT 1`, v.RouterID, v.Key, v.StartedAt).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// limitOffset returns a LIMIT/OFFSET clause using the next two
// placeholders of w, which it extends. SQLite needs a LIMIT before any
// OFFSET, hence the maximum for "no limit".
func limitOffset(w *where, limit, offset int) string {
	l := int64(limit)
	if l <= 0 {
		l = math.MaxInt64
	}
	w.args = append(w.args, l, int64(max(offset, 0)))
	return fmt.Sprintf(` LIMIT $%d OFFSET $%d`, len(w.args)-1, len(w.args))
}

// likeSubstring returns a LIKE pattern (with ESCAPE '\') matching s
// anywhere, lower-cased for a case-insensitive match against lower(col).
func likeSubstring(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// ListSessions returns the live sessions within scope that match f, newest
// first, and how many match in all (for pagination).
func (s *Store) ListSessions(ctx context.Context, scope int64, f controlplane.SessionFilter) ([]controlplane.Session, int, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	if f.RouterID != "" {
		w.add("router_id = ?", f.RouterID)
	}
	if f.Kind != "" {
		w.add("kind = ?", string(f.Kind))
	}
	if f.User != "" {
		w.add(`lower(username) LIKE ? ESCAPE '\'`, likeSubstring(f.User))
	}
	type page struct {
		rows  []controlplane.Session
		total int
	}
	p, err := read(ctx, s, func(tx *dbtx) (page, error) {
		var p page
		if err := tx.queryRow(ctx, `SELECT count(*) FROM sessions`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, f.Limit, f.Offset)
		var err error
		p.rows, err = queryAll(ctx, tx, scanSession, `SELECT `+sessionColumns+` FROM sessions`+cond+
			` ORDER BY started_at DESC, router_id, session_key`+lim, w.args...)
		return p, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list sessions: %w", err)
	}
	return p.rows, p.total, nil
}

// ListHistory returns the ended sessions within scope that match f, most
// recently ended first, and how many match in all.
func (s *Store) ListHistory(ctx context.Context, scope int64, f controlplane.HistoryFilter) ([]controlplane.SessionRecord, int, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	if f.RouterID != "" {
		w.add("router_id = ?", f.RouterID)
	}
	if f.User != "" {
		w.add(`lower(username) LIKE ? ESCAPE '\'`, likeSubstring(f.User))
	}
	if !f.From.IsZero() {
		w.add("ended_at >= ?", dbTime(f.From))
	}
	if !f.To.IsZero() {
		w.add("ended_at < ?", dbTime(f.To))
	}
	type page struct {
		rows  []controlplane.SessionRecord
		total int
	}
	p, err := read(ctx, s, func(tx *dbtx) (page, error) {
		var p page
		if err := tx.queryRow(ctx, `SELECT count(*) FROM session_history`+w.sql(), w.args...).Scan(&p.total); err != nil {
			return p, err
		}
		cond := w.sql()
		lim := limitOffset(&w, f.Limit, f.Offset)
		var err error
		p.rows, err = queryAll(ctx, tx, scanRecord, `SELECT `+recordColumns+` FROM session_history`+cond+
			` ORDER BY ended_at DESC, id DESC`+lim, w.args...)
		return p, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list history: %w", err)
	}
	return p.rows, p.total, nil
}

// EndRouterSessions ends every live session of a router with reason at
// time at, for the stale-session sweep (an agent silent for too long).
// If the sessions turn out to be alive, the agent's next snapshot restores
// them and removes these history rows. It returns one SessionEnded per
// session, by key. ENOTFOUND if the router is unknown.
func (s *Store) EndRouterSessions(ctx context.Context, routerID string, reason protocol.EndReason, at time.Time) ([]controlplane.Change, error) {
	if reason == "" || len(reason) > protocol.MaxFieldLen {
		return nil, controlplane.Errorf(controlplane.EINVALID, "end reason must be 1 to %d bytes", protocol.MaxFieldLen)
	}
	changes, err := write(ctx, s, func(tx *dbtx) ([]controlplane.Change, error) {
		if _, err := getRouter(ctx, tx, 0, routerID, true); err != nil {
			return nil, err
		}
		live, err := queryAll(ctx, tx, scanSession, `SELECT `+sessionColumns+` FROM sessions WHERE router_id = $1
			ORDER BY session_key`, routerID)
		if err != nil {
			return nil, err
		}
		changes := make([]controlplane.Change, 0, len(live))
		for _, v := range live {
			rec, err := endLiveSession(ctx, tx, nil, v, reason, dbTime(at))
			if err != nil {
				return nil, err
			}
			changes = append(changes, controlplane.SessionEnded{Record: rec})
		}
		return changes, nil
	})
	if err != nil {
		return nil, fmt.Errorf("end sessions of router %s: %w", routerID, err)
	}
	return changes, nil
}

// PruneHistory deletes history rows that ended before before (retention)
// and returns how many it deleted.
func (s *Store) PruneHistory(ctx context.Context, before time.Time) (int, error) {
	n, err := write(ctx, s, func(tx *dbtx) (int64, error) {
		res, err := tx.exec(ctx, `DELETE FROM session_history WHERE ended_at < $1`, dbTime(before))
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
	if err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	return int(n), nil
}
