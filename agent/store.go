package agent

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// schema is applied on every open; each statement is idempotent.
//
// events is the outbox: one row per recorded event, deleted on PUBACK.
// sessions is the agent's last known router state, so a restart can diff
// against it; rows are keyed by kind and RouterOS .id, which (unlike the
// session key) is unique among live sessions even when one user+MAC logs
// in twice within a second. commands and results make commands idempotent and their
// results durable. meta holds counters that must outlive the rows they
// describe (the last seq, once every event is acked and deleted) and the
// epoch of the seqs.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS events (
		seq     INTEGER PRIMARY KEY,
		type    TEXT NOT NULL,
		key     TEXT NOT NULL,
		created INTEGER NOT NULL,
		body    BLOB NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS events_supersedable ON events (type, key) WHERE type IN ('session.updated', 'router.resources')`,
	`CREATE TABLE IF NOT EXISTS sessions (ref TEXT PRIMARY KEY, body BLOB NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS commands (
		id       TEXT PRIMARY KEY,
		kind     TEXT NOT NULL,
		status   TEXT NOT NULL,
		result   BLOB,
		received INTEGER NOT NULL,
		updated  INTEGER NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS commands_updated ON commands (updated)`,
	`CREATE TABLE IF NOT EXISTS results (n INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL)`,
	`INSERT OR IGNORE INTO meta (k, v) VALUES ('last_seq', 0), ('last_acked', 0)`,
	// The seq space's id (protocol.EventBatch.Epoch), drawn once when the
	// database is created: a new database restarts seqs at 1.
	`INSERT OR IGNORE INTO meta (k, v) VALUES ('epoch', 1 + (random() & 4611686018427387903))`,
	// RADIUS at the edge (radiusbook.go): the synced entries, the version
	// held (radius_version), the router's mode (0 local, 1 radius) and
	// interim with the Head of the page they came from; the sessions
	// accounting told of (radius_sessions, keyed kind:Acct-Session-Id) and
	// the vouchers let in while the control plane could not be asked.
	`CREATE TABLE IF NOT EXISTS radius_entries (
		kind    TEXT NOT NULL,
		name    TEXT NOT NULL,
		version INTEGER NOT NULL,
		body    BLOB NOT NULL,
		PRIMARY KEY (kind, name))`,
	`CREATE TABLE IF NOT EXISTS radius_sessions (acct TEXT PRIMARY KEY, body BLOB NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS radius_redemptions (
		kind    TEXT NOT NULL,
		code    TEXT NOT NULL,
		mac     TEXT NOT NULL,
		at      INTEGER NOT NULL,
		ends_at INTEGER NOT NULL,
		PRIMARY KEY (kind, code, mac))`,
	`INSERT OR IGNORE INTO meta (k, v) VALUES ('radius_version', 0), ('radius_mode', 0), ('radius_head', 0), ('radius_interim', 0)`,
}

// openDB opens (creating if needed) the agent database in dir.
//
// WAL with synchronous=NORMAL: a commit has reached the WAL file in the OS
// page cache before it returns, so it survives the process being killed
// (kill -9, OOM killer, RouterOS container stop). Only an OS crash or power
// loss can drop the last few commits, and the control plane's per-router
// last_seq makes that safe: a lost tail simply reuses seqs that were never
// acked. FULL would fsync every group commit, which on router flash costs
// write endurance for a guarantee the rest of the system does not need.
//
// One connection: SQLite has one writer anyway, and a single connection
// makes every statement see the previous one's effects without locking
// surprises.
func openDB(ctx context.Context, dir string) (*sql.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, "agent.db")
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "busy_timeout(5000)")
	// The outbox is appended to and read oldest-first; a 1 MiB page cache
	// (default 2 MiB) is plenty and matters on a router container.
	q.Add("_pragma", "cache_size(-1024)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	for _, s := range schema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("migrate %s: %w", path, err)
		}
	}
	return db, nil
}

// openReadDB opens a read-only pool on the agent database that openDB
// created: WAL lets its readers run while the writer commits.
func openReadDB(dir string, conns int) (*sql.DB, error) {
	path := filepath.Join(dir, "agent.db")
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	q.Add("_pragma", "cache_size(-512)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s read-only: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}
