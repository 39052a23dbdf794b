package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/sim"
)

// benchE2E: simulated routers with churn → in-process agents → the
// sitepulse process (embedded broker, ingest, store, hub) → one WebSocket
// client on the tenant's sessions channel. Latency is from the
// simulator's change (its Subscribe timestamp) to the client's read.
func benchE2E(e *env) error {
	pg, pgErr := harness.OpenPostgres(e.ctx, e.tmp)
	if pg != nil {
		defer pg.Close()
	}
	for _, d := range []string{"sqlite", "postgres"} {
		cmd := "go run ./bench -only e2e"
		dbURL := ""
		if d == "postgres" {
			if pgErr != nil {
				for _, n := range []string{"events/s", "latency p50", "latency p99"} {
					e.add(Row{Section: "1 end to end", Name: n + " (PostgreSQL)", Text: "skipped: no PostgreSQL", Command: cmd, Note: pgErr.Error()})
				}
				continue
			}
			u, err := pg.NewDatabase(e.ctx, "sitepulse_bench_e2e")
			if err != nil {
				return err
			}
			dbURL = u
		}
		if err := e2eRun(e, d, dbURL, cmd); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}

func e2eRun(e *env, dialect, dbURL, cmd string) error {
	routers := pick(e, 20, 4)
	perKind := pick(e, 50, 25)
	churn := pick(e, 600.0, 300.0) // logins+logouts per minute per router
	window := pick(e, 30*time.Second, 8*time.Second)
	srv, fx, err := startServer(e, "e2e-"+dialect, dbURL, routers)
	if err != nil {
		return err
	}
	defer srv.Stop()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()

	// Ground truth: when each login/logout happened, by router|kind|.id|op.
	var mu sync.Mutex
	changedAt := map[string]time.Time{}
	var agents []*agent.Agent
	var wg sync.WaitGroup
	for i, cred := range fx.Routers {
		r := sim.New(sim.Config{User: "bench", Password: "pw", Seed: int64(i + 1), HotspotSessions: perKind, PPPSessions: perKind,
			ChurnPerMinute: churn, TrafficInterval: time.Second, ReplyDelay: 200 * time.Microsecond})
		ch, unsub := r.Subscribe()
		defer unsub()
		go func(id string) {
			for c := range ch {
				if c.Op == "update" {
					continue
				}
				mu.Lock()
				changedAt[id+"|"+c.Kind+"|"+c.ID+"|"+c.Op] = c.Time
				mu.Unlock()
			}
		}(cred.ID)
		if err := r.Start(ctx, "127.0.0.1:0"); err != nil {
			return err
		}
		defer r.Close()
		a, err := agent.New(ctx, agent.Config{RouterID: cred.ID, RouterAddr: r.Addr(), RouterUser: "bench", RouterPassword: "pw",
			MQTTURL: "tcp://" + srv.MQTTAddr, MQTTSecret: cred.Secret, DataDir: filepath.Join(e.tmp, "e2e-"+dialect, "agent"+strconv.Itoa(i)),
			CountersInterval: 10 * time.Second, Version: "bench", Logger: e.log})
		if err != nil {
			return err
		}
		agents = append(agents, a)
		wg.Add(1)
		go func() { defer wg.Done(); _ = a.Run(ctx) }()
	}
	defer func() {
		cancel()
		wg.Wait()
		for _, a := range agents {
			a.Close()
		}
	}()

	c, err := harness.DialWS(ctx, srv.HTTPAddr, "")
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Subscribe(ctx, fanout.TenantChannel(fx.TenantID, "sessions")); err != nil {
		return err
	}
	var lat []time.Duration
	var events int
	measuring := false
	var perSec []float64
	warm := time.Now().Add(pick(e, 8*time.Second, 4*time.Second))
	var end, sliceEnd time.Time
	sliceN := 0
	for {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		f, err := c.Next(rctx)
		rcancel()
		if err != nil {
			return fmt.Errorf("websocket: %w", err)
		}
		now := f.At
		if !measuring && now.After(warm) {
			measuring, end, sliceEnd = true, now.Add(window), now.Add(window/3)
		}
		if measuring && now.After(sliceEnd) {
			perSec = append(perSec, float64(sliceN)/(window/3).Seconds())
			sliceN = 0
			sliceEnd = sliceEnd.Add(window / 3)
		}
		if measuring && now.After(end) {
			break
		}
		op := map[string]string{fanout.EventSessionStarted: "login", fanout.EventSessionEnded: "logout"}[f.Event]
		if op == "" {
			continue
		}
		var ev harness.SessionEvent
		if json.Unmarshal(f.Data, &ev) != nil {
			continue
		}
		mu.Lock()
		t0, ok := changedAt[ev.Session.RouterID+"|"+ev.Session.Kind+"|"+ev.Session.RouterOSID+"|"+op]
		mu.Unlock()
		if measuring {
			events++
			sliceN++
			if ok {
				lat = append(lat, now.Sub(t0))
			}
		}
	}
	note := fmt.Sprintf("%d routers × %d sessions, churn %.0f/min each, %v window; %d session events, median of 3 slices", routers, 2*perKind, churn, window, events)
	name := map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[dialect]
	e.add(Row{Section: "1 end to end", Name: "session events/s (" + name + ")", Value: median(perSec), Unit: "events/s", Command: cmd, Note: note})
	e.add(Row{Section: "1 end to end", Name: "latency p50 sim → WebSocket (" + name + ")", Value: ms(percentile(lat, 0.5)), Unit: "ms", Command: cmd,
		Note: fmt.Sprintf("%d samples", len(lat))})
	e.add(Row{Section: "1 end to end", Name: "latency p99 sim → WebSocket (" + name + ")", Value: ms(percentile(lat, 0.99)), Unit: "ms", Command: cmd})
	return nil
}
