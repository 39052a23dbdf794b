package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
)

// login is one demo account, printed at start.
type login struct {
	role, email, password, name string
}

// The demo's accounts. Fixed passwords: this is a local demo on loopback,
// and the README lists them.
var logins = []login{
	{"system_admin", "admin@sitepulse.demo", "demo-admin-pass", "Demo Administrator"},
	{"tenant_admin", "owner@demo-isp.example", "demo-owner-pass", "Wanjiru Kamau"},
	{"technician", "tech@demo-isp.example", "demo-tech-pass1", "Otieno Ouma"},
	{"viewer", "viewer@demo-isp.example", "demo-viewer-pass", "Amina Hassan"},
}

// site is one simulated router with its agent.
type site struct {
	name, router, identity string
	seed                   int64
	hotspot, ppp           int
	flaky                  bool // drops offline now and then

	id      string // SitePulse router id, from the REST API
	secret  string // its MQTT secret
	simAPI  string // the simulator's RouterOS API address
	control string // the simulator's control API address (customer logins)
	agent   *child
	restart time.Time // when a stopped agent comes back; zero while it runs
}

var sites = []*site{
	{name: "Nairobi CBD", router: "Nairobi CBD core", identity: "nbo-cbd-ccr2004", seed: 11, hotspot: 30, ppp: 12},
	{name: "Mombasa Beach", router: "Mombasa Beach AP", identity: "mba-beach-hap", seed: 22, hotspot: 20, ppp: 6, flaky: true},
	{name: "Kisumu Market", router: "Kisumu Market edge", identity: "ksm-market-rb5009", seed: 33, hotspot: 16, ppp: 12},
}

const routerUser, routerPassword = "sitepulse", "demo-router-pass"

// config is the command line.
type config struct {
	httpAddr, mqttAddr, dir, bin   string
	outageEvery, outageFor, status time.Duration
	buyEvery                       time.Duration
	churn                          float64
}

func main() {
	c, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{c: c}
	err = d.run(ctx)
	stop()
	if cerr := d.shutdown(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	fmt.Println("demo: stopped cleanly")
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8080", "control plane HTTP address (dashboard, API, WebSocket)")
	fs.StringVar(&c.mqttAddr, "mqtt-addr", "127.0.0.1:1883", "embedded MQTT broker address the agents dial")
	fs.StringVar(&c.dir, "dir", filepath.Join("data", "demo"), "data directory, wiped at start: SQLite database, agent outboxes, logs/")
	fs.StringVar(&c.bin, "bin", "bin", "directory holding sitepulse, sitepulse-agent and sitepulse-sim (make build)")
	fs.DurationVar(&c.outageEvery, "outage-every", 90*time.Second, "how often Mombasa Beach drops offline (0: never)")
	fs.DurationVar(&c.outageFor, "outage-for", 20*time.Second, "how long it stays offline")
	fs.DurationVar(&c.status, "status-every", 15*time.Second, "how often a status line is printed")
	fs.Float64Var(&c.churn, "churn", 12, "logins plus logouts per minute on each router")
	fs.DurationVar(&c.buyEvery, "buy-every", 6*time.Second, "how often a simulated customer buys a plan with M-Pesa (0: never)")
	// SITEPULSE_DEMO_* fallbacks, applied before parsing so flags win.
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := "SITEPULSE_DEMO_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		f.Usage += " [$" + name + "]"
		if v, ok := os.LookupEnv(name); ok && v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("$%s=%q: %w", name, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, nil
}

// demo is the running demo: its children in start order.
type demo struct {
	c    config
	logs string
	cp   *child
	sims []*child
	api  *client.Client
	shop *shop
}

func (d *demo) run(ctx context.Context) error {
	c := d.c
	for _, b := range []string{"sitepulse", "sitepulse-agent", "sitepulse-sim", "sitepulse-mpesa-sim", "sitepulse-sms-sim"} {
		if _, err := os.Stat(filepath.Join(c.bin, b)); err != nil {
			return fmt.Errorf("%s not found in %s: run `make demo` (or `make web build`) first", b, c.bin)
		}
	}
	for _, a := range []struct{ addr, env string }{{c.httpAddr, "SITEPULSE_DEMO_HTTP_ADDR"}, {c.mqttAddr, "SITEPULSE_DEMO_MQTT_ADDR"}} {
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			return fmt.Errorf("%s is in use (%v): is another SitePulse or demo running? Stop it, or choose another address, e.g. %s=127.0.0.1:18080 make demo",
				a.addr, err, a.env)
		}
		ln.Close()
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("wipe %s: %w", c.dir, err)
	}
	d.logs = filepath.Join(c.dir, "logs")
	if err := os.MkdirAll(d.logs, 0o755); err != nil {
		return err
	}

	// --- M-Pesa (the Daraja simulator) and the control plane -----------------
	step("starting the Daraja (M-Pesa) simulator")
	mpesaURL, err := d.startMpesaSim(ctx)
	if err != nil {
		return err
	}
	step("starting the SMS gateway simulator (receipts and logins by SMS)")
	smsURL, err := d.startSMSSim(ctx)
	if err != nil {
		return err
	}
	admin := logins[0]
	step("starting the control plane (SQLite in %s, MQTT %s, HTTP %s)", c.dir, c.mqttAddr, c.httpAddr)
	d.cp, err = startChild(d.logs, "sitepulse", filepath.Join(c.bin, "sitepulse"),
		[]string{"--log-format", "json", "serve", "--data-dir", filepath.Join(c.dir, "controlplane"),
			"--http-addr", c.httpAddr, "--mqtt-addr", c.mqttAddr, "--public-mqtt-url", "tcp://" + c.mqttAddr,
			"--mpesa-base-url", mpesaURL, "--sms-base-url", smsURL},
		"SITEPULSE_ADMIN_EMAIL="+admin.email, "SITEPULSE_ADMIN_PASSWORD="+admin.password)
	if err != nil {
		return err
	}
	if _, err := d.cp.waitLine(ctx, 30*time.Second, regexp.MustCompile(`"msg":"serving"`)); err != nil {
		return err
	}
	base := "http://" + c.httpAddr
	d.api = client.New(base, client.Options{Timeout: 10 * time.Second})
	if res, err := http.Get(base + "/"); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusServiceUnavailable {
			fmt.Println("demo: WARNING: the dashboard was not built before the binary; run `make web build` (make demo does)")
		}
	}

	// --- tenant, users, routers -----------------------------------------------
	res, err := d.api.Login(ctx, admin.email, admin.password)
	if err != nil {
		return err
	}
	d.api = d.api.WithToken(res.Token)
	acc, err := d.api.CreateTenant(ctx, "Demo ISP")
	if err != nil {
		return err
	}
	if err := pollUntil(ctx, 15*time.Second, "tenant Demo ISP active", func() (bool, error) {
		tenant, err := d.api.Tenant(ctx, acc.ID)
		return tenant.Status == controlplane.TenantActive, err
	}); err != nil {
		return err
	}
	for _, l := range logins[1:] {
		req := controlplane.CreateUserRequest{Email: l.email, Name: l.name, Role: controlplane.Role(l.role), Password: l.password}
		if _, err := d.api.CreateUser(ctx, acc.ID, req); err != nil {
			return err
		}
	}
	for _, s := range sites {
		enrolled, err := d.api.CreateRouter(ctx, controlplane.CreateRouterRequest{Name: s.router, Site: s.name, TenantID: &acc.ID})
		if err != nil {
			return err
		}
		s.id, s.secret = enrolled.Router.ID, enrolled.Secret
	}

	// --- simulators and agents ----------------------------------------------
	for _, s := range sites {
		slug := strings.ToLower(strings.ReplaceAll(s.name, " ", "-"))
		sim, err := startChild(d.logs, "sim-"+slug, filepath.Join(c.bin, "sitepulse-sim"),
			[]string{"--api-addr", "127.0.0.1:0", "--user", routerUser, "--identity", s.identity,
				"--seed", fmt.Sprint(s.seed), "--hotspot-sessions", fmt.Sprint(s.hotspot), "--ppp-sessions", fmt.Sprint(s.ppp),
				"--churn", fmt.Sprint(c.churn), "--traffic-interval", "1s", "--control-addr", "127.0.0.1:0"},
			"SITEPULSE_SIM_PASSWORD="+routerPassword)
		if err != nil {
			return err
		}
		d.sims = append(d.sims, sim)
		line, err := sim.waitLine(ctx, 15*time.Second, regexp.MustCompile(`msg="sitepulse-sim running"`))
		if err != nil {
			return err
		}
		m := regexp.MustCompile(`api=(\S+)`).FindStringSubmatch(line)
		if m == nil {
			return fmt.Errorf("no api= in %q", line)
		}
		s.simAPI = m[1]
		ctl, err := sim.waitLine(ctx, time.Second, regexp.MustCompile(`msg="control api listening"`))
		if err != nil {
			return err
		}
		if m := regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(ctl); m != nil {
			s.control = m[1]
		}
		if err := d.startAgent(s); err != nil {
			return err
		}
	}
	if err := pollUntil(ctx, 30*time.Second, "every router online", func() (bool, error) {
		st, err := d.stats(ctx)
		return st.RoutersOnline == len(sites), err
	}); err != nil {
		return err
	}
	// --- the shop: plans, M-Pesa, customers ------------------------------------
	owner, err := d.api.Login(ctx, logins[1].email, logins[1].password)
	if err != nil {
		return err
	}
	techLogin, err := d.api.Login(ctx, logins[2].email, logins[2].password)
	if err != nil {
		return err
	}
	d.shop, err = d.openShop(ctx, acc.ID, d.api.WithToken(owner.Token), d.api.WithToken(techLogin.Token))
	if err != nil {
		return err
	}
	d.banner()

	// --- run until a signal -------------------------------------------------
	statusTick := time.NewTicker(c.status)
	defer statusTick.Stop()
	var buy <-chan time.Time
	if c.buyEvery > 0 {
		t := time.NewTicker(c.buyEvery)
		defer t.Stop()
		buy = t.C
	}
	var outage <-chan time.Time
	if c.outageEvery > 0 && c.outageFor > 0 {
		t := time.NewTicker(c.outageEvery)
		defer t.Stop()
		outage = t.C
	}
	check := time.NewTicker(time.Second)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println("\ndemo: stopping (agents, simulators, control plane)…")
			return nil
		case <-statusTick.C:
			d.printStatus(ctx)
		case <-buy:
			d.shop.buy(ctx)
		case <-outage:
			for _, s := range sites {
				if s.flaky && s.agent != nil {
					fmt.Printf("%s  %s drops offline for %v (its agent stops)\n", now(), s.name, c.outageFor)
					if err := s.agent.stop(15 * time.Second); err != nil {
						fmt.Printf("demo: %s agent: %v\n", s.name, err)
					}
					s.agent, s.restart = nil, time.Now().Add(c.outageFor)
				}
			}
		case <-check.C:
			for _, s := range sites {
				if s.agent == nil && !s.restart.IsZero() && time.Now().After(s.restart) {
					fmt.Printf("%s  %s comes back online\n", now(), s.name)
					if err := d.startAgent(s); err != nil {
						return err
					}
				}
			}
			d.shop.follow(ctx)
			if err := d.cp.exited(); err != nil {
				return fmt.Errorf("the control plane stopped: %w (log %s)", err, d.cp.log)
			}
		}
	}
}

// startAgent starts (or restarts) a site's agent. Secrets go through the
// environment, not the command line, where ps would show them.
func (d *demo) startAgent(s *site) error {
	slug := strings.ToLower(strings.ReplaceAll(s.name, " ", "-"))
	a, err := startChild(d.logs, "agent-"+slug, filepath.Join(d.c.bin, "sitepulse-agent"),
		[]string{"run", "--router-id", s.id, "--router-addr", s.simAPI, "--router-user", routerUser,
			"--mqtt-url", "tcp://" + d.c.mqttAddr, "--data-dir", filepath.Join(d.c.dir, "agent-"+slug), "--listen-addr", "",
			"--counters-interval", "2s", "--resources-interval", "5s", "--shutdown-timeout", "5s"},
		"SITEPULSE_ROUTER_PASSWORD="+routerPassword, "SITEPULSE_MQTT_SECRET="+s.secret)
	if err != nil {
		return err
	}
	s.agent, s.restart = a, time.Time{}
	return nil
}

func (d *demo) banner() {
	c := d.c
	fmt.Printf("\nSitePulse demo is running.\n\n  Dashboard  http://%s\n  MQTT       tcp://%s\n\n", c.httpAddr, c.mqttAddr)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "  role\temail\tpassword")
	for _, l := range logins {
		fmt.Fprintf(w, "  %s\t%s\t%s\n", l.role, l.email, l.password)
	}
	w.Flush()
	fmt.Println("\n  Tenant \"Demo ISP\" with three routers:")
	for _, s := range sites {
		fmt.Printf("    %-14s %2d hotspot + %2d PPPoE sessions at start (seed %d)\n", s.name, s.hotspot, s.ppp, s.seed)
	}
	if c.outageEvery > 0 && c.outageFor > 0 {
		fmt.Printf("  Mombasa Beach drops offline for %v every %v.\n", c.outageFor, c.outageEvery)
	}
	fmt.Print("  Plans on sale:")
	for _, p := range d.shop.plans {
		fmt.Printf(" %s (%s),", p.Name, p.Price)
	}
	if c.buyEvery > 0 {
		fmt.Printf("\n  A customer buys one with M-Pesa (the Daraja simulator) every %v; about one in five fails.\n", c.buyEvery)
	}
	fmt.Printf("  Logs: %s/*.log. Ctrl-C stops everything.\n\n", d.logs)
}

func (d *demo) stats(ctx context.Context) (controlplane.Stats, error) {
	return d.api.Stats(ctx, 0)
}

func (d *demo) printStatus(ctx context.Context) {
	st, err := d.stats(ctx)
	if err != nil {
		fmt.Printf("%s  status: %v\n", now(), err)
		return
	}
	line := fmt.Sprintf("%s  routers online %d/%d · hotspot %d · PPPoE %d", now(), st.RoutersOnline, st.RoutersTotal, st.OnlineHotspot, st.OnlinePPPoE)
	if b, err := d.api.BillingStats(ctx, 0); err == nil {
		line += fmt.Sprintf(" · revenue today %s · %d payments · %d active subscriptions", controlplane.Money{Amount: b.RevenueToday, Currency: b.Currency},
			b.PaymentsToday, b.ActiveSubscriptions)
	}
	fmt.Println(line)
}

// shutdown stops the agents first (they publish offline and flush their
// outboxes), then the simulators, then the control plane.
func (d *demo) shutdown() error {
	var errs []error
	for _, s := range sites {
		if s.agent != nil {
			errs = append(errs, s.agent.stop(15*time.Second))
		}
	}
	for _, s := range d.sims {
		errs = append(errs, s.stop(10*time.Second))
	}
	if d.cp != nil {
		errs = append(errs, d.cp.stop(20*time.Second))
	}
	return errors.Join(errs...)
}

func step(format string, args ...any) { fmt.Printf("demo: "+format+"\n", args...) }

func now() string { return time.Now().Format("15:04:05") }

// pollUntil checks cond every 200 ms until it holds, ctx ends or d passes.
func pollUntil(ctx context.Context, d time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s: not within %v: %w", what, d, err)
			}
			return fmt.Errorf("%s: not within %v", what, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// child is a process the demo started. Its output goes to a log file and
// is scanned, so the demo waits for a line (an address) instead of
// sleeping. Children run in their own process group: Ctrl-C reaches only
// the demo, which then stops them in order.
type child struct {
	name, log string
	cmd       *exec.Cmd

	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced on every line and at exit
	done  bool
	err   error
	exit  chan struct{}
}

// startChild starts bin with args and extra environment. The demo's own
// SITEPULSE_* variables are not passed on: every binary reads its flags
// from them.
func startChild(logDir, name, bin string, args []string, env ...string) (*child, error) {
	p := &child{name: name, log: filepath.Join(logDir, name+".log"), more: make(chan struct{}), exit: make(chan struct{})}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SITEPULSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.cmd = cmd
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(f, sc.Text())
			p.mu.Lock()
			if len(p.lines) < 200 { // only start-up lines are waited for
				p.lines = append(p.lines, sc.Text())
			}
			close(p.more)
			p.more = make(chan struct{})
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		<-scanned
		f.Close()
		p.mu.Lock()
		p.done, p.err = true, err
		close(p.more)
		p.mu.Unlock()
		close(p.exit)
	}()
	return p, nil
}

// waitLine returns the first line matching re among the first lines.
func (p *child) waitLine(ctx context.Context, d time.Duration, re *regexp.Regexp) (string, error) {
	deadline := time.After(d)
	for i := 0; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if re.MatchString(p.lines[i]) {
				line := p.lines[i]
				p.mu.Unlock()
				return line, nil
			}
		}
		more, done := p.more, p.done
		tail := strings.Join(p.lines[max(0, len(p.lines)-10):], "\n")
		p.mu.Unlock()
		if done {
			return "", fmt.Errorf("%s exited (%v) before it was ready; its log %s ends:\n%s", p.name, p.err, p.log, tail)
		}
		select {
		case <-more:
		case <-ctx.Done():
			return "", ctx.Err()
		case <-deadline:
			return "", fmt.Errorf("%s not ready within %v; its log %s ends:\n%s", p.name, d, p.log, tail)
		}
	}
}

// exited returns the exit error of a process that stopped by itself, or
// nil while it runs.
func (p *child) exited() error {
	select {
	case <-p.exit:
		if p.err == nil {
			return errors.New("exit status 0")
		}
		return p.err
	default:
		return nil
	}
}

// stop sends SIGTERM and waits up to d, then kills.
func (p *child) stop(d time.Duration) error {
	select {
	case <-p.exit:
		return nil // already gone (its error was reported when noticed)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exit:
		if p.err != nil {
			return fmt.Errorf("%s: %w (log %s)", p.name, p.err, p.log)
		}
		return nil
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.exit
		return fmt.Errorf("%s did not stop within %v of SIGTERM: killed (log %s)", p.name, d, p.log)
	}
}
