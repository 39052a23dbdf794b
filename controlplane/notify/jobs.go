package notify

import (
	"context"

	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane/jobs"
)

// Queue is the notifications River queue.
const Queue = "notifications"

// Job kinds.
const (
	KindSend          = "notification_send"
	KindRouterSweep   = "router_offline_sweep"
	KindReminderSweep = "subscription_reminder_sweep"
)

// sendArgs sends one notification. Only its id: the data stays sealed in
// the row.
type sendArgs struct {
	ID int64 `json:"id"`
}

func (sendArgs) Kind() string { return KindSend }
func (sendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: DefaultMaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: jobs.WaitingStates}}
}

type onQueue struct{}

func (onQueue) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue, MaxAttempts: 1} }

type (
	routerSweepArgs   struct{ onQueue }
	reminderSweepArgs struct{ onQueue }
)

func (routerSweepArgs) Kind() string   { return KindRouterSweep }
func (reminderSweepArgs) Kind() string { return KindReminderSweep }

// RegisterJobs implements provisioning.JobSet.
func (s *Service) RegisterJobs(ws *river.Workers) {
	jobs.Add(ws, func(ctx context.Context, j *river.Job[sendArgs]) error {
		return s.send(ctx, j.Args.ID, j.Attempt >= min(j.MaxAttempts, s.o.MaxAttempts))
	})
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[routerSweepArgs]) error {
		_, err := s.SweepRouters(ctx)
		return err
	})
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[reminderSweepArgs]) error {
		_, err := s.SweepReminders(ctx)
		return err
	})
}

// JobQueues implements provisioning.JobSet.
func (s *Service) JobQueues() map[string]int { return map[string]int{Queue: s.o.Workers} }

// PeriodicJobs implements provisioning.JobSet.
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		jobs.Every(s.o.RouterSweep, routerSweepArgs{}),
		jobs.Every(s.o.ReminderSweep, reminderSweepArgs{}),
	}
}
