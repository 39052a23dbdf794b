package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	mqttsrv "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"SITEPULSE_ROUTER_ID": "r1", "SITEPULSE_ROUTER_ADDR": "10.0.0.1:8728", "SITEPULSE_ROUTER_USER": "api",
		"SITEPULSE_MQTT_URL": "tcp://cp:1883", "SITEPULSE_MQTT_SECRET": "s3",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, m *Main)
	}{
		{"env only", nil, base, "", func(t *testing.T, m *Main) {
			c := m.Config
			if c.RouterID != "r1" || c.RouterAddr != "10.0.0.1:8728" || c.MQTTSecret != "s3" || c.CountersInterval != 10*time.Second || m.ListenAddr != "127.0.0.1:9100" || c.RouterTLS != nil {
				t.Fatalf("config = %+v", c)
			}
		}},
		{"flags override env", []string{"--router-id", "r2", "--counters-interval", "2s", "--raw-allow", "/ip/hotspot/host, /system/identity"},
			with("SITEPULSE_COUNTERS_INTERVAL", "5s"), "", func(t *testing.T, m *Main) {
				c := m.Config
				if c.RouterID != "r2" || c.CountersInterval != 2*time.Second || len(c.RawAllow) != 2 || c.RawAllow[1] != "/system/identity" {
					t.Fatalf("config = %+v", c)
				}
			}},
		{"password from file", []string{"--router-password-file", pwFile}, base, "", func(t *testing.T, m *Main) {
			if m.Config.RouterPassword != "from-file" {
				t.Fatalf("password = %q", m.Config.RouterPassword)
			}
		}},
		{"tls options", []string{"--router-tls", "--router-tls-insecure", "--mqtt-url", "ssl://cp:8883"}, base, "", func(t *testing.T, m *Main) {
			if m.Config.RouterTLS == nil || !m.Config.RouterTLS.InsecureSkipVerify || m.Config.MQTTTLS == nil {
				t.Fatalf("tls = %+v %+v", m.Config.RouterTLS, m.Config.MQTTTLS)
			}
		}},
		{"secret and file", []string{"--router-password", "x", "--router-password-file", pwFile}, base, "not both", nil},
		{"bad env duration", nil, with("SITEPULSE_RESYNC_INTERVAL", "soon"), "SITEPULSE_RESYNC_INTERVAL", nil},
		{"ca without tls", []string{"--router-ca", pwFile}, base, "need --router-tls", nil},
		{"bad raw path", []string{"--raw-allow", "ip/x"}, base, "not a RouterOS path", nil},
		{"bad log level", []string{"--log-level", "loud"}, base, "log-level", nil},
		{"radius off by default", nil, base, "", func(t *testing.T, m *Main) {
			c := m.Config
			if c.RadiusAuthAddr != "" || c.RadiusAcctAddr != "" || !c.RadiusRequireMessageAuth || c.RadiusAskTimeout != 2*time.Second {
				t.Fatalf("radius config = %q %q %v %s", c.RadiusAuthAddr, c.RadiusAcctAddr, c.RadiusRequireMessageAuth, c.RadiusAskTimeout)
			}
		}},
		{"radius from env", []string{"--radius-listen", "0.0.0.0:1812", "--radius-coa-addr", "10.0.0.1:3799"},
			with("SITEPULSE_RADIUS_SECRET", "rs-1", "SITEPULSE_RADIUS_REQUIRE_MESSAGE_AUTHENTICATOR", "false"), "", func(t *testing.T, m *Main) {
				c := m.Config
				if c.RadiusAuthAddr != "0.0.0.0:1812" || c.RadiusAcctAddr != "0.0.0.0:1813" || string(c.RadiusSecret) != "rs-1" ||
					c.RadiusCoAAddr != "10.0.0.1:3799" || c.RadiusRequireMessageAuth {
					t.Fatalf("radius config = %q %q %q %v", c.RadiusAuthAddr, c.RadiusAcctAddr, c.RadiusCoAAddr, c.RadiusRequireMessageAuth)
				}
			}},
		{"radius secret from file, own accounting port", []string{"--radius-listen", ":1812", "--radius-acct-listen", ":1646", "--radius-secret-file", pwFile}, base, "", func(t *testing.T, m *Main) {
			if c := m.Config; c.RadiusAcctAddr != ":1646" || string(c.RadiusSecret) != "from-file" {
				t.Fatalf("radius config = %q %q", c.RadiusAcctAddr, c.RadiusSecret)
			}
		}},
		{"radius without a secret", []string{"--radius-listen", ":1812"}, base, "shared secret", nil},
		{"radius bad listen", []string{"--radius-listen", "1812"}, with("SITEPULSE_RADIUS_SECRET", "x"), "--radius-listen", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMain()
			m.Stderr = &bytes.Buffer{}
			err := m.ParseFlags(tt.args, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, m)
		})
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--version"}, env(nil), &out, &out); code != 0 || !strings.HasPrefix(out.String(), "sitepulse-agent ") {
		t.Fatalf("--version: %d %q", code, out.String())
	}
	if code := run([]string{"bogus"}, env(nil), &out, &out); code != 2 {
		t.Fatalf("unknown command exit %d, want 2", code)
	}
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The production wiring end to end: flags and env → Main → agent against
// the simulator and a real broker; `status` reads the local endpoint; the
// logs never contain a secret; Close publishes offline.
func TestMainEndToEnd(t *testing.T) {
	const routerPass, mqttSecret, radiusSecret = "rp-Secret-93", "ms-Secret-17", "rs-Secret-55"
	router := sim.New(sim.Config{User: "api", Password: routerPass, Identity: "edge-7", TrafficInterval: -1})
	if err := router.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer router.Close()
	if err := router.AddHotspotUser("alice", "pw", ""); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var statuses []protocol.Status
	events, radiusStates := 0, 0
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mqttsrv.New(&mqttsrv.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	_ = srv.AddHook(new(auth.AllowHook), nil)
	_ = srv.AddListener(listeners.NewNet("t", ln))
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_ = srv.Subscribe("sp/v1/+/#", 1, func(_ *mqttsrv.Client, _ packets.Subscription, pk packets.Packet) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case strings.HasSuffix(pk.TopicName, "/status"):
			if s, err := protocol.DecodeStatus(pk.Payload); err == nil {
				statuses = append(statuses, *s)
			}
		case strings.HasSuffix(pk.TopicName, "/events"):
			if b, err := protocol.DecodeEventBatch(pk.Payload); err == nil {
				events += len(b.Events)
			}
		case strings.HasSuffix(pk.TopicName, "/radius/state"):
			if _, err := protocol.DecodeRadiusState(pk.Payload); err == nil {
				radiusStates++
			}
		}
	})

	dir := t.TempDir()
	pwFile := filepath.Join(dir, "router-pass")
	if err := os.WriteFile(pwFile, []byte(routerPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logBuf{}
	m := NewMain()
	m.Stderr = logs
	err = m.ParseFlags([]string{
		"--router-id", "edge-7", "--router-addr", router.Addr(), "--router-user", "api", "--router-password-file", pwFile,
		"--mqtt-url", "tcp://" + ln.Addr().String(), "--data-dir", filepath.Join(dir, "data"), "--listen-addr", "127.0.0.1:0",
		"--counters-interval", "200ms", "--log-level", "debug", "--radius-listen", "127.0.0.1:0",
	}, env(map[string]string{"SITEPULSE_MQTT_SECRET": mqttSecret, "SITEPULSE_RADIUS_SECRET": radiusSecret}))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := router.LoginHotspot("alice", "02:00:00:00:00:01", "10.5.0.2"); err != nil {
		t.Fatal(err)
	}

	var st agent.Status
	testkit.Eventually(t, 20*time.Second, "a healthy agent status", func() bool {
		var out, errOut bytes.Buffer
		if code := run([]string{"status", "--listen-addr", m.Addr()}, env(nil), &out, &errOut); code != 0 {
			return false
		}
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			t.Fatalf("status output: %v\n%s", err, out.String())
		}
		return st.Router.Connected && st.MQTTConnected && st.Router.Sessions == 1 && st.Outbox.Depth == 0 && st.Outbox.LastSeq > 0
	})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	last := statuses[len(statuses)-1]
	n := events
	mu.Unlock()
	if last.State != protocol.StateOffline || n == 0 {
		t.Fatalf("after Close: last status %q, %d events; want offline and some events", last.State, n)
	}
	mu.Lock()
	states := radiusStates
	mu.Unlock()
	if states == 0 {
		t.Fatal("no radius/state published on connect")
	}
	for _, s := range []string{routerPass, mqttSecret, radiusSecret} {
		if strings.Contains(logs.String(), s) {
			t.Fatalf("logs contain secret %q", s)
		}
	}
}

// --help of run and status reads like the control plane's urfave/cli help:
// double-dash names, each flag's environment variable, flags in groups.
func TestHelpIsGroupedLikeURFaveCLI(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"run", "--help"}, env(nil), &out, &errOut); code != 0 {
		t.Fatalf("run --help: exit %d\n%s", code, errOut.String())
	}
	help := errOut.String()
	last := -1
	for _, heading := range []string{"NAME:\n", "USAGE:\n   sitepulse-agent run [options]\n", "OPTIONS:\n",
		"   RouterOS\n\n", "   MQTT\n\n", "   Outbox\n\n", "   RADIUS\n\n", "   HTTP\n\n", "   Logging\n\n", "   --help, -h"} {
		i := strings.Index(help, heading)
		if i < last {
			t.Errorf("help lacks %q after the previous heading:\n%s", heading, help)
		}
		last = i
	}
	for _, name := range []string{"router-id", "router-addr", "router-user", "router-password", "router-password-file",
		"router-tls", "router-ca", "router-tls-insecure", "mqtt-url", "mqtt-secret", "mqtt-secret-file", "mqtt-ca",
		"data-dir", "listen-addr", "counters-interval", "resources-interval", "resync-interval", "outbox-max-events",
		"outbox-max-bytes", "raw-allow", "shutdown-timeout", "log-level", "radius-listen", "radius-acct-listen",
		"radius-secret", "radius-secret-file", "radius-coa-addr", "radius-require-message-authenticator", "radius-ask-timeout"} {
		line := regexp.MustCompile(`(?m)^   --` + name + `( [a-z]+)?  .*\[\$` + envName(name) + `\]$`)
		if !line.MatchString(help) {
			t.Errorf("help lacks a line for --%s with [$%s]:\n%s", name, envName(name), help)
		}
	}
	// The column is as wide as the longest flag, --radius-require-message-authenticator.
	if want := `   --data-dir string                       directory for the SQLite outbox and state (default: "./data") [$SITEPULSE_DATA_DIR]`; !strings.Contains(help, want+"\n") {
		t.Errorf("help lacks %q:\n%s", want, help)
	}

	errOut.Reset()
	if code := run([]string{"status", "-h"}, env(nil), &out, &errOut); code != 0 {
		t.Fatalf("status -h: exit %d", code)
	}
	if want := "   --listen-addr string  the agent's local listen address (default: \"127.0.0.1:9100\") [$SITEPULSE_LISTEN_ADDR]\n"; !strings.Contains(errOut.String(), want) {
		t.Errorf("status help lacks %q:\n%s", want, errOut.String())
	}

	out.Reset()
	if code := run([]string{"--help"}, env(nil), &out, &errOut); code != 0 || !strings.Contains(out.String(), "COMMANDS:\n   run ") {
		t.Errorf("--help: exit %d\n%s", code, out.String())
	}
}

// Single-dash flags keep working, as Go's flag package accepts both.
func TestSingleDashFlags(t *testing.T) {
	m := NewMain()
	if err := m.ParseFlags([]string{"-router-id", "r9", "-mqtt-url=tcp://cp:1883"}, env(nil)); err != nil {
		t.Fatal(err)
	}
	if m.Config.RouterID != "r9" || m.Config.MQTTURL != "tcp://cp:1883" {
		t.Errorf("got router-id %q mqtt-url %q", m.Config.RouterID, m.Config.MQTTURL)
	}
}
