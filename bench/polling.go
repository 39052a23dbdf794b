package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/sim"
)

// countingConn counts the bytes a client reads and writes on the wire
// (HTTP headers and WebSocket framing included).
type countingConn struct {
	net.Conn
	in, out *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

func countingDial(in, out *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, in: in, out: out}, nil
	}
}

// benchPolling runs one simulated site with churn through a real agent and
// the sitepulse process, and two dashboards side by side for the same
// window: one polls GET /api/v1/stats and the hotspot and PPPoE session
// lists every 5 s (keep-alive connection), the other loads once and then
// follows the sessions, dashboard-stats and routers channels over the
// WebSocket. Both count requests and bytes on the wire; the window is
// scaled to an hour.
//
// It runs twice: with the simulator's busy default (4 sessions in 5 move
// every second, the figure measured before) and with a hotspot's mix (a
// fifth of the sessions moving at a time, in bursts of ~10 s: phones on a
// hotspot sit idle most of the time), which only push can profit from.
func benchPolling(e *env) error {
	for _, m := range []struct {
		name  string
		share float64
	}{{"busy mix", 0}, {"hotspot mix", 0.2}} {
		if err := benchPollingMix(e, m.name, m.share); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return nil
}

func benchPollingMix(e *env, mix string, share float64) error {
	const cmd = "go run ./bench -only polling"
	window := pick(e, 90*time.Second, 20*time.Second)
	dir := "polling-" + strings.ReplaceAll(mix, " ", "-")
	srv, fx, err := startServer(e, dir, "", 1)
	if err != nil {
		return err
	}
	defer srv.Stop()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	r := sim.New(sim.Config{User: "bench", Password: "pw", Seed: 3, HotspotSessions: 100, PPPSessions: 100, ChurnPerMinute: 60, TrafficInterval: time.Second, ActiveShare: share})
	if err := r.Start(ctx, "127.0.0.1:0"); err != nil {
		return err
	}
	defer r.Close()
	a, err := agent.New(ctx, agent.Config{RouterID: fx.Routers[0].ID, RouterAddr: r.Addr(), RouterUser: "bench", RouterPassword: "pw",
		MQTTURL: "tcp://" + srv.MQTTAddr, MQTTSecret: fx.Routers[0].Secret, DataDir: filepath.Join(e.tmp, dir, "agent"), Logger: e.log})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = a.Run(ctx) }()
	defer func() { cancel(); wg.Wait(); a.Close() }()
	base := "http://" + srv.HTTPAddr
	if err := harness.WaitFor(ctx, 30*time.Second, "sessions ingested", func() bool {
		rows, err := srv.API(fx.Token).AllSessions(ctx, 0, controlplane.SessionFilter{})
		return err == nil && len(rows) >= 150
	}); err != nil {
		return err
	}
	// The full lists: 200 sessions fit one page of limit=500.
	paths := []string{"/api/v1/stats", "/api/v1/sessions?kind=hotspot&limit=500", "/api/v1/sessions?kind=pppoe&limit=500"}

	var pollIn, pollOut, pushIn, pushOut, zIn, zOut atomic.Int64
	var pollReqs, pushReqs, frames, zFrames, pushInit, zInit atomic.Int64
	pollAPI := client.New(base, client.Options{Token: fx.Token, HTTPClient: &http.Client{Transport: &http.Transport{DialContext: countingDial(&pollIn, &pollOut)}}})
	pushAPI := client.New(base, client.Options{Token: fx.Token, HTTPClient: &http.Client{Transport: &http.Transport{DialContext: countingDial(&pushIn, &pushOut)}}})
	start := time.Now()
	end := start.Add(window)
	errc := make(chan error, 3)
	var evMu sync.Mutex
	plainEv := map[string]int{} // events the push dashboard got, by name
	go func() {
		for t := time.Now(); t.Before(end); t = t.Add(5 * time.Second) {
			time.Sleep(time.Until(t))
			for _, p := range paths {
				if _, err := pollAPI.DoCount(ctx, http.MethodGet, p, nil, nil); err != nil {
					errc <- err
					return
				}
				pollReqs.Add(1)
			}
		}
		errc <- nil
	}()
	go func() {
		d := websocket.Dialer{NetDialContext: countingDial(&pushIn, &pushOut)}
		c, err := client.DialRealtime(ctx, "ws://"+srv.HTTPAddr, harness.PusherKey,
			client.RealtimeOptions{Dialer: &d, Authorize: harness.SignLocally, ClientName: "js", Version: "8.4.0"})
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		for _, topic := range []string{"sessions", "dashboard-stats", "routers"} {
			if err := c.Subscribe(ctx, fanout.TenantChannel(fx.TenantID, topic)); err != nil {
				errc <- err
				return
			}
		}
		for _, p := range paths {
			if _, err := pushAPI.DoCount(ctx, http.MethodGet, p, nil, nil); err != nil {
				errc <- err
				return
			}
			pushReqs.Add(1)
		}
		pushInit.Store(pushIn.Load() + pushOut.Load())
		rctx, rcancel := context.WithDeadline(ctx, end)
		defer rcancel()
		for {
			f, err := c.Next(rctx)
			if err != nil {
				break
			}
			frames.Add(1)
			evMu.Lock()
			plainEv[f.Event]++
			evMu.Unlock()
		}
		errc <- nil
	}()
	// A third dashboard like the second that offers permessage-deflate, as
	// browsers do: what compression saves on the same frames. Only its
	// WebSocket bytes are compared (its REST load would be the same).
	go func() {
		d := websocket.Dialer{NetDialContext: countingDial(&zIn, &zOut), EnableCompression: true}
		c, err := client.DialRealtime(ctx, "ws://"+srv.HTTPAddr, harness.PusherKey,
			client.RealtimeOptions{Dialer: &d, Authorize: harness.SignLocally, ClientName: "js", Version: "8.4.0"})
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		for _, topic := range []string{"sessions", "dashboard-stats", "routers"} {
			if err := c.Subscribe(ctx, fanout.TenantChannel(fx.TenantID, topic)); err != nil {
				errc <- err
				return
			}
		}
		zInit.Store(zIn.Load() + zOut.Load())
		rctx, rcancel := context.WithDeadline(ctx, end)
		defer rcancel()
		for {
			if _, err := c.Next(rctx); err != nil {
				if rctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					errc <- fmt.Errorf("compressed dashboard: %w", err)
					return
				}
				break
			}
			zFrames.Add(1)
		}
		errc <- nil
	}()
	for range 3 {
		if err := <-errc; err != nil {
			return err
		}
	}
	el := time.Since(start)
	scale := float64(time.Hour) / float64(el)
	pollBytes := float64(pollIn.Load()+pollOut.Load()) * scale
	init := float64(pushInit.Load())
	pushBytes := init + (float64(pushIn.Load()+pushOut.Load())-init)*scale
	note := fmt.Sprintf("%s: measured over %v with 200 sessions and churn 60/min, scaled ×%.0f to one hour; bytes on the wire both ways incl. HTTP headers and WebSocket framing", mixNote(share), el.Round(time.Second), scale)
	e.add(Row{Section: "6 polling vs push", Name: mix + ": polling every 5 s: HTTP requests per dashboard-hour", Value: float64(pollReqs.Load()) * scale, Unit: "requests", Command: cmd, Note: note})
	e.add(Row{Section: "6 polling vs push", Name: mix + ": polling every 5 s: bytes per dashboard-hour", Value: pollBytes / (1 << 20), Unit: "MiB", Command: cmd})
	e.add(Row{Section: "6 polling vs push", Name: mix + ": SitePulse push: HTTP requests per dashboard-hour", Value: float64(pushReqs.Load()), Unit: "requests", Command: cmd,
		Note: fmt.Sprintf("initial load only (not scaled) + 1 WebSocket; %d frames in the window (%v)", frames.Load(), plainEv)})
	e.add(Row{Section: "6 polling vs push", Name: mix + ": SitePulse push: bytes per dashboard-hour", Value: pushBytes / (1 << 20), Unit: "MiB", Command: cmd,
		Note: fmt.Sprintf("initial load (WebSocket handshake, subscriptions, 3 GETs: %.0f KiB) once, then the frames scaled; SessionUpdated carries only the sessions and fields that changed", init/1024)})
	plainWS := float64(pushIn.Load()+pushOut.Load()) - float64(pushInit.Load())
	zWS := float64(zIn.Load()+zOut.Load()) - float64(zInit.Load())
	if zWS > 0 {
		e.add(Row{Section: "6 polling vs push", Name: mix + ": SitePulse push with permessage-deflate: WebSocket bytes per dashboard-hour", Value: zWS * scale / (1 << 20), Unit: "MiB", Command: cmd,
			Note: fmt.Sprintf("a third dashboard offering permessage-deflate (as browsers do), same window: %d frames, %.2f MiB/h vs %.2f MiB/h uncompressed (%.1f× fewer, %.0f%% saved); REST load not counted",
				zFrames.Load(), zWS*scale/(1<<20), plainWS*scale/(1<<20), plainWS/zWS, 100*(1-zWS/plainWS))})
		e.add(Row{Section: "6 polling vs push", Name: mix + ": bytes ratio polling / push with permessage-deflate", Value: pollBytes / (init + zWS*scale), Unit: "×", Command: cmd,
			Note: "push: the uncompressed dashboard's initial load + the compressed dashboard's frames, scaled"})
	}
	e.add(Row{Section: "6 polling vs push", Name: mix + ": bytes ratio polling / push", Value: pollBytes / pushBytes, Unit: "×", Command: cmd, Note: "same run"})
	return nil
}

func mixNote(share float64) string {
	if share == 0 {
		return "the simulator's busy default (each session moves on 4 steps in 5)"
	}
	return fmt.Sprintf("%.0f%% of sessions moving at a time, in bursts of ~10 s (sim.Config.ActiveShare)", share*100)
}
