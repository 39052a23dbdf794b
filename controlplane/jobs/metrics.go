package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane/store"
)

// FailedCollector returns a Prometheus collector of the gauge
// sitepulse_jobs_failed: the jobs currently retryable or discarded, by
// queue and state, read from River's table at scrape time, with zeros for
// the given queues so that alerts see their series.
func FailedCollector(st *store.Store, queues ...string) prometheus.Collector {
	return &failedJobs{st: st, queues: queues}
}

type failedJobs struct {
	st     *store.Store
	queues []string
}

var failedJobsDesc = prometheus.NewDesc("sitepulse_jobs_failed",
	"River jobs whose last attempt failed, by queue and state (retryable: River tries again; discarded: out of attempts, listed at GET /api/v1/jobs/failed).",
	[]string{"queue", "state"}, nil)

func (c *failedJobs) Describe(ch chan<- *prometheus.Desc) { ch <- failedJobsDesc }

func (c *failedJobs) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// The read pool: a scrape must not queue behind ingest on SQLite's writer.
	rows, err := c.st.ReadDB().QueryContext(ctx, `SELECT queue, state, count(*) FROM river_job
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
	for _, q := range c.queues {
		for _, st := range []string{"retryable", "discarded"} {
			if !seen[[2]string{q, st}] {
				ch <- prometheus.MustNewConstMetric(failedJobsDesc, prometheus.GaugeValue, 0, q, st)
			}
		}
	}
}
