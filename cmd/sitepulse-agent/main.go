package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/internal/cliflag"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

// Version returns the build's version: the -X value, else the module
// version, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func main() {
	// No heap profiles are ever taken; the sampling bucket table would cost
	// about a MiB of RSS on a router.
	runtime.MemProfileRate = 0
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `NAME:
   sitepulse-agent - the SitePulse agent: RouterOS sessions to MQTT, commands back

USAGE:
   sitepulse-agent command [options]

COMMANDS:
   run      run the agent; every flag falls back to SITEPULSE_<FLAG> (e.g. SITEPULSE_ROUTER_ADDR)
   status   print the running agent's status (GET http://<listen-addr>/status)
   version  print the version (also --version)

Run 'sitepulse-agent run --help' for the flags.
`

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, "sitepulse-agent", Version())
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "status":
		return statusCmd(args[1:], getenv, stdout, stderr)
	case "run":
		m := NewMain()
		m.Stderr = stderr
		if err := m.ParseFlags(args[1:], getenv); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintln(stderr, "sitepulse-agent:", err)
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if err := m.Run(ctx); err != nil {
			fmt.Fprintln(stderr, "sitepulse-agent:", err)
			return 1
		}
		<-ctx.Done()
		stop()
		if err := m.Close(); err != nil {
			fmt.Fprintln(stderr, "sitepulse-agent:", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "sitepulse-agent: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

// Main is the agent process: its configuration, the agent, and the local
// HTTP endpoints (/healthz, /metrics, /status). End-to-end tests drive the
// production wiring through it.
type Main struct {
	// Config is filled by ParseFlags; tests may set it directly.
	Config agent.Config
	// ListenAddr serves /healthz, /metrics and /status; "" disables it.
	ListenAddr string
	// LogLevel filters the logs written to Stderr.
	LogLevel slog.Level
	// Stderr receives the logs; nil means os.Stderr.
	Stderr io.Writer

	agent  *agent.Agent
	ln     net.Listener
	srv    *http.Server
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// NewMain returns a Main with the defaults.
func NewMain() *Main {
	return &Main{ListenAddr: "127.0.0.1:9100", LogLevel: slog.LevelInfo}
}

// envName maps a flag to its environment fallback: router-addr →
// SITEPULSE_ROUTER_ADDR.
func envName(flagName string) string {
	return "SITEPULSE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// nonEmpty adapts getenv to a lookup in which an empty variable is unset.
func nonEmpty(getenv func(string) string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v := getenv(name)
		return v, v != ""
	}
}

// ParseFlags reads the run flags; each unset flag falls back to its
// SITEPULSE_* environment variable. Secrets come from --*-file, the
// environment or (discouraged: visible in ps) the flag itself.
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	var out io.Writer = os.Stderr
	if m.Stderr != nil {
		out = m.Stderr
	}
	fs := cliflag.New("sitepulse-agent run", "run the agent: RouterOS sessions to MQTT, commands back", envName, out)
	var (
		routerPass, routerPassFile, mqttSecret, mqttSecretFile string
		routerTLS, routerInsecure                              bool
		routerCA, mqttCA, rawAllow, logLevel                   string
		outboxMaxEvents                                        int
		radiusListen, radiusAcctListen                         string
		radiusSecret, radiusSecretFile                         string
	)
	c := &m.Config
	fs.Group("RouterOS")
	fs.StringVar(&c.RouterID, "router-id", "", "this router's SitePulse id (MQTT client id and username)")
	fs.StringVar(&c.RouterAddr, "router-addr", "", "RouterOS API address host:port (8728 plain, 8729 TLS)")
	fs.StringVar(&c.RouterUser, "router-user", "", "RouterOS API user")
	fs.StringVar(&routerPass, "router-password", "", "RouterOS API password (prefer --router-password-file or the env)")
	fs.StringVar(&routerPassFile, "router-password-file", "", "file holding the RouterOS API password")
	fs.BoolVar(&routerTLS, "router-tls", false, "use api-ssl (TLS)")
	fs.StringVar(&routerCA, "router-ca", "", "PEM CA bundle that signs the router's api-ssl certificate")
	fs.BoolVar(&routerInsecure, "router-tls-insecure", false, "do not verify the router's certificate (self-signed api-ssl)")
	fs.DurationVar(&c.CountersInterval, "counters-interval", 10*time.Second, "session counter interval (print =interval=)")
	fs.DurationVar(&c.ResourcesInterval, "resources-interval", 30*time.Second, "router.resources interval")
	fs.DurationVar(&c.ResyncInterval, "resync-interval", 60*time.Second, "periodic snapshot diff interval")
	fs.StringVar(&rawAllow, "raw-allow", "", "comma-separated RouterOS path prefixes raw commands may use (default: none)")
	fs.Group("MQTT")
	fs.StringVar(&c.MQTTURL, "mqtt-url", "", "broker URL, tcp://host:1883 or ssl://host:8883")
	fs.StringVar(&mqttSecret, "mqtt-secret", "", "this router's MQTT secret (prefer --mqtt-secret-file or the env)")
	fs.StringVar(&mqttSecretFile, "mqtt-secret-file", "", "file holding the MQTT secret")
	fs.StringVar(&mqttCA, "mqtt-ca", "", "PEM CA bundle for ssl:// brokers (default: system roots)")
	fs.Group("Outbox")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory for the SQLite outbox and state")
	fs.IntVar(&outboxMaxEvents, "outbox-max-events", 100_000, "pending events before superseded updates are coalesced")
	fs.Int64Var(&c.OutboxMaxBytes, "outbox-max-bytes", 64<<20, "pending bytes before superseded updates are coalesced")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful stop may spend flushing the outbox")
	fs.Group("RADIUS")
	fs.StringVar(&radiusListen, "radius-listen", "", "serve the router's RADIUS here, host:port for authentication (e.g. :1812; empty: off); accounting on port+1")
	fs.StringVar(&radiusAcctListen, "radius-acct-listen", "", "RADIUS accounting address, if not the auth port+1")
	fs.StringVar(&radiusSecret, "radius-secret", "", "the router's RADIUS shared secret (prefer --radius-secret-file or the env)")
	fs.StringVar(&radiusSecretFile, "radius-secret-file", "", "file holding the RADIUS shared secret")
	fs.StringVar(&c.RadiusCoAAddr, "radius-coa-addr", "", "the router's /radius incoming for Disconnect and CoA (default: the router's host, port 3799)")
	fs.BoolVar(&c.RadiusRequireMessageAuth, "radius-require-message-authenticator", true, "drop Access-Requests without a Message-Authenticator (BlastRADIUS)")
	fs.DurationVar(&c.RadiusAskTimeout, "radius-ask-timeout", 2*time.Second, "how long a voucher's first use waits for the control plane before the offline rule")
	fs.Group("HTTP")
	fs.StringVar(&m.ListenAddr, "listen-addr", m.ListenAddr, "local address for /healthz, /metrics and /status (empty: off)")
	fs.Group("Logging")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")

	// Environment fallbacks are applied before parsing, so the command
	// line wins; an empty variable counts as unset.
	if err := fs.Parse(args, nonEmpty(getenv)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.OutboxMaxEvents = outboxMaxEvents
	c.Version = Version()

	var err error
	if c.RouterPassword, err = secret("router password", routerPass, routerPassFile); err != nil {
		return err
	}
	if c.MQTTSecret, err = secret("mqtt secret", mqttSecret, mqttSecretFile); err != nil {
		return err
	}
	if err := radiusAddrs(c, radiusListen, radiusAcctListen); err != nil {
		return err
	}
	rs, err := secret("radius secret", radiusSecret, radiusSecretFile)
	if err != nil {
		return err
	}
	if rs != "" {
		c.RadiusSecret = []byte(rs)
	}
	if (c.RadiusAuthAddr != "" || c.RadiusAcctAddr != "") && len(c.RadiusSecret) == 0 {
		return errors.New("--radius-listen needs the router's shared secret (--radius-secret-file or SITEPULSE_RADIUS_SECRET)")
	}
	if routerTLS {
		c.RouterTLS = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: routerInsecure} //nolint:gosec // opt-in for self-signed api-ssl
		if routerCA != "" {
			if c.RouterTLS.RootCAs, err = loadCA(routerCA); err != nil {
				return err
			}
		}
	} else if routerCA != "" || routerInsecure {
		return errors.New("--router-ca and --router-tls-insecure need --router-tls")
	}
	if u, err := url.Parse(c.MQTTURL); err == nil && (u.Scheme == "ssl" || u.Scheme == "tls" || u.Scheme == "mqtts") {
		c.MQTTTLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if mqttCA != "" {
			if c.MQTTTLS.RootCAs, err = loadCA(mqttCA); err != nil {
				return err
			}
		}
	} else if mqttCA != "" {
		return errors.New("--mqtt-ca needs an ssl:// --mqtt-url")
	}
	for _, p := range strings.Split(rawAllow, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if !strings.HasPrefix(p, "/") {
				return fmt.Errorf("--raw-allow: %q is not a RouterOS path", p)
			}
			c.RawAllow = append(c.RawAllow, p)
		}
	}
	if err := m.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	return nil
}

// radiusAddrs sets the RADIUS listen addresses: accounting defaults to
// the auth port + 1 (1812 → 1813).
func radiusAddrs(c *agent.Config, auth, acct string) error {
	if auth == "" {
		if acct != "" {
			return errors.New("--radius-acct-listen needs --radius-listen")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(auth)
	if err != nil {
		return fmt.Errorf("--radius-listen: %w", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65534 {
		return fmt.Errorf("--radius-listen: bad port %q", port)
	}
	c.RadiusAuthAddr = auth
	switch {
	case acct != "":
		c.RadiusAcctAddr = acct
	case p == 0:
		c.RadiusAcctAddr = net.JoinHostPort(host, "0")
	default:
		c.RadiusAcctAddr = net.JoinHostPort(host, strconv.Itoa(p+1))
	}
	return nil
}

// secret takes a value from exactly one of a flag/env value and a file.
func secret(what, value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", fmt.Errorf("%s: give the value or the file, not both", what)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func loadCA(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA %s: no PEM certificates", path)
	}
	return pool, nil
}

// Run opens the agent and the local endpoints and starts them in the
// background; Close stops them.
func (m *Main) Run(ctx context.Context) error {
	w := m.Stderr
	if w == nil {
		w = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: m.LogLevel}))
	m.Config.Logger = log
	a, err := agent.New(ctx, m.Config)
	if err != nil {
		return err
	}
	m.agent = a
	if m.ListenAddr != "" {
		ln, err := net.Listen("tcp", m.ListenAddr)
		if err != nil {
			_ = a.Close()
			return fmt.Errorf("listen %s: %w", m.ListenAddr, err)
		}
		m.ln = ln
		m.srv = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("local http server", "err", err)
			}
		}()
		log.Info("local endpoints listening", "addr", ln.Addr().String())
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.done = make(chan error, 1)
	go func() { m.done <- a.Run(actx) }()
	return nil
}

// Addr is the local endpoints' address once Run has returned.
func (m *Main) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// Agent returns the running agent (nil before Run).
func (m *Main) Agent() *agent.Agent { return m.agent }

// Close stops the agent gracefully (flush, offline status, disconnect),
// then the local endpoints, and closes the database.
func (m *Main) Close() error {
	var err error
	m.once.Do(func() {
		if m.cancel != nil {
			m.cancel()
			err = <-m.done
		}
		if m.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = m.srv.Shutdown(ctx)
			cancel()
		}
		if m.agent != nil {
			err = errors.Join(err, m.agent.Close())
		}
	})
	return err
}

func statusCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := cliflag.New("sitepulse-agent status", "print the running agent's status (GET http://<listen-addr>/status)", func(name string) string {
		if name == "listen-addr" {
			return envName(name)
		}
		return ""
	}, stderr)
	fs.Group("HTTP")
	addr := fs.String("listen-addr", "127.0.0.1:9100", "the agent's local listen address")
	timeout := fs.Duration("timeout", 5*time.Second, "request timeout")
	if err := fs.Parse(args, nonEmpty(getenv)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get("http://" + *addr + "/status")
	if err != nil {
		fmt.Fprintln(stderr, "sitepulse-agent status:", err)
		return 1
	}
	defer resp.Body.Close()
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		fmt.Fprintln(stderr, "sitepulse-agent status:", err)
		return 1
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "sitepulse-agent status: HTTP", strconv.Itoa(resp.StatusCode))
		return 1
	}
	return 0
}
