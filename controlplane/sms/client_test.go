package sms_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/sms"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim/smsgw"
)

const apiKey = "atsk_secret_key_123"

var creds = sms.Credentials{Username: "tenant1", APIKey: apiKey, SenderID: "SITEPULSE"}

// start runs the real simulator on loopback HTTP.
func start(t *testing.T, opts smsgw.Options) (*smsgw.Server, *sms.Client, *testkit.LogBuffer) {
	t.Helper()
	opts.Accounts = append(opts.Accounts, smsgw.Account{Username: creds.Username, APIKey: apiKey})
	s := smsgw.New(opts)
	if err := s.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var logs testkit.LogBuffer
	c := sms.New(sms.Config{BaseURL: s.URL(), Timeout: 500 * time.Millisecond, Logger: logs.Logger()})
	return s, c, &logs
}

func TestSend(t *testing.T) {
	s, c, _ := start(t, smsgw.Options{})
	id, err := c.Send(context.Background(), creds, "+254712345678", "Receipt QKX1")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Messages("+254712345678")
	if len(got) != 1 || got[0].MessageID != id || got[0].Text != "Receipt QKX1" || got[0].From != "SITEPULSE" {
		t.Fatalf("received %+v, id %q", got, id)
	}
}

func TestSendFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     *smsgw.SMSFault
		creds     sms.Credentials
		to        string
		code      string
		maybeSent bool
	}{
		{name: "invalid number", to: "0712", code: controlplane.EINVALID},
		{name: "bad key", creds: sms.Credentials{Username: creds.Username, APIKey: apiKey + "x"}, code: controlplane.EUNAUTHORIZED},
		{name: "500", fault: &smsgw.SMSFault{HTTPStatus: 500}, code: controlplane.EUNAVAILABLE},
		{name: "401", fault: &smsgw.SMSFault{HTTPStatus: 401}, code: controlplane.EUNAUTHORIZED},
		{name: "sender id", fault: &smsgw.SMSFault{StatusCode: smsgw.StatusInvalidSenderID}, code: controlplane.EINVALID},
		{name: "balance", fault: &smsgw.SMSFault{StatusCode: smsgw.StatusInsufficientBalance}, code: controlplane.EUNAVAILABLE},
		{name: "timeout", fault: &smsgw.SMSFault{Hang: true}, code: controlplane.EUNAVAILABLE, maybeSent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, logs := start(t, smsgw.Options{})
			if tc.fault != nil {
				s.FailSMS(1, *tc.fault)
			}
			cr, to := creds, "+254712345678"
			if tc.creds.Username != "" {
				cr = tc.creds
			}
			if tc.to != "" {
				to = tc.to
			}
			_, err := c.Send(context.Background(), cr, to, "hello")
			if got := controlplane.ErrorCode(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if got := sms.MaybeSent(err); got != tc.maybeSent {
				t.Errorf("MaybeSent = %v, want %v", got, tc.maybeSent)
			}
			if strings.Contains(err.Error(), apiKey) || logs.Contains(apiKey) {
				t.Errorf("apiKey leaked: %v / %s", err, logs.String())
			}
		})
	}
}

func TestDeliveryReportReachesCallback(t *testing.T) {
	var mu sync.Mutex
	var reports []sms.DeliveryReport
	calls := 0
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 { // the first attempt fails: the simulator retries
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		d, err := sms.DecodeDeliveryReport(r)
		if err != nil {
			t.Errorf("decode: %v", err)
		}
		reports = append(reports, d)
	}))
	defer cb.Close()
	s, c, _ := start(t, smsgw.Options{DeliveryReportURL: cb.URL, DeliveryReportDelay: 10 * time.Millisecond, ReportBackoff: 10 * time.Millisecond})
	s.SetDeliveryOutcome("+254700000002", smsgw.DeliveryOutcome{Status: "Failed", FailureReason: "UserDoesNotExist"})
	id, err := c.Send(context.Background(), creds, "+254700000002", "hi")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "delivery report", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reports) == 1
	})
	d := reports[0]
	if d.MessageID != id || d.Status != "Failed" || !d.Final || d.Delivered || d.FailureReason != "UserDoesNotExist" || d.PhoneNumber != "+254700000002" {
		t.Fatalf("report %+v", d)
	}
}

func TestDeliveryReportFromForm(t *testing.T) {
	d, err := sms.DeliveryReportFromForm(url.Values{"id": {"ATXid_1"}, "status": {"Success"}, "retryCount": {"2"}})
	if err != nil || !d.Delivered || !d.Final || d.RetryCount != 2 {
		t.Fatalf("%+v %v", d, err)
	}
	if _, err := sms.DeliveryReportFromForm(url.Values{"status": {"Success"}}); controlplane.ErrorCode(err) != controlplane.EINVALID {
		t.Fatalf("missing id: %v", err)
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader("id="+strings.Repeat("x", sms.MaxDeliveryReportBytes)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := sms.DecodeDeliveryReport(r); controlplane.ErrorCode(err) != controlplane.ETOOLARGE {
		t.Fatalf("large: %v", err)
	}
}

func FuzzDecodeDeliveryReport(f *testing.F) {
	f.Add("id=ATXid_1&status=Success&phoneNumber=%2B254712345678&networkCode=63902&retryCount=0")
	f.Add("id=x&status=Failed&failureReason=DeliveryFailure&retryCount=-1")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		d, err := sms.DecodeDeliveryReport(r)
		if err == nil && (d.MessageID == "" || d.Status == "" || d.RetryCount < 0 || d.Delivered && !d.Final) {
			t.Fatalf("accepted %+v", d)
		}
	})
}
