package daraja

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// urlKeywords may not appear in C2B URLs, in any case (Daraja's URL
// requirements).
var urlKeywords = []string{"m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query"}

func (s *Server) c2bURLOK(u string) bool {
	if !s.validURL(u) {
		return false
	}
	l := strings.ToLower(u)
	for _, k := range urlKeywords {
		if strings.Contains(l, k) {
			return false
		}
	}
	return true
}

// registerURL is POST /mpesa/c2b/{v1,v2}/registerurl.
func (s *Server) registerURL(version string) func(*http.Request, fields) (any, *apiError) {
	return func(r *http.Request, f fields) (any, *apiError) {
		code := f.str("ShortCode")
		if !reShortCode.MatchString(code) {
			return nil, errBadField("ShortCode")
		}
		rt := f.str("ResponseType")
		if rt != "Completed" && rt != "Cancelled" {
			return nil, errBadField("ResponseType")
		}
		conf := f.str("ConfirmationURL")
		if !s.c2bURLOK(conf) {
			return nil, errBadField("ConfirmationURL")
		}
		val := f.str("ValidationURL")
		if val != "" && !s.c2bURLOK(val) {
			return nil, errBadField("ValidationURL")
		}
		s.mu.Lock()
		_, known := s.passkeys[code]
		_, registered := s.c2b[code]
		if known && !(registered && s.opts.Production) {
			s.c2b[code] = registration{responseType: rt, confirmationURL: conf, validationURL: val, version: version}
		}
		s.mu.Unlock()
		switch {
		case !known:
			return nil, errNoMerchant
		case registered && s.opts.Production:
			return nil, errURLsRegistered
		}
		s.log.Info("c2b urls registered", "shortcode", code, "response_type", rt, "version", version)
		return map[string]string{
			"OriginatorCoversationID": s.requestID(),
			"ResponseCode":            "0",
			"ResponseDescription":     "Success",
		}, nil
	}
}

// c2bSimulate is POST /mpesa/c2b/{v1,v2}/simulate: a customer pays the
// shortcode; validation and confirmation follow asynchronously. Like
// Daraja, production has no simulate endpoint.
func (s *Server) c2bSimulate(r *http.Request, f fields) (any, *apiError) {
	if s.opts.Production {
		// Daraja offers simulate on the sandbox only; PayC2B still works.
		return nil, errNotFound
	}
	p := C2BPayment{ShortCode: f.str("ShortCode"), CommandID: f.str("CommandID"), MSISDN: f.str("Msisdn"), BillRef: f.str("BillRefNumber")}
	if !reShortCode.MatchString(p.ShortCode) {
		return nil, errBadField("ShortCode")
	}
	if p.CommandID != "CustomerPayBillOnline" && p.CommandID != "CustomerBuyGoodsOnline" {
		return nil, errBadField("CommandID")
	}
	amount, err := wholeAmount(f.str("Amount"))
	if err != nil {
		return nil, errBadField("Amount")
	}
	p.Amount = amount
	if !rePhone.MatchString(p.MSISDN) {
		return nil, errBadField("Msisdn")
	}
	t, e := s.startC2B(p)
	if e != nil {
		return nil, e
	}
	s.spawn(func() { s.runC2B(s.ctx, t) })
	return map[string]string{
		"OriginatorCoversationID": s.requestID(),
		"ResponseCode":            "0",
		"ResponseDescription":     "Accept the service request successfully.",
	}, nil
}

// C2BPayment is a customer paying a paybill or till by hand.
type C2BPayment struct {
	ShortCode string `json:"shortcode"`
	// CommandID is CustomerPayBillOnline (the default) or
	// CustomerBuyGoodsOnline.
	CommandID string `json:"command_id,omitempty"`
	MSISDN    string `json:"msisdn"`
	Amount    int64  `json:"amount"` // whole shillings
	BillRef   string `json:"bill_ref"`
	FirstName string `json:"first_name,omitempty"` // "" = JOHN
	// TransID, when set, replaces the fresh M-Pesa transaction ID (a
	// replayed payment).
	TransID string `json:"trans_id,omitempty"`
}

func (s *Server) startC2B(p C2BPayment) (string, *apiError) {
	if p.CommandID == "" {
		p.CommandID = "CustomerPayBillOnline"
	}
	if p.FirstName == "" {
		p.FirstName = "JOHN"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.passkeys[p.ShortCode]; !ok {
		return "", errNoMerchant
	}
	typ := "Pay Bill"
	if p.CommandID == "CustomerBuyGoodsOnline" {
		typ = "Buy Goods"
	}
	id := p.TransID
	if id == "" {
		id = s.newReceipt()
	}
	if _, dup := s.txs[id]; dup {
		// A replayed TransID gets its own record under a suffixed key.
		s.seq++
		key := fmt.Sprintf("%s#%d", id, s.seq)
		s.addC2B(key, id, typ, p)
		return key, nil
	}
	s.addC2B(id, id, typ, p)
	return id, nil
}

// addC2B records a pending C2B transaction. s.mu is held.
func (s *Server) addC2B(key, transID, typ string, p C2BPayment) {
	s.txs[key] = &Transaction{
		Kind: "c2b", TransID: transID, ShortCode: p.ShortCode, TransactionType: typ, Phone: p.MSISDN,
		Amount: p.Amount, AccountReference: p.BillRef, State: StatePending, CreatedAt: s.now(),
		Receipt: transID, Deliveries: []Delivery{}, firstName: p.FirstName,
	}
	s.order = append(s.order, key)
}

// runC2B runs payment key: validation (if a ValidationURL is registered),
// then confirmation, as Daraja does.
func (s *Server) runC2B(ctx context.Context, key string) {
	s.mu.Lock()
	t := s.txs[key]
	reg, registered := s.c2b[t.ShortCode]
	first := t.firstName
	n := C2BNotification{
		TransactionType: t.TransactionType, TransID: t.TransID, TransTime: Timestamp(t.CreatedAt),
		TransAmount: fmt.Sprintf("%d.00", t.Amount), BusinessShortCode: t.ShortCode, BillRefNumber: t.AccountReference,
		MSISDN: msisdnFor(reg.version, t.Phone), FirstName: first,
	}
	s.mu.Unlock()
	finish := func(state State, code int, c2bCode, desc string) {
		s.mu.Lock()
		t.State, t.ResultCode, t.C2BResultCode, t.ResultDesc, t.AnsweredAt = state, code, c2bCode, desc, s.now()
		if state == StateCompleted {
			s.balances[t.ShortCode] += t.Amount
		}
		s.mu.Unlock()
		s.metrics.c2b.WithLabelValues(string(state)).Inc()
	}
	if !registered {
		// No URLs: M-Pesa completes the payment and tells nobody.
		finish(StateCompleted, 0, "", "The service request is processed successfully.")
		return
	}
	if reg.validationURL != "" {
		vctx, cancel := context.WithTimeout(ctx, s.opts.ValidationTimeout)
		b, _ := json.Marshal(n)
		status, answer, err := s.deliverCtx(vctx, key, "validation", reg.validationURL, b)
		cancel()
		accepted, code, tp := parseValidation(status, answer, err)
		switch {
		case code == "" && reg.responseType == "Cancelled":
			finish(StateFailed, 1, "", "validation URL unreachable; ResponseType Cancelled")
			return
		case code != "" && !accepted:
			finish(StateFailed, 1, code, c2bRejections[code])
			return
		}
		n.ThirdPartyTransID = tp
	}
	s.mu.Lock()
	n.OrgAccountBalance = fmt.Sprintf("%d.00", s.balances[t.ShortCode]+t.Amount)
	s.mu.Unlock()
	finish(StateCompleted, 0, "", "The service request is processed successfully.")
	b, _ := json.Marshal(n)
	cctx, cancel := context.WithTimeout(ctx, s.opts.CallbackTimeout)
	defer cancel()
	s.deliverCtx(cctx, key, "confirmation", reg.confirmationURL, b)
}

// parseValidation reads a validation URL's answer: accepted, the result
// code ("" when there was no usable answer: unreachable, timeout, not
// 200, not JSON) and the ThirdPartyTransID to pass on.
func parseValidation(status int, answer []byte, err error) (bool, string, string) {
	if err != nil || status != http.StatusOK {
		return false, "", ""
	}
	var v validationResponse
	if json.Unmarshal(answer, &v) != nil || !v.ResultCode.set {
		return false, "", ""
	}
	return v.ResultCode.text == "0", v.ResultCode.text, v.ThirdPartyTransID
}

// msisdnFor renders a payer's number as C2B v1 (SHA-256 hex) or v2
// (masked, "2547 ***** 126") sends it.
func msisdnFor(version, phone string) string {
	if version == "v1" {
		h := sha256.Sum256([]byte(phone))
		return hex.EncodeToString(h[:])
	}
	if len(phone) < 8 {
		return phone
	}
	return phone[:4] + " ***** " + phone[len(phone)-3:]
}

// PayC2B makes a C2B payment as a customer paying by hand, runs its
// validation and confirmation, and returns the transaction when they are
// done (or ctx ends).
func (s *Server) PayC2B(ctx context.Context, p C2BPayment) (Transaction, error) {
	if !reShortCode.MatchString(p.ShortCode) || !rePhone.MatchString(p.MSISDN) || p.Amount < 1 {
		return Transaction{}, errors.New("c2b payment needs a 5-7 digit shortcode, a 2547/2541 msisdn and an amount of at least 1")
	}
	if p.CommandID != "" && p.CommandID != "CustomerPayBillOnline" && p.CommandID != "CustomerBuyGoodsOnline" {
		return Transaction{}, fmt.Errorf("command_id %q: want CustomerPayBillOnline or CustomerBuyGoodsOnline", p.CommandID)
	}
	key, e := s.startC2B(p)
	if e != nil {
		return Transaction{}, fmt.Errorf("shortcode %s: %s", p.ShortCode, e.Message)
	}
	done := make(chan struct{})
	s.spawn(func() {
		defer close(done)
		s.runC2B(s.ctx, key)
	})
	select {
	case <-done:
	case <-ctx.Done():
		return Transaction{}, ctx.Err()
	case <-s.ctx.Done():
		return Transaction{}, errors.New("simulator closed")
	}
	t, _ := s.Transaction(key)
	return t, nil
}
