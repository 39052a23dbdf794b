// Package ingest applies what agents publish — event batches, status and
// command results — to the store, and announces the committed changes on
// the controlplane.Bus.
//
// The broker calls HandleMessage synchronously before it acknowledges a
// message, so the error HandleMessage returns decides the message's fate:
//
//   - nil: applied (or already applied: the store skips events with
//     seq <= the router's last_seq, so a redelivered batch is harmless);
//   - a *RejectError: the payload can never be applied (malformed, too
//     large, another version, a router that does not match its topic, an
//     unknown or revoked router). Its controlplane code (EINVALID,
//     ETOOLARGE, ENOTFOUND, EUNAUTHORIZED) tells the broker to acknowledge
//     and drop it; it is logged and counted in
//     sitepulse_ingest_rejected_total{reason};
//   - any other error: the store failed; the broker must not acknowledge,
//     and the agent sends the message again.
package ingest
