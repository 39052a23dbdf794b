package smsgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Account is an Africa's Talking application: the username and apiKey a
// client sends, where its delivery reports go, and the sender ids it may
// use.
type Account struct {
	Username string `json:"username"`
	APIKey   string `json:"api_key"`
	// DeliveryReportURL receives the account's delivery reports; "" means
	// Options.DeliveryReportURL, and no reports when that is "" too.
	DeliveryReportURL string `json:"delivery_report_url,omitempty"`
	// SenderIDs are the sender ids (from) the account may use; nil means
	// any.
	SenderIDs []string `json:"sender_ids,omitempty"`
}

// Bot is a Telegram bot: its token and the chats that have started it.
type Bot struct {
	Token string `json:"token"`
	// Chats are the chat ids the bot may write to; nil means any numeric
	// chat id.
	Chats []int64 `json:"chats,omitempty"`
}

// Options configure a Server. The zero value accepts no account and no
// bot: register some, or set AnyAccount and AnyBot.
type Options struct {
	// Accounts may send SMS.
	Accounts []Account
	// AnyAccount accepts every username and apiKey (Accounts still give
	// delivery report URLs and sender ids).
	AnyAccount bool
	// DeliveryReportURL receives the delivery reports of accounts without
	// their own; "" means none.
	DeliveryReportURL string
	// DeliveryReportDelay is the time between a send and its delivery
	// report (the handset receiving it).
	DeliveryReportDelay time.Duration
	// ReportAttempts is how many times a delivery report is POSTed until
	// the callback answers 2xx; 0 means 3.
	ReportAttempts int
	// ReportBackoff is the wait before the second attempt, doubled after
	// each; 0 means 1 s.
	ReportBackoff time.Duration
	// ReportTimeout bounds one delivery report POST; 0 means 10 s.
	ReportTimeout time.Duration
	// HTTPClient sends delivery reports; nil means a client with
	// ReportTimeout.
	HTTPClient *http.Client
	// Bots may send Telegram messages.
	Bots []Bot
	// AnyBot accepts every token that looks like a bot token
	// (digits:secret) and every numeric chat id.
	AnyBot bool
	// Now is the clock of timestamps; nil means time.Now.
	Now func() time.Time
	// MaxBody is the largest request body accepted; 0 means 64 KiB.
	MaxBody int64
	// Logger receives the simulator's logs; nil discards them.
	Logger *slog.Logger
	// Registerer, when not nil, gets the simulator's Prometheus metrics.
	Registerer prometheus.Registerer
}

// Server is the simulator. Create it with New, serve Handler (or Start
// it), script it with its methods or ControlHandler, and Close it.
type Server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	client  *http.Client
	metrics *metrics

	mu       sync.Mutex
	accounts map[string]Account
	smsFault []SMSFault
	outcomes map[string]DeliveryOutcome // by number; "" = default
	sms      []SMS
	smsSeq   int
	bots     map[string]Bot
	tgFault  []TelegramFault
	tg       []TelegramMessage
	tgSeq    map[int64]int64 // last message_id per chat
	timers   map[*time.Timer]struct{}

	ctx    context.Context // cancelled by Close: hangs and reports stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	srv    *http.Server
	ln     net.Listener
	closed bool
}

// New returns a Server configured by opts.
func New(opts Options) *Server {
	if opts.ReportAttempts <= 0 {
		opts.ReportAttempts = 3
	}
	if opts.ReportBackoff <= 0 {
		opts.ReportBackoff = time.Second
	}
	if opts.ReportTimeout <= 0 {
		opts.ReportTimeout = 10 * time.Second
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 10
	}
	s := &Server{opts: opts, log: opts.Logger, now: opts.Now, client: opts.HTTPClient, metrics: newMetrics(opts.Registerer)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: opts.ReportTimeout}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.resetLocked()
	return s
}

func (s *Server) resetLocked() {
	s.accounts = map[string]Account{}
	for _, a := range s.opts.Accounts {
		s.accounts[a.Username] = a
	}
	s.bots = map[string]Bot{}
	for _, b := range s.opts.Bots {
		s.bots[b.Token] = b
	}
	s.smsFault, s.tgFault = nil, nil
	s.outcomes = map[string]DeliveryOutcome{}
	s.sms, s.tg = nil, nil
	s.tgSeq = map[int64]int64{}
	if s.timers == nil {
		s.timers = map[*time.Timer]struct{}{}
	}
}

// Handler returns the gateway API: Africa's Talking's /version1/messaging
// and Telegram's /bot{token}/sendMessage on one mux.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /version1/messaging", s.handleSMS)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/bot") {
			s.handleTelegram(w, r)
			return
		}
		http.NotFound(w, r)
	})
	return mux
}

// Start serves Handler on addr ("127.0.0.1:0" picks a port) until Close
// or until ctx is done.
func (s *Server) Start(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("smsgw listen %s: %w", addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	srv := s.srv
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("smsgw api stopped", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { _ = s.Close() })
	s.log.Info("sms gateway simulator listening", "addr", ln.Addr().String())
	return nil
}

// URL returns the base URL of the started API ("" before Start): both
// the Africa's Talking and the Telegram base URL.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops the API, ends hanging requests and pending delivery
// reports, and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for t := range s.timers {
		if t.Stop() {
			s.wg.Done()
		}
	}
	s.timers = map[*time.Timer]struct{}{}
	srv := s.srv
	s.mu.Unlock()
	s.cancel()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(ctx)
	}
	s.wg.Wait()
	return err
}

// after runs f after d unless Close comes first.
func (s *Server) after(d time.Duration, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer s.wg.Done()
		s.mu.Lock()
		delete(s.timers, t)
		s.mu.Unlock()
		f()
	})
	s.timers[t] = struct{}{}
}

// hang blocks until the client gives up or the server closes: a gateway
// that took the message and never answered.
func (s *Server) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
}

type metrics struct {
	sms      *prometheus.CounterVec
	reports  *prometheus.CounterVec
	telegram *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sitepulse_sms_sim", Name: name, Help: help}, labels)
	}
	m := &metrics{
		sms:      c("sms_recipients_total", "SMS recipients answered, by per-recipient status (or the HTTP status of a refused request).", "status"),
		reports:  c("delivery_reports_total", "Delivery report POSTs by outcome (delivered, failed, gave_up).", "outcome"),
		telegram: c("telegram_messages_total", "Telegram sendMessage answers by HTTP status.", "status"),
	}
	if reg != nil {
		reg.MustRegister(m.sms, m.reports, m.telegram)
	}
	return m
}
