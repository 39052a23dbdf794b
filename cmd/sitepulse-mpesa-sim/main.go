package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sitepulse/sitepulse/internal/cliflag"
	"github.com/sitepulse/sitepulse/sim/daraja"
)

func main() {
	m := NewMain()
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-ctx.Done()
	m.Logger.Info("stopping")
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// envPrefix is prepended to a flag's upper-cased name (dashes become
// underscores) to form its environment fallback.
const envPrefix = "SITEPULSE_MPESA_SIM_"

// Main is the simulator process: flags, the Daraja API and the control
// API. Tests create one, set fields or call ParseFlags, and Run it on
// port 0.
type Main struct {
	Addr               string        // Daraja API listen address
	ControlAddr        string        // control API and /metrics; "" = off
	ConsumerKey        string        // the app's consumer key
	ConsumerSecret     string        // the app's consumer secret
	ConsumerSecretFile string        // file holding the secret (wins over ConsumerSecret)
	ShortCode          string        // paybill/till accepting payments
	Passkey            string        // its Lipa Na M-Pesa Online passkey
	PasskeyFile        string        // file holding the passkey (wins over Passkey)
	TokenTTL           time.Duration // token lifetime
	Seed               int64         // outcome and receipt seed
	FailureRate        float64       // share of unscripted pushes that fail
	FailureCodes       string        // comma-separated result codes failures draw from
	CallbackDelay      time.Duration // time the customer takes to answer
	CallbackTimeout    time.Duration // bound on one callback POST
	ValidationTimeout  time.Duration // C2B validation wait before ResponseType decides
	LockedAsError      bool          // second push to a busy phone: sync error instead of 1001 callback
	Production         bool          // https-only URLs, C2B URLs registered once
	BalanceItem        bool          // add {"Name":"Balance"} to successful callbacks
	LogLevel           string        // debug, info, warn, error

	Logger *slog.Logger // nil = text to Stderr at LogLevel
	Stderr io.Writer    // usage and logs; nil = os.Stderr

	server  *daraja.Server
	control *http.Server
	ctlLn   net.Listener
	done    chan struct{}
}

// NewMain returns a Main with the defaults the flags document: the
// sandbox's shortcode and passkey and a demo app, so a laptop needs no
// flag at all.
func NewMain() *Main {
	return &Main{
		Addr: "127.0.0.1:8989", ControlAddr: "127.0.0.1:8990",
		ConsumerKey: daraja.DefaultConsumerKey, ConsumerSecret: daraja.DefaultConsumerSecret,
		ShortCode: daraja.SandboxShortCode, Passkey: daraja.SandboxPasskey, TokenTTL: time.Hour, Seed: 1,
		FailureCodes: "1032,1037,1,2001", CallbackDelay: 2 * time.Second, CallbackTimeout: 10 * time.Second,
		ValidationTimeout: 8 * time.Second, LogLevel: "info", Stderr: os.Stderr,
	}
}

// ParseFlags reads args, with SITEPULSE_MPESA_SIM_* environment variables
// as fallbacks for flags not given. It returns flag.ErrHelp after printing
// usage for -h/--help.
func (m *Main) ParseFlags(args []string) error {
	fs := cliflag.New("sitepulse-mpesa-sim", "a Safaricom Daraja (M-Pesa) API simulator: OAuth, STK push and query, C2B, with scripted customers", envName, m.stderr())
	fs.Description = "Every flag also comes from the environment variable shown. SIGINT/SIGTERM stop.\n" +
		"Point a Daraja client's base URL at http://ADDR. Control API (--control-addr, no auth: keep it on loopback):\n" +
		"  GET /control/transactions[/{id}], POST /control/transactions/{id}/release|resend,\n" +
		"  POST|DELETE /control/script, GET|PUT /control/policy, POST /control/apps, POST /control/shortcodes,\n" +
		"  POST /control/tokens/expire, POST /control/callbacks (forged), POST /control/c2b/pay, GET /metrics."
	fs.Group("Daraja API")
	fs.StringVar(&m.Addr, "addr", m.Addr, "Daraja API listen address")
	fs.StringVar(&m.ConsumerKey, "consumer-key", m.ConsumerKey, "the app's consumer key (HTTP Basic user of /oauth/v1/generate)")
	fs.StringVar(&m.ConsumerSecret, "consumer-secret", m.ConsumerSecret, "the app's consumer secret (prefer --consumer-secret-file)")
	fs.StringVar(&m.ConsumerSecretFile, "consumer-secret-file", m.ConsumerSecretFile, "file whose first line is the consumer secret; overrides --consumer-secret")
	fs.StringVar(&m.ShortCode, "shortcode", m.ShortCode, "paybill or till number that accepts payments (more through POST /control/shortcodes)")
	fs.StringVar(&m.Passkey, "passkey", m.Passkey, "the shortcode's Lipa Na M-Pesa Online passkey (default: the sandbox's public test passkey)")
	fs.StringVar(&m.PasskeyFile, "passkey-file", m.PasskeyFile, "file whose first line is the passkey; overrides --passkey")
	fs.DurationVar(&m.TokenTTL, "token-ttl", m.TokenTTL, "access token lifetime (expires_in is one second less)")
	fs.BoolVar(&m.Production, "production", m.Production, "production rules: callback and C2B URLs must be https, C2B URLs register once")
	fs.BoolVar(&m.LockedAsError, "locked-as-error", m.LockedAsError, "answer a push to a phone with one in progress with the 500.001.1001 lock error instead of a 1001 callback")
	fs.Group("Customers")
	fs.Int64Var(&m.Seed, "seed", m.Seed, "seed of outcomes and receipts: the same seed gives the same run")
	fs.Float64Var(&m.FailureRate, "failure-rate", m.FailureRate, "share (0..1) of unscripted pushes that fail")
	fs.StringVar(&m.FailureCodes, "failure-codes", m.FailureCodes, "comma-separated result codes a failure draws from")
	fs.DurationVar(&m.CallbackDelay, "callback-delay", m.CallbackDelay, "how long an unscripted customer takes to answer the push")
	fs.BoolVar(&m.BalanceItem, "balance-item", m.BalanceItem, `add {"Name":"Balance"} without a Value to successful callbacks`)
	fs.Group("Callbacks")
	fs.DurationVar(&m.CallbackTimeout, "callback-timeout", m.CallbackTimeout, "bound on one callback or confirmation POST")
	fs.DurationVar(&m.ValidationTimeout, "validation-timeout", m.ValidationTimeout, "how long a C2B validation URL may take before the registered ResponseType decides")
	fs.Group("HTTP")
	fs.StringVar(&m.ControlAddr, "control-addr", m.ControlAddr, `control API and /metrics listen address; "" = off. No auth: keep it on loopback`)
	fs.Group("Logging")
	fs.StringVar(&m.LogLevel, "log-level", m.LogLevel, "log level: debug, info, warn or error")
	if err := fs.Parse(args, os.LookupEnv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (m *Main) stderr() io.Writer {
	if m.Stderr == nil {
		return os.Stderr
	}
	return m.Stderr
}

func readSecret(value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

func parseCodes(s string) ([]int, error) {
	var codes []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		c, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("failure code %q: %w", part, err)
		}
		codes = append(codes, c)
	}
	return codes, nil
}

// Run starts the Daraja API and the control API and returns once they
// listen. ctx bounds their lifetime; Close stops them.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		var level slog.Level
		if err := level.UnmarshalText([]byte(m.LogLevel)); err != nil {
			return fmt.Errorf("log level %q: %w", m.LogLevel, err)
		}
		m.Logger = slog.New(slog.NewTextHandler(m.stderr(), &slog.HandlerOptions{Level: level}))
	}
	secret, err := readSecret(m.ConsumerSecret, m.ConsumerSecretFile)
	if err != nil {
		return fmt.Errorf("read consumer secret file: %w", err)
	}
	passkey, err := readSecret(m.Passkey, m.PasskeyFile)
	if err != nil {
		return fmt.Errorf("read passkey file: %w", err)
	}
	codes, err := parseCodes(m.FailureCodes)
	if err != nil {
		return err
	}
	if m.FailureRate < 0 || m.FailureRate > 1 {
		return fmt.Errorf("failure rate %v: want 0..1", m.FailureRate)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.server = daraja.New(daraja.Options{
		Apps:       []daraja.App{{ConsumerKey: m.ConsumerKey, ConsumerSecret: secret}},
		Shortcodes: []daraja.Shortcode{{ShortCode: m.ShortCode, Passkey: passkey}},
		TokenTTL:   m.TokenTTL, Seed: m.Seed,
		Policy:          daraja.Policy{FailureRate: m.FailureRate, FailureCodes: codes, Delay: m.CallbackDelay},
		CallbackTimeout: m.CallbackTimeout, ValidationTimeout: m.ValidationTimeout,
		LockedAsError: m.LockedAsError, Production: m.Production, BalanceItem: m.BalanceItem,
		Logger: m.Logger, Registerer: reg,
	})
	if err := m.server.Start(ctx, m.Addr); err != nil {
		return err
	}
	m.done = make(chan struct{})
	if m.ControlAddr == "" {
		close(m.done)
	} else {
		ln, err := net.Listen("tcp", m.ControlAddr)
		if err != nil {
			m.server.Close()
			return fmt.Errorf("control api listen %s: %w", m.ControlAddr, err)
		}
		if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
			m.Logger.Warn("control API is not on loopback and has no authentication", "addr", ln.Addr().String())
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.Handle("/", m.server.ControlHandler())
		m.ctlLn = ln
		m.control = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)}
		go func() {
			defer close(m.done)
			if err := m.control.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.Logger.Error("control api stopped", "err", err)
			}
		}()
		m.Logger.Info("control api listening", "addr", ln.Addr().String())
	}
	m.Logger.Info("sitepulse-mpesa-sim running", "api", m.server.URL(), "shortcode", m.ShortCode,
		"failure_rate", m.FailureRate, "callback_delay", m.CallbackDelay, "seed", m.Seed, "production", m.Production)
	return nil
}

// Server returns the running simulator (nil before Run).
func (m *Main) Server() *daraja.Server { return m.server }

// APIURL returns the Daraja base URL to give the control plane ("" before
// Run).
func (m *Main) APIURL() string {
	if m.server == nil {
		return ""
	}
	return m.server.URL()
}

// ControlURL returns the control API base URL ("" when off or not running).
func (m *Main) ControlURL() string {
	if m.ctlLn == nil {
		return ""
	}
	return "http://" + m.ctlLn.Addr().String()
}

// Close stops the control API and the simulator.
func (m *Main) Close() error {
	var errs []error
	if m.control != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.control.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("control api shutdown: %w", err))
		}
		<-m.done
	}
	if m.server != nil {
		if err := m.server.Close(); err != nil {
			errs = append(errs, fmt.Errorf("simulator close: %w", err))
		}
	}
	return errors.Join(errs...)
}
