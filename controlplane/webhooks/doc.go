// Package webhooks sends a tenant's events to the HTTPS endpoints the
// tenant registered: outgoing webhooks (issue 15).
//
// Events are the fan-out's: the service runs its own controlplane/fanout
// on a capturing hub, so every Pusher event a tenant's dashboards get
// (with the same masked data, minus the per-channel seq) is subscribable
// under its Pusher name. It reads the controlplane.Bus, which carries
// changes after their transaction committed: a delivery row is therefore
// written after its cause, not with it, and a change published by a
// process that dies before this service read it is not delivered (the bus
// is in memory). A relayed or replayed change makes no second delivery:
// the event id is a hash of tenant, event name, channel and data, and a
// delivery is unique per (endpoint, event id).
//
// Deliveries are sent by River jobs on the "webhooks" queue (the service
// is a provisioning.JobSet), signed with the endpoint's secret
// (X-SitePulse-Signature: t=…,v1=hex(HMAC-SHA256(secret, t + "." + body))),
// retried with exponential backoff and jitter for up to a day and then
// dead; every attempt is logged. An attempt is claimed in one transaction
// (the row locked, its status and attempt number checked) and recorded in
// a second, so a job retried after a success never resends; a crash
// between the HTTP answer and the record sends that attempt again
// (at least once). Targets in loopback, private, link-local, CGNAT or
// multicast space are refused when registered and again when dialled,
// redirects are never followed, and only https is allowed unless
// Options.AllowPrivate is set (tests and labs).
package webhooks
