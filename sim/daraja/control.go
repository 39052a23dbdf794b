package daraja

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// AddApp lets another application get tokens (a second tenant's
// credentials). An existing key gets the new secret.
func (s *Server) AddApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[a.ConsumerKey] = a.ConsumerSecret
}

// AddShortcode lets a shortcode receive payments with passkey.
func (s *Server) AddShortcode(c Shortcode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passkeys[c.ShortCode] = c.Passkey
}

// Script queues outcomes for the next pushes to phone (2547…), in order;
// phone "" queues them for the next pushes to any phone. Per-phone
// outcomes come first, then "any phone" ones, then the policy.
func (s *Server) Script(phone string, outcomes ...Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if phone == "" {
		s.next = append(s.next, outcomes...)
		return
	}
	s.byPhone[phone] = append(s.byPhone[phone], outcomes...)
}

// ClearScripts drops every queued outcome.
func (s *Server) ClearScripts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = nil
	s.byPhone = map[string][]Outcome{}
}

// SetPolicy replaces the outcome policy of unscripted pushes.
func (s *Server) SetPolicy(p Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = p
}

// Policy returns the outcome policy.
func (s *Server) Policy() Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// ErrNotFound is returned for an unknown transaction.
var ErrNotFound = errors.New("no such transaction")

// Release makes the customer of a held (or still delayed) push answer now.
func (s *Server) Release(id string) error {
	s.mu.Lock()
	t, ok := s.txs[id]
	if !ok {
		s.mu.Unlock()
		return ErrNotFound
	}
	if t.State != StatePending {
		s.mu.Unlock()
		return fmt.Errorf("transaction %s is %s already", id, t.State)
	}
	if stop, ok := s.timers[id]; ok {
		stop()
	}
	s.mu.Unlock()
	s.answer(id)
	return nil
}

// ExpireTokens makes every issued token invalid, as if an hour had
// passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]token{}
}

// Transactions returns every push and C2B payment, oldest first.
func (s *Server) Transactions() []Transaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Transaction, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.copyTx(s.txs[id]))
	}
	return out
}

// Transaction returns one transaction by CheckoutRequestID or TransID.
func (s *Server) Transaction(id string) (Transaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.txs[id]
	if !ok {
		return Transaction{}, false
	}
	return s.copyTx(t), true
}

func (s *Server) copyTx(t *Transaction) Transaction {
	c := *t
	c.Deliveries = slices.Clone(t.Deliveries)
	return c
}

// Resend sends an answered transaction's callback (STK) or confirmation
// (C2B) again, to url or, when url is "", to where it went first. It
// returns the merchant's HTTP status.
func (s *Server) Resend(ctx context.Context, id, url string) (int, error) {
	s.mu.Lock()
	t, ok := s.txs[id]
	if !ok {
		s.mu.Unlock()
		return 0, ErrNotFound
	}
	if t.State == StatePending {
		s.mu.Unlock()
		return 0, fmt.Errorf("transaction %s has not been answered yet", id)
	}
	var body []byte
	if t.Kind == "stk" {
		body = s.callbackBody(t)
		if url == "" {
			url = t.CallbackURL
		}
	} else {
		for _, d := range t.Deliveries {
			if d.Kind == "confirmation" && url == "" {
				url = d.URL
			}
		}
		reg := s.c2b[t.ShortCode]
		body, _ = json.Marshal(C2BNotification{
			TransactionType: t.TransactionType, TransID: t.TransID, TransTime: Timestamp(t.CreatedAt),
			TransAmount: fmt.Sprintf("%d.00", t.Amount), BusinessShortCode: t.ShortCode, BillRefNumber: t.AccountReference,
			MSISDN: msisdnFor(reg.version, t.Phone), FirstName: t.firstName,
		})
	}
	s.mu.Unlock()
	if url == "" {
		return 0, fmt.Errorf("transaction %s has no URL to resend to", id)
	}
	status, _, err := s.deliverCtx(ctx, id, "resend", url, body)
	return status, err
}

// SendCallback POSTs a forged STK callback, {"Body":{"stkCallback":cb}},
// to url and returns the HTTP status. Use SuccessMetadata for a
// successful one's items.
func (s *Server) SendCallback(ctx context.Context, url string, cb STKCallback) (int, error) {
	var env callbackEnvelope
	env.Body.STKCallback = cb
	b, err := json.Marshal(env)
	if err != nil {
		return 0, err
	}
	return s.SendRaw(ctx, url, b)
}

// SendRaw POSTs body as JSON to url (a malformed or oversized callback)
// and returns the HTTP status.
func (s *Server) SendRaw(ctx context.Context, url string, body []byte) (int, error) {
	status, _, err := s.deliverCtx(ctx, "", "forged", url, body)
	return status, err
}

// SuccessMetadata returns the CallbackMetadata Daraja sends for a
// successful push: Amount (amount.00), MpesaReceiptNumber,
// TransactionDate (YYYYMMDDHHMMSS in Nairobi) and PhoneNumber.
func SuccessMetadata(amount int64, receipt string, at time.Time, phone string) *CallbackMetadata {
	return successMetadata(amount, receipt, at, phone, false)
}

// outcomeJSON is an Outcome on the control API (durations as "2s").
type outcomeJSON struct {
	ResultCode int    `json:"result_code"`
	Delay      string `json:"delay,omitempty"`
	Hold       bool   `json:"hold,omitempty"`
	Duplicate  int    `json:"duplicate,omitempty"`
	Never      bool   `json:"never,omitempty"`
	Amount     int64  `json:"amount,omitempty"`
	Receipt    string `json:"receipt,omitempty"`
}

func (o outcomeJSON) outcome() (Outcome, error) {
	out := Outcome{ResultCode: o.ResultCode, Hold: o.Hold, Duplicate: o.Duplicate, Never: o.Never, Amount: o.Amount, Receipt: o.Receipt}
	if o.Delay != "" {
		d, err := time.ParseDuration(o.Delay)
		if err != nil || d < 0 {
			return out, fmt.Errorf("delay %q: want a duration like 2s", o.Delay)
		}
		out.Delay = d
	}
	if o.Duplicate < 0 || o.Duplicate > 1000 {
		return out, fmt.Errorf("duplicate %d: want 0..1000", o.Duplicate)
	}
	return out, nil
}

type policyJSON struct {
	FailureRate  float64 `json:"failure_rate"`
	FailureCodes []int   `json:"failure_codes,omitempty"`
	Delay        string  `json:"delay,omitempty"`
}

// ControlHandler returns the HTTP JSON control API (mount it on a
// loopback listener: it has no authentication). Errors are
// {"error":{"code","message"}}.
//
//	GET    /control/health
//	GET    /control/transactions                  every push and C2B payment
//	GET    /control/transactions/{id}
//	POST   /control/transactions/{id}/release     a held push is answered now
//	POST   /control/transactions/{id}/resend      {"url"?} callback/confirmation again
//	POST   /control/script                        {"phone"?, "outcomes":[{result_code, delay, hold, duplicate, never, amount, receipt}]}
//	DELETE /control/script
//	GET    /control/policy, PUT /control/policy   {"failure_rate", "failure_codes", "delay"}
//	POST   /control/apps                          {"consumer_key", "consumer_secret"}
//	POST   /control/shortcodes                    {"shortcode", "passkey"}
//	POST   /control/tokens/expire
//	POST   /control/callbacks                     {"url", "callback":{stkCallback…}} or {"url", "raw":"…"}: a forged callback
//	POST   /control/c2b/pay                       {"shortcode", "msisdn", "amount", "bill_ref", "command_id"?, "first_name"?, "trans_id"?}
func (s *Server) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	decode := func(w http.ResponseWriter, r *http.Request, v any) bool {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err == nil && len(b) > 0 {
			err = decodeStrict(b, v)
		}
		if err != nil {
			fail(w, http.StatusBadRequest, "EINVALID", "body: "+err.Error())
			return false
		}
		return true
	}
	mux.HandleFunc("GET /control/health", func(w http.ResponseWriter, r *http.Request) {
		ok(w, map[string]any{"ok": true, "api": s.URL()})
	})
	mux.HandleFunc("GET /control/transactions", func(w http.ResponseWriter, r *http.Request) {
		ok(w, map[string]any{"transactions": s.Transactions()})
	})
	mux.HandleFunc("GET /control/transactions/{id}", func(w http.ResponseWriter, r *http.Request) {
		t, found := s.Transaction(r.PathValue("id"))
		if !found {
			fail(w, http.StatusNotFound, "ENOTFOUND", ErrNotFound.Error())
			return
		}
		ok(w, t)
	})
	mux.HandleFunc("POST /control/transactions/{id}/release", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Release(r.PathValue("id")); err != nil {
			status, code := http.StatusConflict, "ECONFLICT"
			if errors.Is(err, ErrNotFound) {
				status, code = http.StatusNotFound, "ENOTFOUND"
			}
			fail(w, status, code, err.Error())
			return
		}
		t, _ := s.Transaction(r.PathValue("id"))
		ok(w, t)
	})
	mux.HandleFunc("POST /control/transactions/{id}/resend", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			URL string `json:"url"`
		}
		if !decode(w, r, &req) {
			return
		}
		status, err := s.Resend(r.Context(), r.PathValue("id"), req.URL)
		if errors.Is(err, ErrNotFound) {
			fail(w, http.StatusNotFound, "ENOTFOUND", err.Error())
			return
		}
		res := map[string]any{"status": status}
		if err != nil {
			res["error"] = err.Error()
		}
		ok(w, res)
	})
	mux.HandleFunc("POST /control/script", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Phone    string        `json:"phone"`
			Outcomes []outcomeJSON `json:"outcomes"`
		}
		if !decode(w, r, &req) {
			return
		}
		if req.Phone != "" && !rePhone.MatchString(req.Phone) {
			fail(w, http.StatusBadRequest, "EINVALID", "phone must look like 2547XXXXXXXX or 2541XXXXXXXX")
			return
		}
		var outs []Outcome
		for _, o := range req.Outcomes {
			out, err := o.outcome()
			if err != nil {
				fail(w, http.StatusBadRequest, "EINVALID", err.Error())
				return
			}
			outs = append(outs, out)
		}
		s.Script(req.Phone, outs...)
		ok(w, map[string]any{"ok": true, "queued": len(outs)})
	})
	mux.HandleFunc("DELETE /control/script", func(w http.ResponseWriter, r *http.Request) {
		s.ClearScripts()
		ok(w, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /control/policy", func(w http.ResponseWriter, r *http.Request) {
		p := s.Policy()
		ok(w, policyJSON{FailureRate: p.FailureRate, FailureCodes: p.FailureCodes, Delay: p.Delay.String()})
	})
	mux.HandleFunc("PUT /control/policy", func(w http.ResponseWriter, r *http.Request) {
		var req policyJSON
		if !decode(w, r, &req) {
			return
		}
		p := Policy{FailureRate: req.FailureRate, FailureCodes: req.FailureCodes}
		if req.Delay != "" {
			d, err := time.ParseDuration(req.Delay)
			if err != nil || d < 0 {
				fail(w, http.StatusBadRequest, "EINVALID", "delay must be a duration like 2s")
				return
			}
			p.Delay = d
		}
		if p.FailureRate < 0 || p.FailureRate > 1 {
			fail(w, http.StatusBadRequest, "EINVALID", "failure_rate must be within 0..1")
			return
		}
		s.SetPolicy(p)
		ok(w, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /control/apps", func(w http.ResponseWriter, r *http.Request) {
		var a App
		if !decode(w, r, &a) {
			return
		}
		if a.ConsumerKey == "" || a.ConsumerSecret == "" {
			fail(w, http.StatusBadRequest, "EINVALID", "consumer_key and consumer_secret are required")
			return
		}
		s.AddApp(a)
		ok(w, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /control/shortcodes", func(w http.ResponseWriter, r *http.Request) {
		var c Shortcode
		if !decode(w, r, &c) {
			return
		}
		if !reShortCode.MatchString(c.ShortCode) || c.Passkey == "" {
			fail(w, http.StatusBadRequest, "EINVALID", "shortcode (5-7 digits) and passkey are required")
			return
		}
		s.AddShortcode(c)
		ok(w, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /control/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireTokens()
		ok(w, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /control/callbacks", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			URL      string       `json:"url"`
			Callback *STKCallback `json:"callback"`
			Raw      *string      `json:"raw"`
		}
		if !decode(w, r, &req) {
			return
		}
		if !s.validURL(req.URL) || (req.Callback == nil) == (req.Raw == nil) {
			fail(w, http.StatusBadRequest, "EINVALID", "url and exactly one of callback or raw are required")
			return
		}
		var status int
		var err error
		if req.Raw != nil {
			status, err = s.SendRaw(r.Context(), req.URL, []byte(*req.Raw))
		} else {
			status, err = s.SendCallback(r.Context(), req.URL, *req.Callback)
		}
		res := map[string]any{"status": status}
		if err != nil {
			res["error"] = err.Error()
		}
		ok(w, res)
	})
	mux.HandleFunc("POST /control/c2b/pay", func(w http.ResponseWriter, r *http.Request) {
		var p C2BPayment
		if !decode(w, r, &p) {
			return
		}
		t, err := s.PayC2B(r.Context(), p)
		if err != nil {
			fail(w, http.StatusBadRequest, "EINVALID", err.Error())
			return
		}
		ok(w, t)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "ENOTFOUND", "unknown endpoint "+r.Method+" "+r.URL.Path)
	})
	return mux
}
