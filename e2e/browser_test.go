package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// TestDashboardInChromium is issue 7's acceptance test: the real control
// plane, simulator and agent as processes, and the dashboard in headless
// Chromium (see browser/dashboard.test.mjs for what the page must do).
// Issue 13 adds the Payments page: a payment arrives live, recorded through
// the billing REST API when the control plane serves it, else published
// straight into the hub through the Pusher HTTP API. Issue 14 adds the
// Vouchers and Portal pages: a batch generated and printed, a
// technician's redemptions arriving live (the revenue cards move), the
// portal's settings saved and served at their slug.
func TestDashboardInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the browser test runs processes and Chromium for over a minute")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	chromium := envOr("SITEPULSE_E2E_CHROMIUM", "/usr/bin/chromium")
	for _, tool := range []string{"node", "npm", chromium} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: the browser test needs Node.js, npm and Debian's chromium (apt-get install chromium nodejs npm; .ci/run installs chromium)", tool)
		}
	}
	artifacts := filepath.Join(root, "e2e", "browser", "artifacts")
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(artifacts, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()

	bin := buildBinaries(t, root, tmp)

	// --- control plane ---------------------------------------------------
	const adminEmail, adminPassword = "root@e2e.test", "an e2e admin password"
	// The Pusher app is named so that the Node test can publish into the
	// hub through its HTTP API (the billing test does when billing is not
	// wired into the control plane).
	const pusherAppID, pusherKey = "e2e-app", "e2e-key"
	pusherSecret := rand.Text()
	cp := startProc(t, logs, "sitepulse", filepath.Join(bin, "sitepulse"),
		[]string{"--log-format", "json", "serve", "--data-dir", filepath.Join(tmp, "cp"),
			"--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0", "--shutdown-timeout", "5s",
			"--pusher-app-id", pusherAppID, "--pusher-key", pusherKey},
		"SITEPULSE_ADMIN_EMAIL="+adminEmail, "SITEPULSE_ADMIN_PASSWORD="+adminPassword, "SITEPULSE_PUSHER_SECRET="+pusherSecret)
	serving := cp.waitLine(t, 30*time.Second, regexp.MustCompile(`"msg":"serving"`))
	var addrs struct{ HTTP, MQTT string }
	if err := json.Unmarshal([]byte(serving), &addrs); err != nil || addrs.HTTP == "" || addrs.MQTT == "" {
		t.Fatalf("control plane serving line %q: %v", serving, err)
	}
	base := "http://" + addrs.HTTP

	// --- simulator: churn keeps sessions coming and going during the watch -
	const routerUser, routerPassword = "sitepulse", "e2e-router-password"
	sim := startProc(t, logs, "sitepulse-sim", filepath.Join(bin, "sitepulse-sim"),
		[]string{"--api-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--user", routerUser,
			"--identity", "e2e-router", "--seed", "7", "--hotspot-sessions", "12", "--ppp-sessions", "4",
			"--churn", "20", "--traffic-interval", "1s"},
		"SITEPULSE_SIM_PASSWORD="+routerPassword)
	simCtl := "http://" + submatch(t, sim.waitLine(t, 10*time.Second, regexp.MustCompile(`msg="control api listening"`)), `addr=(\S+)`)
	simAPI := submatch(t, sim.waitLine(t, 10*time.Second, regexp.MustCompile(`msg="sitepulse-sim running"`)), `api=(\S+)`)

	// --- tenant, user and router through REST -----------------------------
	ctx := context.Background()
	api := client.New(base, client.Options{Timeout: 10 * time.Second})
	login, err := api.Login(ctx, adminEmail, adminPassword)
	check(t, "login", err)
	api = api.WithToken(login.Token)
	const userEmail, userPassword = "ops@e2e.test", "an e2e tenant admin password"
	tenant := tenantWithAdmin(t, ctx, api, "E2E Networks",
		controlplane.CreateUserRequest{Email: userEmail, Name: "E2E Ops", Role: controlplane.RoleTenantAdmin, Password: userPassword})
	enrolled, err := api.CreateRouter(ctx, controlplane.CreateRouterRequest{Name: "E2E core", Site: "Test lab", TenantID: &tenant.ID})
	check(t, "enroll router", err)
	routerID := enrolled.Router.ID

	// --- the real agent -----------------------------------------------------
	startProc(t, logs, "sitepulse-agent", filepath.Join(bin, "sitepulse-agent"),
		[]string{"run", "--router-id", routerID, "--router-addr", simAPI, "--router-user", routerUser,
			"--mqtt-url", "tcp://" + addrs.MQTT, "--data-dir", filepath.Join(tmp, "agent"), "--listen-addr", "",
			"--counters-interval", "1s", "--resources-interval", "2s", "--shutdown-timeout", "3s"},
		"SITEPULSE_ROUTER_PASSWORD="+routerPassword, "SITEPULSE_MQTT_SECRET="+enrolled.Secret)
	testkit.Eventually(t, 20*time.Second, "router online with its sessions", func() bool {
		r, err := api.Router(ctx, routerID)
		check(t, "router", err)
		p, err := api.Sessions(ctx, 0, controlplane.SessionFilter{RouterID: routerID})
		check(t, "sessions", err)
		return r.Status == controlplane.RouterOnline && p.Total > 0
	})

	// --- the Node test in Chromium ------------------------------------------
	dir := filepath.Join(root, "e2e", "browser")
	ensureNodeModules(t, dir)
	watch := envOr("SITEPULSE_E2E_WATCH", "60")
	const guest = "e2e-guest"
	cmd := exec.Command("node", "--test", "--test-reporter=spec", "dashboard.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(),
		"SITEPULSE_E2E_URL="+base,
		"SITEPULSE_E2E_EMAIL="+userEmail,
		"SITEPULSE_E2E_PASSWORD="+userPassword,
		"SITEPULSE_E2E_SIM_CONTROL="+simCtl,
		"SITEPULSE_E2E_ROUTER_ID="+routerID,
		"SITEPULSE_E2E_GUEST="+guest,
		"SITEPULSE_E2E_WATCH="+watch,
		"SITEPULSE_E2E_ARTIFACTS="+artifacts,
		"SITEPULSE_E2E_CHROMIUM="+chromium,
		"SITEPULSE_E2E_TENANT_ID="+strconv.FormatInt(tenant.ID, 10),
		"SITEPULSE_E2E_PUSHER_APP_ID="+pusherAppID,
		"SITEPULSE_E2E_PUSHER_KEY="+pusherKey,
		"SITEPULSE_E2E_PUSHER_SECRET="+pusherSecret,
	)
	out := &lineLogger{t: t, prefix: "node: "}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err = cmd.Run()
	out.Flush()
	t.Logf("node test took %v; screenshots and logs in %s", time.Since(start).Round(time.Millisecond), artifacts)
	if err != nil {
		t.Fatalf("browser test failed: %v (process logs in %s)", err, logs)
	}

	// Chromium's pusher-js negotiated permessage-deflate (the page checked
	// the handshake it saw; the hub counts what it accepted).
	if n := metricValue(t, base, "sitepulse_realtime_compressed_connections_total"); n < 1 {
		t.Errorf("sitepulse_realtime_compressed_connections_total = %v after the browser test, want >= 1", n)
	}

	// The kick the page sent succeeded on the router, and the session is
	// history (the simulator's churn could have ended it too, but then the
	// kick would have found no session and failed).
	cmds, err := api.Commands(ctx, 0, controlplane.CommandFilter{RouterID: routerID})
	check(t, "commands", err)
	var kicks []controlplane.CommandStatus
	for _, c := range cmds.Data {
		if c.Kind == protocol.CmdHotspotActiveKick {
			kicks = append(kicks, c.Status)
			if c.Status != controlplane.CommandSucceeded {
				t.Errorf("kick command %s: %s %s %s, want succeeded", c.ID, c.Status, c.Code, c.Message)
			}
		}
	}
	if len(kicks) != 1 {
		t.Errorf("kick commands: %v, want exactly one", kicks)
	}
	hist, err := api.History(ctx, 0, controlplane.HistoryFilter{User: guest})
	check(t, "history", err)
	if len(hist.Data) != 1 || hist.Data[0].EndReason == "" {
		t.Fatalf("history of %s: %+v, want one ended session", guest, hist.Data)
	}
	t.Logf("kick command succeeded; %s's session ended with reason %q", guest, hist.Data[0].EndReason)
}

// buildBinaries builds the dashboard with Vite into a temporary directory
// and the three binaries with that build overlaid on controlplane/web/dist,
// and returns the directory holding the binaries.
func buildBinaries(t *testing.T, root, tmp string) string {
	t.Helper()
	web := filepath.Join(root, "controlplane", "web")
	ensureNodeModules(t, web)
	dist := filepath.Join(tmp, "dist")
	start := time.Now()
	run(t, web, "node", "node_modules/vite/bin/vite.js", "build", "--outDir", dist, "--emptyOutDir", "--logLevel", "warn")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatalf("vite build wrote no index.html: %v", err)
	}
	t.Logf("dashboard built in %v", time.Since(start).Round(time.Millisecond))

	// Each built file replaces (or adds) its path under the package's
	// dist/, which //go:embed then reads; the tree itself is not touched.
	replace := map[string]string{}
	err := filepath.WalkDir(dist, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dist, p)
		if err != nil {
			return err
		}
		replace[filepath.Join(web, "dist", rel)] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	return goBuild(t, root, tmp, "-overlay", overlayFile)
}

// goBuild builds sitepulse, sitepulse-agent and sitepulse-sim (with -race
// when the test runs with it, and flags) into tmp/bin and returns it.
func goBuild(t *testing.T, root, tmp string, flags ...string) string {
	t.Helper()
	bin := filepath.Join(tmp, "bin")
	args := append([]string{"build", "-o", bin + string(filepath.Separator)}, flags...)
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/sitepulse", "./cmd/sitepulse-agent", "./cmd/sitepulse-sim")
	start := time.Now()
	run(t, root, "go", args...)
	t.Logf("binaries built in %v (race %v)", time.Since(start).Round(time.Millisecond), raceEnabled)
	return bin
}

// tenantWithAdmin creates a tenant through the API, waits for its
// activation job, and creates its user u.
func tenantWithAdmin(t *testing.T, ctx context.Context, api *client.Client, name string, u controlplane.CreateUserRequest) controlplane.Accepted {
	t.Helper()
	tenant, err := api.CreateTenant(ctx, name)
	check(t, "create tenant", err)
	testkit.Eventually(t, 10*time.Second, "tenant active", func() bool {
		ten, err := api.Tenant(ctx, tenant.ID)
		check(t, "tenant", err)
		return ten.Status == controlplane.TenantActive
	})
	_, err = api.CreateUser(ctx, tenant.ID, u)
	check(t, "create user", err)
	return tenant
}

// ensureNodeModules runs npm ci in dir when its node_modules is missing
// (.ci/run has already run it there).
func ensureNodeModules(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return
	}
	run(t, dir, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
}

// run runs a build step and fails the test with its output if it fails.
func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
}

// cleanEnv is the test's environment without SITEPULSE_* variables: every
// binary reads flags from SITEPULSE_* (the agent's SITEPULSE_DATA_DIR is
// also the control plane's), so only what a process is given explicitly
// may reach it.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SITEPULSE_") {
			env = append(env, kv)
		}
	}
	return env
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// proc is a child process whose combined output goes to a log file and is
// scanned line by line, so the test can wait for a line (an address on
// port 0) instead of sleeping.
type proc struct {
	name string
	log  string

	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced on every new line
	done  bool
}

// startProc starts bin with args and extra environment; the process gets
// SIGTERM at cleanup and is killed if it has not exited 10 s later.
func startProc(t *testing.T, logDir, name, bin string, args []string, env ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(logDir, name+".log"), more: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(f, sc.Text())
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.more)
			p.more = make(chan struct{})
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		<-scanned
		p.mu.Lock()
		p.done = true
		close(p.more)
		p.mu.Unlock()
		exited <- err
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("%s did not exit cleanly on SIGTERM: %v (log %s)", name, err, p.log)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not exit within 15 s of SIGTERM; killed (log %s)", name, p.log)
		}
		f.Close()
	})
	return p
}

// waitLine returns the first output line matching re, failing the test
// with the log's tail if none comes within d or the process exits.
func (p *proc) waitLine(t *testing.T, d time.Duration, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.After(d)
	for i := 0; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if re.MatchString(p.lines[i]) {
				line := p.lines[i]
				p.mu.Unlock()
				return line
			}
		}
		more, done := p.more, p.done
		tail := p.lines[max(0, len(p.lines)-20):]
		p.mu.Unlock()
		if done {
			t.Fatalf("%s exited before logging %s:\n%s", p.name, re, strings.Join(tail, "\n"))
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("%s logged no %s within %v:\n%s", p.name, re, d, strings.Join(tail, "\n"))
		}
	}
}

func submatch(t *testing.T, line, expr string) string {
	t.Helper()
	m := regexp.MustCompile(expr).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no %s in %q", expr, line)
	}
	return m[1]
}

// check fails the test, naming what, when a client call failed.
func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// lineLogger passes a child's output to t.Log line by line as it comes, so
// a long browser run shows progress under -v.
type lineLogger struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		l.t.Log(l.prefix + string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

// Flush logs a last unterminated line.
func (l *lineLogger) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log(l.prefix + string(l.buf))
		l.buf = nil
	}
}
