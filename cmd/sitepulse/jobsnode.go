package main

import (
	"context"
	"log/slog"
	"net/http"
)

// runJobsOnly finishes Run for a --roles=jobs worker node: River's
// workers and periodic jobs on the shared database, command delivery
// through a publish-only cluster client (no shared ingest subscription:
// agents' messages go to the nodes with ingest), and this process's
// committed changes relayed to the realtime nodes' fan-outs. It serves
// only /healthz, /readyz and /metrics.
func (m *Main) runJobsOnly(ctx context.Context) error {
	c := m.Config
	if err := m.startCluster(ctx); err != nil {
		return err
	}
	// Subscribe before River starts so that no change its jobs commit is
	// missed; the relay reads until Close.
	m.fanSub = m.bus.Subscribe(1024)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.fanStop = cancel
	m.fanDone = make(chan struct{})
	go func() {
		defer close(m.fanDone)
		m.cluster.Relay(rctx, m.fanSub.C)
	}()
	if err := m.startProvisioning(ctx); err != nil {
		return err
	}
	mux := http.NewServeMux()
	m.mountProbes(mux)
	if err := m.serveHTTP(mux); err != nil {
		return err
	}
	if c.Billing.PublicURL == "" {
		// Payment jobs give Safaricom callback URLs; this node serves no
		// callback, so they must name the API nodes.
		m.log.Warn("jobs node without --public-url: payment callbacks cannot reach the API nodes; set it to their public address")
	}
	m.log.Info("serving jobs", slog.String("http", m.HTTPAddr()), slog.String("roles", c.Roles.String()), slog.String("store", m.store.Dialect()))
	return nil
}
