package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Message is implemented by every envelope type.
type Message interface {
	// Validate checks every field and returns a *FieldError or *VersionError.
	Validate() error
}

// Encode validates m and returns its JSON encoding; it refuses messages over
// MaxPayloadSize so that a peer never receives one it must reject.
func Encode(m Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode %T: %w", m, err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", m, err)
	}
	if len(b) > MaxPayloadSize {
		return nil, fmt.Errorf("encode %T: %d bytes: %w", m, len(b), ErrTooLarge)
	}
	return b, nil
}

// DecodeEventBatch decodes and validates an events payload.
func DecodeEventBatch(b []byte) (*EventBatch, error) { return decode[EventBatch](b) }

// DecodeStatus decodes and validates a status payload.
func DecodeStatus(b []byte) (*Status, error) { return decode[Status](b) }

// DecodeCommand decodes and validates a command payload.
func DecodeCommand(b []byte) (*Command, error) { return decode[Command](b) }

// DecodeCommandResult decodes and validates a command result payload.
func DecodeCommandResult(b []byte) (*CommandResult, error) { return decode[CommandResult](b) }

type message[T any] interface {
	*T
	Message
}

func decode[T any, P message[T]](b []byte) (P, error) {
	if len(b) > MaxPayloadSize {
		return nil, fmt.Errorf("%d bytes: %w", len(b), ErrTooLarge)
	}
	// Check the version first so that a newer peer's message is reported as
	// such rather than as whatever field no longer parses.
	var head struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		// Syntax errors win over type errors in encoding/json, so a type
		// error here means well-formed JSON whose "v" is not a number.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "v" {
			return nil, fieldErr("v", "want a number, got JSON %s", te.Value)
		}
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if head.V == nil {
		return nil, fieldErr("v", "required")
	}
	if *head.V != Version {
		return nil, &VersionError{Got: *head.V}
	}
	p := P(new(T))
	if err := json.Unmarshal(b, p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			// encoding/json names the path without slice indexes
			// ("events.seq"), unlike Validate ("events[3].seq").
			return nil, fieldErr(te.Field, "want %s, got JSON %s", te.Type, te.Value)
		}
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}
