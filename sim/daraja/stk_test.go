package daraja

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

func wantError(t *testing.T, status int, out map[string]any, wantStatus int, code, msg string) {
	t.Helper()
	if status != wantStatus || out["errorCode"] != code || out["errorMessage"] != msg {
		t.Errorf("got %d %v, want %d errorCode %q errorMessage %q", status, out, wantStatus, code, msg)
	}
	if id, _ := out["requestId"].(string); id == "" {
		t.Errorf("error body %v has no requestId", out)
	}
}

func TestOAuth(t *testing.T) {
	clock := testkit.NewClock(testTime)
	s := start(t, Options{Now: clock.Now, TokenTTL: time.Minute})
	url := s.URL() + "/oauth/v1/generate?grant_type=client_credentials"
	basic := func(user, pass string) map[string]string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pass)
		return map[string]string{"Authorization": r.Header.Get("Authorization")}
	}

	status, out := call(t, "GET", url, basic(DefaultConsumerKey, DefaultConsumerSecret), nil)
	if status != 200 || out["expires_in"] != "59" {
		t.Fatalf("good credentials: got %d %v, want 200 with expires_in \"59\" (a string)", status, out)
	}
	tok, _ := out["access_token"].(string)
	if len(tok) < 20 {
		t.Fatalf("access_token %q is too short to be unguessable", tok)
	}

	status, out = call(t, "GET", url, basic(DefaultConsumerKey, "wrong"), nil)
	wantError(t, status, out, 400, "400.008.01", "Invalid Authentication passed")
	status, out = call(t, "GET", url, nil, nil)
	wantError(t, status, out, 400, "400.008.01", "Invalid Authentication passed")
	status, out = call(t, "GET", s.URL()+"/oauth/v1/generate?grant_type=password", basic(DefaultConsumerKey, DefaultConsumerSecret), nil)
	wantError(t, status, out, 400, "400.008.02", "Invalid grant type passed")
	status, out = call(t, "GET", s.URL()+"/oauth/v1/generate", basic(DefaultConsumerKey, DefaultConsumerSecret), nil)
	wantError(t, status, out, 400, "400.008.02", "Invalid grant type passed")

	cb := newReceiver(t)
	if status, out := postAPI(t, s, tok, "/mpesa/stkpush/v1/processrequest", stkBody(cb.URL, nil)); status != 200 {
		t.Fatalf("fresh token refused: %d %v", status, out)
	}
	clock.Advance(time.Minute)
	status, out = postAPI(t, s, tok, "/mpesa/stkpush/v1/processrequest", stkBody(cb.URL, nil))
	wantError(t, status, out, 404, "404.001.03", "Invalid Access Token")
	status, out = postAPI(t, s, "made-up", "/mpesa/stkpushquery/v1/query", queryBody("ws_CO_1"))
	wantError(t, status, out, 404, "404.001.03", "Invalid Access Token")
	status, out = call(t, "POST", s.URL()+"/mpesa/stkpush/v1/processrequest", map[string]string{"Content-Type": "application/json"}, []byte(`{}`))
	wantError(t, status, out, 404, "404.001.04", "Invalid Authentication Header")

	// A second app added at run time gets tokens too.
	s.AddApp(App{ConsumerKey: "k2", ConsumerSecret: "s2"})
	if status, _ := call(t, "GET", url, basic("k2", "s2"), nil); status != 200 {
		t.Errorf("added app: status %d, want 200", status)
	}
}

func TestSTKPushValidation(t *testing.T) {
	s := start(t, Options{})
	tok := getToken(t, s)
	cb := "https://cp.example.com/hooks/daraja/stk/tok123"
	for _, tc := range []struct {
		name     string
		override map[string]any
		status   int
		code     string
		msg      string
	}{
		{"missing shortcode", map[string]any{"BusinessShortCode": nil}, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode"},
		{"letters in shortcode", map[string]any{"BusinessShortCode": "17437x"}, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode"},
		{"missing password", map[string]any{"Password": ""}, 400, "400.002.02", "Bad Request - Invalid Password"},
		{"timestamp not YYYYMMDDHHMMSS", map[string]any{"Timestamp": "2026-12-07 10:21"}, 400, "400.002.02", "Bad Request - Invalid Timestamp"},
		{"timestamp month 13", map[string]any{"Timestamp": "20261307102115"}, 400, "400.002.02", "Bad Request - Invalid Timestamp"},
		{"transaction type", map[string]any{"TransactionType": "CustomerPayBill"}, 400, "400.002.02", "Bad Request - Invalid TransactionType"},
		{"amount zero", map[string]any{"Amount": 0}, 400, "400.002.02", "Bad Request - Invalid Amount"},
		{"amount fraction", map[string]any{"Amount": 1.5}, 400, "400.002.02", "Bad Request - Invalid Amount"},
		{"amount negative", map[string]any{"Amount": "-5"}, 400, "400.002.02", "Bad Request - Invalid Amount"},
		{"amount text", map[string]any{"Amount": "ten"}, 400, "400.002.02", "Bad Request - Invalid Amount"},
		{"amount bool", map[string]any{"Amount": true}, 400, "400.002.02", "Bad Request - Invalid Amount"},
		{"party A local form", map[string]any{"PartyA": "0708374149"}, 400, "400.002.02", "Bad Request - Invalid PartyA"},
		{"party B", map[string]any{"PartyB": "12"}, 400, "400.002.02", "Bad Request - Invalid PartyB"},
		{"phone +254", map[string]any{"PhoneNumber": "+254708374149"}, 400, "400.002.02", "Bad Request - Invalid PhoneNumber"},
		{"phone not Safaricom", map[string]any{"PhoneNumber": "254208374149"}, 400, "400.002.02", "Bad Request - Invalid PhoneNumber"},
		{"callback not a URL", map[string]any{"CallBackURL": "cp.example.com/cb"}, 400, "400.002.02", "Bad Request - Invalid CallBackURL"},
		{"callback ftp", map[string]any{"CallBackURL": "ftp://cp.example.com/cb"}, 400, "400.002.02", "Bad Request - Invalid CallBackURL"},
		{"account reference too long", map[string]any{"AccountReference": "ABCDEFGHIJKLM"}, 400, "400.002.02", "Bad Request - Invalid AccountReference"},
		{"account reference missing", map[string]any{"AccountReference": nil}, 400, "400.002.02", "Bad Request - Invalid AccountReference"},
		{"transaction desc too long", map[string]any{"TransactionDesc": "fourteen chars"}, 400, "400.002.02", "Bad Request - Invalid TransactionDesc"},
		{"unknown shortcode", map[string]any{"BusinessShortCode": "600999", "Password": Password("600999", SandboxPasskey, Timestamp(testTime))}, 500, "500.001.1001", "Merchant does not exist"},
		{"wrong passkey", map[string]any{"Password": Password(SandboxShortCode, "wrong", Timestamp(testTime))}, 500, "500.001.1001", "Wrong credentials"},
		{"password of another timestamp", map[string]any{"Timestamp": "20261207102116"}, 500, "500.001.1001", "Wrong credentials"},
		{"member name in the wrong case", map[string]any{"BusinessShortCode": nil, "businessShortCode": "174379"}, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := postAPI(t, s, tok, "/mpesa/stkpush/v1/processrequest", stkBody(cb, tc.override))
			wantError(t, status, out, tc.status, tc.code, tc.msg)
		})
	}
	hdr := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	t.Run("malformed JSON", func(t *testing.T) {
		status, out := call(t, "POST", s.URL()+"/mpesa/stkpush/v1/processrequest", hdr, []byte(`{"BusinessShortCode":`))
		wantError(t, status, out, 400, "400.002.05", "Invalid Request Payload")
	})
	t.Run("oversized body", func(t *testing.T) {
		big, _ := json.Marshal(stkBody(cb, map[string]any{"TransactionDesc": strings.Repeat("x", 70<<10)}))
		status, out := call(t, "POST", s.URL()+"/mpesa/stkpush/v1/processrequest", hdr, big)
		wantError(t, status, out, 400, "400.002.05", "Invalid Request Payload")
	})
	t.Run("not declared JSON", func(t *testing.T) {
		b, _ := json.Marshal(stkBody(cb, nil))
		status, out := call(t, "POST", s.URL()+"/mpesa/stkpush/v1/processrequest", map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "text/plain"}, b)
		wantError(t, status, out, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode")
	})
	t.Run("GET", func(t *testing.T) {
		status, out := call(t, "GET", s.URL()+"/mpesa/stkpush/v1/processrequest", hdr, nil)
		wantError(t, status, out, 405, "405.001", "GET Method Not Allowed")
	})
	t.Run("unknown endpoint", func(t *testing.T) {
		status, out := call(t, "POST", s.URL()+"/mpesa/stkpush/v9/processrequest", hdr, []byte(`{}`))
		wantError(t, status, out, 404, "404.001.01", "Resource not found")
	})
	if n := len(s.Transactions()); n != 0 {
		t.Errorf("refused pushes left %d transactions, want 0", n)
	}
}

var (
	reReceipt  = regexp.MustCompile(`^[A-Z][A-Z0-9]{9}$`)
	reCheckout = regexp.MustCompile(`^ws_CO_[0-9]{20,}$`)
)

func TestSTKPushSuccessCallback(t *testing.T) {
	clock := testkit.NewClock(testTime)
	s := start(t, Options{Now: clock.Now, BalanceItem: true})
	tok := getToken(t, s)
	cb := newReceiver(t)
	for _, amount := range []any{"10", 10, "10.00", json.Number("10.0")} {
		status, out := postAPI(t, s, tok, "/mpesa/stkpush/v1/processrequest", stkBody(cb.URL+"/cb/tok", map[string]any{"Amount": amount}))
		if status != 200 || out["ResponseCode"] != "0" || out["ResponseDescription"] != "Success. Request accepted for processing" ||
			out["CustomerMessage"] != "Success. Request accepted for processing" || out["MerchantRequestID"] == "" || len(out) != 5 {
			t.Fatalf("amount %#v: got %d %v", amount, status, out)
		}
		id := out["CheckoutRequestID"].(string)
		if !reCheckout.MatchString(id) {
			t.Errorf("CheckoutRequestID %q does not look like Daraja's", id)
		}
		raw := cb.next(t)
		// The exact shape: Amount 10.00, the receipt a string, the date and
		// phone plain numbers, Balance without a Value.
		want := regexp.MustCompile(`^\{"Body":\{"stkCallback":\{"MerchantRequestID":"` + regexp.QuoteMeta(out["MerchantRequestID"].(string)) +
			`","CheckoutRequestID":"` + id + `","ResultCode":0,"ResultDesc":"The service request is processed successfully\.",` +
			`"CallbackMetadata":\{"Item":\[\{"Name":"Amount","Value":10\.00\},\{"Name":"MpesaReceiptNumber","Value":"([A-Z0-9]{10})"\},` +
			`\{"Name":"Balance"\},\{"Name":"TransactionDate","Value":20261207102115\},\{"Name":"PhoneNumber","Value":254708374149\}\]\}\}\}\}$`)
		m := want.FindSubmatch(raw)
		if m == nil {
			t.Fatalf("callback body\n%s\ndoes not match\n%s", raw, want)
		}
		tx := answered(t, s, id)
		if tx.State != StateCompleted || tx.Receipt != string(m[1]) || !reReceipt.MatchString(tx.Receipt) || tx.Amount != 10 {
			t.Errorf("transaction %+v, want completed with receipt %s and amount 10", tx, m[1])
		}
		testkit.Eventually(t, 0, "callback status recorded", func() bool {
			tx, _ = s.Transaction(id)
			return len(tx.Deliveries) == 1 && tx.Deliveries[0].Status == 200
		})
	}
	// Receipts never repeat.
	seen := map[string]bool{}
	for _, tx := range s.Transactions() {
		if seen[tx.Receipt] {
			t.Errorf("receipt %s issued twice", tx.Receipt)
		}
		seen[tx.Receipt] = true
	}
}

func TestSTKPushFailureCodes(t *testing.T) {
	s := start(t, Options{})
	tok := getToken(t, s)
	cb := newReceiver(t)
	for _, tc := range []struct {
		code int
		desc string
	}{
		{1032, "Request cancelled by user"},
		{1037, "DS timeout user cannot be reached"},
		{1019, "Transaction has expired."},
		{1001, "Unable to lock subscriber, a transaction is already in process for the current subscriber"},
		{2001, "The initiator information is invalid."},
		{1, "The balance is insufficient for the transaction."},
	} {
		s.Script(testPhone, Outcome{ResultCode: tc.code})
		id := push(t, s, tok, cb.URL, nil)
		var env struct {
			Body struct {
				STKCallback map[string]any `json:"stkCallback"`
			}
		}
		dec := json.NewDecoder(bytes.NewReader(cb.next(t)))
		dec.UseNumber()
		if err := dec.Decode(&env); err != nil {
			t.Fatal(err)
		}
		got := env.Body.STKCallback
		if got["ResultCode"] != json.Number(itoa(tc.code)) || got["ResultDesc"] != tc.desc || got["CheckoutRequestID"] != id {
			t.Errorf("code %d: callback %v", tc.code, got)
		}
		if _, ok := got["CallbackMetadata"]; ok {
			t.Errorf("code %d: a failed callback carries CallbackMetadata: %v", tc.code, got)
		}
		// STK query tells the same result, with ResultCode as a string.
		status, out := postAPI(t, s, tok, "/mpesa/stkpushquery/v1/query", queryBody(id))
		if status != 200 || out["ResultCode"] != itoa(tc.code) || out["ResultDesc"] != tc.desc || out["ResponseCode"] != "0" {
			t.Errorf("code %d: query %d %v", tc.code, status, out)
		}
		if tx, _ := s.Transaction(id); tx.State != StateFailed || tx.Receipt != "" {
			t.Errorf("code %d: transaction %+v, want failed without receipt", tc.code, tx)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Duplicate N sends N identical callbacks at once: the merchant holds
// every one open until all N have arrived, which only concurrent senders
// can satisfy.
func TestSTKPushDuplicateCallbacks(t *testing.T) {
	const n = 10
	s := start(t, Options{})
	tok := getToken(t, s)
	cb := newReceiver(t)
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	cb.answer = func([]byte) (int, string) {
		mu.Lock()
		arrived++
		if arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			return 200, `{"ResultCode":0,"ResultDesc":"Accepted"}`
		case <-time.After(testkit.DefaultWait):
			return 500, `{}`
		}
	}
	s.Script("", Outcome{Duplicate: n})
	id := push(t, s, tok, cb.URL, nil)
	first := cb.next(t)
	for i := 1; i < n; i++ {
		if b := cb.next(t); !bytes.Equal(b, first) {
			t.Fatalf("copy %d differs:\n%s\n%s", i, b, first)
		}
	}
	testkit.Eventually(t, 0, "every delivery recorded", func() bool {
		tx, _ := s.Transaction(id)
		ok := len(tx.Deliveries) == n
		for _, d := range tx.Deliveries {
			ok = ok && d.Status == 200
		}
		return ok
	})
}

// Never: no callback at all, but STK query answers the real result.
func TestSTKPushNeverCallsBack(t *testing.T) {
	s := start(t, Options{})
	tok := getToken(t, s)
	cb := newReceiver(t)
	s.Script(testPhone, Outcome{Never: true})
	id := push(t, s, tok, cb.URL, nil)
	tx := answered(t, s, id)
	status, out := postAPI(t, s, tok, "/mpesa/stkpushquery/v1/query", queryBody(id))
	if status != 200 || out["ResultCode"] != "0" || out["ResultDesc"] != "The service request is processed successfully." ||
		out["ResponseDescription"] != "The service request has been accepted successsfully" || out["MerchantRequestID"] != tx.MerchantRequestID {
		t.Errorf("query: %d %v", status, out)
	}
	// The answer is decided before any callback would be spawned, so
	// none is in flight once the state has changed.
	if n := cb.count(); n != 0 || len(tx.Deliveries) != 0 {
		t.Errorf("never: %d callbacks, %d deliveries, want none", n, len(tx.Deliveries))
	}
}

// A held push: the query says "being processed", a second push to the
// same phone fails with 1001 in its callback, and Release answers.
func TestSTKPushHoldQueryAndLock(t *testing.T) {
	s := start(t, Options{})
	tok := getToken(t, s)
	cb := newReceiver(t)
	s.Script(testPhone, Outcome{Hold: true}, Outcome{})
	id := push(t, s, tok, cb.URL, nil)

	status, out := postAPI(t, s, tok, "/mpesa/stkpushquery/v1/query", queryBody(id))
	wantError(t, status, out, 500, "500.001.1001", "The transaction is being processed")
	status, out = postAPI(t, s, tok, "/mpesa/stkpushquery/v1/query", queryBody("ws_CO_0000000000000000000000"))
	wantError(t, status, out, 400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
	bad := queryBody(id)
	bad["Password"] = Password(SandboxShortCode, "nope", Timestamp(testTime))
	status, out = postAPI(t, s, tok, "/mpesa/stkpushquery/v1/query", bad)
	wantError(t, status, out, 500, "500.001.1001", "Wrong credentials")

	second := push(t, s, tok, cb.URL, nil)
	var env callbackEnvelope
	if err := json.Unmarshal(cb.next(t), &env); err != nil {
		t.Fatal(err)
	}
	if c := env.Body.STKCallback; c.CheckoutRequestID != second || c.ResultCode != 1001 {
		t.Fatalf("second push's callback %+v, want 1001 for %s", c, second)
	}
	if err := s.Release(id); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cb.next(t), &env); err != nil {
		t.Fatal(err)
	}
	if c := env.Body.STKCallback; c.CheckoutRequestID != id || c.ResultCode != 0 {
		t.Fatalf("released push's callback %+v, want 0 for %s", c, id)
	}
	if status, out := postAPI(t, s, tok, "/mpesa/stkpushquery/v1/query", queryBody(id)); status != 200 || out["ResultCode"] != "0" {
		t.Errorf("query after release: %d %v", status, out)
	}
	if err := s.Release(id); err == nil {
		t.Error("releasing an answered push succeeded")
	}
	// The phone is free again: the next push takes its scripted outcome.
	third := push(t, s, tok, cb.URL, nil)
	if tx := answered(t, s, third); tx.ResultCode != 0 {
		t.Errorf("third push result %d, want 0", tx.ResultCode)
	}
}

// More than the per-transaction limit fails with result code 3.
func TestSTKPushOverLimit(t *testing.T) {
	s := start(t, Options{})
	tok := getToken(t, s)
	cb := newReceiver(t)
	id := push(t, s, tok, cb.URL, map[string]any{"Amount": 250001})
	var env callbackEnvelope
	if err := json.Unmarshal(cb.next(t), &env); err != nil || env.Body.STKCallback.ResultCode != 3 || env.Body.STKCallback.CheckoutRequestID != id {
		t.Fatalf("callback %+v, %v; want result code 3", env, err)
	}
	// A C2B TransID is not a CheckoutRequestID.
	c2b, err := s.PayC2B(t.Context(), C2BPayment{ShortCode: "174379", MSISDN: testPhone, Amount: 1})
	if err != nil {
		t.Fatal(err)
	}
	status, out := postAPI(t, s, tok, "/mpesa/stkpushquery/v1/query", queryBody(c2b.TransID))
	wantError(t, status, out, 400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
}

func TestSTKPushLockedAsError(t *testing.T) {
	s := start(t, Options{LockedAsError: true})
	tok := getToken(t, s)
	s.Script(testPhone, Outcome{Hold: true})
	push(t, s, tok, "http://127.0.0.1:1/cb", nil)
	status, out := postAPI(t, s, tok, "/mpesa/stkpush/v1/processrequest", stkBody("http://127.0.0.1:1/cb", nil))
	wantError(t, status, out, 500, "500.001.1001", "Unable to lock subscriber, a transaction is already in process for the current subscriber")
}

// manualTimers is an AfterFunc whose timers fire when the test says.
type manualTimers struct {
	mu    sync.Mutex
	delay []time.Duration
	fire  []func()
}

func (m *manualTimers) AfterFunc(d time.Duration, f func()) func() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delay = append(m.delay, d)
	m.fire = append(m.fire, f)
	return func() bool { return false }
}

func (m *manualTimers) scheduled() []time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Duration(nil), m.delay...)
}

func TestSTKPushDelayedCallback(t *testing.T) {
	var timers manualTimers
	s := start(t, Options{AfterFunc: timers.AfterFunc, Policy: Policy{Delay: 90 * time.Second}})
	tok := getToken(t, s)
	cb := newReceiver(t)
	id := push(t, s, tok, cb.URL, nil)
	if got := timers.scheduled(); len(got) != 1 || got[0] != 90*time.Second {
		t.Fatalf("scheduled %v, want one answer after 90s", got)
	}
	status, out := postAPI(t, s, tok, "/mpesa/stkpushquery/v1/query", queryBody(id))
	wantError(t, status, out, 500, "500.001.1001", "The transaction is being processed")
	if n := cb.count(); n != 0 {
		t.Fatalf("%d callbacks before the customer answered", n)
	}
	timers.fire[0]()
	var env callbackEnvelope
	if err := json.Unmarshal(cb.next(t), &env); err != nil || env.Body.STKCallback.CheckoutRequestID != id {
		t.Fatalf("callback %+v, %v", env, err)
	}
}

// Amount and receipt overrides forge the callback's payload.
func TestSTKPushTamperedCallback(t *testing.T) {
	s := start(t, Options{})
	tok := getToken(t, s)
	cb := newReceiver(t)
	s.Script(testPhone, Outcome{Amount: 1, Receipt: "REPLAYED01"})
	push(t, s, tok, cb.URL, map[string]any{"Amount": 500})
	body := string(cb.next(t))
	if !strings.Contains(body, `{"Name":"Amount","Value":1.00}`) || !strings.Contains(body, `"Value":"REPLAYED01"`) {
		t.Errorf("tampered callback %s", body)
	}
}

func TestPolicyIsSeeded(t *testing.T) {
	run := func() []int {
		s := New(Options{Seed: 42, Policy: Policy{FailureRate: 0.5}})
		defer s.Close()
		var codes []int
		for range 40 {
			s.mu.Lock()
			codes = append(codes, s.popOutcome(testPhone).ResultCode)
			s.mu.Unlock()
		}
		return codes
	}
	a, b := run(), run()
	fails := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different outcomes: %v vs %v", a, b)
		}
		if a[i] != 0 {
			fails++
		}
	}
	if fails == 0 || fails == len(a) {
		t.Errorf("failure rate 0.5 gave %d failures in %d", fails, len(a))
	}
}
