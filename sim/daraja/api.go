package daraja

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// eat is Kenya's time zone (UTC+3, no daylight saving): Daraja's
// timestamps are local times in Africa/Nairobi.
var eat = time.FixedZone("EAT", 3*60*60)

const timestampLayout = "20060102150405"

// Handler returns the Daraja API: OAuth, STK push and query, C2B.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/v1/generate", s.handleToken)
	mux.HandleFunc("/mpesa/stkpush/v1/processrequest", s.post(s.stkPush))
	mux.HandleFunc("/mpesa/stkpushquery/v1/query", s.post(s.stkQuery))
	for _, v := range []string{"v1", "v2"} {
		mux.HandleFunc("/mpesa/c2b/"+v+"/registerurl", s.post(s.registerURL(v)))
		mux.HandleFunc("/mpesa/c2b/"+v+"/simulate", s.post(s.c2bSimulate))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, errNotFound)
	})
	return mux
}

func (s *Server) requestID() string {
	var b [12]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x", b[0:2], b[2:4], b[4:6], b[6:])
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	out := *e
	out.ID = s.requestID()
	s.metrics.errors.WithLabelValues(e.Code).Inc()
	s.writeJSON(w, e.Status, &out)
}

// handleToken is GET /oauth/v1/generate?grant_type=client_credentials.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.writeError(w, errMethod(r.Method))
		return
	}
	if r.URL.Query().Get("grant_type") != "client_credentials" {
		s.writeError(w, errGrantType)
		return
	}
	key, secret, ok := r.BasicAuth()
	s.mu.Lock()
	want, known := s.apps[key]
	s.mu.Unlock()
	if !ok || !known || want != secret {
		s.metrics.tokens.WithLabelValues("refused").Inc()
		s.writeError(w, errBasicAuth)
		return
	}
	var b [21]byte
	rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	now := s.now()
	// Forget expired tokens so the map does not grow with a long run.
	for t, v := range s.tokens {
		if !now.Before(v.expires) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = token{app: key, expires: now.Add(s.opts.TokenTTL)}
	s.mu.Unlock()
	s.metrics.tokens.WithLabelValues("issued").Inc()
	// Daraja sends expires_in as a string.
	secs := int64(s.opts.TokenTTL/time.Second) - 1
	if secs < 0 {
		secs = 0
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"access_token": tok, "expires_in": strconv.FormatInt(secs, 10)})
}

// post wraps a JSON POST endpoint: method, bearer token, body size and
// content type, then h with the decoded members.
func (s *Server) post(h func(r *http.Request, f fields) (any, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			s.writeError(w, errMethod(r.Method))
			return
		}
		if e := s.checkBearer(r); e != nil {
			if e == errInvalidToken && strings.HasPrefix(r.URL.Path, "/mpesa/c2b/") {
				// The C2B documentation gives its own code for a bad token.
				e = errC2BInvalidToken
			}
			s.writeError(w, e)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBody))
		if err != nil {
			s.writeError(w, errInvalidPayload)
			return
		}
		// Daraja reads a body that is not declared JSON as empty: its FAQ
		// lists a wrong Content-Type as a cause of "Invalid BusinessShortCode".
		f := fields{}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
			if f, err = decodeFields(body); err != nil {
				s.writeError(w, errInvalidPayload)
				return
			}
		}
		out, e := h(r, f)
		if e != nil {
			s.writeError(w, e)
			return
		}
		s.writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) checkBearer(r *http.Request) *apiError {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return errAuthHeader
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, known := s.tokens[strings.TrimSpace(tok)]
	if !known || !s.now().Before(t.expires) {
		return errInvalidToken
	}
	return nil
}

// validURL reports whether u is an absolute http(s) URL with a host (https
// only in production).
func (s *Server) validURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.Hostname() == "" {
		return false
	}
	if s.opts.Production {
		return p.Scheme == "https"
	}
	return p.Scheme == "https" || p.Scheme == "http"
}

// checkPassword checks a request's BusinessShortCode, Password and
// Timestamp against the shortcode's passkey.
func (s *Server) checkPassword(f fields) *apiError {
	code := f.str("BusinessShortCode")
	if !reShortCode.MatchString(code) {
		return errBadField("BusinessShortCode")
	}
	if f.str("Password") == "" {
		return errBadField("Password")
	}
	ts := f.str("Timestamp")
	if _, err := time.ParseInLocation(timestampLayout, ts, eat); err != nil || !reTimestamp.MatchString(ts) {
		return errBadField("Timestamp")
	}
	s.mu.Lock()
	passkey, ok := s.passkeys[code]
	s.mu.Unlock()
	if !ok {
		return errNoMerchant
	}
	if f.str("Password") != Password(code, passkey, ts) {
		return errWrongCredentials
	}
	return nil
}

// Password is Daraja's STK password: base64(shortcode + passkey +
// timestamp).
func Password(shortCode, passkey, timestamp string) string {
	return base64.StdEncoding.EncodeToString([]byte(shortCode + passkey + timestamp))
}

// Timestamp formats t as Daraja's YYYYMMDDHHMMSS in Africa/Nairobi.
func Timestamp(t time.Time) string { return t.In(eat).Format(timestampLayout) }
