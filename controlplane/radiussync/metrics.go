package radiussync

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	pages, entries, publishFailures, states, invalidEntries, agentAhead, doubleUse prometheus.Counter
	asks, uses                                                                     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &metrics{
		pages:           c("sitepulse_radius_pages_sent_total", "RADIUS sync pages published to agents."),
		entries:         c("sitepulse_radius_entries_sent_total", "RADIUS entries published to agents in sync pages."),
		publishFailures: c("sitepulse_radius_publish_failures_total", "RADIUS sync pages the broker did not take (retried from the agent's next state or the sweep)."),
		states:          c("sitepulse_radius_states_total", "RADIUS sync states reported by agents."),
		invalidEntries:  c("sitepulse_radius_invalid_entries_total", "RADIUS entries sent as deletions because the contract refuses their content."),
		agentAhead:      c("sitepulse_radius_agent_ahead_total", "Agents found holding a RADIUS version above their router's head."),
		doubleUse:       c("sitepulse_voucher_double_use_total", "Vouchers reported used offline after they were redeemed elsewhere."),
		asks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_radius_asks_total",
			Help: "Voucher first-use questions from agents, by answer."}, []string{"answer"}),
		uses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sitepulse_radius_voucher_uses_total",
			Help: "voucher.used events reconciled, by result."}, []string{"result"}),
	}
	for _, a := range []string{"accept", "reject"} {
		m.asks.WithLabelValues(a)
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{m.pages, m.entries, m.publishFailures, m.states, m.invalidEntries, m.agentAhead,
		m.doubleUse, m.asks, m.uses} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}
