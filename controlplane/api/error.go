package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

// muxErrorCode is the error code of the ServeMux's own 404 and 405
// answers, which come from no error: the code controlplane.HTTPStatus maps
// to status, and "method_not_allowed" for 405, which no code maps to.
func muxErrorCode(status int) string {
	if status == http.StatusMethodNotAllowed {
		return "method_not_allowed"
	}
	return controlplane.ErrorCodeOf(status)
}

// writeError answers err as JSON. Internal errors are logged with the
// request id and answered with a generic message so no detail leaks.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := controlplane.ErrorCode(err)
	status := controlplane.HTTPStatus(code)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed",
			slog.String("request_id", requestID(r.Context())),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Any("err", err))
	}
	writeJSON(w, status, controlplane.ErrorBody{Error: controlplane.ErrorDetail{Code: code, Message: controlplane.ErrorMessage(err)}})
}

// writeJSON answers v with status. Encoding errors can only be bugs in our
// own types, and the header is already sent, so they are not reported.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeJSON reads one JSON object from r's body into v, limited to
// s.opts.MaxBodyBytes. Unknown fields, wrong types, trailing data and an
// oversized body are errors whose message names the field when there is
// one.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		if strings.TrimSpace(strings.ToLower(mt)) != "application/json" {
			return controlplane.Errorf(controlplane.EINVALID, "Content-Type must be application/json, not %q", mt)
		}
	}
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	// Exactly one value: "{} {}" or "{}x" is a client bug worth reporting.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return controlplane.Errorf(controlplane.EINVALID, "request body must hold exactly one JSON object")
	}
	return nil
}

// jsonError turns an encoding/json decode error into an EINVALID (or
// ETOOLARGE) error that names the offending field.
func jsonError(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return controlplane.Errorf(controlplane.ETOOLARGE, "request body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return controlplane.Errorf(controlplane.EINVALID, "request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return controlplane.Errorf(controlplane.EINVALID, "request body is truncated JSON")
	case errors.As(err, &se):
		return controlplane.Errorf(controlplane.EINVALID, "request body is not valid JSON (at byte %d)", se.Offset)
	case errors.As(err, &ute):
		if ute.Field == "" {
			return controlplane.Errorf(controlplane.EINVALID, "request body must be a JSON object, not %s", ute.Value)
		}
		return controlplane.Errorf(controlplane.EINVALID, "%s: must be %s, not %s", ute.Field, jsonTypeName(ute.Type.Kind().String()), ute.Value)
	}
	// encoding/json reports unknown fields only as text.
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, uerr := strconv.Unquote(f)
		if uerr != nil {
			name = f
		}
		return controlplane.Errorf(controlplane.EINVALID, "%s: unknown field", name)
	}
	return controlplane.Errorf(controlplane.EINVALID, "request body: %v", err)
}

// jsonTypeName names a Go kind the way a JSON client thinks of it.
func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return kind
}

// invalid returns an EINVALID error whose message starts with the field.
func invalid(field, format string, args ...any) error {
	return controlplane.Errorf(controlplane.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
}

// forbidden returns an EFORBIDDEN error.
func forbidden(format string, args ...any) error {
	return controlplane.Errorf(controlplane.EFORBIDDEN, format, args...)
}
