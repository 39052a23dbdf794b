package mpesa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Daraja error codes the client acts on.
const (
	// CodeInvalidToken is Daraja's answer to an expired or revoked access
	// token; the client drops its cached token and retries once.
	CodeInvalidToken = "404.001.03"
	// CodeProcessing is the STK query's answer while the customer has not
	// finished ("The transaction is being processed"); STKQuery reports it
	// as Pending.
	CodeProcessing = "500.001.1001"
)

// APIError is an error answer from Daraja: its error body
// ({"requestId","errorCode","errorMessage"}) or, for a 200 answer that
// refuses the request, its ResponseCode and ResponseDescription.
type APIError struct {
	Status    int    // HTTP status of the answer
	RequestID string // Daraja's requestId, for Safaricom support
	Code      string // errorCode such as "400.002.02", or a non-zero ResponseCode
	Message   string // errorMessage; Daraja's text, never one of our secrets
}

// Error renders the status, code, message and request id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "daraja: HTTP %d", e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request %s)", e.RequestID)
	}
	return b.String()
}

// parseAPIError reads Daraja's error body. OAuth failures have used other
// shapes over time ({"resultCode","resultDesc"}, or an empty body), so
// those are read too; anything else keeps a clipped copy of the text.
func parseAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var b struct {
		RequestID    string `json:"requestId"`
		ErrorCode    any    `json:"errorCode"`
		ErrorMessage string `json:"errorMessage"`
		ResultCode   any    `json:"resultCode"`
		ResultDesc   string `json:"resultDesc"`
	}
	if json.Unmarshal(body, &b) == nil {
		e.RequestID = b.RequestID
		e.Code = scalarText(b.ErrorCode)
		e.Message = b.ErrorMessage
		if e.Code == "" {
			e.Code = scalarText(b.ResultCode)
		}
		if e.Message == "" {
			e.Message = b.ResultDesc
		}
	}
	if e.Code == "" && e.Message == "" {
		e.Message = clip(strings.TrimSpace(string(body)))
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
	}
	return e
}

func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	}
	return ""
}

// IsRetryable reports whether err is worth retrying later: Daraja's 5xx
// and 429 answers, timeouts and network failures. A cancelled context is
// not retryable: the caller gave up.
//
// For STKPush a timeout or network failure leaves the outcome unknown (the
// prompt may have reached the phone): resolve it with STKQuery or the
// callback before pushing again.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500 || ae.Status == http.StatusTooManyRequests
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te *transportError
	if errors.As(err, &te) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// IsPermanent reports whether err will fail the same way if retried: a
// request Daraja refused as invalid (4xx other than 429, or a 200 with a
// non-zero ResponseCode), refused credentials, or input this package
// refused before sending (EINVALID).
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status < 500 && ae.Status != http.StatusTooManyRequests
	}
	return controlplane.ErrorCode(err) == controlplane.EINVALID
}

// transportError is a request that got no answer from Daraja (dial, TLS,
// timeout, reset, unreadable body).
type transportError struct {
	op  string
	err error
}

func (e *transportError) Error() string { return "daraja: " + e.op + ": " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }
