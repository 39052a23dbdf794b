// Package provisioning carries out what field techs and tenants ask of
// their routers: typed RouterOS commands (one router, or many as a bulk),
// and managed hotspot users and PPP secrets kept in the control plane and
// provisioned to the routers the tenant chooses. It also runs the control
// plane's background work on River.
//
// # Commands
//
// A command row in the store is the source of truth. It is created queued,
// together with its audit entry and a River job that delivers it, in one
// transaction. The dispatcher publishes a router's queued commands in
// creation order while its agent is connected (marking each sent), and
// when the router comes online it also redelivers what was sent but never
// acknowledged; the agent records executed ids and answers a redelivery
// from its record, so a command runs at most once. Agent reports move a
// command to running, then succeeded or failed (ApplyCommandResult, called
// by ingest). Commands past their TTL are expired by the sweep and never
// delivered, and the agent refuses one that reaches it late. Every
// transition is audited with the command's actor and announced as
// controlplane.CommandChanged.
//
// # Accounts
//
// An account's changes become commands tagged with the account; the
// latest command per router decides the account's sync state there
// (pending, synced, or failed with the router's message). Expiry disables
// the account and kicks its sessions on every router.
//
// # Jobs
//
// Provisioning's jobs run on the control plane's River client, which
// package jobs builds on the store's own database, so that they are
// inserted with jobs.InsertTx in the transaction of the change that causes
// them. Provisioning declares the kinds and what each does, and registers
// them with jobs.Add. Queues: provisioning (delivery, command sweep,
// account expiry) and tenant-management (tenant activation); the sweeps
// are periodic jobs (jobs.Every). The service also registers package
// maintenance's sweeps (stale sessions, history retention, hourly stats
// roll-up) on its queue, with the service's options and metrics.
package provisioning
