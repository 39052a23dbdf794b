package provisioning

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/jobs"
	"github.com/sitepulse/sitepulse/controlplane/jobs/maintenance"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

type metrics struct {
	transitions     *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	results         *prometheus.CounterVec
	jobs            *prometheus.CounterVec
	accountsExpired prometheus.Counter
	staleSessions   prometheus.Counter
	pruned          prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, st *store.Store) (*metrics, error) {
	m := &metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_commands_total",
			Help: "Provisioning command transitions, by the status reached (queued counts created commands).",
		}, []string{"status"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_command_deliveries_total",
			Help: "Command deliveries to agents: published, redelivered (unacknowledged, sent again), error (the broker refused), offline (a delivery found the agent disconnected), expired (its TTL had passed when its delivery was considered).",
		}, []string{"result"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_command_results_total",
			Help: "Command reports from agents, by status (duplicate: answered from the agent's record).",
		}, []string{"status"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_jobs_total",
			Help: "Finished River job attempts, by queue, kind and outcome (completed, failed: will retry, discarded: out of attempts, cancelled).",
		}, []string{"queue", "kind", "outcome"}),
		accountsExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_accounts_expired_total",
			Help: "Managed accounts disabled and kicked because their expiry passed.",
		}),
		staleSessions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_stale_sessions_ended_total",
			Help: "Live sessions ended because their router stayed offline past the threshold.",
		}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_history_pruned_total",
			Help: "Session history rows deleted by retention.",
		}),
	}
	for _, st := range controlplane.CommandStatuses {
		m.transitions.WithLabelValues(string(st))
	}
	for _, r := range []string{"published", "redelivered", "error", "offline", "expired"} {
		m.deliveries.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.transitions, m.deliveries, m.results, m.jobs, m.accountsExpired,
		m.staleSessions, m.pruned, jobs.FailedCollector(st, QueueProvisioning, QueueTenantManagement, maintenance.Queue)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
