package daraja

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Longest AccountReference and TransactionDesc, per Daraja's docs.
const (
	maxAccountReference = 12
	maxTransactionDesc  = 13
	// maxAmount is the most a customer can pay in one transaction; more
	// fails with result code 3 ("greater than the maximum transaction
	// amount").
	maxAmount = 250_000
)

// stkPush is POST /mpesa/stkpush/v1/processrequest.
func (s *Server) stkPush(r *http.Request, f fields) (any, *apiError) {
	// Fields are checked in the order of Daraja's documentation; the first
	// bad one is named.
	if !reShortCode.MatchString(f.str("BusinessShortCode")) {
		return nil, errBadField("BusinessShortCode")
	}
	if f.str("Password") == "" {
		return nil, errBadField("Password")
	}
	if !reTimestamp.MatchString(f.str("Timestamp")) {
		return nil, errBadField("Timestamp")
	}
	typ := f.str("TransactionType")
	if typ != "CustomerPayBillOnline" && typ != "CustomerBuyGoodsOnline" {
		return nil, errBadField("TransactionType")
	}
	amount, err := wholeAmount(f.str("Amount"))
	if err != nil {
		return nil, errBadField("Amount")
	}
	if !rePhone.MatchString(f.str("PartyA")) {
		return nil, errBadField("PartyA")
	}
	if !reShortCode.MatchString(f.str("PartyB")) {
		return nil, errBadField("PartyB")
	}
	phone := f.str("PhoneNumber")
	if !rePhone.MatchString(phone) {
		return nil, errBadField("PhoneNumber")
	}
	cb := f.str("CallBackURL")
	if !s.validURL(cb) {
		return nil, errBadField("CallBackURL")
	}
	ref := f.str("AccountReference")
	if ref == "" || len([]rune(ref)) > maxAccountReference {
		return nil, errBadField("AccountReference")
	}
	desc := f.str("TransactionDesc")
	if len([]rune(desc)) > maxTransactionDesc {
		return nil, errBadField("TransactionDesc")
	}
	if e := s.checkPassword(f); e != nil {
		s.metrics.stk.WithLabelValues("refused").Inc()
		return nil, e
	}

	s.mu.Lock()
	if _, locked := s.busy[phone]; locked && s.opts.LockedAsError {
		s.mu.Unlock()
		s.metrics.stk.WithLabelValues("locked").Inc()
		return nil, errLocked
	}
	now := s.now()
	s.seq++
	t := &Transaction{
		Kind: "stk", ShortCode: f.str("BusinessShortCode"), PartyB: f.str("PartyB"), TransactionType: typ,
		Phone: phone, Amount: amount, AccountReference: ref, TransactionDesc: desc, CallbackURL: cb,
		State: StatePending, CreatedAt: now, Deliveries: []Delivery{},
		MerchantRequestID: s.merchantRequestID(),
		CheckoutRequestID: fmt.Sprintf("ws_CO_%s%03d%08d%02d", now.In(eat).Format("02012006150405"), now.Nanosecond()/1e6, s.seq, s.rng.IntN(100)),
	}
	var o Outcome
	switch _, locked := s.busy[phone]; {
	case locked:
		// The customer's phone is busy with another push: Daraja accepts
		// the request and fails it at once with 1001 in the callback.
		o = Outcome{ResultCode: 1001}
	case amount > maxAmount:
		o = Outcome{ResultCode: 3}
	default:
		o = s.popOutcome(phone)
		s.busy[phone] = t.CheckoutRequestID
	}
	t.Outcome = o
	s.txs[t.CheckoutRequestID] = t
	s.order = append(s.order, t.CheckoutRequestID)
	id := t.CheckoutRequestID
	answer := func() { s.answer(id) }
	if o.Hold {
		s.held[id] = answer
	}
	s.mu.Unlock()
	switch {
	case o.Hold:
	case o.Delay > 0:
		// Scheduled outside the lock: a fake AfterFunc may fire at once.
		stop := s.afterFunc(o.Delay, answer)
		s.mu.Lock()
		if t.State == StatePending && !s.closed {
			s.timers[id] = stop
		} else {
			stop()
		}
		s.mu.Unlock()
	default:
		s.spawn(answer)
	}
	s.metrics.stk.WithLabelValues("accepted").Inc()
	s.log.Info("stk push accepted", "checkout_request_id", id, "shortcode", t.ShortCode, "amount", amount,
		"phone", maskPhone(phone), "result_code", o.ResultCode, "delay", o.Delay, "hold", o.Hold)
	return map[string]string{
		"MerchantRequestID":   t.MerchantRequestID,
		"CheckoutRequestID":   id,
		"ResponseCode":        "0",
		"ResponseDescription": "Success. Request accepted for processing",
		"CustomerMessage":     "Success. Request accepted for processing",
	}, nil
}

func (s *Server) merchantRequestID() string {
	return fmt.Sprintf("%04x-%04x-%04x-%x%d", s.rng.Uint32()&0xffff, s.rng.Uint32()&0xffff, s.rng.Uint32()&0xffff, s.rng.Uint64(), s.seq)
}

// popOutcome takes the next scripted outcome for phone, else the next
// "any phone" one, else draws from the policy. s.mu is held.
func (s *Server) popOutcome(phone string) Outcome {
	if q := s.byPhone[phone]; len(q) > 0 {
		s.byPhone[phone] = q[1:]
		if len(q) == 1 {
			delete(s.byPhone, phone)
		}
		return q[0]
	}
	if len(s.next) > 0 {
		o := s.next[0]
		s.next = s.next[1:]
		return o
	}
	o := Outcome{Delay: s.policy.Delay}
	if s.policy.FailureRate > 0 && s.rng.Float64() < s.policy.FailureRate {
		codes := s.policy.FailureCodes
		if len(codes) == 0 {
			codes = []int{1032, 1037, 1, 2001}
		}
		o.ResultCode = codes[s.rng.IntN(len(codes))]
	}
	return o
}

// answer is the customer's answer to push id: the result is decided, the
// phone freed, and the callback sent (unless the outcome says never).
func (s *Server) answer(id string) {
	s.mu.Lock()
	t, ok := s.txs[id]
	if !ok || t.State != StatePending || s.closed {
		s.mu.Unlock()
		return
	}
	delete(s.held, id)
	delete(s.timers, id)
	if s.busy[t.Phone] == id {
		delete(s.busy, t.Phone)
	}
	o := t.Outcome
	t.ResultCode = o.ResultCode
	t.ResultDesc = ResultDesc(o.ResultCode)
	t.AnsweredAt = s.now()
	if o.ResultCode == 0 {
		t.State = StateCompleted
		t.Receipt = o.Receipt
		if t.Receipt == "" {
			t.Receipt = s.newReceipt()
		}
	} else {
		t.State = StateFailed
	}
	body := s.callbackBody(t)
	n := max(o.Duplicate, 1)
	url := t.CallbackURL
	s.mu.Unlock()
	s.metrics.results.WithLabelValues(strconv.Itoa(o.ResultCode)).Inc()
	if o.Never {
		s.log.Info("stk answered, callback withheld", "checkout_request_id", id, "result_code", o.ResultCode)
		return
	}
	for range n {
		s.spawn(func() { s.deliver(id, "callback", url, body) })
	}
}

// callbackBody renders t's callback as Daraja does. s.mu is held.
func (s *Server) callbackBody(t *Transaction) []byte {
	var env callbackEnvelope
	cb := STKCallback{
		MerchantRequestID: t.MerchantRequestID, CheckoutRequestID: t.CheckoutRequestID,
		ResultCode: t.ResultCode, ResultDesc: t.ResultDesc,
	}
	if t.State == StateCompleted {
		amount := t.Amount
		if t.Outcome.Amount != 0 {
			amount = t.Outcome.Amount
		}
		cb.CallbackMetadata = successMetadata(amount, t.Receipt, t.AnsweredAt, t.Phone, s.opts.BalanceItem)
	}
	env.Body.STKCallback = cb
	b, _ := json.Marshal(env)
	return b
}

// successMetadata is a successful callback's items: Amount as a decimal
// number (1.00), the receipt as a string, TransactionDate and PhoneNumber
// as numbers.
func successMetadata(amount int64, receipt string, at time.Time, phone string, balance bool) *CallbackMetadata {
	q, _ := json.Marshal(receipt)
	items := []CallbackItem{
		{Name: "Amount", Value: json.RawMessage(fmt.Sprintf("%d.00", amount))},
		{Name: "MpesaReceiptNumber", Value: q},
	}
	if balance {
		items = append(items, CallbackItem{Name: "Balance"})
	}
	items = append(items,
		CallbackItem{Name: "TransactionDate", Value: json.RawMessage(Timestamp(at))},
		CallbackItem{Name: "PhoneNumber", Value: json.RawMessage(phone)},
	)
	return &CallbackMetadata{Item: items}
}

const receiptAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newReceipt returns a fresh M-Pesa receipt: 10 upper-case letters and
// digits, starting with a letter, never repeated. s.mu is held.
func (s *Server) newReceipt() string {
	for {
		var b [10]byte
		b[0] = receiptAlphabet[s.rng.IntN(26)]
		for i := 1; i < len(b); i++ {
			b[i] = receiptAlphabet[s.rng.IntN(len(receiptAlphabet))]
		}
		r := string(b[:])
		if !s.receipts[r] {
			s.receipts[r] = true
			return r
		}
	}
}

// deliver POSTs body to url once and records the answer against
// transaction id ("" records nothing). It returns the HTTP status (0 when
// none) and the merchant's answer.
func (s *Server) deliver(id, kind, url string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.CallbackTimeout)
	defer cancel()
	return s.deliverCtx(ctx, id, kind, url, body)
}

func (s *Server) deliverCtx(ctx context.Context, id, kind, url string, body []byte) (int, []byte, error) {
	d := Delivery{Kind: kind, URL: url, At: s.now()}
	status, answer, err := s.postJSON(ctx, url, body)
	d.Status = status
	if err != nil {
		d.Error = err.Error()
	}
	d.Body = string(answer[:min(len(answer), 1024)])
	label := "error"
	if status != 0 {
		label = strconv.Itoa(status)
	}
	s.metrics.deliveries.WithLabelValues(kind, label).Inc()
	s.log.Info("delivered to merchant", "kind", kind, "id", id, "status", status, "err", err)
	if id != "" {
		s.mu.Lock()
		if t, ok := s.txs[id]; ok {
			t.Deliveries = append(t.Deliveries, d)
		}
		s.mu.Unlock()
	}
	return status, answer, err
}

func (s *Server) postJSON(ctx context.Context, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, answer, err
}

// stkQuery is POST /mpesa/stkpushquery/v1/query.
func (s *Server) stkQuery(r *http.Request, f fields) (any, *apiError) {
	if e := s.checkPassword(f); e != nil {
		return nil, e
	}
	id := f.str("CheckoutRequestID")
	s.mu.Lock()
	t, ok := s.txs[id]
	var out map[string]string
	ok = ok && t.Kind == "stk"
	pending := ok && t.State == StatePending
	if ok && !pending {
		out = map[string]string{
			"ResponseCode":        "0",
			"ResponseDescription": "The service request has been accepted successsfully",
			"MerchantRequestID":   t.MerchantRequestID,
			"CheckoutRequestID":   t.CheckoutRequestID,
			"ResultCode":          strconv.Itoa(t.ResultCode),
			"ResultDesc":          t.ResultDesc,
		}
	}
	s.mu.Unlock()
	switch {
	case !ok:
		s.metrics.queries.WithLabelValues("unknown").Inc()
		return nil, errBadField("CheckoutRequestID")
	case pending:
		s.metrics.queries.WithLabelValues("pending").Inc()
		return nil, errProcessing
	}
	s.metrics.queries.WithLabelValues("answered").Inc()
	return out, nil
}

// maskPhone hides the middle of a phone number in logs.
func maskPhone(p string) string {
	if len(p) < 8 {
		return "***"
	}
	return p[:5] + strings.Repeat("*", len(p)-8) + p[len(p)-3:]
}
