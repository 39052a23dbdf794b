package broker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// The outside check of the MQTT conformance fix: the real MQTT.js client
// from jstest/ against the broker on 127.0.0.1. It needs node and npm;
// without them it skips on a laptop and fails under CI=true.

const jstestDir = "jstest"

var npmInstall struct {
	once sync.Once
	err  error
	out  []byte
}

func requireNode(t *testing.T) string {
	t.Helper()
	missing := func(err error) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and npm are required for the MQTT.js checks: %v", err)
		}
		t.Skipf("node/npm not found (%v); the MQTT.js checks are skipped outside CI", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing(err)
	}
	if _, err := os.Stat(filepath.Join(jstestDir, "node_modules", "mqtt", "package.json")); err == nil {
		return node
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing(err)
	}
	npmInstall.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = jstestDir
		cmd.Env = append(os.Environ(), "CI=true")
		npmInstall.out, npmInstall.err = cmd.CombinedOutput()
	})
	if npmInstall.err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", jstestDir, npmInstall.err, npmInstall.out)
	}
	return node
}

func TestMQTTJSDeniedPublish(t *testing.T) {
	node := requireNode(t)
	// Another router's topic, and $SYS, which mochi alone left unanswered.
	for _, c := range []struct{ v, denied string }{{"4", "other"}, {"4", "sys"}, {"5", "other"}, {"5", "sys"}} {
		v := c.v
		t.Run("v"+v+"/"+c.denied, func(t *testing.T) {
			tb := startBroker(t, nil)
			r1, s1 := tb.creds.create(t)
			r2, _ := tb.creds.create(t)
			denied := protocol.EventsTopic(r2)
			if c.denied == "sys" {
				denied = "$SYS/broker/clients"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "denied.mjs")
			cmd.Dir = jstestDir
			cmd.Env = append(os.Environ(),
				"MQTT_URL=mqtt://"+tb.Addr().String(), "ROUTER="+r1, "SECRET="+s1,
				"DENIED_TOPIC="+denied, "OWN_TOPIC="+protocol.EventsTopic(r1), "VERSION="+v)
			out, err := cmd.CombinedOutput()
			t.Logf("denied.mjs:\n%s", out)
			if err != nil || !strings.Contains(string(out), "PASS") {
				t.Fatalf("MQTT.js check failed: %v", err)
			}
			want := 0.0
			if v == "4" {
				want = 1
			}
			if got := counter(t, tb.reg, "sitepulse_broker_acl_disconnects_total"); got != want {
				t.Errorf("acl disconnects = %v, want %v", got, want)
			}
		})
	}
}
