package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

// benchFanout connects n WebSocket clients to the sitepulse process,
// spread over 10 tenants' sessions channels, and publishes through the
// Pusher HTTP API (/apps/{id}/events, one event to all 10 channels) at a
// fixed rate; every frame carries its send time.
func benchFanout(e *env) error {
	sizes := pick(e, []int{1000, 10000}, []int{200, 1000})
	for _, n := range sizes {
		if err := fanoutRun(e, n); err != nil {
			return fmt.Errorf("%d clients: %w", n, err)
		}
	}
	return nil
}

func fanoutRun(e *env, n int) error {
	const cmd = "go run ./bench -only fanout"
	const channels = 10
	srv, fx, err := startServer(e, "fanout-"+strconv.Itoa(n), "", 0)
	if err != nil {
		return err
	}
	defer srv.Stop()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	time.Sleep(time.Second)
	before, _ := harness.ProcUsage(srv.Proc.PID())
	heapBefore := scrapeMetric("http://"+srv.HTTPAddr+"/metrics", "go_memstats_heap_inuse_bytes")

	var recv atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	clients := make([]*client.Realtime, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	subscribed := make(chan struct{}, n)
	connStart := time.Now()
	for i := range n {
		// 250 connections per source address keep far from the
		// ephemeral port range on any one 127.0.0.x.
		src := fmt.Sprintf("127.0.%d.%d", 1+i/250/250, 2+(i/250)%250)
		c, err := harness.DialWS(ctx, srv.HTTPAddr, src)
		if err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
		clients = append(clients, c)
		if err := c.Subscribe(ctx, fanout.TenantChannel(fx.TenantID+int64(i%channels), "sessions")); err != nil {
			return err
		}
		go func() {
			local := make([]time.Duration, 0, 64)
			for {
				f, err := c.Next(ctx)
				if err != nil {
					mu.Lock()
					lat = append(lat, local...)
					mu.Unlock()
					return
				}
				switch f.Event {
				case "pusher_internal:subscription_succeeded":
					subscribed <- struct{}{}
				case "Bench":
					var d struct {
						T int64 `json:"t"`
					}
					if json.Unmarshal(f.Data, &d) == nil {
						recv.Add(1)
						local = append(local, f.At.Sub(time.Unix(0, d.T)))
					}
				}
			}
		}()
	}
	for range n {
		select {
		case <-subscribed:
		case <-time.After(60 * time.Second):
			return fmt.Errorf("subscriptions not confirmed within 60 s")
		}
	}
	connTook := time.Since(connStart)
	time.Sleep(2 * time.Second)
	after, _ := harness.ProcUsage(srv.Proc.PID())
	heapAfter := scrapeMetric("http://"+srv.HTTPAddr+"/metrics", "go_memstats_heap_inuse_bytes")

	// Publish: rate events/s, each to all channels.
	rate := pick(e, 20, 10)
	dur := pick(e, 10*time.Second, 5*time.Second)
	chs := make([]string, channels)
	for i := range chs {
		chs[i] = fanout.TenantChannel(fx.TenantID+int64(i), "sessions")
	}
	cpu0, _ := harness.ProcUsage(srv.Proc.PID())
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	sent := 0
	for time.Since(start) < dur {
		<-tick.C
		if err := pusherPublish(ctx, srv.HTTPAddr, chs, "Bench", fmt.Sprintf(`{"t":%d}`, time.Now().UnixNano())); err != nil {
			tick.Stop()
			return err
		}
		sent++
	}
	tick.Stop()
	want := int64(sent * n) // each client is on one of the channels every event goes to
	_ = harness.WaitFor(ctx, 30*time.Second, "deliveries", func() bool { return recv.Load() >= want })
	elapsed := time.Since(start)
	cpu1, _ := harness.ProcUsage(srv.Proc.PID())
	got := recv.Load()
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	p99 := percentile(lat, 0.99)
	p50 := percentile(lat, 0.5)
	mu.Unlock()
	sec := "3 fan-out"
	label := fmt.Sprintf("%d clients", n)
	e.add(Row{Section: sec, Name: label + ": delivered messages/s", Value: float64(got) / elapsed.Seconds(), Unit: "msg/s", Command: cmd,
		Note: fmt.Sprintf("publisher aimed at %d events/s, each to 10 tenant channels via the Pusher HTTP API, one request at a time, and achieved %.1f/s (%d in %v); %d of %d deliveries; server CPU %.0f%% of one core; connect+subscribe took %v",
			rate, float64(sent)/dur.Seconds(), sent, dur, got, want, 100*float64(cpu1.CPU-cpu0.CPU)/float64(elapsed), connTook.Round(time.Millisecond))})
	e.add(Row{Section: sec, Name: label + ": latency p50 / p99", Text: fmt.Sprintf("%.1f / %.1f ms", ms(p50), ms(p99)), Value: ms(p99), Unit: "ms", Command: cmd,
		Note: "HTTP publish → client read, same clock"})
	e.add(Row{Section: sec, Name: label + ": server memory per connection", Text: fmt.Sprintf("%.1f KiB RSS, %.1f KiB heap", float64(after.RSS-before.RSS)/1024/float64(n), (heapAfter-heapBefore)/1024/float64(n)),
		Value: float64(after.RSS-before.RSS) / 1024 / float64(n), Unit: "KiB", Command: cmd, Note: "(RSS or go heap in use after − before) ÷ clients, connected and subscribed"})
	return nil
}

// pusherPublish signs and sends one event to channels via the Pusher HTTP
// API, as a Laravel backend would.
func pusherPublish(ctx context.Context, httpAddr string, channels []string, name, data string) error {
	body, _ := json.Marshal(map[string]any{"name": name, "channels": channels, "data": data})
	path := "/apps/" + harness.PusherAppID + "/events"
	q, err := pusher.SignedQuery(harness.PusherKey, harness.PusherSecret, "POST", path, nil, body, time.Now())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpAddr+path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("publish: %s", res.Status)
	}
	return nil
}

// scrapeMetric reads one unlabelled gauge from a Prometheus text page.
func scrapeMetric(u, name string) float64 {
	res, err := http.Get(u)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}
