package daraja

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzAPI feeds arbitrary bodies to every POST endpoint: each answer is
// JSON, either Daraja's error body or a success, and nothing panics.
func FuzzAPI(f *testing.F) {
	good, _ := json.Marshal(stkBody("https://cp.example.com/cb", nil))
	f.Add(0, good)
	f.Add(1, []byte(`{"BusinessShortCode":"174379","Password":"x","Timestamp":"20261207102115","CheckoutRequestID":"ws_CO_1"}`))
	f.Add(2, []byte(`{"ShortCode":"174379","ResponseType":"Completed","ConfirmationURL":"https://a.b/c"}`))
	f.Add(3, []byte(`{"ShortCode":174379,"CommandID":"CustomerPayBillOnline","Amount":1e3,"Msisdn":254708374149}`))
	f.Add(0, []byte(`{"Amount":[1],"PartyA":{},"BusinessShortCode":null}`))
	f.Add(0, []byte(`{"Amount":"1.000000000000000000001"}`))
	paths := []string{"/mpesa/stkpush/v1/processrequest", "/mpesa/stkpushquery/v1/query", "/mpesa/c2b/v2/registerurl", "/mpesa/c2b/v1/simulate"}
	s := New(Options{HTTPClient: &http.Client{Transport: refuse{}}})
	defer s.Close()
	s.tokens["tok"] = token{app: DefaultConsumerKey, expires: s.now().Add(s.opts.TokenTTL)}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, which int, body []byte) {
		path := paths[uint(which)%uint(len(paths))]
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s answered %d with non-JSON %q", path, w.Code, w.Body.Bytes())
		}
		if w.Code != 200 {
			if _, ok := out["errorCode"].(string); !ok {
				t.Fatalf("%s answered %d without errorCode: %v", path, w.Code, out)
			}
		}
	})
}

// FuzzValidationResponse reads arbitrary merchant answers to a C2B
// validation request.
func FuzzValidationResponse(f *testing.F) {
	f.Add([]byte(`{"ResultCode":"0","ResultDesc":"Accepted"}`))
	f.Add([]byte(`{"ResultCode":0}`))
	f.Add([]byte(`{"ResultCode":"C2B00011","ResultDesc":"Rejected"}`))
	f.Add([]byte(`{"ResultCode":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		accepted, code, _ := parseValidation(200, b, nil)
		if accepted && code != "0" {
			t.Fatalf("accepted with result code %q", code)
		}
	})
}

// refuse is a transport that never connects, so fuzzed C2B payments do
// not reach the network.
type refuse struct{}

func (refuse) RoundTrip(*http.Request) (*http.Response, error) { return nil, http.ErrServerClosed }
