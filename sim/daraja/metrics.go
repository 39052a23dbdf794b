package daraja

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	tokens     *prometheus.CounterVec
	stk        *prometheus.CounterVec
	results    *prometheus.CounterVec
	queries    *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	c2b        *prometheus.CounterVec
	errors     *prometheus.CounterVec
}

// newMetrics makes the simulator's counters and registers them on reg
// (nil keeps them unregistered: they still count, nobody scrapes them).
func newMetrics(reg prometheus.Registerer) *metrics {
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sitepulse_mpesa_sim", Name: name, Help: help}, labels)
	}
	m := &metrics{
		tokens:     c("tokens_total", "OAuth token requests by outcome (issued, refused).", "outcome"),
		stk:        c("stk_push_total", "STK push requests by outcome (accepted, refused, locked).", "outcome"),
		results:    c("stk_results_total", "STK pushes answered, by result code.", "result_code"),
		queries:    c("stk_query_total", "STK push queries by answer (answered, pending, unknown).", "answer"),
		deliveries: c("deliveries_total", "Requests to merchant URLs by kind and HTTP status (error when none).", "kind", "status"),
		c2b:        c("c2b_payments_total", "C2B payments by final state.", "state"),
		errors:     c("api_errors_total", "Daraja error bodies sent, by errorCode.", "error_code"),
	}
	if reg != nil {
		reg.MustRegister(m.tokens, m.stk, m.results, m.queries, m.deliveries, m.c2b, m.errors)
	}
	return m
}
