package provisioning

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
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
		m.staleSessions, m.pruned, &failedJobs{st: st}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// failedJobs reports the jobs currently retryable or discarded, read from
// River's table at scrape time.
type failedJobs struct{ st *store.Store }

var failedJobsDesc = prometheus.NewDesc("sitepulse_jobs_failed",
	"River jobs whose last attempt failed, by queue and state (retryable: River tries again; discarded: out of attempts, listed at GET /api/v1/jobs/failed).",
	[]string{"queue", "state"}, nil)

func (c *failedJobs) Describe(ch chan<- *prometheus.Desc) { ch <- failedJobsDesc }

func (c *failedJobs) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := c.st.DB().QueryContext(ctx, `SELECT queue, state, count(*) FROM river_job
		WHERE state IN ('retryable', 'discarded') GROUP BY queue, state`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(failedJobsDesc, err)
		return
	}
	defer rows.Close()
	seen := map[[2]string]bool{}
	for rows.Next() {
		var q, st string
		var n float64
		if err := rows.Scan(&q, &st, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(failedJobsDesc, err)
			return
		}
		seen[[2]string{q, st}] = true
		ch <- prometheus.MustNewConstMetric(failedJobsDesc, prometheus.GaugeValue, n, q, st)
	}
	// Zeros for the known queues, so alerts see the series.
	for _, q := range []string{QueueProvisioning, QueueTenantManagement, QueueMaintenance} {
		for _, st := range []string{"retryable", "discarded"} {
			if !seen[[2]string{q, st}] {
				ch <- prometheus.MustNewConstMetric(failedJobsDesc, prometheus.GaugeValue, 0, q, st)
			}
		}
	}
}
