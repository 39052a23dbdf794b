package fanout

import (
	"bufio"
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// The compatibility tests run the real npm packages (pusher-js, laravel-echo,
// pusher) from jstest/ against a hub on 127.0.0.1. They need node and npm;
// a missing toolchain fails the test rather than skipping it.

const jstestDir = "jstest"

var npmInstall struct {
	once sync.Once
	err  error
	out  []byte
}

// requireNodeModules finds node and installs jstest's locked dependencies
// with npm ci when node_modules is missing.
func requireNodeModules(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the pusher-js/laravel-echo compatibility tests: %v", err)
	}
	if _, err := os.Stat(filepath.Join(jstestDir, "node_modules", "pusher-js", "package.json")); err == nil {
		return node
	}
	npmInstall.once.Do(func() {
		npm, err := exec.LookPath("npm")
		if err != nil {
			npmInstall.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = jstestDir
		cmd.Env = append(os.Environ(), "CI=true")
		npmInstall.out, npmInstall.err = cmd.CombinedOutput()
	})
	if npmInstall.err != nil {
		t.Fatalf("npm ci in %s failed (npm is required): %v\n%s", jstestDir, npmInstall.err, npmInstall.out)
	}
	return node
}

// runNode runs a jstest script with env added to the environment. onLine is
// called for each stdout line (the scripts print READY when the Go side
// should act). The script must exit 0 and print a PASS line.
func runNode(t *testing.T, node, script string, env []string, onLine func(line string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = jstestDir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", script, err)
	}
	passed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Logf("%s: %s", script, line)
		if strings.HasPrefix(line, "PASS") {
			passed = true
		}
		if onLine != nil {
			onLine(line)
		}
	}
	err = cmd.Wait()
	t.Logf("%s ran in %v", script, time.Since(start).Round(time.Millisecond))
	if err != nil || !passed {
		t.Fatalf("node %s: %v (passed=%v)\nstderr:\n%s", script, err, passed, stderr.String())
	}
}

func TestNodeCompat(t *testing.T) {
	node := requireNodeModules(t)
	h, srv := newRealHub(t)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"SP_WS_HOST=" + u.Hostname(),
		"SP_WS_PORT=" + u.Port(),
		"SP_HTTP_URL=" + srv.URL,
		"SP_APP_ID=" + testAppID,
		"SP_KEY=" + testKey,
	}

	t.Run("pusher-js auth and tenant isolation", func(t *testing.T) {
		runNode(t, node, "pusherjs.mjs", append(env, "SP_TOKEN=t1-admin"), func(line string) {
			if line != "READY" {
				return
			}
			if info, ok := h.Channel("private-tenant.2.sessions"); ok {
				t.Errorf("refused channel is occupied: %+v", info)
			}
			if err := h.Publish("private-tenant.2.sessions", "Secret", map[string]string{"x": "tenant 2 only"}, ""); err != nil {
				t.Error(err)
			}
			if err := h.Publish("private-tenant.1.sessions", "Marker", map[string]int{"n": 1}, ""); err != nil {
				t.Error(err)
			}
		})
	})

	t.Run("laravel-echo listen to the fan-out", func(t *testing.T) {
		var bus controlplane.Bus
		sub := bus.Subscribe(16)
		defer sub.Close()
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- New(h, Options{}).Run(ctx, sub.C) }()
		defer func() {
			cancel()
			if err := <-ran; err != nil {
				t.Errorf("fan-out: %v", err)
			}
		}()
		runNode(t, node, "echo.mjs", append(env, "SP_TOKEN=t1-viewer", "SP_OTHER_TOKEN=t2-admin"), func(line string) {
			if line != "READY" {
				return
			}
			bus.Publish(controlplane.SessionStarted{Session: hotspotSession(1, "+254712345678", "AA:BB:CC:00:00:01", 1)})
		})
	})

	t.Run("laravel-echo listen to a payment", func(t *testing.T) {
		var bus controlplane.Bus
		sub := bus.Subscribe(16)
		defer sub.Close()
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- New(h, Options{}).Run(ctx, sub.C) }()
		defer func() {
			cancel()
			if err := <-ran; err != nil {
				t.Errorf("fan-out: %v", err)
			}
		}()
		p := testPayment(1, 41, controlplane.PaymentCompleted)
		runNode(t, node, "echo_billing.mjs", append(env, "SP_TOKEN=t1-viewer", "SP_OTHER_TOKEN=t2-admin",
			"SP_EXPECT_PHONE=+2547****678", "SP_RAW_PHONE="+p.Phone, "SP_EXPECT_AMOUNT=5000"), func(line string) {
			if line != "READY" {
				return
			}
			bus.Publish(controlplane.PaymentChanged{Payment: p})
		})
	})

	t.Run("pusher server SDK through the HTTP API", func(t *testing.T) {
		runNode(t, node, "sdk.mjs", append(env, "SP_SECRET="+testSecret), nil)
	})
}
