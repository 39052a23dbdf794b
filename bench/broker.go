package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/sitepulse/sitepulse/bench/harness"
)

// benchBroker drives a plain mochi-mqtt server (allow-all, in this
// process) and Mosquitto (a child process) with the same paho QoS 1 load,
// then runs the controlplane/broker Go benchmark for our broker with
// authentication, ACL and ingest into the store.
func benchBroker(e *env) error {
	const cmd = "go run ./bench -only broker"
	dur := pick(e, 3*time.Second, 2*time.Second)
	runs := pick(e, 3, 1)
	mosq, stopMosq, mosqErr := startMosquitto(e)
	if stopMosq != nil {
		defer stopMosq()
	}
	mochiAddr, stopMochi, err := startMochi()
	if err != nil {
		return err
	}
	defer stopMochi()
	for _, pubs := range []int{1, 10, 100} {
		var mochiRates, mosqRates, ratios []float64
		for range runs {
			m, err := loadMQTT(e.ctx, mochiAddr, pubs, dur)
			if err != nil {
				return fmt.Errorf("mochi %d publishers: %w", pubs, err)
			}
			mochiRates = append(mochiRates, m)
			if mosqErr == nil {
				q, err := loadMQTT(e.ctx, mosq, pubs, dur)
				if err != nil {
					return fmt.Errorf("mosquitto %d publishers: %w", pubs, err)
				}
				mosqRates = append(mosqRates, q)
				ratios = append(ratios, m/q)
			}
		}
		note := fmt.Sprintf("paho QoS 1, 256-byte payloads, up to 16 in flight per publisher, %v per run, median of %d", dur, runs)
		e.add(Row{Section: "2 broker", Name: fmt.Sprintf("mochi (plain, allow-all), %d publishers", pubs), Value: median(mochiRates), Unit: "msg/s", Command: cmd, Note: note})
		if mosqErr != nil {
			e.add(Row{Section: "2 broker", Name: fmt.Sprintf("Mosquitto, %d publishers", pubs), Text: "skipped: " + mosqErr.Error(), Command: cmd})
			continue
		}
		e.add(Row{Section: "2 broker", Name: fmt.Sprintf("Mosquitto, %d publishers", pubs), Value: median(mosqRates), Unit: "msg/s", Command: cmd, Note: note})
		e.add(Row{Section: "2 broker", Name: fmt.Sprintf("mochi / Mosquitto, %d publishers", pubs), Value: median(ratios), Unit: "×", Command: cmd, Note: "ratio within each run, median"})
	}
	return ourBroker(e)
}

// ourBroker runs BenchmarkTCPIngest: 20 agents → broker with auth/ACL →
// ingest → store.
func ourBroker(e *env) error {
	bt := pick(e, "400x", "100x")
	args := []string{"test", "-run", "^$", "-bench", "TCPIngest", "-benchtime", bt, "-count", strconv.Itoa(pick(e, 3, 1)), "./controlplane/broker/"}
	c := exec.CommandContext(e.ctx, "go", args...)
	c.Dir = e.root
	c.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	// The PostgreSQL sub-benchmark needs SITEPULSE_TEST_DATABASE_URL; give
	// it a database on our own server when none is set.
	if os.Getenv("SITEPULSE_TEST_DATABASE_URL") == "" {
		if pg, err := harness.StartPostgres(e.ctx, filepath.Join(e.tmp, "broker-pg")); err == nil {
			defer pg.Close()
			if u, err := pg.NewDatabase(e.ctx, "sitepulse_bench_broker"); err == nil {
				c.Env = append(c.Env, "SITEPULSE_TEST_DATABASE_URL="+u)
			}
		}
	}
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test: %w\n%s", err, out)
	}
	re := regexp.MustCompile(`BenchmarkTCPIngest/(\w+)\S*\s+\d+\s+\d+ ns/op\s+([\d.]+) events/s`)
	rates := map[string][]float64{}
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		rates[m[1]] = append(rates[m[1]], v)
	}
	cmd := "go test -run '^$' -bench TCPIngest -benchtime " + bt + " ./controlplane/broker/"
	for _, d := range []string{"sqlite", "postgres"} {
		if len(rates[d]) == 0 {
			e.add(Row{Section: "2 broker", Name: "our broker + auth/ACL + ingest (" + d + ")", Text: "skipped: no PostgreSQL (SITEPULSE_TEST_DATABASE_URL unset)", Command: cmd})
			continue
		}
		e.add(Row{Section: "2 broker", Name: "our broker + auth/ACL + ingest (" + d + ")", Value: median(rates[d]), Unit: "events/s", Command: cmd,
			Note: "20 agents, batches of 50 events at QoS 1, each PUBACK awaited; stored, median of runs"})
	}
	return nil
}

// allowAll admits every client and topic.
func startMochi() (string, func(), error) {
	addr, err := harness.FreeAddr()
	if err != nil {
		return "", nil, err
	}
	s := mochi.New(&mochi.Options{InlineClient: false, Logger: slog.New(slog.DiscardHandler)})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		return "", nil, err
	}
	if err := s.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		return "", nil, err
	}
	go func() { _ = s.Serve() }()
	time.Sleep(100 * time.Millisecond)
	return addr, func() { s.Close() }, nil
}

func startMosquitto(e *env) (string, func(), error) {
	bin := "/usr/sbin/mosquitto"
	if _, err := os.Stat(bin); err != nil {
		p, lerr := exec.LookPath("mosquitto")
		if lerr != nil {
			return "", nil, fmt.Errorf("mosquitto not installed (apt-get install mosquitto)")
		}
		bin = p
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return "", nil, err
	}
	_, port, _ := splitAddr(addr)
	dir := filepath.Join(e.tmp, "mosquitto")
	_ = os.MkdirAll(dir, 0o755)
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\nlog_dest stderr\nlog_type error\n", port)), 0o644); err != nil {
		return "", nil, err
	}
	// Mosquitto drops root privileges to the mosquitto user when started as
	// root; the config file must be readable by it.
	_ = os.Chmod(dir, 0o755)
	p, err := harness.StartProc("mosquitto", bin, []string{"-c", conf}, nil, filepath.Join(dir, "log"))
	if err != nil {
		return "", nil, err
	}
	stop := func() { _ = p.Stop(5 * time.Second) }
	if err := harness.WaitFor(e.ctx, 10*time.Second, "mosquitto listening", func() bool {
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("probe"))
		t := c.Connect()
		ok := t.WaitTimeout(time.Second) && t.Error() == nil
		if ok {
			c.Disconnect(0)
		}
		return ok
	}); err != nil {
		stop()
		b, _ := os.ReadFile(filepath.Join(dir, "log"))
		return "", nil, fmt.Errorf("%w: %s", err, b)
	}
	return addr, stop, nil
}

func splitAddr(addr string) (string, int, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			p, err := strconv.Atoi(addr[i+1:])
			return addr[:i], p, err
		}
	}
	return "", 0, fmt.Errorf("no port in %s", addr)
}

// loadMQTT connects pubs paho clients and has each publish QoS 1 messages
// with up to 16 unacknowledged for d; it returns acknowledged messages/s.
func loadMQTT(ctx context.Context, addr string, pubs int, d time.Duration) (float64, error) {
	clients := make([]paho.Client, pubs)
	for i := range clients {
		o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("bench-%d-%d", i, time.Now().UnixNano())).
			SetCleanSession(true).SetAutoReconnect(false).SetMaxResumePubInFlight(16).SetWriteTimeout(10 * time.Second)
		c := paho.NewClient(o)
		t := c.Connect()
		if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
			return 0, fmt.Errorf("connect: %v", t.Error())
		}
		clients[i] = c
	}
	defer func() {
		for _, c := range clients {
			c.Disconnect(0)
		}
	}()
	payload := make([]byte, 256)
	var acked atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	errc := make(chan error, pubs)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := "bench/" + strconv.Itoa(i)
			window := make([]paho.Token, 0, 16)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if len(window) == cap(window) {
					t := window[0]
					window = window[1:]
					if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
						errc <- fmt.Errorf("publish: %v", t.Error())
						return
					}
					acked.Add(1)
				}
				window = append(window, c.Publish(topic, 1, false, payload))
			}
			for _, t := range window {
				if t.WaitTimeout(30*time.Second) && t.Error() == nil {
					acked.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errc:
		return 0, err
	default:
	}
	return float64(acked.Load()) / elapsed.Seconds(), nil
}
