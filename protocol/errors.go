package protocol

import (
	"errors"
	"fmt"
)

// ErrTooLarge is returned when a payload exceeds MaxPayloadSize.
var ErrTooLarge = errors.New("payload too large")

// VersionError reports an envelope whose "v" is not Version.
type VersionError struct {
	Got int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("unsupported version %d (want %d)", e.Got, Version)
}

// FieldError reports an invalid or missing field, named by its JSON path
// (for example "events[3].session.key").
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	return e.Field + ": " + e.Reason
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Reason classifies a decode error for metrics: "too_large", "version",
// "invalid_field" or "malformed".
func Reason(err error) string {
	var ve *VersionError
	var fe *FieldError
	switch {
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.As(err, &ve):
		return "version"
	case errors.As(err, &fe):
		return "invalid_field"
	default:
		return "malformed"
	}
}
