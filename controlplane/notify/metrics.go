package notify

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	queued   *prometheus.CounterVec   // channel, status (queued or skipped)
	sent     *prometheus.CounterVec   // channel, outcome status
	disabled *prometheus.CounterVec   // kind
	duration *prometheus.HistogramVec // channel
	reports  *prometheus.CounterVec   // outcome
	alerts   *prometheus.CounterVec   // router_offline, router_recovered
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_notifications_queued_total",
			Help: "Notifications written to the outbox by channel and status (queued, or skipped when no channel can carry them)."},
			[]string{"channel", "status"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_notifications_attempts_total",
			Help: "Notification send attempts by channel and the status they left (sent, queued for a retry, failed, unknown)."},
			[]string{"channel", "status"}),
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_notifications_disabled_total",
			Help: "Notifications not queued because the tenant turned their kind off."}, []string{"kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sitepulse_notification_send_seconds",
			Help: "Time to hand a notification to its provider.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)},
			[]string{"channel"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_sms_delivery_reports_total",
			Help: "SMS delivery reports by outcome (delivered, undelivered, interim, unknown_message, rejected)."}, []string{"outcome"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_router_alerts_total",
			Help: "Router offline alerts and recoveries raised (one per tenant per sweep, listing its routers)."}, []string{"kind"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.queued, m.sent, m.disabled, m.duration, m.reports, m.alerts} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
