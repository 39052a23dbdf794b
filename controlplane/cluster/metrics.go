package cluster

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	ingest         *prometheus.CounterVec
	relayed        *prometheus.CounterVec
	relayDropped   *prometheus.CounterVec
	relayGaps      prometheus.Counter
	reorder        *prometheus.CounterVec
	connects       prometheus.Counter
	connectionLost prometheus.Counter
	queries        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		ingest: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_cluster_ingest_messages_total",
			Help: "Agent messages received from the external broker, by result: applied, rejected (acknowledged and dropped), retry (left unacknowledged for redelivery) and deferred (left unacknowledged behind a retry).",
		}, []string{"result"}),
		relayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_cluster_relayed_changes_total",
			Help: "Committed changes relayed to (out) and from (in) other control-plane replicas.",
		}, []string{"direction"}),
		relayDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_cluster_relay_dropped_total",
			Help: "Relayed changes from other replicas dropped, by reason: topic, malformed, unknown_type, duplicate, full.",
		}, []string{"reason"}),
		relayGaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_cluster_relay_gaps_total",
			Help: "Times relays from another replica were found missing; dashboards are told to refetch.",
		}),
		reorder: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_cluster_reorder_batches_total",
			Help: "Router batches the relay could not hand to the fan-out in commit order at once, by outcome: held (waited for a predecessor relayed by another replica), expired (the predecessor did not come in time; dashboards refetch), late (arrived after its successor; dashboards refetch).",
		}, []string{"outcome"}),
		connects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_cluster_broker_connects_total",
			Help: "Successful (re)connections to the external broker.",
		}),
		connectionLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_cluster_broker_connection_lost_total",
			Help: "Connections to the external broker lost.",
		}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_cluster_channel_queries_total",
			Help: "Cluster-wide Pusher channel queries, by outcome: complete (every replica heard from lately answered), partial (some were left out after the timeout), broker_down (answered by this replica alone).",
		}, []string{"outcome"}),
	}
	for _, r := range []string{"applied", "rejected", "retry", "deferred"} {
		m.ingest.WithLabelValues(r)
	}
	for _, o := range []string{"held", "expired", "late"} {
		m.reorder.WithLabelValues(o)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.ingest, m.relayed, m.relayDropped, m.relayGaps, m.reorder, m.connects, m.connectionLost, m.queries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
