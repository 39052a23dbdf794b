package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
)

type ctxKey int

const (
	requestKey ctxKey = iota
	principalKey
)

// requestInfo travels in the request context so that the outermost
// middleware can log what inner handlers learned (the caller's user id).
type requestInfo struct {
	id     string
	userID int64
}

func requestID(ctx context.Context) string {
	if ri, ok := ctx.Value(requestKey).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

// PrincipalFrom returns the authenticated caller stored by the API's auth
// middleware.
func PrincipalFrom(ctx context.Context) (controlplane.Principal, bool) {
	p, ok := ctx.Value(principalKey).(controlplane.Principal)
	return p, ok
}

// metrics are the API's Prometheus collectors, labelled by route pattern
// (never the raw path, whose ids would explode cardinality).
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	panics   prometheus.Counter
	logins   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_http_requests_total",
			Help: "REST API requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sitepulse_http_request_duration_seconds",
			Help:    "REST API request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitepulse_http_panics_total",
			Help: "REST API handler panics recovered into a 500 answer.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitepulse_http_logins_total",
			Help: "Login attempts by result (ok, unauthorized, rate_limited, invalid).",
		}, []string{"result"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.panics, m.logins} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register api metrics: %w", err)
			}
		}
	}
	return m, nil
}

// statusWriter records what a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// muxErrorWriter replaces the ServeMux's plain-text 404/405 body with the
// API's JSON error shape.
type muxErrorWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *muxErrorWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.Header().Del("X-Content-Type-Options")
	msg := "no such endpoint"
	if status == http.StatusMethodNotAllowed {
		msg = "method not allowed; see the Allow header"
	}
	writeJSON(w.ResponseWriter, status, controlplane.ErrorBody{Error: controlplane.ErrorDetail{Code: muxErrorCode(status), Message: msg}})
}

func (w *muxErrorWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return len(b), nil // the mux's text body is dropped
}

// ServeHTTP assigns a request id, recovers panics into a 500 JSON answer,
// records metrics by route pattern and writes one access-log line. The
// log line holds method, path, route, status, size, duration, request id
// and user id: never headers (Authorization) nor bodies (passwords).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	ri := &requestInfo{id: incomingRequestID(r.Header.Get("X-Request-Id"))}
	r = r.WithContext(context.WithValue(r.Context(), requestKey, ri))
	w.Header().Set("X-Request-Id", ri.id)
	sw := &statusWriter{ResponseWriter: w}

	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.metrics.panics.Inc()
			s.log.ErrorContext(r.Context(), "handler panic",
				slog.String("request_id", ri.id),
				slog.String("route", r.Pattern),
				slog.Any("panic", v),
				slog.String("stack", string(debug.Stack())))
			if sw.status == 0 {
				writeJSON(sw, http.StatusInternalServerError, controlplane.ErrorBody{Error: controlplane.ErrorDetail{Code: controlplane.EINTERNAL, Message: "internal error"}})
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		elapsed := s.now().Sub(start)
		s.metrics.requests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(status)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
		attrs := []slog.Attr{
			slog.String("request_id", ri.id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int("bytes", sw.bytes),
			slog.Duration("duration", elapsed),
			slog.String("remote", r.RemoteAddr),
		}
		if ri.userID != 0 {
			attrs = append(attrs, slog.Int64("user_id", ri.userID))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
	}()

	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.mux.ServeHTTP(&muxErrorWriter{ResponseWriter: sw}, r)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// methodLabel bounds the method label: clients may send any token as a
// method, and each would otherwise become a new time series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// incomingRequestID keeps a caller's X-Request-Id when it is short and
// plain (so it cannot forge log lines), otherwise makes a new one.
func incomingRequestID(v string) string {
	if v != "" && len(v) <= 64 && strings.IndexFunc(v, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')
	}) < 0 {
		return v
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// bearer returns the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Authenticate returns the principal of r's bearer token, or
// EUNAUTHORIZED. Other HTTP handlers served beside the API (the Pusher
// channel-auth endpoint) use it so dashboards send one token everywhere.
func (s *Server) Authenticate(r *http.Request) (controlplane.Principal, error) {
	tok, ok := bearer(r)
	if !ok {
		return controlplane.Principal{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "missing bearer token")
	}
	p, err := s.store.Authenticate(r.Context(), tok)
	if err != nil {
		if controlplane.ErrorCode(err) == controlplane.EUNAUTHORIZED {
			return controlplane.Principal{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "invalid, expired or revoked token")
		}
		return controlplane.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return p, nil
}

// handlerFunc is an API handler: it writes its answer, or returns the
// error for its adapter to write (writeError) and writes nothing.
type handlerFunc = func(http.ResponseWriter, *http.Request) error

// authedFunc is an API handler that needs a caller, as handlerFunc.
type authedFunc = func(http.ResponseWriter, *http.Request, controlplane.Principal) error

// public adapts a handler that needs no caller: an error it returns is
// answered with writeError.
func (s *Server) public(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// authed adapts a handler that needs a caller: it answers 401 without a
// valid token and otherwise passes the principal in the context; an error
// the handler returns is answered with writeError.
func (s *Server) authed(h authedFunc) http.HandlerFunc {
	return s.public(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.Authenticate(r)
		if err != nil {
			if controlplane.ErrorCode(err) == controlplane.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sitepulse"`)
			}
			return err
		}
		if ri, ok := r.Context().Value(requestKey).(*requestInfo); ok {
			ri.userID = p.UserID
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)), p)
	})
}
