package radius

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a request (label "result" of sitepulse_agent_radius_requests_total).
const (
	resultAccept     = "accept"     // Access-Accept sent
	resultReject     = "reject"     // Access-Reject sent
	resultAcct       = "acct"       // Accounting-Response sent: the record is durable
	resultAcctFailed = "acct_error" // Decider.Account failed: no answer, the router retransmits
	resultRetransmit = "retransmit" // a duplicate: the cached reply re-sent, or dropped while the first is in hand
	resultDropped    = "dropped"    // see sitepulse_agent_radius_dropped_total for why
)

// Reasons a packet is dropped (label "reason" of
// sitepulse_agent_radius_dropped_total).
const (
	dropMalformed     = "malformed"                     // not a RADIUS packet, or missing what its code requires
	dropAuthenticator = "bad_authenticator"             // request authenticator wrong (wrong secret, tampered)
	dropMsgAuth       = "bad_message_authenticator"     // Message-Authenticator present and wrong
	dropNoMsgAuth     = "missing_message_authenticator" // absent while RequireMessageAuthenticator
	dropCode          = "unexpected_code"               // a code this port does not serve
	dropInternal      = "internal"                      // the reply could not be built, or the Decider panicked
)

const (
	typeAccess     = "access"
	typeAccounting = "accounting"
)

type metrics struct {
	requests *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	latency  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_radius_requests_total",
			Help: "RADIUS requests by type (access, accounting) and result (accept, reject, acct, acct_error, retransmit, dropped).",
		}, []string{"type", "result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_agent_radius_dropped_total",
			Help: "RADIUS packets dropped unanswered, by reason (malformed, bad_authenticator, bad_message_authenticator, missing_message_authenticator, unexpected_code, internal).",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sitepulse_agent_radius_access_duration_seconds",
			Help:    "Time from an Access-Request's arrival to its Accept or Reject being sent.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.dropped, m.latency} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("radius: metrics already registered on this Registerer (one Server per registry)")
			}
			return nil, err
		}
	}
	return m, nil
}
