package pusher

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the hub's Prometheus collectors. They always exist so that code
// paths never check for nil; they are registered only when Options.Registerer
// is set.
type metrics struct {
	connections        prometheus.Gauge
	channels           prometheus.Gauge
	subscriptions      prometheus.Gauge
	messagesSent       prometheus.Counter
	writeBatches       prometheus.Counter
	messagesDropped    prometheus.Counter
	slowConsumerCloses prometheus.Counter
	closes             *prometheus.CounterVec
	authFailures       *prometheus.CounterVec
	clientEvents       *prometheus.CounterVec
	published          prometheus.Counter
	badFrames          prometheus.Counter
	webhookSent        prometheus.Counter
	webhookFailed      prometheus.Counter
	webhookDropped     prometheus.Counter
	signins            *prometheus.CounterVec
	terminated         prometheus.Counter
	cacheLookups       *prometheus.CounterVec
	countEvents        prometheus.Counter
}

func newMetrics() *metrics {
	// "realtime", as before the server had a package of its own: the
	// dashboards and alerts of deployments query these names.
	const ns, sub = "sitepulse", "realtime"
	return &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "connections",
			Help: "Open WebSocket connections.",
		}),
		channels: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "channels",
			Help: "Occupied channels (at least one subscriber).",
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "subscriptions",
			Help: "Channel subscriptions over all connections.",
		}),
		messagesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "messages_sent_total",
			Help: "Pusher frames written to sockets.",
		}),
		writeBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "write_batches_total",
			Help: "Socket writes; messages_sent_total / write_batches_total is the coalescing factor.",
		}),
		messagesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "messages_dropped_total",
			Help: "Frames not queued because the subscriber's send queue was full.",
		}),
		slowConsumerCloses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "slow_consumer_closes_total",
			Help: "Connections closed with 4100 because their send queue was full.",
		}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "server_closes_total",
			Help: "Connections closed by the server, by Pusher close code.",
		}, []string{"code"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "auth_failures_total",
			Help: "Refused subscriptions, channel authorizations and HTTP API requests, by reason.",
		}, []string{"reason"}),
		clientEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "client_events_total",
			Help: "Client events received, by result (relayed or the reason for rejection).",
		}, []string{"result"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "events_published_total",
			Help: "Events published to a channel (server side, HTTP API and fan-out).",
		}),
		badFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "bad_frames_total",
			Help: "Client frames that were not valid Pusher JSON or named an unknown event.",
		}),
		webhookSent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "webhook_events_sent_total",
			Help: "Pusher webhook events delivered (counted once per URL).",
		}),
		webhookFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "webhook_events_failed_total",
			Help: "Pusher webhook events given up on after every attempt (counted once per URL).",
		}),
		webhookDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "webhook_events_dropped_total",
			Help: "Pusher webhook events dropped, oldest first, because the send queue was full.",
		}),
		signins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "signins_total",
			Help: "pusher:signin requests, by result (ok or the reason for refusal).",
		}, []string{"result"}),
		terminated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "user_connections_terminated_total",
			Help: "Connections closed because the app terminated their user's connections.",
		}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "cache_channel_lookups_total",
			Help: "Cache-channel subscriptions, by result: hit (the last event replayed) or miss (pusher:cache_miss).",
		}, []string{"result"}),
		countEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "subscription_count_events_total",
			Help: "pusher_internal:subscription_count events broadcast (once per channel change, not per subscriber).",
		}),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		m.connections, m.channels, m.subscriptions, m.messagesSent, m.writeBatches,
		m.messagesDropped, m.slowConsumerCloses, m.closes, m.authFailures,
		m.clientEvents, m.published, m.badFrames, m.webhookSent, m.webhookFailed, m.webhookDropped,
		m.signins, m.terminated, m.cacheLookups, m.countEvents,
	} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("register pusher metrics: %w", err)
		}
	}
	return nil
}
