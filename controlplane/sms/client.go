package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Base URLs of Africa's Talking.
const (
	ProductionBaseURL = "https://api.africastalking.com"
	SandboxBaseURL    = "https://api.sandbox.africastalking.com"
)

// DefaultTimeout bounds a send when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Config configures a Client.
type Config struct {
	// BaseURL is the API's base; "" means ProductionBaseURL.
	BaseURL string
	// HTTPClient does the requests; nil means a new http.Client.
	HTTPClient *http.Client
	// Timeout bounds one send; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Credentials are a tenant's Africa's Talking application.
type Credentials struct {
	Username string
	APIKey   string // secret: never logged nor in errors
	SenderID string // "" means the account's default sender
}

// String hides the apiKey.
func (c Credentials) String() string {
	return fmt.Sprintf("sms.Credentials{Username:%s SenderID:%s APIKey:[redacted]}", c.Username, c.SenderID)
}

// LogValue hides the apiKey.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", c.Username), slog.String("sender_id", c.SenderID))
}

// Client sends SMS. It is safe for concurrent use.
type Client struct {
	base string
	http *http.Client
	wait time.Duration
	log  *slog.Logger
}

// New returns a Client configured by cfg.
func New(cfg Config) *Client {
	c := &Client{base: strings.TrimRight(cfg.BaseURL, "/"), http: cfg.HTTPClient, wait: cfg.Timeout, log: cfg.Logger}
	if c.base == "" {
		c.base = ProductionBaseURL
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.wait <= 0 {
		c.wait = DefaultTimeout
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// SendError is a failed send. It unwraps to a *controlplane.Error, so
// controlplane.ErrorCode gives its code.
type SendError struct {
	Err        *controlplane.Error
	HTTPStatus int    // 0 when no answer came
	StatusCode int    // the recipient's statusCode in a 201 answer, else 0
	Status     string // its status text (InvalidPhoneNumber, …)
	maybeSent  bool
}

func (e *SendError) Error() string { return "africastalking: " + e.Err.Error() }

// Unwrap returns the controlplane error.
func (e *SendError) Unwrap() error { return e.Err }

// MaybeSent reports whether a failed send may nevertheless have been
// taken by the gateway: the request was written and no answer came (a
// timeout, a reset connection) or a proxy answered 504. A caller avoiding
// duplicates should not resend blindly then.
func MaybeSent(err error) bool {
	var e *SendError
	return errors.As(err, &e) && e.maybeSent
}

func fail(code string, maybe bool, status int, format string, args ...any) *SendError {
	return &SendError{Err: controlplane.Errorf(code, format, args...), HTTPStatus: status, maybeSent: maybe}
}

// Send sends text to one number (international format, +2547…) and
// returns the gateway's message id (ATXid_…), which delivery reports
// carry. Errors are *SendError: EINVALID for a refused number or sender
// id or a 400 (do not retry), EUNAUTHORIZED for bad credentials,
// EFORBIDDEN for an account on risk hold, EUNAVAILABLE for 5xx answers,
// timeouts, insufficient balance and gateway errors (retry later),
// ERATELIMIT for 429.
func (c *Client) Send(ctx context.Context, cr Credentials, to, text string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	form := url.Values{"username": {cr.Username}, "to": {to}, "message": {text}}
	if cr.SenderID != "" {
		form.Set("from", cr.SenderID)
	}
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/version1/messaging", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fail(controlplane.EINVALID, false, 0, "base url: %v", redact(err.Error(), cr.APIKey))
	}
	req.Header.Set("apiKey", cr.APIKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		msg := err.Error()
		if errors.As(err, &ue) {
			msg = ue.Err.Error()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "request timed out"
		}
		c.log.Debug("sms send failed", "to", to, "creds", cr, "err", redact(msg, cr.APIKey), "maybe_sent", wrote.Load())
		return "", fail(controlplane.EUNAVAILABLE, wrote.Load(), 0, "send: %s", redact(msg, cr.APIKey))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fail(controlplane.EUNAVAILABLE, true, resp.StatusCode, "read answer: %s", redact(err.Error(), cr.APIKey))
	}
	text2 := clip(redact(strings.TrimSpace(string(body)), cr.APIKey))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", fail(controlplane.EUNAUTHORIZED, false, resp.StatusCode, "HTTP %d: %s", resp.StatusCode, text2)
	case resp.StatusCode == http.StatusTooManyRequests:
		return "", fail(controlplane.ERATELIMIT, false, resp.StatusCode, "HTTP 429: %s", text2)
	case resp.StatusCode >= 500:
		return "", fail(controlplane.EUNAVAILABLE, resp.StatusCode == http.StatusGatewayTimeout, resp.StatusCode, "HTTP %d: %s", resp.StatusCode, text2)
	case resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK:
		return "", fail(controlplane.EINVALID, false, resp.StatusCode, "HTTP %d: %s", resp.StatusCode, text2)
	}
	var out struct {
		SMSMessageData struct {
			Message    string
			Recipients []struct {
				StatusCode int    `json:"statusCode"`
				Number     string `json:"number"`
				Status     string `json:"status"`
				MessageID  string `json:"messageId"`
			}
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fail(controlplane.EUNAVAILABLE, true, resp.StatusCode, "undecodable answer: %s", text2)
	}
	if len(out.SMSMessageData.Recipients) == 0 {
		return "", fail(controlplane.EINVALID, false, resp.StatusCode, "no recipient taken: %s", clip(out.SMSMessageData.Message))
	}
	r := out.SMSMessageData.Recipients[0]
	if r.StatusCode >= 100 && r.StatusCode <= 102 {
		c.log.Debug("sms sent", "to", to, "message_id", r.MessageID, "status", r.Status)
		return r.MessageID, nil
	}
	code := controlplane.EUNAVAILABLE
	switch r.StatusCode {
	case 402, 403, 404, 406:
		code = controlplane.EINVALID
	case 401:
		code = controlplane.EFORBIDDEN
	}
	e := fail(code, false, resp.StatusCode, "recipient %s: %d %s", to, r.StatusCode, clip(r.Status))
	e.StatusCode, e.Status = r.StatusCode, r.Status
	return "", e
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
