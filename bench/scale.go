package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/protocol"
)

// benchScale connects n lightweight fake agents — paho clients with real
// per-router credentials created through the store — to one sitepulse
// process. Each publishes a batch with one router.resources event every
// 10 s (spread evenly), stamped with its send time; a WebSocket client on
// the tenant's routers channel reads RouterLiveDataUpdated, whose "at" is
// that stamp, so the latency covers broker, auth, ingest, store, fan-out
// and hub.
func benchScale(e *env) error {
	const cmd = "go run ./bench -only scale"
	n := pick(e, 10000, 500)
	period := 10 * time.Second
	window := pick(e, 40*time.Second, 15*time.Second)
	t0 := time.Now()
	srv, fx, err := startServer(e, "scale", "", n)
	if err != nil {
		return err
	}
	defer srv.Stop()
	setupTook := time.Since(t0)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	idle, _ := harness.ProcUsage(srv.Proc.PID())

	c, err := harness.DialWS(ctx, srv.HTTPAddr, "")
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Subscribe(ctx, fanout.TenantChannel(fx.TenantID, "routers")); err != nil {
		return err
	}
	var mu sync.Mutex
	var lat []time.Duration
	measuring := atomic.Bool{}
	go func() {
		for {
			f, err := c.Next(ctx)
			if err != nil {
				return
			}
			if f.Event != fanout.EventRouterLiveDataUpdated || !measuring.Load() {
				continue
			}
			var d struct {
				At time.Time `json:"at"`
			}
			if json.Unmarshal(f.Data, &d) == nil && !d.At.IsZero() {
				mu.Lock()
				lat = append(lat, f.At.Sub(d.At))
				mu.Unlock()
			}
		}
	}()

	// Connect, 32 at a time.
	clients := make([]paho.Client, n)
	var connErrs atomic.Int64
	connStart := time.Now()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i, cred := range fx.Routers {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			o := paho.NewClientOptions().AddBroker("tcp://" + srv.MQTTAddr).SetClientID(cred.ID).SetUsername(cred.ID).SetPassword(cred.Secret).
				SetCleanSession(true).SetAutoReconnect(false).SetKeepAlive(60 * time.Second).SetConnectTimeout(60 * time.Second)
			cl := paho.NewClient(o)
			t := cl.Connect()
			if !t.WaitTimeout(90*time.Second) || t.Error() != nil {
				connErrs.Add(1)
				return
			}
			clients[i] = cl
		}()
	}
	wg.Wait()
	connTook := time.Since(connStart)
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.Disconnect(0)
			}
		}
	}()
	connected, _ := harness.ProcUsage(srv.Proc.PID())

	// Publish: client i at offset i*period/n, then every period.
	var sent, pubErrs atomic.Int64
	pubStart := time.Now()
	for i, cl := range clients {
		if cl == nil {
			continue
		}
		id := fx.Routers[i].ID
		go func() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(i) * period / time.Duration(n)):
			}
			tick := time.NewTicker(period)
			defer tick.Stop()
			for seq := uint64(1); ; seq++ {
				b, _ := json.Marshal(protocol.EventBatch{V: protocol.Version, Router: id, Events: []protocol.Event{{Seq: seq, TS: time.Now().UTC(),
					Type: protocol.EventRouterResources, Resources: &protocol.Resources{UptimeSeconds: int64(seq), CPULoad: int(seq % 100), FreeMemory: 1 << 20, TotalMemory: 1 << 28}}}})
				tok := cl.Publish(protocol.EventsTopic(id), 1, false, b)
				go func() {
					if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
						pubErrs.Add(1)
					}
				}()
				sent.Add(1)
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	time.Sleep(period) // one full round before measuring
	measuring.Store(true)
	u0, _ := harness.ProcUsage(srv.Proc.PID())
	s0 := sent.Load()
	m0 := time.Now()
	time.Sleep(window)
	u1, _ := harness.ProcUsage(srv.Proc.PID())
	s1 := sent.Load()
	el := time.Since(m0)
	measuring.Store(false)
	_ = pubStart
	mu.Lock()
	p50, p99, samples := percentile(lat, 0.5), percentile(lat, 0.99), len(lat)
	mu.Unlock()
	ok := n - int(connErrs.Load())
	sec := "7 scale"
	note := fmt.Sprintf("%d of %d paho clients connected (real credentials, auth + ACL) in %v; fixture (%d routers via the store) %v", ok, n, connTook.Round(time.Second), n, setupTook.Round(time.Second))
	e.add(Row{Section: sec, Name: fmt.Sprintf("%d agents: server RSS", n), Value: mib(u1.RSS), Unit: "MiB", Command: cmd,
		Note: fmt.Sprintf("%s; idle before connects %.0f MiB, after connects %.0f MiB", note, mib(idle.RSS), mib(connected.RSS))})
	e.add(Row{Section: sec, Name: fmt.Sprintf("%d agents: server CPU", n), Value: 100 * float64(u1.CPU-u0.CPU) / float64(el), Unit: "% of one core", Command: cmd,
		Note: fmt.Sprintf("%.0f batches/s (one router.resources event each, every %v per agent) over %v; SQLite; the load generator shares the 2 cores", float64(s1-s0)/el.Seconds(), period, el.Round(time.Second))})
	e.add(Row{Section: sec, Name: fmt.Sprintf("%d agents: ingest latency p50 / p99", n), Text: fmt.Sprintf("%.1f / %.1f ms", ms(p50), ms(p99)), Value: ms(p99), Unit: "ms", Command: cmd,
		Note: fmt.Sprintf("publish → RouterLiveDataUpdated on a WebSocket, %d samples, %d publish errors", samples, pubErrs.Load())})
	return nil
}
