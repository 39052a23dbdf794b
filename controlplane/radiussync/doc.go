// Package radiussync keeps each router's agent's RADIUS copy in step with
// the store (RADIUS at the edge, issue 18) and answers what the agents ask.
//
// Every entry change commits with the router's next version (see
// store.BumpRadius); after the commit a controlplane.RadiusChanged makes
// the service publish the new entries to the agent as sync pages of at most
// protocol.MaxRadiusEntries, in version order, from the version it last
// sent. The agent applies a page only when it starts at its own version and
// reports a gap otherwise, and it reports its version on every connect, so
// a page lost in a race or a crash is re-sent from the agent's own word:
// the service never needs to be sure what the agent holds.
//
// Asks (a voucher's first use at the edge) are decided centrally with the
// portal's redemption and answered in a page; voucher.used events (a
// voucher the agent let in while the cloud was unreachable) are recorded
// by ingest in its transaction and reconciled here: redeemed as of their
// time, or flagged as a double use when the voucher was redeemed elsewhere
// meanwhile. Each recorded use is handled once, under its row lock.
package radiussync
