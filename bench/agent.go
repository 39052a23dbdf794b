package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/sim"
)

// benchAgent runs the sitepulse-agent binary against a sitepulse-sim
// process with 1k and 10k sessions (half hotspot, half PPPoE, churn 1 %
// of sessions per minute) and a sitepulse process, lets it settle, then
// reads VmRSS and utime+stime over a fixed window. It also builds the
// static agent for each architecture.
func benchAgent(e *env) error {
	const cmd = "go run ./bench -only agent"
	srv, fx, err := startServer(e, "agent", "", 2)
	if err != nil {
		return err
	}
	defer srv.Stop()
	settle := pick(e, 15*time.Second, 8*time.Second)
	window := pick(e, 20*time.Second, 10*time.Second)
	for i, n := range []int{1000, 10000} {
		dir := filepath.Join(e.tmp, "agent-"+strconv.Itoa(n))
		_ = os.MkdirAll(dir, 0o755)
		simAddr, err := harness.FreeAddr()
		if err != nil {
			return err
		}
		sp, err := harness.StartProc("sitepulse-sim", e.bins.Sim, []string{"--api-addr", simAddr, "--user", "bench", "--password", "pw",
			"--hotspot-sessions", strconv.Itoa(n / 2), "--ppp-sessions", strconv.Itoa(n / 2), "--churn", strconv.Itoa(n / 100),
			"--seed", strconv.Itoa(n), "--log-level", "warn"}, nil, filepath.Join(dir, "sim.log"))
		if err != nil {
			return err
		}
		if err := harness.WaitFor(e.ctx, 60*time.Second, "sim listening", func() bool { return harness.Dialable(simAddr) }); err != nil {
			sp.Kill()
			return err
		}
		ap, err := harness.StartProc("sitepulse-agent", e.bins.Agent, []string{"run", "--router-id", fx.Routers[i].ID, "--router-addr", simAddr,
			"--router-user", "bench", "--router-password", "pw", "--mqtt-url", "tcp://" + srv.MQTTAddr, "--mqtt-secret", fx.Routers[i].Secret,
			"--data-dir", filepath.Join(dir, "data"), "--listen-addr", "", "--log-level", "warn"}, nil, filepath.Join(dir, "agent.log"))
		if err != nil {
			sp.Kill()
			return err
		}
		time.Sleep(settle)
		u0, err0 := harness.ProcUsage(ap.PID())
		t0 := time.Now()
		time.Sleep(window)
		u1, err1 := harness.ProcUsage(ap.PID())
		el := time.Since(t0)
		_ = ap.Stop(15 * time.Second)
		sp.Kill()
		if err0 != nil || err1 != nil {
			return fmt.Errorf("agent at %d sessions exited early (log %s)", n, filepath.Join(dir, "agent.log"))
		}
		note := fmt.Sprintf("defaults (counters every 10 s, resync 60 s), churn %d/min; settled %v, measured over %v", n/100, settle, window)
		e.add(Row{Section: "4 agent footprint", Name: fmt.Sprintf("RSS at %d sessions", n), Value: mib(u1.RSS), Unit: "MiB", Command: cmd, Note: note})
		e.add(Row{Section: "4 agent footprint", Name: fmt.Sprintf("CPU at %d sessions", n), Value: 100 * float64(u1.CPU-u0.CPU) / float64(el), Unit: "% of one core", Command: cmd,
			Note: "amd64, this machine; (utime+stime) ÷ wall time"})
	}
	for _, a := range []struct{ name, goarch, goarm string }{{"arm/v7", "arm", "7"}, {"arm64", "arm64", ""}, {"amd64", "amd64", ""}} {
		out := filepath.Join(e.tmp, "cross", "sitepulse-agent-"+a.goarch)
		c := exec.CommandContext(e.ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/sitepulse-agent")
		c.Dir = e.root
		c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.goarch, "GOARM="+a.goarm, "GOTOOLCHAIN=local")
		if b, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %w\n%s", a.name, err, b)
		}
		st, err := os.Stat(out)
		if err != nil {
			return err
		}
		e.add(Row{Section: "4 agent footprint", Name: "binary size linux/" + a.name, Value: mib(st.Size()), Unit: "MiB",
			Command: "CGO_ENABLED=0 GOARCH=" + a.goarch + " go build -trimpath -ldflags '-s -w' ./cmd/sitepulse-agent"})
	}
	return nil
}

// benchOutbox runs the agent's outbox Go benchmarks, then simulates an
// hour offline at 1,000 sessions: the real agent (in process) against a
// simulator, with its broker unreachable, and every interval — counters
// (10 s), resources (30 s), resync (60 s), the simulator's tick and churn —
// compressed by the same factor, so the outbox receives an hour's worth
// of events in a minute. The database files' size is the figure.
func benchOutbox(e *env) error {
	// One b.N of OutboxWrite is one event; one of OutboxReplay is a
	// replay of 20,000 events.
	bt := pick(e, "20000x", "5000x")
	cmd := "go test -run '^$' -bench 'OutboxWrite' -benchtime " + bt + " ./agent/ && go test -run '^$' -bench OutboxReplay -benchtime 3x ./agent/"
	var out []byte
	for _, a := range [][]string{{"OutboxWrite", bt}, {"OutboxReplay", "3x"}} {
		c := exec.CommandContext(e.ctx, "go", "test", "-run", "^$", "-bench", a[0], "-benchtime", a[1], "-count", strconv.Itoa(pick(e, 3, 1)), "./agent/")
		c.Dir = e.root
		c.Env = append(os.Environ(), "GOTOOLCHAIN=local")
		b, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("go test: %w\n%s", err, b)
		}
		out = append(out, b...)
	}
	re := regexp.MustCompile(`Benchmark(OutboxWrite/\S+|OutboxReplay)-\d+\s+\d+\s+\d+ ns/op\s+([\d.]+) events/s`)
	rates := map[string][]float64{}
	var order []string
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		if rates[m[1]] == nil {
			order = append(order, m[1])
		}
		rates[m[1]] = append(rates[m[1]], v)
	}
	for _, k := range order {
		e.add(Row{Section: "5 offline buffer", Name: k, Value: median(rates[k]), Unit: "events/s", Command: cmd, Note: "group commit, SQLite WAL; median of runs"})
	}
	return offlineHour(e)
}

func offlineHour(e *env) error {
	const cmd = "go run ./bench -only outbox"
	const speedup = 60
	simulated := pick(e, time.Hour, 15*time.Minute)
	real := simulated / speedup
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	r := sim.New(sim.Config{User: "bench", Password: "pw", Seed: 7, HotspotSessions: 500, PPPSessions: 500,
		ChurnPerMinute: 10 * speedup, TrafficInterval: 10 * time.Second / speedup})
	if err := r.Start(ctx, "127.0.0.1:0"); err != nil {
		return err
	}
	defer r.Close()
	dead, err := harness.FreeAddr() // nothing listens: the broker is unreachable
	if err != nil {
		return err
	}
	dir := filepath.Join(e.tmp, "offline")
	// A bound the hour crosses, so that coalescing works as it would on a
	// small router's flash (the default 100,000 events is not reached).
	const bound = 20_000
	a, err := agent.New(ctx, agent.Config{RouterID: "r-offline", RouterAddr: r.Addr(), RouterUser: "bench", RouterPassword: "pw",
		MQTTURL: "tcp://" + dead, MQTTSecret: "x", DataDir: dir, Logger: e.log, OutboxMaxEvents: bound,
		CountersInterval: 10 * time.Second / speedup, ResourcesInterval: 30 * time.Second / speedup, ResyncInterval: 60 * time.Second / speedup,
		MQTTMinBackoff: time.Second, MQTTMaxBackoff: 5 * time.Second})
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	time.Sleep(real)
	st := a.Status(ctx)
	cancel()
	<-done
	a.Close()
	var size int64
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if info, err := en.Info(); err == nil && !info.IsDir() {
			size += info.Size()
		}
	}
	e.add(Row{Section: "5 offline buffer", Name: fmt.Sprintf("disk after %v offline, 1,000 sessions", simulated), Value: mib(size), Unit: "MiB", Command: cmd,
		Note: fmt.Sprintf("real agent, broker unreachable, time compressed %d× (%v real): counters every 10 s, churn 10/min, outbox bound %d events; it recorded %d events, coalesced %d superseded updates and held %d (%.1f MiB pending; logins, logouts and snapshots are never coalesced); database files incl. WAL",
			speedup, real, bound, st.Outbox.LastSeq, st.Outbox.LastSeq-uint64(st.Outbox.Depth), st.Outbox.Depth, mib(st.Outbox.Bytes))})
	return nil
}
