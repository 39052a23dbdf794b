package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/seal"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/controlplane/webhooks"
	"github.com/sitepulse/sitepulse/protocol"
)

// benchWebhooks: outgoing webhook latency, from a change published on
// the bus (as ingest does after its commit) to a real HTTP receiver on
// 127.0.0.1 getting the signed delivery. The production pieces run in
// process: the store, provisioning's River client with its default poll
// interval (as serve runs it), and the webhooks service with the
// allow-private flag (the receiver is on loopback).
func benchWebhooks(e *env) error {
	const cmd = "go run ./bench -only webhooks"
	pg, pgErr := harness.OpenPostgres(e.ctx, filepath.Join(e.tmp, "webhooks"))
	if pg != nil {
		defer pg.Close()
	}
	for _, d := range []string{"sqlite", "postgres"} {
		so := store.Options{DataDir: filepath.Join(e.tmp, "webhooks-"+d)}
		if d == "postgres" {
			if pgErr != nil {
				for _, n := range []string{"bus change → receiver p50", "bus change → receiver p99"} {
					e.add(Row{Section: "9 webhooks", Name: n + " (PostgreSQL)", Text: "skipped: no PostgreSQL", Command: cmd, Note: pgErr.Error()})
				}
				continue
			}
			u, err := pg.NewDatabase(e.ctx, "sitepulse_bench_webhooks")
			if err != nil {
				return err
			}
			so = store.Options{DatabaseURL: u}
		}
		if err := webhooksRun(e, d, so, cmd); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}

type nopCommands struct{}

func (nopCommands) PublishCommand(context.Context, *protocol.Command) error { return nil }
func (nopCommands) Connected(string) bool                                   { return false }

func webhooksRun(e *env, dialect string, so store.Options, cmd string) error {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Minute)
	defer cancel()
	if so.DataDir != "" {
		if err := os.MkdirAll(so.DataDir, 0o700); err != nil {
			return err
		}
	}
	st, err := store.Open(ctx, so)
	if err != nil {
		return err
	}
	defer st.Close()
	bus := &controlplane.Bus{}
	key, err := seal.GenerateKey()
	if err != nil {
		return err
	}
	ring, _ := seal.NewKeyring(key)
	svc, err := webhooks.New(webhooks.Options{Store: st, Bus: bus, Sealer: ring, AllowPrivate: true})
	if err != nil {
		return err
	}
	prov, err := provisioning.New(provisioning.Options{Store: st, Bus: bus, DisablePeriodic: true, Jobs: []provisioning.JobSet{svc}})
	if err != nil {
		return err
	}
	svc.SetJobs(prov)
	if err := prov.Start(ctx, nopCommands{}); err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		prov.Close(c)
	}()
	svc.Start(ctx)
	defer svc.Close()

	n, pace := 300, 50 // events, per second
	if e.quick {
		n = 100
	}
	var mu sync.Mutex
	sent := make(map[string]time.Time, n)
	var lat []time.Duration
	done := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		at := time.Now()
		var ev webhooks.Event
		_ = json.Unmarshal(body, &ev)
		router, _ := ev.Data["router"].(map[string]any)
		id, _ := router["id"].(string)
		mu.Lock()
		if t0, ok := sent[id]; ok {
			delete(sent, id)
			lat = append(lat, at.Sub(t0))
			if len(lat) == n {
				close(done)
			}
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	tenant, err := st.CreateTenant(ctx, "Webhook bench "+dialect)
	if err != nil {
		return err
	}
	admin := controlplane.Principal{UserID: 1, TenantID: tenant.ID, Role: controlplane.RoleTenantAdmin, Email: "bench@sitepulse.test"}
	if _, _, err := svc.CreateEndpoint(ctx, admin, controlplane.WebhookEndpointRequest{URL: rcv.URL, EventTypes: []string{"RouterStatusUpdated"}}); err != nil {
		return err
	}
	tick := time.NewTicker(time.Second / time.Duration(pace))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		id := fmt.Sprintf("r-%d", i)
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		bus.Publish(controlplane.RouterStatusChanged{Router: controlplane.Router{TenantID: tenant.ID, ID: id, Name: id, Status: controlplane.RouterOnline}})
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("%d of %d webhooks received", len(lat), n)
	}
	mu.Lock()
	defer mu.Unlock()
	name := map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[dialect]
	note := fmt.Sprintf("%d RouterStatusUpdated changes at %d/s, one endpoint; River's default job fetch (as serve runs it) dominates the latency, not the HTTP call", n, pace)
	e.add(Row{Section: "9 webhooks", Name: "bus change → receiver p50 (" + name + ")", Value: ms(percentile(lat, 0.5)), Unit: "ms", Command: cmd, Note: note})
	e.add(Row{Section: "9 webhooks", Name: "bus change → receiver p99 (" + name + ")", Value: ms(percentile(lat, 0.99)), Unit: "ms", Command: cmd,
		Note: fmt.Sprintf("max %.0f ms", ms(percentile(lat, 1)))})
	return nil
}
