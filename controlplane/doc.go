// Package controlplane holds the cloud side's domain: tenants, users and
// roles, routers, sessions, commands and the audit log, the error type
// shared by every adapter, and the in-process bus on which ingest announces
// applied changes.
//
// Adapters live below it: store (SQLite and PostgreSQL), broker (embedded
// MQTT), realtime (Pusher-protocol WebSocket hub) and api (REST).
package controlplane
