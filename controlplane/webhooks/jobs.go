package webhooks

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane/jobs"
)

// River queue and job kinds.
const (
	Queue      = "webhooks"
	KindSend   = "webhook_send"
	KindSweep  = "webhook_sweep"
	sweepEvery = time.Minute
)

// deliverArgs sends attempt Attempt+1 of a delivery. A job whose Attempt
// no longer matches the row (another job or a replay made that attempt)
// does nothing, so duplicate jobs are harmless.
type deliverArgs struct {
	DeliveryID int64     `json:"delivery_id"`
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"-"` // when to run; zero means now
}

func (deliverArgs) Kind() string { return KindSend }
func (a deliverArgs) InsertOpts() river.InsertOpts {
	// River's own retries cover store errors only: HTTP failures are
	// retried by scheduling the next attempt (RetryPolicy).
	return river.InsertOpts{Queue: Queue, MaxAttempts: 5, ScheduledAt: a.At}
}

// sweepArgs re-enqueues deliveries whose attempt was claimed but never
// recorded (a crash mid-send) or whose job was lost.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return KindSweep }
func (sweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 3}
}

// RegisterJobs implements provisioning.JobSet.
func (s *Service) RegisterJobs(ws *river.Workers) {
	jobs.Add(ws, func(ctx context.Context, j *river.Job[deliverArgs]) error {
		return s.send(ctx, j.Args.DeliveryID, j.Args.Attempt)
	})
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[sweepArgs]) error { return s.Sweep(ctx) })
}

// JobQueues implements provisioning.JobSet.
func (s *Service) JobQueues() map[string]int { return map[string]int{Queue: s.o.Workers} }

// PeriodicJobs implements provisioning.JobSet.
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{jobs.Every(sweepEvery, sweepArgs{})}
}
