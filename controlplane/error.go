package controlplane

import (
	"errors"
	"fmt"
)

// Error codes shared by every adapter. HTTPStatus (httpstatus.go) maps
// them to HTTP statuses in one table for the REST API and the Pusher
// endpoints; the broker maps them to MQTT reason codes.
const (
	EINVALID      = "invalid"      // bad input; Message names the field
	ENOTFOUND     = "not_found"    // missing, or belongs to another tenant
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	EFORBIDDEN    = "forbidden"    // authenticated but the role does not allow it
	ECONFLICT     = "conflict"     // duplicate or wrong state
	ETOOLARGE     = "too_large"    // body or payload over its limit
	ERATELIMIT    = "rate_limited" // too many attempts
	EUNAVAILABLE  = "unavailable"  // shutting down or a dependency is down
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is an application error with a code safe to show to a caller.
// Message must never contain secrets.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the *Error's message,
// or a generic text for internal errors so that no detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code and caller-safe message of an error answer.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
