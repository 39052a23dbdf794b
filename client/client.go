package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Options configure a Client. The zero value talks to the API without a
// token (enough for Login).
type Options struct {
	// Token is the bearer token sent with every request; empty sends
	// none.
	Token string
	// HTTPClient sends the requests; nil means a client of its own.
	HTTPClient *http.Client
	// Timeout bounds each request, on top of the caller's ctx; 0 means
	// 30 s, a negative value none.
	Timeout time.Duration
	// MaxBody caps an answer's size; 0 means 16 MiB.
	MaxBody int64
}

// Client calls the control plane's REST API (/api/v1). It is safe for
// concurrent use; WithToken returns a copy for another caller.
type Client struct {
	base string // e.g. http://127.0.0.1:8080, no trailing slash
	opts Options
}

// New returns a client of the control plane at baseURL (scheme, host and
// port, e.g. http://127.0.0.1:8080).
func New(baseURL string, opts Options) *Client {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = 16 << 20
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), opts: opts}
}

// BaseURL is the control plane's URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// Token is the bearer token the client sends ("" for none).
func (c *Client) Token() string { return c.opts.Token }

// WithToken returns a copy of c that sends token.
func (c *Client) WithToken(token string) *Client {
	cc := *c
	cc.opts.Token = token
	return &cc
}

// Error is an error answer of the API: its HTTP status and the
// {"error":{"code","message"}} body. It unwraps to the *controlplane.Error
// of that code, so controlplane.ErrorCode(err) works on it.
type Error struct {
	Method, Path string
	Status       int
	Code         string // a controlplane.E* code; "" when the body held none
	Message      string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %s (HTTP %d)", e.Method, e.Path, msg, e.Status)
}

// Unwrap returns the answer as a *controlplane.Error (nil without a
// code).
func (e *Error) Unwrap() error {
	if e.Code == "" {
		return nil
	}
	return &controlplane.Error{Code: e.Code, Message: e.Message}
}

// Do sends body (as JSON; nil sends none) with method to path (from
// /api/…, query included) and decodes a 2xx answer into out (unless nil).
// An error answer is an *Error. The typed methods are built on it; use it
// for what they do not cover.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	_, err := c.DoCount(ctx, method, path, body, out)
	return err
}

// DoCount is Do that also returns how many answer bytes it read, for
// benchmarks that count traffic.
func (c *Client) DoCount(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	contentType := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd, contentType = bytes.NewReader(b), "application/json"
	}
	return c.send(ctx, method, path, contentType, rd, out)
}

func (c *Client) send(ctx context.Context, method, path, contentType string, body io.Reader, out any) (int, error) {
	if c.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
	res, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, c.opts.MaxBody))
	if err != nil {
		return len(b), fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		e := &Error{Method: method, Path: path, Status: res.StatusCode}
		var eb controlplane.ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			e.Code, e.Message = eb.Error.Code, eb.Error.Message
		} else {
			e.Message = strings.TrimSpace(string(b))
			if len(e.Message) > 200 {
				e.Message = e.Message[:200] + "…"
			}
		}
		return len(b), e
	}
	if raw, ok := out.(*[]byte); ok { // a file, such as a voucher sheet's PDF
		*raw = b
		return len(b), nil
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return len(b), fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return len(b), nil
}

// query encodes the non-empty values of kv (name, value, name, value…).
func query(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
