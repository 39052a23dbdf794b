// Package authtrack is SitePulse's auth-tracking (issue 15): it counts
// failed dashboard logins per account and per client address and locks
// either out after too many in a window, records each user's last login
// on the auth-tracking River queue, and keeps the hourly hotspot/PPPoE
// login series within its retention.
//
// The lockout check and the counting are synchronous, in the login
// request; the last-login write and the sweeps are River jobs that
// provisioning's client runs (Tracker is a provisioning.JobSet).
package authtrack
