// Package api is SitePulse's REST API: JSON under /api/v1 for dashboards,
// the field-tech CLI and scripts, plus the OpenAPI document at
// /api/openapi.json.
//
// Every request is authenticated with a bearer token (login, or an API
// token created for a script) except login itself, the OpenAPI document
// and the payment providers' hooks under /api/v1/hooks/, which billing
// authenticates by the path's token (or the webhook's signature); a hook
// reads at most controlplane.MaxHookBody bytes. Every resource is scoped to the caller's tenant through
// controlplane.Principal.Scope: an id belonging to another tenant answers
// 404, never 403, so that existence does not leak. Viewers may read but
// not change anything.
//
// Errors are {"error":{"code","message"}} with the HTTP status taken from
// one table (statusByCode) that maps controlplane error codes. Handlers
// talk to the store through the small interfaces declared in store.go so
// that a reader sees exactly which store methods the API depends on; the
// tests run against the real store on SQLite and PostgreSQL.
package api
