package billing

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

func TestDecodeWebhookPayment(t *testing.T) {
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"reference":"R1","amount":5000,"currency":"KES","phone":"+254712345678"}`, true},
		{`{"reference":"R1","amount":5000,"currency":"KES","account":"254712345678"}`, true},
		{`{"reference":"R1","amount":50.5,"currency":"KES","phone":"+254712345678"}`, false},
		{`{"reference":"R1","amount":5e3,"currency":"KES","phone":"+254712345678"}`, false},
		{`{"reference":"R1","amount":"5000","currency":"KES","phone":"+254712345678"}`, false},
		{`{"reference":"R1","amount":-1,"currency":"KES","phone":"+254712345678"}`, false},
		{`{"reference":"R1","amount":99999999999999999999,"currency":"KES","phone":"+254712345678"}`, false},
		{`{"reference":"","amount":5000,"currency":"KES","phone":"+254712345678"}`, false},
		{`{"reference":"R1","amount":5000,"currency":"kes","phone":"+254712345678"}`, false},
		{`{"reference":"R1","amount":5000,"currency":"KES"}`, false},
		{`{"reference":"R1","amount":5000,"currency":"KES","phone":"+254712345678","extra":1}`, false},
		{`{"reference":"R1","amount":5000,"currency":"KES","phone":"+254712345678"} {}`, false},
		{`[]`, false},
	} {
		_, err := DecodeWebhookPayment([]byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok %v", tc.body, err, tc.ok)
		}
		if err != nil && controlplane.ErrorCode(err) != controlplane.EINVALID {
			t.Errorf("%s: code %s, want invalid", tc.body, controlplane.ErrorCode(err))
		}
	}
}

func FuzzDecodeWebhookPayment(f *testing.F) {
	f.Add([]byte(`{"reference":"R1","amount":5000,"currency":"KES","phone":"+254712345678"}`))
	f.Add([]byte(`{"reference":"R1","amount":50.5,"currency":"KES","account":"x"}`))
	f.Add([]byte(`{"amount":1e400}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := DecodeWebhookPayment(body)
		if err != nil {
			if controlplane.ErrorCode(err) != controlplane.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		// Whatever decodes re-encodes to the same integer amount.
		b, _ := json.Marshal(w)
		w2, err := DecodeWebhookPayment(b)
		if err != nil || w2 != w || w.Amount <= 0 {
			t.Fatalf("round trip %+v → %s → %+v, %v", w, b, w2, err)
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1_780_000_000, 0)
	secret := []byte("whsec")
	body := []byte(`{"reference":"R1"}`)
	f.Add(WebhookSignature(secret, now, body), "", body)
	f.Add("t=1780000000,v1=00", "", body)
	f.Add("sha256=zz", "1780000000", body)
	f.Fuzz(func(t *testing.T, sig, ts string, b []byte) {
		err := verifySignature(secret, controlplane.ProviderHook{Signature: sig, Timestamp: ts, Body: b}, now, 5*time.Minute)
		if err != nil && controlplane.ErrorCode(err) != controlplane.EUNAUTHORIZED {
			t.Fatalf("error %v is not EUNAUTHORIZED", err)
		}
	})
}

func TestVerifySignature(t *testing.T) {
	now := time.Unix(1_780_000_000, 0)
	secret, body := []byte("whsec"), []byte(`{"a":1}`)
	good := WebhookSignature(secret, now, body)
	for _, tc := range []struct {
		name string
		h    controlplane.ProviderHook
		ok   bool
	}{
		{"good", controlplane.ProviderHook{Signature: good, Body: body}, true},
		{"other body", controlplane.ProviderHook{Signature: good, Body: []byte(`{"a":2}`)}, false},
		{"other secret", controlplane.ProviderHook{Signature: WebhookSignature([]byte("x"), now, body), Body: body}, false},
		{"stale", controlplane.ProviderHook{Signature: WebhookSignature(secret, now.Add(-6*time.Minute), body), Body: body}, false},
		{"future", controlplane.ProviderHook{Signature: WebhookSignature(secret, now.Add(6*time.Minute), body), Body: body}, false},
		{"no timestamp", controlplane.ProviderHook{Signature: "v1=" + good[len("t=1780000000,v1="):], Body: body}, false},
		{"timestamp header", controlplane.ProviderHook{Signature: "v1=" + good[len("t=1780000000,v1="):], Timestamp: "1780000000", Body: body}, true},
		{"empty", controlplane.ProviderHook{Body: body}, false},
	} {
		err := verifySignature(secret, tc.h, now, 5*time.Minute)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
