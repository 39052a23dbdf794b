package daraja

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

// start runs a Server on 127.0.0.1:0 for the test.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Logger == nil {
		var logs testkit.LogBuffer
		opts.Logger = logs.Logger()
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("simulator logs:\n%s", logs.String())
			}
		})
	}
	s := New(opts)
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// call sends a request and decodes the JSON answer into a map (numbers as
// json.Number), failing the test if the answer is not JSON.
func call(t *testing.T, method, url string, hdr map[string]string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, want application/json; body %s", method, url, ct, b)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, url, b, err)
	}
	return resp.StatusCode, m
}

func getToken(t *testing.T, s *Server) string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL()+"/oauth/v1/generate?grant_type=client_credentials", nil)
	req.SetBasicAuth(DefaultConsumerKey, DefaultConsumerSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.AccessToken == "" {
		t.Fatalf("token: status %d, err %v", resp.StatusCode, err)
	}
	return out.AccessToken
}

// postAPI POSTs v as JSON to a Daraja endpoint with a bearer token.
func postAPI(t *testing.T, s *Server, tok, path string, v any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return call(t, "POST", s.URL()+path, map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, b)
}

const testPhone = "254708374149"

var testTime = time.Date(2026, 12, 7, 10, 21, 15, 0, eat)

// stkBody is a valid processrequest body for the sandbox shortcode, with
// the given members replaced (a nil value deletes the member).
func stkBody(cb string, override map[string]any) map[string]any {
	ts := Timestamp(testTime)
	b := map[string]any{
		"BusinessShortCode": 174379,
		"Password":          Password(SandboxShortCode, SandboxPasskey, ts),
		"Timestamp":         ts,
		"TransactionType":   "CustomerPayBillOnline",
		"Amount":            "1",
		"PartyA":            testPhone,
		"PartyB":            "174379",
		"PhoneNumber":       testPhone,
		"CallBackURL":       cb,
		"AccountReference":  "hs-24h",
		"TransactionDesc":   "24h plan",
	}
	for k, v := range override {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

func queryBody(id string) map[string]any {
	ts := Timestamp(testTime)
	return map[string]any{
		"BusinessShortCode": "174379", "Password": Password(SandboxShortCode, SandboxPasskey, ts),
		"Timestamp": ts, "CheckoutRequestID": id,
	}
}

// receiver is a merchant endpoint that records every request body.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	got    chan []byte
	answer func(body []byte) (int, string) // nil answers 200 {"ResultCode":0,"ResultDesc":"Accepted"}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan []byte, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if req.Method != "POST" || req.Header.Get("Content-Type") != "application/json" {
			t.Errorf("merchant got %s with Content-Type %q, want POST application/json", req.Method, req.Header.Get("Content-Type"))
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		answer := r.answer
		r.mu.Unlock()
		status, body := 200, `{"ResultCode":0,"ResultDesc":"Accepted"}`
		if answer != nil {
			status, body = answer(b)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
		r.got <- b
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// next waits for the next request body.
func (r *receiver) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-r.got:
		return b
	case <-time.After(testkit.DefaultWait):
		t.Fatal("timed out waiting for a request to the merchant")
		return nil
	}
}

// push makes a valid STK push and returns its CheckoutRequestID.
func push(t *testing.T, s *Server, tok, cb string, override map[string]any) string {
	t.Helper()
	status, out := postAPI(t, s, tok, "/mpesa/stkpush/v1/processrequest", stkBody(cb, override))
	if status != 200 {
		t.Fatalf("push: status %d %v", status, out)
	}
	return out["CheckoutRequestID"].(string)
}

// answered waits until transaction id is no longer pending.
func answered(t *testing.T, s *Server, id string) Transaction {
	t.Helper()
	var tx Transaction
	testkit.Eventually(t, 0, "transaction "+id+" answered", func() bool {
		tx, _ = s.Transaction(id)
		return tx.State != StatePending
	})
	return tx
}
