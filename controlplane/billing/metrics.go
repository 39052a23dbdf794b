package billing

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	callbacks *prometheus.CounterVec // provider, kind, outcome
	payments  *prometheus.CounterVec // provider, status
	stk       *prometheus.CounterVec // outcome of STK pushes and queries
	expired   *prometheus.CounterVec // reason
	source    *prometheus.CounterVec // allowed, outside
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_billing_callbacks_total",
			Help: "Payment provider callbacks by provider, kind and outcome (applied, duplicate, flagged, rejected, queued)."},
			[]string{"provider", "kind", "outcome"}),
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_billing_payments_total",
			Help: "Payments that reached a status, by provider and status."}, []string{"provider", "status"}),
		stk: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_billing_stk_requests_total",
			Help: "STK push and query calls to Daraja by call and outcome."}, []string{"call", "outcome"}),
		expired: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_billing_subscriptions_expired_total",
			Help: "Subscriptions expired by reason (time, data_cap)."}, []string{"reason"}),
		source: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_billing_callback_sources_total",
			Help: "Provider callbacks by whether their source address is on the tenant's allow-list."}, []string{"source"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.callbacks, m.payments, m.stk, m.expired, m.source} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
