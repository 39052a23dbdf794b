package daraja

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

func register(t *testing.T, s *Server, tok, version string, body map[string]any) (int, map[string]any) {
	t.Helper()
	return postAPI(t, s, tok, "/mpesa/c2b/"+version+"/registerurl", body)
}

func TestC2BRegisterURLValidation(t *testing.T) {
	s := start(t, Options{})
	tok := getToken(t, s)
	good := func(override map[string]any) map[string]any {
		b := map[string]any{"ShortCode": "174379", "ResponseType": "Completed",
			"ConfirmationURL": "https://cp.example.com/hooks/c2b/confirm", "ValidationURL": "https://cp.example.com/hooks/c2b/validate"}
		for k, v := range override {
			b[k] = v
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		override map[string]any
		msg      string
	}{
		{"shortcode", map[string]any{"ShortCode": "abc"}, "Bad Request - Invalid ShortCode"},
		{"response type lower case", map[string]any{"ResponseType": "completed"}, "Bad Request - Invalid ResponseType"},
		{"response type Canceled", map[string]any{"ResponseType": "Canceled"}, "Bad Request - Invalid ResponseType"},
		{"confirmation URL with mpesa", map[string]any{"ConfirmationURL": "https://cp.example.com/mpesa/confirm"}, "Bad Request - Invalid ConfirmationURL"},
		{"confirmation URL with M-PESA", map[string]any{"ConfirmationURL": "https://M-PESA.example.com/confirm"}, "Bad Request - Invalid ConfirmationURL"},
		{"validation URL with Safaricom", map[string]any{"ValidationURL": "https://cp.example.com/Safaricom/v"}, "Bad Request - Invalid ValidationURL"},
		{"validation URL with query", map[string]any{"ValidationURL": "https://cp.example.com/query/v"}, "Bad Request - Invalid ValidationURL"},
		{"confirmation URL missing", map[string]any{"ConfirmationURL": ""}, "Bad Request - Invalid ConfirmationURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := register(t, s, tok, "v2", good(tc.override))
			wantError(t, status, out, 400, "400.002.02", tc.msg)
		})
	}
	status, out := register(t, s, tok, "v2", good(map[string]any{"ShortCode": "600999"}))
	wantError(t, status, out, 500, "500.001.1001", "Merchant does not exist")
	status, out = register(t, s, tok, "v1", good(nil))
	if status != 200 || out["ResponseCode"] != "0" || out["ResponseDescription"] != "Success" || out["OriginatorCoversationID"] == "" {
		t.Fatalf("register: %d %v", status, out)
	}
	// The sandbox lets URLs be registered again; production does not.
	if status, out := register(t, s, tok, "v1", good(nil)); status != 200 {
		t.Errorf("sandbox re-register: %d %v", status, out)
	}
	p := start(t, Options{Production: true})
	ptok := getToken(t, p)
	status, out = register(t, p, ptok, "v2", good(map[string]any{"ConfirmationURL": "http://cp.example.com/c"}))
	wantError(t, status, out, 400, "400.002.02", "Bad Request - Invalid ConfirmationURL")
	if status, out := register(t, p, ptok, "v2", good(nil)); status != 200 {
		t.Fatalf("production register: %d %v", status, out)
	}
	status, out = register(t, p, ptok, "v2", good(nil))
	wantError(t, status, out, 500, "500.003.1001", "Urls are already registered.")
	status, out = postAPI(t, p, ptok, "/mpesa/c2b/v2/simulate", map[string]any{"ShortCode": 174379, "CommandID": "CustomerPayBillOnline", "Amount": 1, "Msisdn": 254708374149})
	wantError(t, status, out, 404, "404.001.01", "Resource not found")
}

func TestC2BValidationAndConfirmation(t *testing.T) {
	clock := testkit.NewClock(testTime)
	s := start(t, Options{Now: clock.Now})
	tok := getToken(t, s)
	validate, confirm := newReceiver(t), newReceiver(t)
	if status, out := register(t, s, tok, "v2", map[string]any{"ShortCode": "174379", "ResponseType": "Completed",
		"ConfirmationURL": confirm.URL + "/c", "ValidationURL": validate.URL + "/v"}); status != 200 {
		t.Fatalf("register: %d %v", status, out)
	}
	ctx := context.Background()

	// Rejected: no confirmation, the transaction failed with the code.
	validate.answer = func([]byte) (int, string) { return 200, `{"ResultCode":"C2B00012","ResultDesc":"Rejected"}` }
	tx, err := s.PayC2B(ctx, C2BPayment{ShortCode: "174379", MSISDN: testPhone, Amount: 10, BillRef: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if tx.State != StateFailed || tx.C2BResultCode != "C2B00012" || tx.ResultDesc != "Invalid Account Number" {
		t.Errorf("rejected payment %+v", tx)
	}
	var n C2BNotification
	if err := json.Unmarshal(validate.next(t), &n); err != nil {
		t.Fatal(err)
	}
	want := C2BNotification{TransactionType: "Pay Bill", TransID: tx.TransID, TransTime: "20261207102115", TransAmount: "10.00",
		BusinessShortCode: "174379", BillRefNumber: "nobody", MSISDN: "2547 ***** 149", FirstName: "JOHN"}
	if n != want {
		t.Errorf("validation request\n%+v, want\n%+v", n, want)
	}
	if !reReceipt.MatchString(n.TransID) {
		t.Errorf("TransID %q is not a receipt", n.TransID)
	}
	if c := confirm.count(); c != 0 {
		t.Errorf("rejected payment sent %d confirmations", c)
	}

	// Accepted with a ThirdPartyTransID: the confirmation carries it and
	// the new balance.
	validate.answer = func([]byte) (int, string) {
		return 200, `{"ResultCode":0,"ResultDesc":"Accepted","ThirdPartyTransID":"sp-77"}`
	}
	tx, err = s.PayC2B(ctx, C2BPayment{ShortCode: "174379", MSISDN: testPhone, Amount: 250, BillRef: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	validate.next(t)
	if err := json.Unmarshal(confirm.next(t), &n); err != nil {
		t.Fatal(err)
	}
	if tx.State != StateCompleted || n.TransID != tx.TransID || n.TransAmount != "250.00" || n.ThirdPartyTransID != "sp-77" ||
		n.OrgAccountBalance != "250.00" || n.BillRefNumber != "alice" {
		t.Errorf("accepted payment %+v, confirmation %+v", tx, n)
	}
	if len(tx.Deliveries) != 2 || tx.Deliveries[0].Kind != "validation" || tx.Deliveries[1].Kind != "confirmation" || tx.Deliveries[1].Status != 200 {
		t.Errorf("deliveries %+v", tx.Deliveries)
	}

	// Resend repeats the confirmation.
	if status, err := s.Resend(ctx, tx.TransID, ""); err != nil || status != 200 {
		t.Fatalf("resend: %d %v", status, err)
	}
	var again C2BNotification
	json.Unmarshal(confirm.next(t), &again)
	if again.TransID != tx.TransID {
		t.Errorf("resent confirmation %+v", again)
	}
}

// A validation URL that does not answer in time: ResponseType decides.
func TestC2BValidationTimeout(t *testing.T) {
	for _, rt := range []string{"Completed", "Cancelled"} {
		t.Run(rt, func(t *testing.T) {
			s := start(t, Options{ValidationTimeout: 50 * time.Millisecond})
			tok := getToken(t, s)
			stuck := newReceiver(t)
			unstick := make(chan struct{})
			t.Cleanup(func() { close(unstick) })
			stuck.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Reading the body lets the server notice the client hang up.
				io.ReadAll(r.Body)
				select {
				case <-r.Context().Done():
				case <-unstick:
				}
			})
			confirm := newReceiver(t)
			if status, out := register(t, s, tok, "v1", map[string]any{"ShortCode": "174379", "ResponseType": rt,
				"ConfirmationURL": confirm.URL, "ValidationURL": stuck.URL}); status != 200 {
				t.Fatalf("register: %d %v", status, out)
			}
			tx, err := s.PayC2B(context.Background(), C2BPayment{ShortCode: "174379", MSISDN: testPhone, Amount: 5, BillRef: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if rt == "Cancelled" {
				if tx.State != StateFailed || confirm.count() != 0 {
					t.Errorf("cancelled: %+v, %d confirmations", tx, confirm.count())
				}
				return
			}
			var n C2BNotification
			json.Unmarshal(confirm.next(t), &n)
			h := sha256.Sum256([]byte(testPhone))
			if tx.State != StateCompleted || n.MSISDN != hex.EncodeToString(h[:]) {
				t.Errorf("completed: %+v, confirmation MSISDN %q, want v1's SHA-256", tx, n.MSISDN)
			}
		})
	}
}

// The simulate endpoint validates like Daraja and pays asynchronously.
func TestC2BSimulate(t *testing.T) {
	s := start(t, Options{})
	tok := getToken(t, s)
	confirm := newReceiver(t)
	register(t, s, tok, "v2", map[string]any{"ShortCode": "174379", "ResponseType": "Completed", "ConfirmationURL": confirm.URL})
	for _, tc := range []struct {
		override map[string]any
		msg      string
	}{
		{map[string]any{"CommandID": "PayBill"}, "Bad Request - Invalid CommandID"},
		{map[string]any{"Amount": 0.5}, "Bad Request - Invalid Amount"},
		{map[string]any{"Msisdn": "0708374149"}, "Bad Request - Invalid Msisdn"},
		{map[string]any{"ShortCode": ""}, "Bad Request - Invalid ShortCode"},
	} {
		b := map[string]any{"ShortCode": 174379, "CommandID": "CustomerBuyGoodsOnline", "Amount": 1, "Msisdn": 254708374149, "BillRefNumber": nil}
		for k, v := range tc.override {
			b[k] = v
		}
		status, out := postAPI(t, s, tok, "/mpesa/c2b/v2/simulate", b)
		wantError(t, status, out, 400, "400.002.02", tc.msg)
	}
	status, out := postAPI(t, s, tok, "/mpesa/c2b/v2/simulate",
		map[string]any{"ShortCode": 174379, "CommandID": "CustomerBuyGoodsOnline", "Amount": 1, "Msisdn": 254708374149, "BillRefNumber": nil})
	if status != 200 || out["ResponseCode"] != "0" || out["ResponseDescription"] != "Accept the service request successfully." {
		t.Fatalf("simulate: %d %v", status, out)
	}
	var n C2BNotification
	json.Unmarshal(confirm.next(t), &n)
	if n.TransactionType != "Buy Goods" || n.TransAmount != "1.00" || n.BillRefNumber != "" {
		t.Errorf("confirmation %+v", n)
	}
}
