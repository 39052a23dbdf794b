package authtrack

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane/jobs"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// Queue is the River queue of auth-tracking's jobs.
const Queue = "auth-tracking"

// Job kinds.
const (
	KindLogin = "auth_login"
	KindSweep = "auth_tracking_sweep"
)

// loginArgs records one successful login. No secret: the user, the client
// address and the time.
type loginArgs struct {
	UserID int64     `json:"user_id"`
	IP     string    `json:"ip"`
	At     time.Time `json:"at"`
}

func (loginArgs) Kind() string { return KindLogin }
func (loginArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 5}
}

type sweepArgs struct{}

func (sweepArgs) Kind() string { return KindSweep }
func (sweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 3}
}

// RegisterJobs implements provisioning.JobSet.
func (t *Tracker) RegisterJobs(ws *river.Workers) {
	jobs.Add(ws, func(ctx context.Context, j *river.Job[loginArgs]) error {
		return t.st.Write(ctx, func(tx *store.Tx) error { return tx.RecordLogin(ctx, j.Args.UserID, j.Args.IP, j.Args.At) })
	})
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[sweepArgs]) error { return t.Sweep(ctx) })
}

// JobQueues implements provisioning.JobSet.
func (t *Tracker) JobQueues() map[string]int { return map[string]int{Queue: 2} }

// PeriodicJobs implements provisioning.JobSet.
func (t *Tracker) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{jobs.Every(t.o.SweepInterval, sweepArgs{})}
}
