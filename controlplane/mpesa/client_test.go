package mpesa

// These tests run the client over real HTTP against a fake Daraja on
// 127.0.0.1 that answers with the request and response bodies of Daraja's
// documentation: the real Daraja cannot be reached from here. The Daraja
// simulator (sim/daraja) is exercised against this client by the
// end-to-end tests.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

var sandboxCreds = Credentials{
	ConsumerKey:    "GvzjNnYgNJtwgwfLBkZh65VPwfuKvs0V",
	ConsumerSecret: "oOpJICRVlyrGSAkM",
	ShortCode:      "174379",
	PassKey:        "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
}

// fakeDaraja answers like Daraja. Handlers for the API paths can be
// replaced per test; the token endpoint checks Basic auth and hands out
// numbered tokens.
type fakeDaraja struct {
	t         *testing.T
	srv       *httptest.Server
	tokenHits atomic.Int32
	tokenGate chan struct{} // when non-nil, token answers wait for it
	expiresIn string

	mu      sync.Mutex
	bodies  map[string][]map[string]any // requests by path
	bearers []string
	handle  map[string]http.HandlerFunc
}

func newFakeDaraja(t *testing.T) *fakeDaraja {
	t.Helper()
	f := &fakeDaraja{t: t, expiresIn: "3599", bodies: map[string][]map[string]any{}, handle: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDaraja) on(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handle[path] = h
}

func (f *fakeDaraja) requests(path string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.bodies[path]...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeDaraja) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/v1/generate" {
		user, pass, ok := r.BasicAuth()
		if r.Method != http.MethodGet || r.URL.Query().Get("grant_type") != "client_credentials" {
			writeJSON(w, 400, `{"requestId":"","errorCode":"400.008.02","errorMessage":"Invalid grant type passed"}`)
			return
		}
		if !ok || user != sandboxCreds.ConsumerKey || pass != sandboxCreds.ConsumerSecret {
			writeJSON(w, 400, `{"requestId":"","errorCode":"400.008.01","errorMessage":"Invalid Authentication passed"}`)
			return
		}
		n := f.tokenHits.Add(1)
		if f.tokenGate != nil {
			select {
			case <-f.tokenGate:
			case <-r.Context().Done():
				return
			}
		}
		writeJSON(w, 200, fmt.Sprintf(`{"access_token":"tok%d","expires_in":"%s"}`, n, f.expiresIn))
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		writeJSON(w, 400, `{"requestId":"x","errorCode":"400.002.05","errorMessage":"Invalid Request Payload"}`)
		return
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var body map[string]any
	d := json.NewDecoder(r.Body)
	d.UseNumber()
	if err := d.Decode(&body); err != nil {
		writeJSON(w, 400, `{"requestId":"x","errorCode":"400.002.05","errorMessage":"Invalid Request Payload"}`)
		return
	}
	f.mu.Lock()
	f.bodies[r.URL.Path] = append(f.bodies[r.URL.Path], body)
	f.bearers = append(f.bearers, bearer)
	h := f.handle[r.URL.Path]
	f.mu.Unlock()
	if !ok || !strings.HasPrefix(bearer, "tok") {
		writeJSON(w, 404, `{"requestId":"1459-15094918-1","errorCode":"404.001.03","errorMessage":"Invalid Access Token"}`)
		return
	}
	if h == nil {
		writeJSON(w, 404, `{"requestId":"x","errorCode":"404.001.01","errorMessage":"Resource not found"}`)
		return
	}
	h(w, r)
}

func stkAccepted(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, `{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925","ResponseCode":"0","ResponseDescription":"Success. Request accepted for processing","CustomerMessage":"Success. Request accepted for processing"}`)
}

func pushReq() STKRequest {
	return STKRequest{Amount: 50, Phone: "254708374149", CallbackURL: "https://cp.example.com/mpesa/stk/tok-abc", AccountReference: "sp-u42", Description: "Plan 1h"}
}

// at is 2019-12-19 10:20:36 in Nairobi.
var at = time.Date(2019, 12, 19, 7, 20, 36, 0, time.UTC)

func TestSTKPushRequestBody(t *testing.T) {
	f := newFakeDaraja(t)
	f.on(pathSTKPush, stkAccepted)
	clock := testkit.NewClock(at)
	c := New(Config{BaseURL: f.srv.URL + "/", Now: clock.Now})

	resp, err := c.STKPush(t.Context(), sandboxCreds, pushReq())
	if err != nil {
		t.Fatal(err)
	}
	want := STKResponse{MerchantRequestID: "29115-34620561-1", CheckoutRequestID: "ws_CO_191220191020363925", ResponseCode: "0",
		ResponseDescription: "Success. Request accepted for processing", CustomerMessage: "Success. Request accepted for processing"}
	if resp != want {
		t.Fatalf("response %+v, want %+v", resp, want)
	}
	got := f.requests(pathSTKPush)[0]
	wantBody := map[string]any{
		"BusinessShortCode": "174379",
		"Password":          base64.StdEncoding.EncodeToString([]byte("174379" + sandboxCreds.PassKey + "20191219102036")),
		"Timestamp":         "20191219102036",
		"TransactionType":   "CustomerPayBillOnline",
		"Amount":            json.Number("50"),
		"PartyA":            "254708374149",
		"PartyB":            "174379",
		"PhoneNumber":       "254708374149",
		"CallBackURL":       "https://cp.example.com/mpesa/stk/tok-abc",
		"AccountReference":  "sp-u42",
		"TransactionDesc":   "Plan 1h",
	}
	if len(got) != len(wantBody) {
		t.Fatalf("body has %d fields, want %d: %v", len(got), len(wantBody), got)
	}
	for k, v := range wantBody {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}

	// Buy goods: the till is PartyB, the store number BusinessShortCode.
	till := sandboxCreds
	till.TransactionType, till.PartyB = BuyGoodsOnline, "5678901"
	if _, err := c.STKPush(t.Context(), till, pushReq()); err != nil {
		t.Fatal(err)
	}
	got = f.requests(pathSTKPush)[1]
	if got["TransactionType"] != BuyGoodsOnline || got["PartyB"] != "5678901" || got["BusinessShortCode"] != "174379" {
		t.Fatalf("buy goods body %v", got)
	}
}

func TestSTKPushRefusesInvalidInput(t *testing.T) {
	f := newFakeDaraja(t)
	f.on(pathSTKPush, stkAccepted)
	c := New(Config{BaseURL: f.srv.URL})
	mod := func(fn func(*STKRequest)) STKRequest { r := pushReq(); fn(&r); return r }
	withCreds := func(fn func(*Credentials)) Credentials { c := sandboxCreds; fn(&c); return c }
	cases := []struct {
		name  string
		creds Credentials
		req   STKRequest
	}{
		{"zero amount", sandboxCreds, mod(func(r *STKRequest) { r.Amount = 0 })},
		{"negative amount", sandboxCreds, mod(func(r *STKRequest) { r.Amount = -5 })},
		{"plus in phone", sandboxCreds, mod(func(r *STKRequest) { r.Phone = "+254708374149" })},
		{"local phone", sandboxCreds, mod(func(r *STKRequest) { r.Phone = "0708374149" })},
		{"short phone", sandboxCreds, mod(func(r *STKRequest) { r.Phone = "25470837414" })},
		{"relative callback", sandboxCreds, mod(func(r *STKRequest) { r.CallbackURL = "/mpesa/stk" })},
		{"ftp callback", sandboxCreds, mod(func(r *STKRequest) { r.CallbackURL = "ftp://x/y" })},
		{"long reference", sandboxCreds, mod(func(r *STKRequest) { r.AccountReference = "1234567890123" })},
		{"empty reference", sandboxCreds, mod(func(r *STKRequest) { r.AccountReference = "" })},
		{"long description", sandboxCreds, mod(func(r *STKRequest) { r.Description = "12345678901234" })},
		{"bad shortcode", withCreds(func(c *Credentials) { c.ShortCode = "17a379" }), pushReq()},
		{"no passkey", withCreds(func(c *Credentials) { c.PassKey = "" }), pushReq()},
		{"no secret", withCreds(func(c *Credentials) { c.ConsumerSecret = "" }), pushReq()},
		{"bad transaction type", withCreds(func(c *Credentials) { c.TransactionType = "PayBill" }), pushReq()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.STKPush(t.Context(), tc.creds, tc.req)
			if controlplane.ErrorCode(err) != controlplane.EINVALID || !IsPermanent(err) || IsRetryable(err) {
				t.Fatalf("err %v: want a permanent EINVALID", err)
			}
		})
	}
	if n := len(f.requests(pathSTKPush)); n != 0 || f.tokenHits.Load() != 0 {
		t.Fatalf("refused input reached Daraja: %d pushes, %d token fetches", n, f.tokenHits.Load())
	}
}

func TestTokenCachedUntilShortlyBeforeExpiry(t *testing.T) {
	f := newFakeDaraja(t)
	f.on(pathSTKPush, stkAccepted)
	clock := testkit.NewClock(at)
	c := New(Config{BaseURL: f.srv.URL, Now: clock.Now})
	push := func() {
		t.Helper()
		if _, err := c.STKPush(t.Context(), sandboxCreds, pushReq()); err != nil {
			t.Fatal(err)
		}
	}
	push()
	push()
	clock.Advance(3599*time.Second - tokenMargin - time.Second)
	push()
	if n := f.tokenHits.Load(); n != 1 {
		t.Fatalf("%d token fetches before expiry, want 1", n)
	}
	clock.Advance(2 * time.Second) // within the margin before Daraja's expiry
	push()
	if n := f.tokenHits.Load(); n != 2 {
		t.Fatalf("%d token fetches after expiry, want 2", n)
	}
	f.mu.Lock()
	bearers := append([]string(nil), f.bearers...)
	f.mu.Unlock()
	if want := []string{"tok1", "tok1", "tok1", "tok2"}; fmt.Sprint(bearers) != fmt.Sprint(want) {
		t.Fatalf("bearers %v, want %v", bearers, want)
	}

	// Another app (another consumer key) has its own token.
	other := sandboxCreds
	other.ConsumerKey = "other-app"
	if _, err := c.STKPush(t.Context(), other, pushReq()); err == nil {
		t.Fatal("unknown app got a token")
	}
}

func TestShortLivedTokenRefreshedAtHalfLife(t *testing.T) {
	f := newFakeDaraja(t)
	f.expiresIn = "60"
	f.on(pathSTKPush, stkAccepted)
	clock := testkit.NewClock(at)
	c := New(Config{BaseURL: f.srv.URL, Now: clock.Now})
	for range 2 {
		if _, err := c.STKPush(t.Context(), sandboxCreds, pushReq()); err != nil {
			t.Fatal(err)
		}
		clock.Advance(31 * time.Second)
	}
	if n := f.tokenHits.Load(); n != 2 {
		t.Fatalf("%d token fetches, want 2 (a 60 s token is replaced after 30 s)", n)
	}
}

func TestConcurrentFirstUseFetchesOneToken(t *testing.T) {
	f := newFakeDaraja(t)
	f.tokenGate = make(chan struct{})
	f.on(pathSTKPush, stkAccepted)
	c := New(Config{BaseURL: f.srv.URL})
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.STKPush(t.Context(), sandboxCreds, pushReq())
			errs <- err
		}()
	}
	testkit.Eventually(t, 5*time.Second, "a token fetch starts", func() bool { return f.tokenHits.Load() > 0 })
	close(f.tokenGate)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := f.tokenHits.Load(); got != 1 {
		t.Fatalf("%d token fetches for %d concurrent first calls, want 1", got, n)
	}
	if got := len(f.requests(pathSTKPush)); got != n {
		t.Fatalf("%d pushes, want %d", got, n)
	}
}

func TestTokenWaitHonoursContext(t *testing.T) {
	f := newFakeDaraja(t)
	f.tokenGate = make(chan struct{})
	defer close(f.tokenGate)
	c := New(Config{BaseURL: f.srv.URL})
	go c.STKPush(t.Context(), sandboxCreds, pushReq()) // holds the fetch
	testkit.Eventually(t, 5*time.Second, "a token fetch starts", func() bool { return f.tokenHits.Load() > 0 })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.STKPush(ctx, sandboxCreds, pushReq())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for the token: %v, want deadline exceeded", err)
	}
}

func TestInvalidTokenRefetchedOnce(t *testing.T) {
	f := newFakeDaraja(t)
	var logs testkit.LogBuffer
	// Daraja revokes tok1 early: the first push is refused, the client
	// drops tok1, fetches tok2 and the retry goes through.
	f.on(pathSTKPush, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer tok1" {
			writeJSON(w, 404, `{"requestId":"1459-15094918-1","errorCode":"404.001.03","errorMessage":"Invalid Access Token"}`)
			return
		}
		stkAccepted(w, r)
	})
	c := New(Config{BaseURL: f.srv.URL, Logger: logs.Logger()})
	if _, err := c.STKPush(t.Context(), sandboxCreds, pushReq()); err != nil {
		t.Fatal(err)
	}
	if n, p := f.tokenHits.Load(), len(f.requests(pathSTKPush)); n != 2 || p != 2 {
		t.Fatalf("%d token fetches and %d pushes, want 2 and 2", n, p)
	}
	if _, err := c.STKPush(t.Context(), sandboxCreds, pushReq()); err != nil || f.tokenHits.Load() != 2 {
		t.Fatalf("next push: %v, %d token fetches; want the new token reused", err, f.tokenHits.Load())
	}

	// A token Daraja never accepts: one re-fetch, then the error, with
	// the token Daraja echoes kept out of the error and the logs.
	f.on(pathSTKPush, func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		writeJSON(w, 401, `{"requestId":"11728-2929992-1","errorCode":"404.001.03","errorMessage":"Invalid Access Token - `+tok+`"}`)
	})
	before := f.tokenHits.Load()
	_, err := c.STKPush(t.Context(), sandboxCreds, pushReq())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != CodeInvalidToken || ae.RequestID != "11728-2929992-1" {
		t.Fatalf("err %v, want the APIError", err)
	}
	if got := f.tokenHits.Load() - before; got != 1 {
		t.Fatalf("%d re-fetches, want exactly 1", got)
	}
	if regexp.MustCompile(`tok\d`).MatchString(err.Error()) || !IsPermanent(err) {
		t.Fatalf("error %q: want a permanent error without the token", err)
	}
	for _, secret := range []string{sandboxCreds.ConsumerSecret, sandboxCreds.PassKey, "tok1", "tok2", "tok3", "tok4", base64.StdEncoding.EncodeToString([]byte(sandboxCreds.ConsumerKey + ":" + sandboxCreds.ConsumerSecret))} {
		if logs.Contains(secret) {
			t.Fatalf("log reveals %q:\n%s", secret, logs.String())
		}
	}
	if !logs.Contains("404.001.03") {
		t.Fatalf("log should name the refusal:\n%s", logs.String())
	}
}

func TestSTKQuery(t *testing.T) {
	f := newFakeDaraja(t)
	c := New(Config{BaseURL: f.srv.URL, Now: testkit.NewClock(at).Now})
	var answer atomic.Value
	f.on(pathSTKQuery, func(w http.ResponseWriter, r *http.Request) {
		a := answer.Load().([2]string)
		var status int
		fmt.Sscan(a[0], &status)
		writeJSON(w, status, a[1])
	})
	cases := []struct {
		name   string
		status string
		body   string
		want   QueryResult
	}{
		{"pending", "500", `{"requestId":"ws_CO_20022018230142206","errorCode":"500.001.1001","errorMessage":"The transaction is being processed"}`,
			QueryResult{CheckoutRequestID: "ws_CO_191220191020363925", ResultDesc: "The transaction is being processed", Pending: true}},
		{"completed", "200", `{"ResponseCode":"0","ResponseDescription":"The service request has been accepted successsfully","MerchantRequestID":"22205-34066-1","CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":"0","ResultDesc":"The service request is processed successfully."}`,
			QueryResult{MerchantRequestID: "22205-34066-1", CheckoutRequestID: "ws_CO_191220191020363925", ResultCode: 0, ResultDesc: "The service request is processed successfully."}},
		{"cancelled", "200", `{"ResponseCode":"0","ResponseDescription":"The service request has been accepted successfully","MerchantRequestID":"8555-67195-1","CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":"1032","ResultDesc":"[STK_CB - ]Request cancelled by user"}`,
			QueryResult{MerchantRequestID: "8555-67195-1", CheckoutRequestID: "ws_CO_191220191020363925", ResultCode: ResultCancelled, ResultDesc: "[STK_CB - ]Request cancelled by user"}},
		{"numeric result code", "200", `{"ResponseCode":0,"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":1037,"ResultDesc":"DS timeout"}`,
			QueryResult{MerchantRequestID: "m", CheckoutRequestID: "ws_CO_191220191020363925", ResultCode: ResultUnreachable, ResultDesc: "DS timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			answer.Store([2]string{tc.status, tc.body})
			got, err := c.STKQuery(t.Context(), sandboxCreds, "ws_CO_191220191020363925")
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	req := f.requests(pathSTKQuery)[0]
	if req["CheckoutRequestID"] != "ws_CO_191220191020363925" || req["Timestamp"] != "20191219102036" || req["BusinessShortCode"] != "174379" ||
		req["Password"] != base64.StdEncoding.EncodeToString([]byte("174379"+sandboxCreds.PassKey+"20191219102036")) {
		t.Fatalf("query body %v", req)
	}

	bad := []struct{ name, status, body, code string }{
		{"invalid id", "400", `{"requestId":"x-1","errorCode":"400.002.02","errorMessage":"Bad Request - Invalid CheckoutRequestID"}`, "400.002.02"},
		{"refused in a 200", "200", `{"ResponseCode":"1","ResponseDescription":"Rejected","ResultCode":"0"}`, "1"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			answer.Store([2]string{tc.status, tc.body})
			_, err := c.STKQuery(t.Context(), sandboxCreds, "ws_CO_1")
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != tc.code || !IsPermanent(err) {
				t.Fatalf("err %v, want a permanent APIError %s", err, tc.code)
			}
		})
	}
	answer.Store([2]string{"200", `{"ResponseCode":"0","ResultCode":"zero"}`})
	if _, err := c.STKQuery(t.Context(), sandboxCreds, "ws_CO_1"); err == nil {
		t.Fatal("non-numeric ResultCode accepted")
	}
	if _, err := c.STKQuery(t.Context(), sandboxCreds, ""); controlplane.ErrorCode(err) != controlplane.EINVALID {
		t.Fatalf("empty id: %v", err)
	}
}

func TestErrorBodiesAndClassification(t *testing.T) {
	f := newFakeDaraja(t)
	c := New(Config{BaseURL: f.srv.URL})
	cases := []struct {
		name, status, body   string
		code                 string
		retryable, permanent bool
	}{
		{"bad request", "400", `{"requestId":"16813-1590513-1","errorCode":"400.002.02","errorMessage":"Bad Request - Invalid BusinessShortCode"}`, "400.002.02", false, true},
		{"subscriber locked", "500", `{"requestId":"x","errorCode":"500.001.1001","errorMessage":"Unable to lock subscriber, a transaction is already in process for the current subscriber"}`, "500.001.1001", true, false},
		{"server error", "503", `<html>Service Unavailable</html>`, "", true, false},
		{"rate limited", "429", `{"requestId":"x","errorCode":"429.001.01","errorMessage":"Too many requests"}`, "429.001.01", true, false},
		{"refused in a 200", "200", `{"MerchantRequestID":"m","CheckoutRequestID":"c","ResponseCode":"1","ResponseDescription":"Rejected"}`, "1", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.on(pathSTKPush, func(w http.ResponseWriter, r *http.Request) {
				var s int
				fmt.Sscan(tc.status, &s)
				writeJSON(w, s, tc.body)
			})
			_, err := c.STKPush(t.Context(), sandboxCreds, pushReq())
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != tc.code {
				t.Fatalf("err %v, want APIError code %q", err, tc.code)
			}
			if IsRetryable(err) != tc.retryable || IsPermanent(err) != tc.permanent {
				t.Fatalf("err %v: retryable %v permanent %v, want %v %v", err, IsRetryable(err), IsPermanent(err), tc.retryable, tc.permanent)
			}
		})
	}
	f.on(pathSTKPush, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"ResponseCode":"0"}`) })
	if _, err := c.STKPush(t.Context(), sandboxCreds, pushReq()); err == nil || !IsRetryable(err) {
		t.Fatalf("acceptance without ids: %v, want a retryable error", err)
	}
	f.on(pathSTKPush, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, strings.Repeat(" ", MaxBodyBytes+1)) })
	if _, err := c.STKPush(t.Context(), sandboxCreds, pushReq()); err == nil || !strings.Contains(err.Error(), "over") {
		t.Fatalf("oversized answer: %v", err)
	}

	// Wrong consumer secret: the token request fails with Daraja's error.
	wrong := sandboxCreds
	wrong.ConsumerSecret = "nope"
	_, err := c.STKPush(t.Context(), wrong, pushReq())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "400.008.01" || !IsPermanent(err) {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestTimeoutsAndNetworkErrors(t *testing.T) {
	f := newFakeDaraja(t)
	hang := make(chan struct{})
	defer close(hang)
	f.on(pathSTKPush, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	c := New(Config{BaseURL: f.srv.URL})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.STKPush(ctx, sandboxCreds, pushReq())
	if !errors.Is(err, context.DeadlineExceeded) || !IsRetryable(err) || IsPermanent(err) {
		t.Fatalf("context timeout: %v, want a retryable deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timed out after %v", d)
	}

	// The client's own timeout (Config.HTTP) bounds a call without a
	// deadline.
	short := New(Config{BaseURL: f.srv.URL, HTTP: &http.Client{Timeout: 200 * time.Millisecond}})
	if _, err := short.STKPush(t.Context(), sandboxCreds, pushReq()); !IsRetryable(err) {
		t.Fatalf("client timeout: %v, want retryable", err)
	}

	// Config.Timeout bounds a call whose context has no deadline, even
	// with an HTTP client that has none.
	bounded := New(Config{BaseURL: f.srv.URL, HTTP: &http.Client{}, Timeout: 200 * time.Millisecond})
	if _, err := bounded.STKPush(t.Context(), sandboxCreds, pushReq()); !errors.Is(err, context.DeadlineExceeded) || !IsRetryable(err) {
		t.Fatalf("call timeout: %v, want a retryable deadline error", err)
	}

	cancelled, cancelNow := context.WithCancel(t.Context())
	cancelNow()
	if _, err := c.STKQuery(cancelled, sandboxCreds, "ws_CO_1"); !errors.Is(err, context.Canceled) || IsRetryable(err) {
		t.Fatalf("cancelled: %v, want context.Canceled, not retryable", err)
	}

	// Nothing listening.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	if _, err := New(Config{BaseURL: url}).STKPush(t.Context(), sandboxCreds, pushReq()); !IsRetryable(err) || IsPermanent(err) {
		t.Fatalf("connection refused: %v, want retryable", err)
	}
}

func TestRegisterC2B(t *testing.T) {
	f := newFakeDaraja(t)
	f.on(pathRegisterC2B, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"OriginatorCoversationID":"6e86-45dd-91ac-fd5d4178ab523408729","ResponseCode":"0","ResponseDescription":"Success"}`)
	})
	c := New(Config{BaseURL: f.srv.URL})
	if err := c.RegisterC2B(t.Context(), sandboxCreds, "https://cp.example.com/c2b/confirm/t1", "https://cp.example.com/c2b/validate/t1", C2BCompleted); err != nil {
		t.Fatal(err)
	}
	got := f.requests(pathRegisterC2B)[0]
	want := map[string]any{"ShortCode": "174379", "ResponseType": "Completed", "ConfirmationURL": "https://cp.example.com/c2b/confirm/t1", "ValidationURL": "https://cp.example.com/c2b/validate/t1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("body %v, want %v", got, want)
	}
	if err := c.RegisterC2B(t.Context(), sandboxCreds, "https://a/b", "https://a/c", "Complete"); controlplane.ErrorCode(err) != controlplane.EINVALID {
		t.Fatalf("bad response type: %v", err)
	}
	f.on(pathRegisterC2B, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 500, `{"requestId":"x","errorCode":"500.003.1001","errorMessage":"Urls are already registered"}`)
	})
	var ae *APIError
	if err := c.RegisterC2B(t.Context(), sandboxCreds, "https://a/b", "https://a/c", C2BCancelled); !errors.As(err, &ae) || ae.Code != "500.003.1001" {
		t.Fatalf("refused registration: %v", err)
	}
}

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	var logs testkit.LogBuffer
	logs.Logger().Info("creds", "c", sandboxCreds)
	for _, out := range []string{fmt.Sprint(sandboxCreds), fmt.Sprintf("%+v %#v", sandboxCreds, sandboxCreds), logs.String()} {
		if strings.Contains(out, sandboxCreds.ConsumerSecret) || strings.Contains(out, sandboxCreds.PassKey) || strings.Contains(out, sandboxCreds.ConsumerKey) {
			t.Fatalf("%q reveals a secret", out)
		}
		if !strings.Contains(out, "174379") {
			t.Fatalf("%q should name the shortcode", out)
		}
	}
}

// The default HTTP client does not follow redirects: a redirect would
// carry the bearer token (or the Basic credentials) to another host.
func TestDefaultClientRefusesRedirects(t *testing.T) {
	var leaked atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		stkAccepted(w, r)
	}))
	defer elsewhere.Close()
	f := newFakeDaraja(t)
	f.on(pathSTKPush, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+pathSTKPush, http.StatusTemporaryRedirect)
	})
	_, err := New(Config{BaseURL: f.srv.URL}).STKPush(t.Context(), sandboxCreds, pushReq())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTemporaryRedirect {
		t.Fatalf("redirect: %v, want an APIError with status 307", err)
	}
	if leaked.Load() != 0 {
		t.Fatal("the redirect was followed with credentials")
	}
}
