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
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sitepulse/sitepulse/internal/cliflag"
	"github.com/sitepulse/sitepulse/sim/smsgw"
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

const envPrefix = "SITEPULSE_SMS_SIM_"

// Main is the simulator process: flags, the gateway API and the control
// API. Tests create one, set fields or call ParseFlags, and Run it on
// port 0.
type Main struct {
	Addr                string        // gateway API listen address
	ControlAddr         string        // control API and /metrics; "" = off
	Username            string        // Africa's Talking username accepted
	APIKey              string        // its apiKey
	APIKeyFile          string        // file holding the apiKey (wins over APIKey)
	AnyAccount          bool          // accept every username and apiKey
	DeliveryReportURL   string        // where delivery reports go
	DeliveryReportDelay time.Duration // send → delivery report
	ReportAttempts      int           // delivery report POSTs until a 2xx
	BotToken            string        // Telegram bot token accepted
	AnyBot              bool          // accept every bot token and chat
	LogLevel            string        // debug, info, warn, error

	Logger *slog.Logger // nil = text to Stderr at LogLevel
	Stderr io.Writer    // usage and logs; nil = os.Stderr

	server  *smsgw.Server
	control *http.Server
	ctlLn   net.Listener
	done    chan struct{}
}

// NewMain returns a Main with the defaults the flags document: the
// sandbox account and any bot, so a laptop needs no flag at all.
func NewMain() *Main {
	return &Main{
		Addr: "127.0.0.1:8991", ControlAddr: "127.0.0.1:8992",
		Username: "sandbox", APIKey: "sitepulse-sim-key", AnyBot: true,
		DeliveryReportDelay: 2 * time.Second, ReportAttempts: 3, LogLevel: "info", Stderr: os.Stderr,
	}
}

// ParseFlags reads args, with SITEPULSE_SMS_SIM_* environment variables
// as fallbacks for flags not given. It returns flag.ErrHelp after printing
// usage for -h/--help.
func (m *Main) ParseFlags(args []string) error {
	fs := cliflag.New("sitepulse-sms-sim", "an Africa's Talking SMS and Telegram Bot API simulator, with delivery reports and scripted faults", envName, m.stderr())
	fs.Description = "Every flag also comes from the environment variable shown. SIGINT/SIGTERM stop.\n" +
		"Point an Africa's Talking client and a Telegram client's base URL at http://ADDR. Control API (--control-addr, loopback only):\n" +
		"  POST /control/sms/accounts, GET /control/sms/messages[?to=], POST /control/sms/faults, PUT /control/sms/delivery,\n" +
		"  POST /control/telegram/bots, GET /control/telegram/messages[?chat_id=], POST /control/telegram/faults,\n" +
		"  DELETE /control/faults, POST /control/reset, GET /metrics."
	fs.Group("Africa's Talking")
	fs.StringVar(&m.Addr, "addr", m.Addr, "gateway API listen address (both APIs)")
	fs.StringVar(&m.Username, "username", m.Username, `Africa's Talking username accepted ("" = none; more through POST /control/sms/accounts)`)
	fs.StringVar(&m.APIKey, "api-key", m.APIKey, "its apiKey (prefer --api-key-file)")
	fs.StringVar(&m.APIKeyFile, "api-key-file", m.APIKeyFile, "file whose first line is the apiKey; overrides --api-key")
	fs.BoolVar(&m.AnyAccount, "any-account", m.AnyAccount, "accept every username and apiKey")
	fs.StringVar(&m.DeliveryReportURL, "delivery-report-url", m.DeliveryReportURL, `delivery report callback of accounts without their own ("" = none)`)
	fs.DurationVar(&m.DeliveryReportDelay, "delivery-report-delay", m.DeliveryReportDelay, "time between a send and its delivery report")
	fs.IntVar(&m.ReportAttempts, "delivery-report-attempts", m.ReportAttempts, "delivery report POSTs until the callback answers 2xx")
	fs.Group("Telegram")
	fs.StringVar(&m.BotToken, "bot-token", m.BotToken, `a bot token accepted (123456:secret); "" = none beyond --any-bot`)
	fs.BoolVar(&m.AnyBot, "any-bot", m.AnyBot, "accept every well-formed bot token and numeric chat id")
	fs.Group("HTTP")
	fs.StringVar(&m.ControlAddr, "control-addr", m.ControlAddr, `control API and /metrics listen address; "" = off. Answers loopback clients only`)
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

// Run starts the gateway API and the control API and returns once they
// listen. ctx bounds their lifetime; Close stops them.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		var level slog.Level
		if err := level.UnmarshalText([]byte(m.LogLevel)); err != nil {
			return fmt.Errorf("log level %q: %w", m.LogLevel, err)
		}
		m.Logger = slog.New(slog.NewTextHandler(m.stderr(), &slog.HandlerOptions{Level: level}))
	}
	key := m.APIKey
	if m.APIKeyFile != "" {
		b, err := os.ReadFile(m.APIKeyFile)
		if err != nil {
			return fmt.Errorf("read api key file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		key = strings.TrimSuffix(line, "\r")
	}
	opts := smsgw.Options{
		AnyAccount: m.AnyAccount, AnyBot: m.AnyBot,
		DeliveryReportURL: m.DeliveryReportURL, DeliveryReportDelay: m.DeliveryReportDelay, ReportAttempts: m.ReportAttempts,
		Logger: m.Logger,
	}
	if m.Username != "" && key != "" {
		opts.Accounts = []smsgw.Account{{Username: m.Username, APIKey: key}}
	}
	if m.BotToken != "" {
		opts.Bots = []smsgw.Bot{{Token: m.BotToken}}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts.Registerer = reg
	m.server = smsgw.New(opts)
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
			m.Logger.Warn("control API is not on loopback: it answers loopback clients only", "addr", ln.Addr().String())
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
	m.Logger.Info("sitepulse-sms-sim running", "api", m.server.URL(), "username", m.Username,
		"any_account", m.AnyAccount, "any_bot", m.AnyBot, "delivery_report_delay", m.DeliveryReportDelay)
	return nil
}

// Server returns the running simulator (nil before Run).
func (m *Main) Server() *smsgw.Server { return m.server }

// APIURL returns the base URL of both APIs ("" before Run).
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
