package agent

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics holds the agent's Prometheus instruments on its own registry, so
// several agents (in tests) never collide on the default one.
type metrics struct {
	reg *prometheus.Registry

	eventsRecorded   *prometheus.CounterVec
	eventsPublished  prometheus.Counter
	eventsCoalesced  prometheus.Counter
	outboxDepth      prometheus.Gauge
	outboxBytes      prometheus.Gauge
	outboxErrors     prometheus.Counter
	publishLatency   prometheus.Histogram
	mqttConnects     *prometheus.CounterVec
	routerReconnects prometheus.Counter
	routerConnected  prometheus.Gauge
	commands         *prometheus.CounterVec

	radiusEntries         prometheus.Gauge
	radiusVersion         prometheus.Gauge
	radiusSync            *prometheus.CounterVec
	radiusAsks            *prometheus.CounterVec
	radiusOfflineVouchers prometheus.Counter
	radiusDisconnects     *prometheus.CounterVec
	radiusCoA             *prometheus.CounterVec
	radiusDecisions       *prometheus.CounterVec
	radiusAccounting      *prometheus.CounterVec
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		eventsRecorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_events_recorded_total",
			Help: "Events committed to the outbox, by type.",
		}, []string{"type"}),
		eventsPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_agent_events_published_total",
			Help: "Events acknowledged by the broker (PUBACK), including replays.",
		}),
		eventsCoalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_agent_events_coalesced_total",
			Help: "Superseded session.updated and router.resources events removed from a full outbox.",
		}),
		outboxDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sitepulse_agent_outbox_depth",
			Help: "Events recorded and not yet acknowledged by the broker.",
		}),
		outboxBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sitepulse_agent_outbox_bytes",
			Help: "Encoded size of the pending events.",
		}),
		outboxErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_agent_outbox_errors_total",
			Help: "Failed outbox commits (retried) and invalid events (dropped).",
		}),
		publishLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sitepulse_agent_publish_latency_seconds",
			Help:    "Time from publishing an event batch to its PUBACK.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		mqttConnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_mqtt_connects_total",
			Help: "MQTT connection attempts, by result.",
		}, []string{"result"}),
		routerReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_agent_router_reconnects_total",
			Help: "RouterOS API sessions lost and redialled.",
		}),
		routerConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sitepulse_agent_router_connected",
			Help: "1 while the agent has an API session with its router.",
		}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_commands_total",
			Help: "Commands handled, by final result (succeeded, failed code, duplicate, malformed).",
		}, []string{"result"}),
		radiusEntries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sitepulse_agent_radius_entries",
			Help: "Synced RADIUS entries (accounts) held.",
		}),
		radiusVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sitepulse_agent_radius_sync_version",
			Help: "The RADIUS sync version held.",
		}),
		radiusSync: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_radius_sync_pages_total",
			Help: "RADIUS sync pages received, by outcome (applied, duplicate, gap, invalid, wrong_router, error, dropped).",
		}, []string{"result"}),
		radiusAsks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_radius_asks_total",
			Help: "Voucher first-use questions to the control plane, by outcome (answered, timed_out, offline, late).",
		}, []string{"result"}),
		radiusOfflineVouchers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_agent_radius_offline_voucher_uses_total",
			Help: "Vouchers let in by the offline rule (each a voucher.used event).",
		}),
		radiusDisconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_radius_disconnects_total",
			Help: "Disconnect-Requests sent to the router, by result (ack, nak, error).",
		}, []string{"result"}),
		radiusCoA: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_radius_coa_total",
			Help: "CoA-Requests sent to the router, by result (ack, nak, error).",
		}, []string{"result"}),
		radiusDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_radius_decisions_total",
			Help: "Access-Requests decided after the password checked out, by result.",
		}, []string{"result"}),
		radiusAccounting: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_radius_accounting_total",
			Help: "Accounting-Requests handled, by status type.",
		}, []string{"status"}),
	}
	reg.MustRegister(m.eventsRecorded, m.eventsPublished, m.eventsCoalesced, m.outboxDepth, m.outboxBytes,
		m.outboxErrors, m.publishLatency, m.mqttConnects, m.routerReconnects, m.routerConnected, m.commands,
		m.radiusEntries, m.radiusVersion, m.radiusSync, m.radiusAsks, m.radiusOfflineVouchers, m.radiusDisconnects,
		m.radiusCoA, m.radiusDecisions, m.radiusAccounting,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// orDiscard returns l, or a logger that drops everything when l is nil.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
