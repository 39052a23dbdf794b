// Package maintenance holds the control plane's periodic maintenance
// sweeps and their River kinds, on the maintenance queue: ending the
// sessions of routers offline for too long, deleting session history past
// its retention, and the hourly stats roll-up. Register adds their workers
// and Periodic their schedules to the client package jobs builds.
package maintenance
