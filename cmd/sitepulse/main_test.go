package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// startMain runs the production wiring on port 0 in a temp dir.
func startMain(t *testing.T, c Config) *Main {
	t.Helper()
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:0"
	}
	if c.MQTTAddr == "" {
		c.MQTTAddr = "127.0.0.1:0"
	}
	if c.DataDir == "" {
		c.DataDir = t.TempDir()
	}
	if c.PasswordIterations == 0 {
		c.PasswordIterations = 1000
	}
	m := NewMain(c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

func httpGet(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func login(t *testing.T, base, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	res, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var lr controlplane.LoginResponse
	if err := json.NewDecoder(res.Body).Decode(&lr); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login %s: status %d err %v", email, res.StatusCode, err)
	}
	return lr.Token
}

func TestServeGeneratesFirstAdminAndServes(t *testing.T) {
	var out bytes.Buffer
	logs := &lockedBuffer{}
	m := startMain(t, Config{Stdout: &out, Logger: newTestLogger(logs)})
	base := "http://" + m.HTTPAddr()

	pw := regexp.MustCompile(`(?m)^    (\S+)$`).FindStringSubmatch(out.String())
	if pw == nil || !strings.Contains(out.String(), "admin@localhost") {
		t.Fatalf("stdout does not show the generated admin password:\n%s", out.String())
	}
	if strings.Contains(logs.String(), pw[1]) {
		t.Fatal("the generated password is in the log")
	}
	tok := login(t, base, "admin@localhost", pw[1])

	if code, body := httpGet(t, base+"/healthz", ""); code != 200 || string(body) != "ok\n" {
		t.Fatalf("/healthz %d %q", code, body)
	}
	code, body := httpGet(t, base+"/readyz", "")
	if code != 200 || !strings.Contains(string(body), `"ready":true`) || !strings.Contains(string(body), `"broker":"ok"`) {
		t.Fatalf("/readyz %d %s", code, body)
	}
	if m.MQTTAddr() == "" {
		t.Fatal("no bound MQTT address")
	}
	// The realtime hub, its channel auth and the dashboard share the port.
	if code, body := httpGet(t, base+"/api/v1/config", tok); code != 200 || !strings.Contains(string(body), `"key":"sitepulse"`) {
		t.Fatalf("/api/v1/config %d %s", code, body)
	}
	res, err := http.Post(base+"/api/broadcasting/auth", "application/x-www-form-urlencoded", strings.NewReader("socket_id=1.2&channel_name=private-system-admin"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/api/broadcasting/auth without a token: %d, want 401", res.StatusCode)
	}
	// The dashboard's client routes: the app when it was built before the
	// binary, otherwise the page saying how to build it.
	if code, body := httpGet(t, base+"/routers/r1", ""); !(code == 200 && strings.Contains(string(body), "<html") ||
		code == http.StatusServiceUnavailable && strings.Contains(string(body), "make web")) {
		t.Fatalf("dashboard route: %d %.200s", code, body)
	}
	if code, body := httpGet(t, base+"/api/v1/me", tok); code != 200 || !strings.Contains(string(body), `"system_admin"`) {
		t.Fatalf("/api/v1/me %d %s", code, body)
	}
	if code, _ := httpGet(t, base+"/api/openapi.json", ""); code != 200 {
		t.Fatalf("/api/openapi.json %d", code)
	}
	code, body = httpGet(t, base+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	for _, want := range []string{`sitepulse_http_requests_total{code="200",method="GET",route="GET /api/v1/me"} 1`, "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
}

func TestServeAdminFromEnvAndRestart(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	m := startMain(t, Config{DataDir: dir, AdminEmail: "ops@isp.test", AdminPassword: "a very long admin password", Stdout: &out})
	login(t, "http://"+m.HTTPAddr(), "ops@isp.test", "a very long admin password")
	if out.Len() != 0 {
		t.Fatalf("stdout %q, want nothing when the password is given", out.String())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// A second start on the same data keeps the admin and creates no other.
	m2 := startMain(t, Config{DataDir: dir, Stdout: &out})
	login(t, "http://"+m2.HTTPAddr(), "ops@isp.test", "a very long admin password")
	if out.Len() != 0 {
		t.Fatalf("restart printed %q", out.String())
	}
	n, err := m2.Store().CountUsers(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("users after restart: %d %v", n, err)
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no mqtt listener", Config{HTTPAddr: "127.0.0.1:0", MQTTAddr: "", MQTTTLSAddr: ""}, "no MQTT listener"},
		{"tls without cert", Config{HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", MQTTTLSAddr: "127.0.0.1:0"}, "--mqtt-tls-cert"},
		{"bad http address", Config{HTTPAddr: "256.0.0.1:80", MQTTAddr: "127.0.0.1:0"}, "http listen"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.DataDir = t.TempDir()
			c.cfg.PasswordIterations = 1000
			c.cfg.Stdout = io.Discard
			m := NewMain(c.cfg)
			err := m.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run: %v, want an error mentioning %q", err, c.want)
			}
			if err := m.Close(); err != nil {
				t.Fatalf("Close after a failed Run: %v", err)
			}
		})
	}
}

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sitepulse", "version"}, "sitepulse dev"},
		{[]string{"sitepulse", "--log-level", "warn", "migrate", "--data-dir", dir}, ""},
	} {
		var out, errw bytes.Buffer
		if err := newCLI(&out, &errw).Run(context.Background(), c.args); err != nil {
			t.Fatalf("%v: %v (stderr %s)", c.args, err, errw.String())
		}
		if !strings.Contains(out.String(), c.want) {
			t.Fatalf("%v printed %q, want %q", c.args, out.String(), c.want)
		}
	}
	var out, errw bytes.Buffer
	err := newCLI(&out, &errw).Run(context.Background(), []string{"sitepulse", "--log-format", "xml", "migrate", "--data-dir", dir})
	if err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("bad --log-format: err %v", err)
	}
}

// TestServeEnvFallback: every serve flag has a SITEPULSE_* variable.
func TestServeEnvFallback(t *testing.T) {
	for _, cmd := range newCLI(io.Discard, io.Discard).Commands {
		if cmd.Name != "serve" {
			continue
		}
		for _, f := range cmd.Flags {
			name := f.Names()[0]
			want := "SITEPULSE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
			if !strings.Contains(f.String(), want) {
				t.Errorf("flag --%s has no %s fallback: %s", name, want, f.String())
			}
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger used by many
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
