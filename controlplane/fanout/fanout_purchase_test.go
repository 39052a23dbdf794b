package fanout

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

func TestFanoutPurchaseChannel(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(PurchaseChannel(41), "")
	c.subscribeOK(PurchaseChannel(43), "")
	f := New(h, Options{Now: func() time.Time { return fanoutEpoch }})

	failed := testPayment(3, 43, controlplane.PaymentFailed)
	failed.Reason = "Request cancelled by user +254799000111"
	code := 1032
	failed.ResultCode = &code
	for _, p := range []controlplane.Payment{testPayment(3, 41, controlplane.PaymentPending),
		testPayment(3, 41, controlplane.PaymentCompleted), failed, testPayment(3, 44, controlplane.PaymentCompleted)} {
		f.Apply(controlplane.PaymentChanged{Payment: p})
	}
	// Pending is not an outcome; payment 44 is another purchase's.
	fr := c.expect(EventPaymentCompleted)
	if fr.Channel != "private-purchase.41" {
		t.Errorf("channel = %s, want private-purchase.41", fr.Channel)
	}
	noLeaks(t, "purchase completed", fr.Raw)
	fr = c.expect(EventPaymentFailed)
	noLeaks(t, "purchase failed", fr.Raw)
	var got struct {
		Payment struct {
			ID         int64 `json:"id"`
			ResultCode int   `json:"result_code"`
		} `json:"payment"`
		Seq *int `json:"seq"`
	}
	fr.decode(t, &got)
	if got.Payment.ID != 43 || got.Payment.ResultCode != 1032 || got.Seq != nil {
		t.Errorf("failed purchase event = %s, want payment 43 with result code 1032 and no seq", fr.Data)
	}
	for _, hidden := range []string{"ws_CO_", `"tenant_id"`} {
		if strings.Contains(string(fr.Raw), hidden) {
			t.Errorf("purchase event carries %q: %s", hidden, fr.Raw)
		}
	}
	c.alive()
	if len(f.seq) != 1 { // the tenant's payments channel only
		t.Errorf("fan-out keeps seq for %d channels, want 1 (not one per purchase)", len(f.seq))
	}
}

// tokenFunc is a PurchaseTokens of a function.
type tokenFunc func(string) (int64, int64, error)

func (f tokenFunc) VerifyPurchaseToken(s string) (int64, int64, error) { return f(s) }

func TestPurchaseChannelAuth(t *testing.T) {
	auth := PurchaseChannelAuth(tokenFunc(func(s string) (int64, int64, error) {
		if s == "good" {
			return 3, 41, nil
		}
		return 0, 0, controlplane.Errorf(controlplane.EUNAUTHORIZED, "bad")
	}))
	if _, err := auth.Authenticate(context.Background(), "forged"); controlplane.ErrorCode(err) != controlplane.EUNAUTHORIZED {
		t.Fatalf("forged token: err %v, want %s", err, controlplane.EUNAUTHORIZED)
	}
	u, err := auth.Authenticate(context.Background(), "good")
	if err != nil {
		t.Fatal(err)
	}
	for ch, want := range map[string]bool{
		"private-purchase.41":       true,
		"private-purchase.410":      false,
		"private-purchase.4":        false,
		"private-tenant.3.payments": false,
		"presence-purchase.41":      false,
		SystemAdminChannel:          false,
	} {
		if got := u.CanSubscribe(ch); got != want {
			t.Errorf("CanSubscribe(%s) = %v, want %v", ch, got, want)
		}
	}
}
