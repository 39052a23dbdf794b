package daraja

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// App is a Daraja application's credentials.
type App struct {
	ConsumerKey    string `json:"consumer_key"`
	ConsumerSecret string `json:"consumer_secret"`
}

// Shortcode is a paybill or till number with its Lipa Na M-Pesa Online
// passkey.
type Shortcode struct {
	ShortCode string `json:"shortcode"`
	Passkey   string `json:"passkey"`
}

// Sandbox defaults: the public test shortcode and passkey of Daraja's
// sandbox, so a client configured for the sandbox works here unchanged.
const (
	SandboxShortCode = "174379"
	SandboxPasskey   = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
)

// Policy draws the outcome of an STK push that no script covers. The zero
// Policy is: every customer pays at once.
type Policy struct {
	// FailureRate is the probability (0..1) that a push fails with one of
	// FailureCodes instead of succeeding.
	FailureRate float64 `json:"failure_rate"`
	// FailureCodes are drawn uniformly on failure; nil means 1032, 1037,
	// 1 and 2001.
	FailureCodes []int `json:"failure_codes,omitempty"`
	// Delay is how long the customer takes to answer (type the PIN).
	Delay time.Duration `json:"-"`
}

// Outcome is what the customer does with one STK push and how Daraja
// reports it.
type Outcome struct {
	// ResultCode is the result: 0 paid, 1 insufficient balance, 1001
	// subscriber locked, 1019 expired, 1032 cancelled, 1037 unreachable,
	// 2001 wrong PIN (any other code is sent as given).
	ResultCode int
	// Delay is the time between the push and the customer's answer.
	Delay time.Duration
	// Hold keeps the push waiting for the customer until Release.
	Hold bool
	// Duplicate sends that many identical callbacks concurrently (0 and 1
	// send one).
	Duplicate int
	// Never sends no callback at all; STK query still answers the result.
	Never bool
	// Amount, when not 0, is the Amount the callback reports instead of
	// the one requested (a tampered payload).
	Amount int64
	// Receipt, when set, is the MpesaReceiptNumber sent instead of a fresh
	// one (a replayed receipt).
	Receipt string
}

// Options configure a Server. The zero value is a working sandbox: one app
// (DefaultConsumerKey/DefaultConsumerSecret), the sandbox shortcode and
// passkey, one-hour tokens and customers who always pay.
type Options struct {
	// Apps that may get tokens; nil means one app with DefaultConsumerKey
	// and DefaultConsumerSecret.
	Apps []App
	// Shortcodes that may receive payments; nil means SandboxShortCode
	// with SandboxPasskey.
	Shortcodes []Shortcode
	// TokenTTL is a token's lifetime; 0 means 3600 s. expires_in is one
	// second less, as Daraja sends "3599".
	TokenTTL time.Duration
	// Now is the clock for tokens, timestamps and receipts; nil means
	// time.Now.
	Now func() time.Time
	// AfterFunc schedules a customer's answer; nil means time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Seed seeds the outcome policy and the receipts, so runs repeat.
	Seed int64
	// Policy is the outcome of pushes no script covers.
	Policy Policy
	// HTTPClient sends callbacks; nil means a client with CallbackTimeout.
	HTTPClient *http.Client
	// CallbackTimeout bounds one callback POST; 0 means 10 s.
	CallbackTimeout time.Duration
	// ValidationTimeout is how long a C2B validation URL may take before
	// the registered ResponseType decides; 0 means 8 s, as on Daraja.
	ValidationTimeout time.Duration
	// MaxBody is the largest request body accepted; 0 means 64 KiB.
	MaxBody int64
	// LockedAsError answers a push to a phone that already has one in
	// progress with the synchronous 500.001.1001 "Unable to lock
	// subscriber" error instead of accepting it and sending 1001 in the
	// callback (Daraja does both; the callback is the default).
	LockedAsError bool
	// Production applies production rules: callback and C2B URLs must be
	// https, and C2B URLs can be registered only once.
	Production bool
	// BalanceItem adds {"Name":"Balance"} (no Value) to successful
	// callbacks' metadata, as Daraja did for years.
	BalanceItem bool
	// Logger receives the simulator's logs; nil discards them.
	Logger *slog.Logger
	// Registerer, when not nil, gets the simulator's Prometheus metrics.
	Registerer prometheus.Registerer
}

// Default credentials of the zero Options' app.
const (
	DefaultConsumerKey    = "sitepulse-sim-key"
	DefaultConsumerSecret = "sitepulse-sim-secret"
)

// State is a transaction's progress.
type State string

// Transaction states.
const (
	StatePending   State = "pending"   // the customer has not answered (STK) or the payment is being validated (C2B)
	StateCompleted State = "completed" // paid
	StateFailed    State = "failed"    // cancelled, rejected, expired…
)

// Delivery is one HTTP request the simulator made to the merchant.
type Delivery struct {
	Kind   string    `json:"kind"` // callback, resend, validation, confirmation
	URL    string    `json:"url"`
	At     time.Time `json:"at"`
	Status int       `json:"status"` // HTTP status; 0 when no answer came
	Error  string    `json:"error,omitempty"`
	Body   string    `json:"body,omitempty"` // what the merchant answered (first 1 KiB)
}

// Transaction is an STK push or a C2B payment as the simulator saw it.
type Transaction struct {
	Kind              string     `json:"kind"` // "stk" or "c2b"
	MerchantRequestID string     `json:"merchant_request_id,omitempty"`
	CheckoutRequestID string     `json:"checkout_request_id,omitempty"`
	TransID           string     `json:"trans_id,omitempty"` // C2B
	ShortCode         string     `json:"shortcode"`
	PartyB            string     `json:"party_b,omitempty"`
	TransactionType   string     `json:"transaction_type"`
	Phone             string     `json:"phone"`
	Amount            int64      `json:"amount"` // whole shillings requested
	AccountReference  string     `json:"account_reference,omitempty"`
	TransactionDesc   string     `json:"transaction_desc,omitempty"`
	CallbackURL       string     `json:"callback_url,omitempty"`
	State             State      `json:"state"`
	ResultCode        int        `json:"result_code"`
	ResultDesc        string     `json:"result_desc,omitempty"`
	C2BResultCode     string     `json:"c2b_result_code,omitempty"` // a validation URL's rejection code
	Receipt           string     `json:"receipt,omitempty"`
	Outcome           Outcome    `json:"-"`
	CreatedAt         time.Time  `json:"created_at"`
	AnsweredAt        time.Time  `json:"answered_at,omitzero"`
	Deliveries        []Delivery `json:"deliveries"`

	firstName string // C2B payer's name, for the notifications
}

// ID is the transaction's identifier: CheckoutRequestID for a push,
// TransID for a C2B payment.
func (t Transaction) ID() string {
	if t.Kind == "c2b" {
		return t.TransID
	}
	return t.CheckoutRequestID
}

type token struct {
	app     string
	expires time.Time
}

type registration struct {
	responseType    string // Completed or Cancelled
	confirmationURL string
	validationURL   string
	version         string // v1 hashes the MSISDN, v2 masks it
}

// Server is the Daraja simulator. Create it with New, serve it with Start
// (or mount Handler), control it with its methods, stop it with Close.
type Server struct {
	opts      Options
	log       *slog.Logger
	now       func() time.Time
	afterFunc func(time.Duration, func()) func() bool
	client    *http.Client
	metrics   *metrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	apps     map[string]string // consumer key → secret
	tokens   map[string]token
	passkeys map[string]string // shortcode → passkey
	txs      map[string]*Transaction
	order    []string
	busy     map[string]string // phone → CheckoutRequestID waiting for the customer
	byPhone  map[string][]Outcome
	next     []Outcome
	policy   Policy
	rng      *rand.Rand
	receipts map[string]bool
	c2b      map[string]registration
	balances map[string]int64
	seq      uint64
	held     map[string]func()
	timers   map[string]func() bool
	closed   bool

	ln  net.Listener
	srv *http.Server
}

// New returns a Server configured by opts. It serves nothing until Start.
func New(opts Options) *Server {
	s := &Server{
		opts: opts, now: opts.Now, afterFunc: opts.AfterFunc, client: opts.HTTPClient,
		apps: map[string]string{}, tokens: map[string]token{}, passkeys: map[string]string{},
		txs: map[string]*Transaction{}, busy: map[string]string{}, byPhone: map[string][]Outcome{},
		policy: opts.Policy, receipts: map[string]bool{}, c2b: map[string]registration{},
		balances: map[string]int64{}, held: map[string]func(){}, timers: map[string]func() bool{},
	}
	s.log = opts.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.afterFunc == nil {
		s.afterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if s.opts.TokenTTL <= 0 {
		s.opts.TokenTTL = time.Hour
	}
	if s.opts.CallbackTimeout <= 0 {
		s.opts.CallbackTimeout = 10 * time.Second
	}
	if s.opts.ValidationTimeout <= 0 {
		s.opts.ValidationTimeout = 8 * time.Second
	}
	if s.opts.MaxBody <= 0 {
		s.opts.MaxBody = 64 << 10
	}
	if s.client == nil {
		// Keep connections to the merchant open across a burst of
		// callbacks (the default keeps two idle per host).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		s.client = &http.Client{Timeout: s.opts.CallbackTimeout, Transport: tr}
	}
	seed := uint64(opts.Seed)
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	apps := opts.Apps
	if apps == nil {
		apps = []App{{DefaultConsumerKey, DefaultConsumerSecret}}
	}
	for _, a := range apps {
		s.apps[a.ConsumerKey] = a.ConsumerSecret
	}
	codes := opts.Shortcodes
	if codes == nil {
		codes = []Shortcode{{SandboxShortCode, SandboxPasskey}}
	}
	for _, c := range codes {
		s.passkeys[c.ShortCode] = c.Passkey
	}
	s.metrics = newMetrics(opts.Registerer)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Start listens on addr ("127.0.0.1:0" for a free port) and serves the
// Daraja API until Close or until ctx ends.
func (s *Server) Start(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("daraja listen %s: %w", addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("daraja api stopped", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.ctx.Done():
		}
	}()
	s.log.Info("daraja simulator listening", "addr", ln.Addr().String())
	return nil
}

// Addr returns the listening address ("" before Start).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL returns the base URL to give a Daraja client ("" before Start).
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.Addr()
}

// Close stops the listener, cancels pending answers and in-flight
// callbacks, and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for id, stop := range s.timers {
		stop()
		delete(s.timers, id)
	}
	s.mu.Unlock()
	s.cancel()
	var err error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.srv.Shutdown(ctx)
	}
	s.wg.Wait()
	return err
}

// go runs f as a tracked goroutine unless the server is closed.
func (s *Server) spawn(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}
