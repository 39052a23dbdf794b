package broker

import (
	"context"
	"log/slog"
	"sync/atomic"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
)

// rejectPacketTooLarge labels packets mochi refused for their size; the
// other reasons of sitepulse_broker_rejected_total are the controlplane
// error codes of Handler rejections.
const rejectPacketTooLarge = "packet_too_large"

var rejectReasons = []string{
	rejectPacketTooLarge,
	controlplane.EINVALID, controlplane.ETOOLARGE, controlplane.ENOTFOUND,
	controlplane.EUNAUTHORIZED, controlplane.EFORBIDDEN,
}

type metrics struct {
	received       prometheus.Counter
	sent           prometheus.Counter
	authFailures   *prometheus.CounterVec
	aclDenied      *prometheus.CounterVec
	aclDisconnects prometheus.Counter
	rejected       *prometheus.CounterVec
	handlerRetries prometheus.Counter
	handleSeconds  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, srv *mochi.Server) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_broker_messages_received_total",
			Help: "PUBLISH packets received from agents that passed the ACL.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_broker_messages_sent_total",
			Help: "PUBLISH packets written to clients.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_broker_auth_failures_total",
			Help: "Refused MQTT connections, by reason.",
		}, []string{"reason"}),
		aclDenied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_broker_acl_denied_total",
			Help: "Publishes, subscriptions and wills outside a router's own topics, by action.",
		}, []string{"action"}),
		aclDisconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_broker_acl_disconnects_total",
			Help: "MQTT 3.1.1 connections closed for a QoS 1 or 2 publish the ACL denied (3.1.1 has no negative PUBACK; MQTT-3.3.5-2).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_broker_rejected_total",
			Help: "Messages acknowledged but dropped (Handler rejections by error code) or packets refused for their size.",
		}, []string{"reason"}),
		handlerRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_broker_handler_retries_total",
			Help: "Messages left unacknowledged because the Handler failed transiently; the agent resends them.",
		}),
		handleSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sitepulse_broker_handle_seconds",
			Help:    "Time the Handler took per agent message, i.e. the delay added before its PUBACK.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	for _, r := range authReasons {
		m.authFailures.WithLabelValues(r)
	}
	for _, a := range []string{aclPublish, aclSubscribe, aclWill} {
		m.aclDenied.WithLabelValues(a)
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	connected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sitepulse_broker_clients_connected",
		Help: "Agents currently connected and authenticated.",
	}, func() float64 { return float64(atomic.LoadInt64(&srv.Info.ClientsConnected)) })
	for _, c := range []prometheus.Collector{connected, m.received, m.sent, m.authFailures, m.aclDenied, m.aclDisconnects, m.rejected, m.handlerRetries, m.handleSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// metricsHook counts what other hooks do not see.
type metricsHook struct {
	mochi.HookBase
	b *Broker
}

// ID implements mochi.Hook.
func (h *metricsHook) ID() string { return "sitepulse-metrics" }

// Provides implements mochi.Hook.
func (h *metricsHook) Provides(hook byte) bool { return hook == mochi.OnPacketSent }

// OnPacketSent counts PUBLISH packets written to clients.
func (h *metricsHook) OnPacketSent(cl *mochi.Client, pk packets.Packet, b []byte) {
	if pk.FixedHeader.Type == packets.Publish {
		h.b.metrics.sent.Inc()
	}
}

// redactHandler replaces the attributes under which mochi logs whole
// packets and wills, whose payloads may carry subscriber data.
type redactHandler struct{ slog.Handler }

func redactAttr(a slog.Attr) slog.Attr {
	switch a.Key {
	case "pk", "packet", "will":
		return slog.String(a.Key, "[redacted]")
	}
	return a
}

// Handle implements slog.Handler.
func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return redactHandler{h.Handler.WithAttrs(red)}
}

// WithGroup implements slog.Handler.
func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h.Handler.WithGroup(name)}
}
