package mpesa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// SandboxURL is Safaricom's Daraja sandbox, the default base URL.
const SandboxURL = "https://sandbox.safaricom.co.ke"

// Transaction types of an STK push.
const (
	PayBillOnline  = "CustomerPayBillOnline"  // paybill: PartyB is the shortcode
	BuyGoodsOnline = "CustomerBuyGoodsOnline" // till: PartyB is the till number
)

// DefaultTimeout bounds each request of the client built when
// Config.HTTP is nil.
const DefaultTimeout = 30 * time.Second

// nairobi is Africa/Nairobi: UTC+3 with no daylight saving since 1960, so
// a fixed zone is exact and the binaries need no tzdata.
var nairobi = time.FixedZone("EAT", 3*60*60)

// Config configures a Client.
type Config struct {
	// BaseURL of Daraja; "" means SandboxURL. Production is
	// https://api.safaricom.co.ke; tests and the demo point it at the
	// Daraja simulator.
	BaseURL string
	// HTTP does the requests; nil means a client with DefaultTimeout per
	// request, dial/TLS/header timeouts and no redirects (a redirect
	// would carry the bearer token elsewhere).
	HTTP *http.Client
	// Logger receives one debug line per request and a warning per
	// error answer, never a secret; nil discards.
	Logger *slog.Logger
	// Now is the clock for timestamps and token expiry; nil means
	// time.Now.
	Now func() time.Time
	// Timeout bounds each call (token fetch, request and the one retry
	// after an invalid token) whose context has no deadline of its own;
	// 0 means DefaultTimeout.
	Timeout time.Duration
}

// Credentials are one tenant's Daraja app and shortcode, passed on every
// call. String and LogValue hide the secrets.
type Credentials struct {
	ConsumerKey    string
	ConsumerSecret string
	ShortCode      string // BusinessShortCode: the paybill, or the till's store number
	PassKey        string // Lipa Na M-Pesa Online passkey
	// TransactionType is PayBillOnline or BuyGoodsOnline; "" means
	// PayBillOnline.
	TransactionType string
	// PartyB receives the money: the till number for buy goods; ""
	// means ShortCode.
	PartyB string
}

// String names the credentials without their secrets.
func (c Credentials) String() string {
	return fmt.Sprintf("mpesa.Credentials{ConsumerKey:%s ShortCode:%s ConsumerSecret:[redacted] PassKey:[redacted]}", redactKey(c.ConsumerKey), c.ShortCode)
}

// GoString is String, so %#v does not print the secrets either.
func (c Credentials) GoString() string { return c.String() }

// LogValue logs the shortcode and a prefix of the consumer key only.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("consumer_key", redactKey(c.ConsumerKey)), slog.String("shortcode", c.ShortCode))
}

// redactKey keeps enough of a consumer key to tell apps apart in logs.
func redactKey(k string) string {
	if len(k) <= 4 {
		return "…"
	}
	return k[:4] + "…"
}

// Client calls Daraja for many tenants. It is safe for concurrent use.
type Client struct {
	base string
	http *http.Client
	log  *slog.Logger
	now  func() time.Time
	wait time.Duration

	mu     sync.Mutex
	tokens map[string]*tokenSlot
}

// tokenSlot caches one app's access token. sem (capacity 1) serialises
// fetches so that concurrent first uses wait for one fetch instead of
// each fetching, and waiting honours the caller's context.
type tokenSlot struct {
	sem     chan struct{}
	token   string
	expires time.Time
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	c := &Client{
		base:   strings.TrimRight(cfg.BaseURL, "/"),
		http:   cfg.HTTP,
		log:    cfg.Logger,
		now:    cfg.Now,
		wait:   cfg.Timeout,
		tokens: make(map[string]*tokenSlot),
	}
	if c.wait <= 0 {
		c.wait = DefaultTimeout
	}
	if c.base == "" {
		c.base = SandboxURL
	}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = DefaultTimeout
	t.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport: t,
		Timeout:   DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// maxResponse bounds what the client reads of a Daraja answer.
const maxResponse = MaxBodyBytes

// tokenMargin is how long before Daraja's expiry a cached token is
// replaced, so that a token never expires between check and use.
const tokenMargin = 60 * time.Second

func (c *Client) slot(creds Credentials) *tokenSlot {
	// The secret is part of the key: a tenant whose secret is wrong must
	// not be served another tenant's (or its own former) token for the
	// same consumer key.
	h := sha256.Sum256([]byte(creds.ConsumerKey + "\x00" + creds.ConsumerSecret))
	k := string(h[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.tokens[k]
	if s == nil {
		s = &tokenSlot{sem: make(chan struct{}, 1)}
		c.tokens[k] = s
	}
	return s
}

// token returns a valid access token for creds, fetching one when none is
// cached or the cached one is about to expire.
func (c *Client) token(ctx context.Context, creds Credentials) (string, error) {
	if creds.ConsumerKey == "" || creds.ConsumerSecret == "" {
		return "", controlplane.Errorf(controlplane.EINVALID, "mpesa credentials: consumer key and secret are required")
	}
	s := c.slot(creds)
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("daraja token: %w", ctx.Err())
	}
	defer func() { <-s.sem }()
	if s.token != "" && c.now().Before(s.expires) {
		return s.token, nil
	}
	tok, ttl, err := c.fetchToken(ctx, creds)
	if err != nil {
		return "", err
	}
	margin := tokenMargin
	if ttl <= 2*margin {
		margin = ttl / 2
	}
	s.token, s.expires = tok, c.now().Add(ttl-margin)
	return tok, nil
}

// dropToken forgets tok if it is still the cached token of creds (another
// caller may already have replaced it).
func (c *Client) dropToken(ctx context.Context, creds Credentials, tok string) {
	s := c.slot(creds)
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	if s.token == tok {
		s.token, s.expires = "", time.Time{}
	}
	<-s.sem
}

func (c *Client) fetchToken(ctx context.Context, creds Credentials) (string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/oauth/v1/generate?grant_type=client_credentials", nil)
	if err != nil {
		return "", 0, fmt.Errorf("daraja token: %w", err)
	}
	req.SetBasicAuth(creds.ConsumerKey, creds.ConsumerSecret)
	req.Header.Set("Accept", "application/json")
	status, body, err := c.send(req, "/oauth/v1/generate")
	if err != nil {
		return "", 0, fmt.Errorf("daraja token: %w", err)
	}
	if status != http.StatusOK {
		ae := parseAPIError(status, body)
		c.log.LogAttrs(ctx, slog.LevelWarn, "daraja token refused", slog.Any("app", creds), slog.Int("status", status), slog.String("code", ae.Code), slog.String("message", ae.Message))
		return "", 0, fmt.Errorf("daraja token: %w", ae)
	}
	var r struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"` // Daraja sends a string ("3599")
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", 0, fmt.Errorf("daraja token: malformed answer: %w", err)
	}
	secs, err := strconv.ParseInt(r.ExpiresIn.String(), 10, 64)
	if r.AccessToken == "" || err != nil || secs <= 0 || secs > 366*24*3600 {
		return "", 0, errors.New("daraja token: answer without access_token or a valid expires_in")
	}
	return r.AccessToken, time.Duration(secs) * time.Second, nil
}

// send does req and reads at most maxResponse bytes of the answer.
func (c *Client) send(req *http.Request, path string) (int, []byte, error) {
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return 0, nil, &transportError{op: req.Method + " " + path, err: ctxErr}
		}
		return 0, nil, &transportError{op: req.Method + " " + path, err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return 0, nil, &transportError{op: "read " + path, err: err}
	}
	if len(body) > maxResponse {
		return 0, nil, &transportError{op: "read " + path, err: fmt.Errorf("answer over %d bytes", maxResponse)}
	}
	c.log.LogAttrs(req.Context(), slog.LevelDebug, "daraja request", slog.String("method", req.Method), slog.String("path", path), slog.Int("status", resp.StatusCode), slog.Duration("took", time.Since(start)))
	return resp.StatusCode, body, nil
}

// call posts in as JSON to path with a bearer token for creds and decodes
// a 2xx answer into out. A 404.001.03 answer drops the token and retries
// once with a fresh one: the gateway refused the request before it reached
// M-Pesa, so the retry cannot duplicate a payment.
func (c *Client) call(ctx context.Context, creds Credentials, path string, in, out any) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("daraja %s: %w", path, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.wait)
		defer cancel()
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx, creds)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("daraja %s: %w", path, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		status, body, err := c.send(req, path)
		if err != nil {
			return err
		}
		if status >= 200 && status < 300 {
			if err := json.Unmarshal(body, out); err != nil {
				return &transportError{op: "decode " + path, err: err}
			}
			return nil
		}
		ae := parseAPIError(status, body)
		// Daraja has been seen echoing the token it refuses
		// ("Invalid Access Token - <token>"): keep it out of errors and logs.
		ae.Message = strings.ReplaceAll(ae.Message, tok, "[token]")
		if ae.Code == CodeInvalidToken && attempt == 0 {
			c.log.LogAttrs(ctx, slog.LevelInfo, "daraja refused the access token; fetching a new one", slog.Any("app", creds), slog.String("path", path))
			c.dropToken(ctx, creds, tok)
			continue
		}
		if ae.Code != CodeProcessing || path != pathSTKQuery {
			c.log.LogAttrs(ctx, slog.LevelWarn, "daraja error", slog.Any("app", creds), slog.String("path", path), slog.Int("status", status), slog.String("code", ae.Code), slog.String("message", ae.Message), slog.String("request_id", ae.RequestID))
		}
		return ae
	}
}
