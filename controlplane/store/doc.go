// Package store keeps the control plane's state in SQLite (the default, one
// file under the data directory) or PostgreSQL: tenants, users and API
// tokens, routers and their agent credentials, live sessions and their
// history, and the audit log.
//
// Both dialects share one code path over database/sql. Queries are written
// with $1… placeholders, which modernc's SQLite driver binds by number as
// PostgreSQL does; the few differences (row locks, column types) live in the
// per-dialect migrations and in a small switch on Store.Dialect.
//
// Store methods are thin wrappers over functions that take a *dbtx, so that
// several steps commit together (see read and write). Writes run in
// transactions on the writer (on SQLite its one connection, which
// serializes them); reads outside a transaction run on a separate pool (on
// SQLite query_only connections, which WAL lets read the last committed
// state while a write transaction is open), so a GET, a metrics scrape or a
// dashboard never waits for a long ApplyBatch. ApplyBatch is the
// exactly-once heart of ingest: it applies a batch of agent events in one
// transaction guarded by the router's last_seq.
//
// Representation notes:
//   - Times are stored with microsecond precision in UTC: TIMESTAMPTZ on
//     PostgreSQL, INTEGER Unix microseconds on SQLite (the driver converts
//     both ways), so ordering and range queries are exact on both.
//   - Counters and sequence numbers are uint64 on the wire and BIGINT in the
//     database. They are stored bit for bit as int64, so a value at or above
//     2^63 (never reached by real traffic counters) reads back unchanged in
//     Go but looks negative to SQL.
package store
