// Package jobs runs the control plane's background jobs on River, on the
// store's own database: riversqlite on the single SQLite connection,
// riverdatabasesql (with a pgx LISTEN connection) on PostgreSQL, so that a
// job is inserted with InsertTx in the transaction of the change that
// causes it.
//
// The package knows no job kind: a domain package (provisioning today,
// billing and notifications later) declares its argument types, registers
// a function per kind with Add, names its queues and worker counts in
// Config.Queues and its sweeps with Every. NewClient builds the one River
// client over all of them; Failed lists the failed jobs and Count follows
// the outcomes for metrics. River's tables are created by the store's
// Migrate.
package jobs
