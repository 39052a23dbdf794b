package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
)

type metrics struct {
	rejected       *prometheus.CounterVec
	failures       *prometheus.CounterVec
	batches        prometheus.Counter
	eventsApplied  prometheus.Counter
	eventsSkipped  prometheus.Counter
	applySeconds   prometheus.Histogram
	statuses       *prometheus.CounterVec
	commandResults *prometheus.CounterVec
	predecessor    *prometheus.CounterVec
	busWait        prometheus.Histogram
	radius         *prometheus.CounterVec
}

// newMetrics makes ingest's metrics; with a bus, also the bus's counts
// (ingest is the publisher that waits on it before PUBACKs).
func newMetrics(reg prometheus.Registerer, bus *controlplane.Bus) (*metrics, error) {
	m := &metrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_ingest_rejected_total",
			Help: "Agent messages that can never be applied, acknowledged and dropped, by reason.",
		}, []string{"reason"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_ingest_failures_total",
			Help: "Agent messages not applied because the store failed; the agent resends them. By message kind.",
		}, []string{"kind"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_ingest_batches_applied_total",
			Help: "Event batches committed (including those whose events were all already applied).",
		}),
		eventsApplied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_ingest_events_applied_total",
			Help: "Events applied to the store.",
		}),
		eventsSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_ingest_events_skipped_total",
			Help: "Redelivered events skipped because their seq was at or below the router's last_seq.",
		}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sitepulse_ingest_apply_seconds",
			Help:    "Time to apply one event batch in the store.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_ingest_statuses_total",
			Help: "Agent statuses recorded (wills included), by state.",
		}, []string{"state"}),
		predecessor: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_ingest_predecessor_waits_total",
			Help: "Batches that arrived before the batch they follow had been applied (replicas sharing a subscription), by outcome: applied (after waiting) or timeout (applied anyway: events of the late batch will be skipped).",
		}, []string{"outcome"}),
		busWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sitepulse_ingest_bus_wait_seconds",
			Help:    "Time ingest waited to hand committed changes to the bus's subscribers (realtime fan-out, webhooks…) before the PUBACK; bounded by the bus's maximum wait.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		commandResults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_ingest_command_results_total",
			Help: "Command results received, by outcome (applied, or ignored without a CommandResults).",
		}, []string{"outcome"}),
		radius: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_ingest_radius_messages_total",
			Help: "RADIUS sync states and asks received, by kind and outcome (applied, or ignored without a Radius handler).",
		}, []string{"kind", "outcome"}),
	}
	for _, r := range reasons {
		m.rejected.WithLabelValues(r)
	}
	for _, k := range []string{kindEvents, kindStatus, kindCmdResult, kindRadiusState, kindRadiusAsk} {
		m.failures.WithLabelValues(k)
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.rejected, m.failures, m.batches, m.eventsApplied, m.eventsSkipped, m.applySeconds, m.statuses, m.commandResults, m.predecessor, m.busWait, m.radius}
	if bus != nil {
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "sitepulse_bus_changes_deferred_total",
				Help: "Changes queued for a slow bus subscriber instead of waited for, once a publish had waited the bus's maximum wait.",
			}, func() float64 { return float64(bus.Stats().Deferred) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "sitepulse_bus_changes_dropped_total",
				Help: "Changes a slow bus subscriber lost because its backlog was full; the realtime fan-out turns them into seq gaps, so dashboards refetch.",
			}, func() float64 { return float64(bus.Stats().Dropped) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sitepulse_bus_backlog",
				Help: "Changes queued for slow bus subscribers now.",
			}, func() float64 { return float64(bus.Stats().Backlog) }),
		)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
