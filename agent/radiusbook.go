package agent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// The synced copy of the accounts the router's RADIUS may let in: one row
// per (kind, name) with its version and its JSON (secrets included: the
// row is what logins are checked against; it is never logged), and the
// version the agent holds, the router's auth mode and the interim interval
// in meta. Rows are read by primary key on every Access-Request, from a
// separate read-only pool so that a RADIUS answer never queues behind an
// outbox group commit (WAL lets readers run beside the writer).

// entryRef names a synced entry.
type entryRef struct {
	kind protocol.SessionKind
	name string
}

// defaultInterim is the Acct-Interim-Interval handed out when the sync
// names none.
const defaultInterim = 60 * time.Second

// syncOutcome is what applying one page did.
type syncOutcome int

const (
	syncApplied syncOutcome = iota
	syncDuplicate
	syncGap
)

func (o syncOutcome) String() string {
	return [...]string{"applied", "duplicate", "gap"}[o]
}

// entryChange is an entry a page changed, with its state before (nil: it
// was new), for enforcement on live sessions.
type entryChange struct {
	old, cur *protocol.RadiusEntry // cur.Deleted for a removal
}

// radiusBook is the synced copy: the entries in SQLite and, in memory,
// only the held version, the live count, the mode and the interim.
type radiusBook struct {
	db  *sql.DB // the agent's single writer connection
	rdb *sql.DB // read-only pool for lookups

	mu       sync.Mutex
	version  uint64
	count    int
	mode     string
	modeHead uint64
	interim  time.Duration
}

func openRadiusBook(ctx context.Context, db, rdb *sql.DB) (*radiusBook, error) {
	b := &radiusBook{db: db, rdb: rdb, mode: protocol.AuthLocal, interim: defaultInterim}
	var version, mode, head, interim int64
	row := db.QueryRowContext(ctx, `SELECT
		(SELECT v FROM meta WHERE k = 'radius_version'),
		(SELECT v FROM meta WHERE k = 'radius_mode'),
		(SELECT v FROM meta WHERE k = 'radius_head'),
		(SELECT v FROM meta WHERE k = 'radius_interim'),
		(SELECT COUNT(*) FROM radius_entries)`)
	if err := row.Scan(&version, &mode, &head, &interim, &b.count); err != nil {
		return nil, fmt.Errorf("radius: read sync state: %w", err)
	}
	b.version, b.modeHead = uint64(version), uint64(head)
	if mode == 1 {
		b.mode = protocol.AuthRadius
	}
	if interim > 0 {
		b.interim = time.Duration(interim) * time.Second
	}
	return b, nil
}

// state is what the agent reports on radius/state.
func (b *radiusBook) state() (version uint64, count int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.version, b.count
}

// settings returns the router's mode and the interim interval.
func (b *radiusBook) settings() (mode string, interim time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mode, b.interim
}

// get returns the entry (kind, name), or nil.
func (b *radiusBook) get(ctx context.Context, kind protocol.SessionKind, name string) (*protocol.RadiusEntry, error) {
	var body []byte
	err := b.rdb.QueryRowContext(ctx, `SELECT body FROM radius_entries WHERE kind = ? AND name = ?`, string(kind), name).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("radius: read entry: %w", err)
	}
	var e protocol.RadiusEntry
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("radius: decode entry: %w", err)
	}
	return &e, nil
}

// apply applies one validated page by protocol/radius.go's rules: From
// equal to the held version (or below it while To is above: an overlap,
// whose entries at or under the held version are already here) applies
// every entry and the new version in one transaction; To at or below the
// held version is a duplicate; From above it is a gap. The mode and the
// interim follow the page with the highest Head seen.
func (b *radiusBook) apply(ctx context.Context, p *protocol.RadiusSync) (syncOutcome, []entryChange, error) {
	b.mu.Lock()
	held := b.version
	newerSettings := p.Head >= b.modeHead
	b.mu.Unlock()
	if newerSettings {
		if err := b.setSettings(ctx, p); err != nil {
			return 0, nil, err
		}
	}
	switch {
	case p.To <= held:
		return syncDuplicate, nil, nil
	case p.From > held:
		return syncGap, nil, nil
	}
	changes, delta, err := b.applyEntries(ctx, p.Entries, held, p.To)
	if err != nil {
		return 0, nil, err
	}
	b.mu.Lock()
	b.version = p.To
	b.count += delta
	b.mu.Unlock()
	return syncApplied, changes, nil
}

func (b *radiusBook) setSettings(ctx context.Context, p *protocol.RadiusSync) error {
	mode := int64(0)
	if p.Mode == protocol.AuthRadius {
		mode = 1
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("radius: store mode: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	for k, v := range map[string]int64{"radius_mode": mode, "radius_head": int64(p.Head), "radius_interim": int64(p.InterimSeconds)} {
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET v = ? WHERE k = ?`, v, k); err != nil {
			return fmt.Errorf("radius: store mode: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("radius: store mode: %w", err)
	}
	b.mu.Lock()
	b.mode, b.modeHead = p.Mode, p.Head
	b.interim = defaultInterim
	if p.InterimSeconds > 0 {
		b.interim = time.Duration(p.InterimSeconds) * time.Second
	}
	b.mu.Unlock()
	return nil
}

// applyEntries stores entries above held and sets the version to to, in
// one transaction (to == 0: leave the version alone, for an answer's
// entry). An entry never replaces a newer one. It returns what changed
// and how the live count moved.
func (b *radiusBook) applyEntries(ctx context.Context, es []protocol.RadiusEntry, held, to uint64) ([]entryChange, int, error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("radius: apply: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	sel, err := tx.PrepareContext(ctx, `SELECT version, body FROM radius_entries WHERE kind = ? AND name = ?`)
	if err != nil {
		return nil, 0, fmt.Errorf("radius: apply: %w", err)
	}
	defer sel.Close()
	up, err := tx.PrepareContext(ctx, `INSERT INTO radius_entries (kind, name, version, body) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, name) DO UPDATE SET version = excluded.version, body = excluded.body`)
	if err != nil {
		return nil, 0, fmt.Errorf("radius: apply: %w", err)
	}
	defer up.Close()
	del, err := tx.PrepareContext(ctx, `DELETE FROM radius_entries WHERE kind = ? AND name = ?`)
	if err != nil {
		return nil, 0, fmt.Errorf("radius: apply: %w", err)
	}
	defer del.Close()
	var changes []entryChange
	delta := 0
	for i := range es {
		e := &es[i]
		if to != 0 && e.Version <= held {
			continue
		}
		var oldV uint64
		var oldBody []byte
		err := sel.QueryRowContext(ctx, string(e.Kind), e.Name).Scan(&oldV, &oldBody)
		var old *protocol.RadiusEntry
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, 0, fmt.Errorf("radius: apply: %w", err)
		default:
			if oldV > e.Version {
				continue // an answer's newer entry is already here
			}
			old = new(protocol.RadiusEntry)
			if err := json.Unmarshal(oldBody, old); err != nil {
				old = nil
			}
		}
		if e.Deleted {
			if old != nil || oldBody != nil {
				if _, err := del.ExecContext(ctx, string(e.Kind), e.Name); err != nil {
					return nil, 0, fmt.Errorf("radius: apply: %w", err)
				}
				delta--
				changes = append(changes, entryChange{old: old, cur: e})
			}
			continue
		}
		body, err := json.Marshal(e)
		if err != nil {
			return nil, 0, fmt.Errorf("radius: apply: %w", err)
		}
		if _, err := up.ExecContext(ctx, string(e.Kind), e.Name, e.Version, body); err != nil {
			return nil, 0, fmt.Errorf("radius: apply: %w", err)
		}
		if oldBody == nil {
			delta++
		}
		changes = append(changes, entryChange{old: old, cur: e})
	}
	if to != 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET v = ? WHERE k = 'radius_version'`, int64(to)); err != nil {
			return nil, 0, fmt.Errorf("radius: apply: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, 0, fmt.Errorf("radius: apply: %w", err)
	}
	return changes, delta, nil
}

// put stores one entry outside the versioned sync (an accepted answer's).
func (b *radiusBook) put(ctx context.Context, e *protocol.RadiusEntry) ([]entryChange, error) {
	changes, delta, err := b.applyEntries(ctx, []protocol.RadiusEntry{*e}, 0, 0)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.count += delta
	b.mu.Unlock()
	return changes, nil
}

// remove drops an entry outside the sync (a voucher an answer replaced
// under another name).
func (b *radiusBook) remove(ctx context.Context, ref entryRef) error {
	res, err := b.db.ExecContext(ctx, `DELETE FROM radius_entries WHERE kind = ? AND name = ?`, string(ref.kind), ref.name)
	if err != nil {
		return fmt.Errorf("radius: remove entry: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		b.mu.Lock()
		b.count -= int(n)
		b.mu.Unlock()
	}
	return nil
}
