package webhooks

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	enqueued   prometheus.Counter
	enqueueLag prometheus.Histogram
	results    *prometheus.CounterVec // result: succeeded, failed, dead, refused
	duration   prometheus.Histogram
	disabled   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		enqueued: prometheus.NewCounter(prometheus.CounterOpts{Name: "sitepulse_webhook_deliveries_created_total",
			Help: "Webhook deliveries written (one per endpoint and event)."}),
		enqueueLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sitepulse_webhook_enqueue_seconds",
			Help: "Time to write an event's deliveries and jobs.", Buckets: prometheus.DefBuckets}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_webhook_attempts_total",
			Help: "Webhook delivery attempts by result (succeeded, failed, dead)."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sitepulse_webhook_attempt_duration_seconds",
			Help: "Duration of webhook HTTP attempts.", Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{Name: "sitepulse_webhook_endpoints_disabled_total",
			Help: "Webhook endpoints disabled for failing."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.enqueued, m.enqueueLag, m.results, m.duration, m.disabled} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
