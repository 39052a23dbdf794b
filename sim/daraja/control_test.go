package daraja

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// The control API over HTTP: script, push, list, release, resend, forge,
// C2B pay, policy, apps, shortcodes, token expiry.
func TestControlAPI(t *testing.T) {
	s := start(t, Options{})
	ctl := httptest.NewServer(s.ControlHandler())
	t.Cleanup(ctl.Close)
	do := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		return call(t, method, ctl.URL+path, map[string]string{"Content-Type": "application/json"}, b)
	}
	tok := getToken(t, s)
	cb := newReceiver(t)

	if status, out := do("POST", "/control/script", map[string]any{"phone": testPhone, "outcomes": []map[string]any{
		{"result_code": 0, "hold": true}, {"result_code": 1032, "delay": "1ms"}}}); status != 200 || out["queued"] != json.Number("2") {
		t.Fatalf("script: %d %v", status, out)
	}
	if status, out := do("POST", "/control/script", map[string]any{"outcomes": []map[string]any{{"delay": "soon"}}}); status != 400 {
		t.Errorf("bad delay: %d %v", status, out)
	}
	held := push(t, s, tok, cb.URL, nil)
	status, out := do("GET", "/control/transactions/"+held, nil)
	if status != 200 || out["state"] != "pending" || out["phone"] != testPhone || out["amount"] != json.Number("1") {
		t.Fatalf("get pending: %d %v", status, out)
	}
	if status, out := do("POST", "/control/transactions/"+held+"/release", nil); status != 200 || out["state"] != "completed" {
		t.Fatalf("release: %d %v", status, out)
	}
	cb.next(t)
	if status, _ := do("POST", "/control/transactions/"+held+"/release", nil); status != 409 {
		t.Errorf("second release: %d, want 409", status)
	}
	if status, _ := do("POST", "/control/transactions/ws_CO_nope/release", nil); status != 404 {
		t.Errorf("unknown release: %d, want 404", status)
	}
	failed := push(t, s, tok, cb.URL, nil)
	cb.next(t)
	answered(t, s, failed)
	status, out = do("GET", "/control/transactions", nil)
	list, _ := out["transactions"].([]any)
	if status != 200 || len(list) != 2 || list[1].(map[string]any)["result_code"] != json.Number("1032") {
		t.Fatalf("list: %d %v", status, out)
	}

	// Resend the first callback to another URL.
	other := newReceiver(t)
	if status, out := do("POST", "/control/transactions/"+held+"/resend", map[string]string{"url": other.URL}); status != 200 || out["status"] != json.Number("200") {
		t.Fatalf("resend: %d %v", status, out)
	}
	if !strings.Contains(string(other.next(t)), held) {
		t.Error("resent callback lacks the CheckoutRequestID")
	}

	// A forged callback, structured and raw.
	forged := map[string]any{"url": other.URL, "callback": map[string]any{"MerchantRequestID": "m", "CheckoutRequestID": "ws_CO_forged",
		"ResultCode": 0, "ResultDesc": "ok", "CallbackMetadata": map[string]any{"Item": []map[string]any{{"Name": "Amount", "Value": json.Number("5.00")}}}}}
	if status, out := do("POST", "/control/callbacks", forged); status != 200 || out["status"] != json.Number("200") {
		t.Fatalf("forge: %d %v", status, out)
	}
	if got := other.next(t); !bytes.Contains(got, []byte(`{"Body":{"stkCallback":{"MerchantRequestID":"m","CheckoutRequestID":"ws_CO_forged","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{"Item":[{"Name":"Amount","Value":5.00}]}}}}`)) {
		t.Errorf("forged body %s", got)
	}
	if status, _ := do("POST", "/control/callbacks", map[string]any{"url": other.URL, "raw": "{not json"}); status != 200 {
		t.Errorf("raw forge: %d", status)
	}
	if got := other.next(t); string(got) != "{not json" {
		t.Errorf("raw body %q", got)
	}
	if status, _ := do("POST", "/control/callbacks", map[string]any{"url": other.URL}); status != 400 {
		t.Errorf("forge without a body: %d, want 400", status)
	}

	// C2B pay with no URLs registered completes silently.
	status, out = do("POST", "/control/c2b/pay", map[string]any{"shortcode": "174379", "msisdn": testPhone, "amount": 20, "bill_ref": "bob"})
	if status != 200 || out["state"] != "completed" || out["kind"] != "c2b" || out["trans_id"] == "" {
		t.Fatalf("c2b pay: %d %v", status, out)
	}
	if status, _ := do("POST", "/control/c2b/pay", map[string]any{"shortcode": "174379", "msisdn": "07", "amount": 20}); status != 400 {
		t.Errorf("bad c2b pay: %d, want 400", status)
	}

	// Policy, apps, shortcodes, token expiry.
	if status, _ := do("PUT", "/control/policy", map[string]any{"failure_rate": 1, "failure_codes": []int{2001}, "delay": "0s"}); status != 200 {
		t.Fatal("policy")
	}
	if _, out := do("GET", "/control/policy", nil); out["failure_rate"] != json.Number("1") {
		t.Errorf("policy read back %v", out)
	}
	if tx := answered(t, s, push(t, s, tok, cb.URL, map[string]any{"PhoneNumber": "254711000001", "PartyA": "254711000001"})); tx.ResultCode != 2001 {
		t.Errorf("policy outcome %d, want 2001", tx.ResultCode)
	}
	if status, _ := do("PUT", "/control/policy", map[string]any{"failure_rate": 2}); status != 400 {
		t.Errorf("failure_rate 2: %d, want 400", status)
	}
	if status, _ := do("POST", "/control/shortcodes", map[string]any{"shortcode": "600100", "passkey": "pk"}); status != 200 {
		t.Fatal("shortcode")
	}
	ts := Timestamp(testTime)
	if status, out := postAPI(t, s, tok, "/mpesa/stkpush/v1/processrequest", stkBody(cb.URL, map[string]any{
		"BusinessShortCode": "600100", "PartyB": "600100", "Password": Password("600100", "pk", ts)})); status != 200 {
		t.Errorf("push to the added shortcode: %d %v", status, out)
	}
	if status, _ := do("POST", "/control/apps", map[string]any{"consumer_key": "k"}); status != 400 {
		t.Errorf("app without secret: %d, want 400", status)
	}
	if status, _ := do("POST", "/control/tokens/expire", nil); status != 200 {
		t.Fatal("expire")
	}
	status, out = postAPI(t, s, tok, "/mpesa/stkpushquery/v1/query", queryBody(held))
	wantError(t, status, out, 404, "404.001.03", "Invalid Access Token")
	status, out = postAPI(t, s, tok, "/mpesa/c2b/v2/registerurl", map[string]any{})
	wantError(t, status, out, 400, "400.003.01", "Invalid Access Token")
	if status, _ := do("GET", "/control/nothing", nil); status != 404 {
		t.Errorf("unknown route: %d", status)
	}
	if status, _ := do("DELETE", "/control/script", nil); status != 200 {
		t.Error("clear scripts")
	}
}
