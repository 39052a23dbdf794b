package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane/mpesa"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/sim/daraja"
)

// The control plane's Daraja client and the simulator were written apart
// from the same documentation: the client gets a token, pushes, reads a
// pending and an answered query, decodes the callback, registers C2B URLs
// and decodes the confirmation.
func TestControlPlaneClientAgainstSimulator(t *testing.T) {
	s := daraja.New(daraja.Options{})
	if err := s.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	bodies := make(chan []byte, 10)
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(mpesa.Accepted())
		bodies <- b
	}))
	t.Cleanup(merchant.Close)
	next := func() []byte {
		select {
		case b := <-bodies:
			return b
		case <-time.After(testkit.DefaultWait):
			t.Fatal("no request reached the merchant")
			return nil
		}
	}
	c := mpesa.New(mpesa.Config{BaseURL: s.URL()})
	creds := mpesa.Credentials{ConsumerKey: daraja.DefaultConsumerKey, ConsumerSecret: daraja.DefaultConsumerSecret,
		ShortCode: daraja.SandboxShortCode, PassKey: daraja.SandboxPasskey}
	ctx := context.Background()

	s.Script("", daraja.Outcome{Hold: true})
	resp, err := c.STKPush(ctx, creds, mpesa.STKRequest{Amount: 50, Phone: "254708374149", CallbackURL: merchant.URL + "/hooks/stk/tok",
		AccountReference: "hs-1h", Description: "1h plan"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.STKQuery(ctx, creds, resp.CheckoutRequestID)
	if err != nil || !q.Pending {
		t.Fatalf("query while held: %+v %v, want pending", q, err)
	}
	if err := s.Release(resp.CheckoutRequestID); err != nil {
		t.Fatal(err)
	}
	cb, err := mpesa.DecodeSTKCallback(next())
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := s.Transaction(resp.CheckoutRequestID)
	if cb.CheckoutRequestID != resp.CheckoutRequestID || !cb.Success() || cb.Amount != 5000 || cb.MpesaReceiptNumber != tx.Receipt ||
		cb.PhoneNumber != "254708374149" || cb.TransactionDate.IsZero() {
		t.Errorf("decoded callback %+v, transaction %+v", cb, tx)
	}
	q, err = c.STKQuery(ctx, creds, resp.CheckoutRequestID)
	if err != nil || q.Pending || q.ResultCode != 0 {
		t.Errorf("query after the answer: %+v %v", q, err)
	}

	s.Script("", daraja.Outcome{ResultCode: 1032})
	resp, err = c.STKPush(ctx, creds, mpesa.STKRequest{Amount: 1, Phone: "254708374149", CallbackURL: merchant.URL + "/hooks/stk/t2",
		AccountReference: "hs-1h", Description: "1h plan"})
	if err != nil {
		t.Fatal(err)
	}
	if cb, err = mpesa.DecodeSTKCallback(next()); err != nil || cb.ResultCode != 1032 || cb.Success() {
		t.Errorf("cancelled callback %+v %v", cb, err)
	}

	if err := c.RegisterC2B(ctx, creds, merchant.URL+"/hooks/c2b/confirm", merchant.URL+"/hooks/c2b/validate", mpesa.C2BCompleted); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PayC2B(ctx, daraja.C2BPayment{ShortCode: daraja.SandboxShortCode, MSISDN: "254708374149", Amount: 100, BillRef: "alice"}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"validation", "confirmation"} {
		n, err := mpesa.DecodeC2B(next())
		if err != nil || n.Amount != 10000 || n.BillRefNumber != "alice" || n.TransID == "" {
			t.Errorf("%s: %+v %v", kind, n, err)
		}
	}
}
