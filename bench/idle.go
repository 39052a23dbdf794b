package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
)

// benchIdle opens n WebSocket clients to the sitepulse process, each
// subscribed to one of 10 tenants' sessions channels, leaves them idle
// (answering pings) and reads the server's RSS from /proc/{pid}/status
// before and after: the memory an idle dashboard costs the control plane.
// The clients run in this process, so they do not count.
func benchIdle(e *env) error {
	const cmd = "go run ./bench -only idle"
	const channels = 10
	n := pick(e, 10000, 10000) // idle connections are cheap to open: quick runs measure the target size too
	srv, fx, err := startServer(e, "idle-"+strconv.Itoa(n), "", 0)
	if err != nil {
		return err
	}
	defer srv.Stop()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	// Let the server settle (startup allocations, first GC) before the
	// baseline.
	time.Sleep(2 * time.Second)
	before, _ := harness.ProcUsage(srv.Proc.PID())
	heapBefore := scrapeMetric("http://"+srv.HTTPAddr+"/metrics", "go_memstats_heap_inuse_bytes")
	goBefore := scrapeMetric("http://"+srv.HTTPAddr+"/metrics", "go_goroutines")

	clients := make([]*client.Realtime, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	start := time.Now()
	for i := range n {
		src := fmt.Sprintf("127.0.%d.%d", 1+i/250/250, 2+(i/250)%250)
		c, err := harness.DialWS(ctx, srv.HTTPAddr, src)
		if err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
		clients = append(clients, c)
		if err := c.SubscribeWait(ctx, fanout.TenantChannel(fx.TenantID+int64(i%channels), "sessions")); err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
		// Read (and so answer the hub's pings) until the end.
		go func() {
			for {
				if _, err := c.Next(ctx); err != nil {
					return
				}
			}
		}()
	}
	took := time.Since(start)
	// Let the handshake garbage be collected and RSS settle.
	var after harness.Usage
	for i := 0; i < 10; i++ {
		time.Sleep(time.Second)
		u, _ := harness.ProcUsage(srv.Proc.PID())
		if i > 0 && u.RSS >= after.RSS {
			after = u
			break
		}
		after = u
	}
	heapAfter := scrapeMetric("http://"+srv.HTTPAddr+"/metrics", "go_memstats_heap_inuse_bytes")
	goAfter := scrapeMetric("http://"+srv.HTTPAddr+"/metrics", "go_goroutines")
	conns := scrapeMetric("http://"+srv.HTTPAddr+"/metrics", "sitepulse_realtime_connections")
	perConn := float64(after.RSS-before.RSS) / 1024 / float64(n)
	sec := "3b idle connections"
	e.add(Row{Section: sec, Name: fmt.Sprintf("%d idle subscribed connections: server RSS per connection", n), Value: perConn, Unit: "KiB", Command: cmd,
		Text: fmt.Sprintf("%.1f KiB RSS (%.1f KiB Go heap), %.2f goroutines", perConn, (heapAfter-heapBefore)/1024/float64(n), (goAfter-goBefore)/float64(n)),
		Note: fmt.Sprintf("VmRSS of the sitepulse process from /proc/{pid}/status, (after − before) ÷ connections; %.0f connections open on the server; connect+subscribe took %v; target ≤ 12 KiB; GOMAXPROCS %d here",
			conns, took.Round(time.Millisecond), runtime.GOMAXPROCS(0))})
	return nil
}
