package controlplane

import "time"

// FailedJob is a job whose last attempt failed: retryable (River tries
// again later) or discarded (out of attempts).
type FailedJob struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	Queue       string     `json:"queue"`
	State       string     `json:"state"` // retryable or discarded
	Attempt     int        `json:"attempt"`
	MaxAttempts int        `json:"max_attempts"`
	Error       string     `json:"error"` // the last attempt's error
	Args        string     `json:"args"`  // the job's JSON arguments (ids only, never secrets)
	CreatedAt   time.Time  `json:"created_at"`
	AttemptedAt *time.Time `json:"attempted_at,omitempty"`
	// ScheduledAt is when a retryable job runs next.
	ScheduledAt time.Time  `json:"scheduled_at"`
	FinalizedAt *time.Time `json:"finalized_at,omitempty"`
}
