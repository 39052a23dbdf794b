package telegram

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
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// DefaultBaseURL is the Bot API's base.
const DefaultBaseURL = "https://api.telegram.org"

// DefaultTimeout bounds a send when Config.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Config configures a Client.
type Config struct {
	// BaseURL is the API's base; "" means DefaultBaseURL.
	BaseURL string
	// HTTPClient does the requests; nil means a new http.Client.
	HTTPClient *http.Client
	// Timeout bounds one send; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Client sends bot messages. It is safe for concurrent use.
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
		c.base = DefaultBaseURL
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

// Error is a failed send. It unwraps to a *controlplane.Error.
type Error struct {
	Err         *controlplane.Error
	ErrorCode   int           // the answer's error_code (its HTTP status), 0 when none came
	Description string        // Telegram's description
	RetryAfter  time.Duration // parameters.retry_after of a 429; wait that long
	maybeSent   bool
}

func (e *Error) Error() string { return "telegram: " + e.Err.Error() }

// Unwrap returns the controlplane error.
func (e *Error) Unwrap() error { return e.Err }

// MaybeSent reports whether a failed send may nevertheless have been
// delivered: the request was written and no answer came.
func MaybeSent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.maybeSent
}

// RetryAfter returns how long Telegram asked to wait before the next
// send (a 429), or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Send sends text to chatID (a numeric chat id or @channel) as plain text
// and returns the message id. Errors are *Error: EINVALID for 400 (chat
// not found, empty or too long text: do not retry), EUNAUTHORIZED for an
// unknown token (401, 404), EFORBIDDEN when the bot was blocked (403),
// ERATELIMIT for 429 with RetryAfter set, EUNAVAILABLE for 5xx and
// timeouts.
func (c *Client) Send(ctx context.Context, botToken, chatID, text string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}})
	body, _ := json.Marshal(map[string]string{"chat_id": chatID, "text": text})
	fail := func(code string, maybe bool, format string, args ...any) *Error {
		msg := strings.ReplaceAll(fmt.Sprintf(format, args...), botToken, "[redacted]")
		return &Error{Err: &controlplane.Error{Code: code, Message: msg}, maybeSent: maybe}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/bot"+botToken+"/sendMessage", strings.NewReader(string(body)))
	if err != nil {
		return 0, fail(controlplane.EINVALID, false, "bad base url or token")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error prints the URL, which holds the token: keep only the cause.
		msg := "request failed"
		var ue *url.Error
		if errors.As(err, &ue) {
			msg = ue.Err.Error()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			msg = "request timed out"
		}
		e := fail(controlplane.EUNAVAILABLE, wrote.Load(), "sendMessage: %s", msg)
		c.log.Debug("telegram send failed", "chat_id", chatID, "err", e.Err.Message, "maybe_sent", e.maybeSent)
		return 0, e
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, fail(controlplane.EUNAVAILABLE, true, "read answer: %v", err)
	}
	var out struct {
		OK          bool   `json:"ok"`
		ErrorCode   int    `json:"error_code"`
		Description string `json:"description"`
		Result      struct {
			MessageID int64 `json:"message_id"`
		} `json:"result"`
		Parameters struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		code := controlplane.EUNAVAILABLE
		if resp.StatusCode < 500 && resp.StatusCode != http.StatusOK {
			code = controlplane.EINVALID
		}
		return 0, fail(code, resp.StatusCode == http.StatusOK, "HTTP %d: undecodable answer", resp.StatusCode)
	}
	if out.OK && resp.StatusCode == http.StatusOK {
		c.log.Debug("telegram sent", "chat_id", chatID, "message_id", out.Result.MessageID)
		return out.Result.MessageID, nil
	}
	status := out.ErrorCode
	if status == 0 {
		status = resp.StatusCode
	}
	code := controlplane.EUNAVAILABLE
	switch {
	case status == http.StatusTooManyRequests:
		code = controlplane.ERATELIMIT
	case status == http.StatusUnauthorized || status == http.StatusNotFound:
		code = controlplane.EUNAUTHORIZED
	case status == http.StatusForbidden:
		code = controlplane.EFORBIDDEN
	case status >= 400 && status < 500:
		code = controlplane.EINVALID
	}
	desc := out.Description
	if len(desc) > 200 {
		desc = desc[:200]
	}
	e := fail(code, false, "HTTP %s: %s", strconv.Itoa(status), desc)
	e.ErrorCode, e.Description = status, strings.ReplaceAll(desc, botToken, "[redacted]")
	if out.Parameters.RetryAfter > 0 {
		e.RetryAfter = time.Duration(out.Parameters.RetryAfter) * time.Second
	}
	return 0, e
}
