package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

func TestHelpListsEveryFlag(t *testing.T) {
	var buf bytes.Buffer
	m := NewMain()
	m.Stderr = &buf
	if err := m.ParseFlags([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	for _, name := range []string{"api-addr", "control-addr", "user", "password", "password-file", "hotspot-sessions",
		"ppp-sessions", "churn", "seed", "identity", "traffic-interval", "reply-delay", "reboot-down", "tls-cert", "tls-key",
		"no-empty", "log-level"} {
		line := regexp.MustCompile(`(?m)^   --` + name + `( [a-z]+)?  .*\[\$` + envName(name) + `\]$`)
		if !line.MatchString(buf.String()) {
			t.Errorf("help lacks a line for --%s with [$%s]:\n%s", name, envName(name), buf.String())
		}
	}
}

// --help reads like the control plane's urfave/cli help: double-dash names,
// the environment variable of each flag, and the flags in groups.
func TestHelpIsGroupedLikeURFaveCLI(t *testing.T) {
	var buf bytes.Buffer
	m := NewMain()
	m.Stderr = &buf
	if err := m.ParseFlags([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	help := buf.String()
	last := -1
	for _, heading := range []string{"NAME:\n", "USAGE:\n", "OPTIONS:\n", "   RouterOS API\n\n", "   Scenario\n\n", "   HTTP\n\n", "   Logging\n\n", "   --help, -h"} {
		i := strings.Index(help, heading)
		if i < last {
			t.Errorf("help lacks %q after the previous heading:\n%s", heading, help)
		}
		last = i
	}
	for _, want := range []string{
		`   --api-addr string            RouterOS API listen address (8728 plain, 8729 is the TLS convention) (default: "127.0.0.1:8728") [$SITEPULSE_SIM_API_ADDR]`,
		`   --reboot-down duration       how long a reboot (SIGUSR1, POST /reboot without down=) refuses connections (default: 5s) [$SITEPULSE_SIM_REBOOT_DOWN]`,
	} {
		if !strings.Contains(help, want+"\n") {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if regexp.MustCompile(`(?m)^\s+-[a-z]`).MatchString(help) {
		t.Errorf("help has a single-dash flag:\n%s", help)
	}
}

func TestEnvFallback(t *testing.T) {
	t.Setenv("SITEPULSE_SIM_SEED", "77")
	t.Setenv("SITEPULSE_SIM_CHURN", "30")
	t.Setenv("SITEPULSE_SIM_NO_EMPTY", "true")
	m := NewMain()
	if err := m.ParseFlags([]string{"--churn", "12"}); err != nil {
		t.Fatal(err)
	}
	if m.Seed != 77 || m.Churn != 12 || !m.NoEmpty {
		t.Errorf("got seed %d churn %v no-empty %v; want 77 12 true (flag beats env)", m.Seed, m.Churn, m.NoEmpty)
	}
	t.Setenv("SITEPULSE_SIM_PPP_SESSIONS", "lots")
	if err := NewMain().ParseFlags(nil); err == nil || !strings.Contains(err.Error(), "SITEPULSE_SIM_PPP_SESSIONS") {
		t.Errorf("bad env value: got %v", err)
	}
}

func post(t *testing.T, url string, wantStatus int) map[string]any {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("POST %s: status %d (%v), want %d", url, resp.StatusCode, body, wantStatus)
	}
	return body
}

func state(t *testing.T, base string) (hotspot, ppp []map[string]string) {
	t.Helper()
	resp, err := http.Get(base + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Hotspot []map[string]string `json:"hotspot"`
		PPP     []map[string]string `json:"ppp"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s.Hotspot, s.PPP
}

func TestRunWithControlAPI(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	m.Stderr = io.Discard
	if err := m.ParseFlags([]string{"--api-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0",
		"--password-file", pwFile, "--hotspot-sessions", "3", "--ppp-sessions", "2", "--churn", "0",
		"--traffic-interval", "1h", "--identity", "site-9"}); err != nil {
		t.Fatal(err)
	}
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := m.ControlURL()

	c, err := routeros.DialTimeout(m.Router().Addr(), "admin", "hunter2", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rep, err := c.Run("/system/identity/print")
	if err != nil || rep.Re[0].Map["name"] != "site-9" {
		t.Fatalf("identity: %v %v", rep, err)
	}

	hs, ppp := state(t, base)
	if len(hs) != 3 || len(ppp) != 2 {
		t.Fatalf("state: %d hotspot, %d ppp", len(hs), len(ppp))
	}
	post(t, base+"/hotspot-user?name=%2B254700000001&password=x", http.StatusOK)
	post(t, base+"/login/hotspot?user=nobody", http.StatusNotFound)
	body := post(t, base+"/login/hotspot?user=%2B254700000001&mac=02:00:00:00:00:09&address=10.5.50.99", http.StatusOK)
	id, _ := body["id"].(string)
	rep, err = c.Run("/ip/hotspot/active/print", "?.id="+id)
	if err != nil || len(rep.Re) != 1 || rep.Re[0].Map["user"] != "+254700000001" || rep.Re[0].Map["mac-address"] != "02:00:00:00:00:09" {
		t.Fatalf("manual login not visible over the API: %v %v", rep, err)
	}
	post(t, base+"/logout?id="+id, http.StatusOK)
	post(t, base+"/logout?id="+id, http.StatusNotFound)
	post(t, base+"/reboot?down=forever", http.StatusBadRequest)

	post(t, base+"/drop", http.StatusOK)
	if _, err := c.Run("/system/identity/print"); err == nil {
		t.Error("client still works after /drop")
	}
	post(t, base+"/reboot?down=100ms", http.StatusOK)
	if hs, ppp := state(t, base); len(hs)+len(ppp) != 0 {
		t.Errorf("sessions after reboot: %d", len(hs)+len(ppp))
	}
	resp, err := http.Get(base + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown endpoint: %d", resp.StatusCode)
	}
}

// TestSignals runs the real main in a child process: SIGHUP drops API
// connections, SIGTERM stops it cleanly.
func TestSignals(t *testing.T) {
	if os.Getenv("SITEPULSE_SIM_TEST_CHILD") == "1" {
		os.Args = []string{"sitepulse-sim", "--api-addr", "127.0.0.1:0", "--hotspot-sessions", "1", "--ppp-sessions", "1", "--churn", "0", "--reboot-down", "300ms"}
		main()
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSignals$")
	cmd.Env = append(os.Environ(), "SITEPULSE_SIM_TEST_CHILD=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	apiRe := regexp.MustCompile(`msg="sitepulse-sim running" api=(\S+)`)
	var addr string
	for addr == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("child exited before listening")
			}
			if m := apiRe.FindStringSubmatch(l); m != nil {
				addr = m[1]
			}
		case <-ctx.Done():
			t.Fatal("child did not start")
		}
	}
	c, err := routeros.DialTimeout(addr, "admin", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cmd.Process.Signal(syscall.SIGHUP)
	waitLine(ctx, t, lines, "dropped api connections")
	if _, err := c.Run("/system/identity/print"); err == nil {
		t.Error("client still works after SIGHUP")
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	waitLine(ctx, t, lines, "router up again")
	var c2 *routeros.Client
	testkit.Eventually(t, 0, "the router to accept logins after SIGUSR1", func() bool {
		var err error
		c2, err = routeros.DialTimeout(addr, "admin", "", time.Second)
		return err == nil
	})
	rep, err := c2.Run("/ppp/active/print")
	c2.Close()
	if err != nil || len(rep.Re) != 0 {
		t.Fatalf("after reboot: %v %v (want no sessions)", rep, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child exit: %v", err)
	}
}

// waitLine reads the child's log lines until one contains want.
func waitLine(ctx context.Context, t *testing.T, lines <-chan string, want string) {
	t.Helper()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("child exited before logging %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("child never logged %q", want)
		}
	}
}

// Every flag in --help is documented in the README's simulator table.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	var help bytes.Buffer
	m := NewMain()
	m.Stderr = &help
	if err := m.ParseFlags([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^   (--[a-z-]+)[ ,]`).FindAllStringSubmatch(help.String(), -1)
	if len(flags) < 10 {
		t.Fatalf("found only %d flags in --help:\n%s", len(flags), help.String())
	}
	for _, f := range flags {
		if f[1] == "--help" {
			continue
		}
		if !bytes.Contains(readme, []byte("| `"+f[1]+"` |")) {
			t.Errorf("README.md does not document %s", f[1])
		}
	}
}

// postJSON posts body as JSON and checks the status.
func postJSON(t *testing.T, url, body string, wantStatus int) map[string]any {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != wantStatus {
		t.Fatalf("POST %s %s: status %d (%v), want %d", url, body, resp.StatusCode, out, wantStatus)
	}
	return out
}

// TestControlLoginAndProfiles drives POST /login and GET /profiles: the
// password and the profile's limits are checked, refusals carry
// RouterOS's message.
func TestControlLoginAndProfiles(t *testing.T) {
	m := NewMain()
	m.Stderr = io.Discard
	if err := m.ParseFlags([]string{"--api-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0",
		"--hotspot-sessions", "0", "--ppp-sessions", "0", "--churn", "0", "--traffic-interval", "1h"}); err != nil {
		t.Fatal(err)
	}
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := m.ControlURL()
	c, err := routeros.DialTimeout(m.Router().Addr(), "admin", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, words := range [][]string{
		{"/ip/hotspot/user/profile/add", "=name=daily", "=shared-users=1", "=session-timeout=1d"},
		{"/ip/hotspot/user/add", "=name=+254700000002", "=password=pw", "=profile=daily"},
		{"/ppp/profile/add", "=name=home", "=only-one=yes"},
		{"/ppp/secret/add", "=name=kamau", "=password=pw", "=profile=home", "=service=pppoe"},
	} {
		if _, err := c.RunArgs(words); err != nil {
			t.Fatalf("%v: %v", words, err)
		}
	}

	errMsg := func(body map[string]any) string {
		e, _ := body["error"].(map[string]any)
		s, _ := e["message"].(string)
		return s
	}
	if got := errMsg(postJSON(t, base+"/login", `{"kind":"hotspot","user":"+254700000002","password":"nope"}`, http.StatusUnauthorized)); got != "invalid username or password" {
		t.Errorf("wrong password: message %q", got)
	}
	body := postJSON(t, base+"/login", `{"kind":"hotspot","user":"+254700000002","password":"pw","mac":"02:00:00:00:00:0A","address":"10.5.50.10"}`, http.StatusOK)
	id, _ := body["id"].(string)
	rep, err := c.Run("/ip/hotspot/active/print", "?.id="+id)
	if err != nil || len(rep.Re) != 1 || rep.Re[0].Map["user"] != "+254700000002" {
		t.Fatalf("login not visible over the API: %v %v", rep, err)
	}
	// The binary runs on the wall clock: a second may have passed.
	if left := rep.Re[0].Map["session-time-left"]; left != "1d" && !strings.HasPrefix(left, "23h59m") {
		t.Errorf("session-time-left = %q, want the profile's 1d", left)
	}
	if got := errMsg(postJSON(t, base+"/login", `{"kind":"hotspot","user":"+254700000002","password":"pw"}`, http.StatusForbidden)); got != "no more sessions are allowed for user +254700000002" {
		t.Errorf("second device: message %q", got)
	}
	postJSON(t, base+"/login", `{"kind":"ppp","user":"kamau","password":"pw"}`, http.StatusOK)
	postJSON(t, base+"/login", `{"kind":"ppp","user":"kamau","password":"pw"}`, http.StatusForbidden)
	postJSON(t, base+"/login", `{"kind":"wifi","user":"kamau"}`, http.StatusBadRequest)
	postJSON(t, base+"/login", `{"kind":"ppp"}`, http.StatusBadRequest)
	postJSON(t, base+"/login", `{"kind":"ppp","user":"kamau","colour":"red"}`, http.StatusBadRequest)

	resp, err := http.Get(base + "/profiles")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var profiles struct {
		Hotspot []map[string]string `json:"hotspot"`
		PPP     []map[string]string `json:"ppp"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&profiles); err != nil {
		t.Fatal(err)
	}
	if len(profiles.Hotspot) != 2 || profiles.Hotspot[1]["name"] != "daily" || profiles.Hotspot[1]["shared-users"] != "1" {
		t.Errorf("GET /profiles hotspot: %v", profiles.Hotspot)
	}
	if len(profiles.PPP) != 3 || profiles.PPP[2]["name"] != "home" || profiles.PPP[2]["only-one"] != "yes" {
		t.Errorf("GET /profiles ppp: %v", profiles.PPP)
	}
}

// TestHotspotHTTP runs the simulator with --hotspot-addr and logs a
// device in with a plain-password form post after the redirect, with the
// control API creating the user; the session shows in /state.
func TestHotspotHTTP(t *testing.T) {
	m := NewMain()
	m.Stderr = io.Discard
	if err := m.ParseFlags([]string{"--api-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0",
		"--hotspot-addr", "127.0.0.1:0", "--hotspot-sessions", "0", "--ppp-sessions", "0", "--churn", "0",
		"--traffic-interval", "1h"}); err != nil {
		t.Fatal(err)
	}
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	hs := m.HotspotURL()
	if hs == "" {
		t.Fatal("no hotspot URL")
	}
	postJSON(t, m.ControlURL()+"/hotspot-user?name=carol&password=pw", "", http.StatusOK)
	c, err := routeros.Dial(m.Router().Addr(), "admin", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Run("/ip/hotspot/profile/set", "=.id=hsprof1", "=login-by=cookie,http-chap,http-pap"); err != nil {
		t.Fatal(err)
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", u, nil)
		req.Header.Set("X-Sim-Client-MAC", "AA:BB:CC:DD:EE:01")
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get(hs + "/wiki")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, hs+"/login?dst=") {
		t.Fatalf("logged-out device: %d %q", resp.StatusCode, loc)
	}
	resp = get(hs + "/login?username=carol&password=pw&dst=http%3A%2F%2Fexample.com%2F")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	st, err := http.Get(m.ControlURL() + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Body.Close()
	var state struct {
		HotspotAddr string              `json:"hotspot_addr"`
		Hotspot     []map[string]string `json:"hotspot"`
	}
	json.NewDecoder(st.Body).Decode(&state)
	if "http://"+state.HotspotAddr != hs || len(state.Hotspot) != 1 || state.Hotspot[0]["mac-address"] != "AA:BB:CC:DD:EE:01" ||
		state.Hotspot[0]["login-by"] != "http-pap" {
		t.Errorf("state: %+v", state)
	}
}

// TestPortalURL installs the portal pages at start: the login page sends
// the device to the portal, the walled garden has the portal's host.
func TestPortalURL(t *testing.T) {
	m := NewMain()
	m.Stderr = io.Discard
	if err := m.ParseFlags([]string{"--api-addr", "127.0.0.1:0", "--hotspot-addr", "127.0.0.1:0",
		"--portal-url", "http://portal.test:8080/portal/1/r1", "--hotspot-sessions", "0", "--ppp-sessions", "0",
		"--churn", "0", "--traffic-interval", "1h"}); err != nil {
		t.Fatal(err)
	}
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	resp, err := http.Get(m.HotspotURL() + "/login?dst=http%3A%2F%2Fexample.com%2F")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `<form action="http://portal.test:8080/portal/1/r1" method="get">`) ||
		!strings.Contains(string(body), `name="link-orig" value="http://example.com/"`) {
		t.Errorf("login page does not forward to the portal:\n%s", body)
	}
	c, err := routeros.Dial(m.Router().Addr(), "admin", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rep, err := c.Run("/ip/hotspot/walled-garden/ip/print")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Re) != 1 || rep.Re[0].Map["dst-host"] != "portal.test" {
		t.Errorf("walled garden ip: %v", rep.Re)
	}

	bad := NewMain()
	bad.Stderr = io.Discard
	bad.ParseFlags([]string{"--api-addr", "127.0.0.1:0", "--portal-url", "portal.test/x", "--hotspot-sessions", "0", "--ppp-sessions", "0"})
	bad.Logger = m.Logger
	if err := bad.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "portal url") {
		bad.Close()
		t.Errorf("bad portal url: %v", err)
	}
}
