package main

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/protocol"
)

// benchRadius measures the agent's RADIUS server the way a router uses
// it: the agent binary (amd64, and the arm/v7 build under qemu user
// emulation) gets 50,000 accounts through the real sync protocol from a
// stand-in control plane (a plain mochi broker and a paho publisher; the
// pages are the ones the control plane sends), then answers Access-Requests
// at 200 logins/s, half PAP and half CHAP, each with a Message-Authenticator
// as RouterOS 7.15+ sends. It reports the Accept latency percentiles and
// the agent's memory with the accounts held.
func benchRadius(e *env) error {
	const cmd = "go run ./bench -only radius"
	const sec = "11 RADIUS at the edge"
	accounts := pick(e, 50000, 5000)
	window := pick(e, 20*time.Second, 5*time.Second)
	const rate = 200

	brokerAddr, stopBroker, err := startMochi()
	if err != nil {
		return err
	}
	defer stopBroker()

	armBin := filepath.Join(e.tmp, "cross", "sitepulse-agent-armv7")
	c := exec.CommandContext(e.ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", armBin, "./cmd/sitepulse-agent")
	c.Dir = e.root
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=7", "GOTOOLCHAIN=local")
	if b, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("build arm/v7: %w\n%s", err, b)
	}
	runs := []struct {
		name string
		argv []string
	}{{"amd64", []string{e.bins.Agent}}}
	if q, err := exec.LookPath("qemu-arm-static"); err == nil {
		runs = append(runs, struct {
			name string
			argv []string
		}{"arm/v7 under qemu", []string{q, armBin}})
	} else {
		e.fail("radius", fmt.Errorf("qemu-arm-static not installed: arm/v7 row left out"))
	}
	for i, r := range runs {
		if err := radiusRun(e, sec, cmd, r.name, r.argv, fmt.Sprintf("radius-%d", i), brokerAddr, accounts, rate, window); err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
	}
	return nil
}

func radiusRun(e *env, sec, cmd, name string, argv []string, id, brokerAddr string, accounts, rate int, window time.Duration) error {
	dir := filepath.Join(e.tmp, id)
	_ = os.MkdirAll(dir, 0o755)
	secret := []byte("bench-radius-secret")
	simAddr, err := harness.FreeAddr()
	if err != nil {
		return err
	}
	sp, err := harness.StartProc("sitepulse-sim", e.bins.Sim, []string{"--api-addr", simAddr, "--user", "bench", "--password", "pw",
		"--log-level", "warn"}, nil, filepath.Join(dir, "sim.log"))
	if err != nil {
		return err
	}
	defer sp.Kill()
	if err := harness.WaitFor(e.ctx, 60*time.Second, "sim listening", func() bool { return harness.Dialable(simAddr) }); err != nil {
		return err
	}
	authAddr, err := harness.FreeUDPAddr()
	if err != nil {
		return err
	}
	router := "bench-" + strings.ReplaceAll(id, "_", "-")
	args := append(argv[1:], "run", "--router-id", router, "--router-addr", simAddr, "--router-user", "bench", "--router-password", "pw",
		"--mqtt-url", "tcp://"+brokerAddr, "--mqtt-secret", "unused-by-the-allow-all-broker", "--data-dir", filepath.Join(dir, "data"),
		"--listen-addr", "", "--log-level", "warn", "--radius-listen", authAddr)
	ap, err := harness.StartProc("sitepulse-agent", argv[0], args, []string{"SITEPULSE_RADIUS_SECRET=" + string(secret)}, filepath.Join(dir, "agent.log"))
	if err != nil {
		return err
	}
	defer func() { _ = ap.Stop(15 * time.Second) }()

	// The stand-in control plane: publishes the pages once the agent says
	// which version it holds, and watches its state until it holds them all.
	var held atomic.Uint64
	stateSeen := make(chan uint64, 16)
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + brokerAddr).SetClientID("bench-cloud-" + id).SetAutoReconnect(true)
	cl := mqtt.NewClient(opts)
	if t := cl.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return fmt.Errorf("bench MQTT connect: %v", t.Error())
	}
	defer cl.Disconnect(100)
	cl.Subscribe(protocol.RadiusStateTopic(router), 1, func(_ mqtt.Client, m mqtt.Message) {
		if st, err := protocol.DecodeRadiusState(m.Payload()); err == nil {
			held.Store(st.Version)
			select {
			case stateSeen <- st.Version:
			default:
			}
		}
	}).WaitTimeout(10 * time.Second)
	select {
	case <-stateSeen:
	case <-time.After(60 * time.Second):
		return fmt.Errorf("agent never reported its RADIUS state (log %s)", filepath.Join(dir, "agent.log"))
	}
	t0 := time.Now()
	head := uint64(accounts)
	expires := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	for from := 0; from < accounts; from += protocol.MaxRadiusEntries {
		to := min(from+protocol.MaxRadiusEntries, accounts)
		page := protocol.RadiusSync{V: protocol.Version, Router: router, Mode: protocol.AuthRadius,
			From: uint64(from), To: uint64(to), Head: head}
		for n := from; n < to; n++ {
			page.Entries = append(page.Entries, protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: benchUser(n), Version: uint64(n + 1),
				Password: benchPassword(n), Profile: "sp-plan-1", RateLimit: "2M/5M", ExpiresAt: expires, SharedUsers: 2})
		}
		b, err := protocol.Encode(&page)
		if err != nil {
			return err
		}
		if t := cl.Publish(protocol.RadiusSyncTopic(router), 1, false, b); !t.WaitTimeout(30*time.Second) || t.Error() != nil {
			return fmt.Errorf("publish page: %v", t.Error())
		}
	}
	if err := harness.WaitFor(e.ctx, 5*time.Minute, "agent holds every entry", func() bool { return held.Load() == head }); err != nil {
		return fmt.Errorf("%w: holds version %d of %d (log %s)", err, held.Load(), head, filepath.Join(dir, "agent.log"))
	}
	syncTook := time.Since(t0)
	// Let the heap settle after the sync before reading memory.
	time.Sleep(2 * time.Second)
	mem, err := harness.ProcUsage(ap.PID())
	if err != nil {
		return err
	}
	lat, rejects, errs := radiusLoad(e.ctx, authAddr, secret, accounts, rate, window)
	e.add(Row{Section: sec, Name: fmt.Sprintf("Access-Request → Accept p50 / p99 at %d logins/s (%s)", rate, name),
		Text: fmt.Sprintf("%.2f / %.2f ms", ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99))), Value: ms(percentile(lat, 0.99)), Unit: "ms", Command: cmd,
		Note: fmt.Sprintf("target p99 ≤ 5 ms: %s; %d requests over %v, half PAP half CHAP, %d rejects, %d errors, %d accounts held",
			map[bool]string{true: "met", false: "MISSED"}[percentile(lat, 0.99) <= 5*time.Millisecond && errs == 0 && rejects == 0], len(lat)+errs, window, rejects, errs, accounts)})
	note := "agent process after the sync, before the load"
	if strings.Contains(name, "qemu") {
		note += "; under qemu user emulation the figure includes the emulator's own memory"
	}
	e.add(Row{Section: sec, Name: fmt.Sprintf("agent RSS / anonymous with %d synced accounts (%s)", accounts, name),
		Text: fmt.Sprintf("%.1f / %.1f MiB", mib(mem.RSS), mib(mem.Anon)), Value: mib(mem.RSS), Unit: "MiB", Command: cmd, Note: note})
	e.add(Row{Section: sec, Name: fmt.Sprintf("sync of %d accounts (%d pages) (%s)", accounts, (accounts+protocol.MaxRadiusEntries-1)/protocol.MaxRadiusEntries, name),
		Value: syncTook.Seconds(), Unit: "s", Command: cmd, Note: "first page published → agent reports the head version"})
	return nil
}

func benchUser(n int) string     { return fmt.Sprintf("u%06d", n) }
func benchPassword(n int) string { return fmt.Sprintf("pw-%06d", n) }

// radiusLoad sends rate Access-Requests per second for window, open loop
// (one every 1/rate, whatever the answers do), and returns the latencies
// of the accepted ones, the rejects and the errors (timeouts).
func radiusLoad(ctx context.Context, addr string, secret []byte, accounts, rate int, window time.Duration) ([]time.Duration, int, int) {
	var (
		mu              sync.Mutex
		lat             []time.Duration
		rejects, errs   int
		wg              sync.WaitGroup
		tick            = time.NewTicker(time.Second / time.Duration(rate))
		end             = time.Now().Add(window)
		n               int
		exchangeTimeout = 2 * time.Second
	)
	defer tick.Stop()
	for time.Now().Before(end) {
		<-tick.C
		i := n
		n++
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := radiusRequest(secret, i%accounts, i%2 == 1)
			cctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
			defer cancel()
			t0 := time.Now()
			res, err := radius.Exchange(cctx, p, addr)
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs++
			case res.Code != radius.CodeAccessAccept:
				rejects++
			default:
				lat = append(lat, d)
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return lat, rejects, errs
}

// radiusRequest is a hotspot login as RouterOS sends it: PAP or CHAP,
// with a Message-Authenticator.
func radiusRequest(secret []byte, n int, chap bool) *radius.Packet {
	p := radius.New(radius.CodeAccessRequest, secret)
	_ = rfc2865.UserName_SetString(p, benchUser(n))
	if chap {
		challenge := make([]byte, 16)
		_, _ = rand.Read(challenge)
		id := byte(n)
		h := md5.New()
		h.Write([]byte{id})
		h.Write([]byte(benchPassword(n)))
		h.Write(challenge)
		_ = rfc2865.CHAPPassword_Set(p, append([]byte{id}, h.Sum(nil)...))
		_ = rfc2865.CHAPChallenge_Set(p, challenge)
	} else {
		_ = rfc2865.UserPassword_SetString(p, benchPassword(n))
	}
	_ = rfc2865.ServiceType_Set(p, rfc2865.ServiceType_Value_LoginUser)
	_ = rfc2865.NASPortType_Set(p, rfc2865.NASPortType_Value_Wireless80211)
	_ = rfc2865.CallingStationID_SetString(p, fmt.Sprintf("02:00:00:%02X:%02X:%02X", byte(n>>16), byte(n>>8), byte(n)))
	_ = rfc2865.NASIdentifier_SetString(p, "bench-router")
	signRequest(p, secret)
	return p
}

// signRequest adds the Message-Authenticator (RFC 2869 §5.14): HMAC-MD5
// over the packet with the attribute zeroed.
func signRequest(p *radius.Packet, secret []byte) {
	_ = rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	b, err := p.MarshalBinary()
	if err != nil {
		return
	}
	m := hmac.New(md5.New, secret)
	m.Write(b)
	_ = rfc2869.MessageAuthenticator_Set(p, m.Sum(nil))
}
