// Package billing is SitePulse's money path: plans kept in sync as
// RouterOS profiles, customers, subscriptions, and payments (M-Pesa STK
// push, STK query, C2B, manual, a signed webhook) that apply exactly once
// per provider receipt and switch the customer's account on and off on
// the tenant's routers by themselves; and prepaid vouchers, redeemed on
// use (vouchers.go), printed as PDF (voucherpdf.go).
//
// Everything that must retry runs on River queues (payments,
// subscription-reconnection, billing) enqueued in the transaction of the
// change that causes it; the jobs run on provisioning's River client
// (Service implements provisioning.JobSet), and router changes go through
// provisioning's commands, composed into billing's transactions.
//
// Exactly once: a payment row is locked (FOR UPDATE on PostgreSQL, the
// single writer on SQLite) before it moves; a receipt is unique per tenant
// among completed payments (a unique index decides, not a read); a
// subscription gets a payment's time only when the payment's applied flag
// flips in the same transaction.
package billing
