package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
	"github.com/sitepulse/sitepulse/protocol"
)

// TestErrorAnswers checks that error answers become *client.Error with
// the HTTP status, and unwrap to the controlplane code.
func TestErrorAnswers(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/routers/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthorized","message":"no token"}}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no router ` + r.PathValue("id") + `"}}`))
	})
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway from the proxy", http.StatusBadGateway)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()

	for _, tc := range []struct {
		name       string
		c          *client.Client
		call       func(*client.Client) error
		status     int
		code, text string
	}{
		{"not found", client.New(srv.URL, client.Options{Token: "tok"}), func(c *client.Client) error { _, err := c.Router(ctx, "r1"); return err },
			404, controlplane.ENOTFOUND, "no router r1"},
		{"no token", client.New(srv.URL+"/", client.Options{}), func(c *client.Client) error { _, err := c.Router(ctx, "r1"); return err },
			401, controlplane.EUNAUTHORIZED, "no token"},
		{"not the API's body", client.New(srv.URL, client.Options{Token: "tok"}), func(c *client.Client) error { _, err := c.Me(ctx); return err },
			502, controlplane.EINTERNAL, "bad gateway from the proxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(tc.c)
			var ae *client.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err %v (%T), want *client.Error", err, err)
			}
			if ae.Status != tc.status || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("got %d %q, want %d containing %q", ae.Status, err, tc.status, tc.text)
			}
			if got := controlplane.ErrorCode(err); got != tc.code {
				t.Errorf("ErrorCode %q, want %q", got, tc.code)
			}
		})
	}
}

// TestTimeout checks that Options.Timeout bounds a request whose caller
// set no deadline.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := client.New(srv.URL, client.Options{Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := c.Stats(context.Background(), 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// principals is the realtime hub's Authenticator: one token, one tenant
// admin of tenant 7.
type principals struct{}

func (principals) Authenticate(_ context.Context, bearer string) (controlplane.Principal, error) {
	if bearer != "tok" {
		return controlplane.Principal{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "bad token")
	}
	return controlplane.Principal{UserID: 1, TenantID: 7, Role: controlplane.RoleTenantAdmin}, nil
}

// hubServer runs the real realtime hub with its auth endpoint and the
// /api/v1/config the client reads.
func hubServer(t *testing.T, opts pusher.Options) (*pusher.Hub, *httptest.Server) {
	t.Helper()
	opts.AppID, opts.Key, opts.Secret = "app", "key", "secret"
	hub, err := pusher.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	hub.Mount(mux, fanout.ChannelAuth(principals{}))
	mux.HandleFunc("GET /api/v1/config", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"pusher": map[string]string{"key": "key", "app_id": "app"}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		_ = hub.Shutdown(context.Background())
	})
	return hub, srv
}

// TestRealtime subscribes to a private channel through the control
// plane's auth endpoint and receives an event published on it.
func TestRealtime(t *testing.T) {
	hub, srv := hubServer(t, pusher.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := client.New(srv.URL, client.Options{Token: "tok"})
	rt, err := c.DialRealtime(ctx, client.RealtimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if rt.SocketID() == "" {
		t.Error("no socket id")
	}
	if err := rt.SubscribeWait(ctx, "private-tenant.8.sessions"); err == nil {
		t.Error("subscribed to another tenant's channel")
	}
	const channel = "private-tenant.7.sessions"
	if err := rt.SubscribeWait(ctx, channel); err != nil {
		t.Fatal(err)
	}
	if err := hub.Publish(channel, "SessionStarted", map[string]string{"user": "guest"}, ""); err != nil {
		t.Fatal(err)
	}
	events := rt.Events(ctx)
	ev, ok := <-events
	if !ok {
		t.Fatalf("events closed: %v", rt.Err())
	}
	if ev.Channel != channel || ev.Event != "SessionStarted" || string(ev.Data) != `{"user":"guest"}` {
		t.Errorf("got %s %s %s", ev.Channel, ev.Event, ev.Data)
	}
	cancel()
	for range events {
	}
	if err := rt.Err(); err != nil {
		t.Errorf("Err after ctx ended: %v, want nil", err)
	}
}

// TestRealtimeAnswersPings checks that Next answers the hub's pings: the
// hub closes a connection that misses a pong within PongTimeout, so a
// second ping only comes if the first was answered.
func TestRealtimeAnswersPings(t *testing.T) {
	_, srv := hubServer(t, pusher.Options{ActivityTimeout: time.Second, PongTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rt, err := client.DialRealtime(ctx, srv.URL, "key", client.RealtimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	for pings := 0; pings < 2; {
		f, err := rt.Next(ctx)
		if err != nil {
			t.Fatalf("after %d pings: %v", pings, err)
		}
		if f.Event == client.EventPing {
			pings++
		}
	}
}

// TestRealtimePrivateNeedsAuthorizer checks that a private channel is
// refused locally without an Authorizer.
func TestRealtimePrivateNeedsAuthorizer(t *testing.T) {
	_, srv := hubServer(t, pusher.Options{})
	ctx := context.Background()
	rt, err := client.DialRealtime(ctx, srv.URL, "key", client.RealtimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := rt.Subscribe(ctx, "private-tenant.7.sessions"); err == nil {
		t.Error("subscribed to a private channel without auth")
	}
	if err := rt.SubscribeWait(ctx, "public-news"); err != nil {
		t.Errorf("public channel: %v", err)
	}
}

// TestBillingRequests: the billing methods send their method, path and
// JSON body, and decode the answer.
func TestBillingRequests(t *testing.T) {
	type request struct{ method, uri, body string }
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, request{r.Method, r.URL.RequestURI(), strings.TrimSpace(string(b))})
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Write([]byte(`{"id":9,"payment_id":11,"amount":{"amount":5000,"currency":"KES"},"username":"u"}`))
	}))
	defer srv.Close()
	c := client.New(srv.URL, client.Options{})
	ctx := context.Background()
	price, active := int64(7500), false
	calls := []func() error{
		func() error {
			p, err := c.CreatePlan(ctx, controlplane.PlanRequest{Name: "Day", Kind: controlplane.PlanHotspot, Price: 5000, Duration: "24h"})
			if err == nil && p.ID != 9 {
				err = fmt.Errorf("plan id %d", p.ID)
			}
			return err
		},
		func() error {
			_, err := c.UpdatePlan(ctx, 9, controlplane.PlanPatch{Price: &price, Active: &active})
			return err
		},
		func() error { return c.DeletePlan(ctx, 9) },
		func() error { _, err := c.Plan(ctx, 9); return err },
		func() error {
			_, err := c.UpsertCustomer(ctx, controlplane.CustomerRequest{Phone: "+254712345678"})
			return err
		},
		func() error { _, err := c.Customer(ctx, 3); return err },
		func() error {
			res, err := c.Purchase(ctx, controlplane.PurchaseRequest{PlanID: 9, Phone: "0712345678"})
			if err == nil && res.PaymentID != 11 {
				err = fmt.Errorf("payment id %d", res.PaymentID)
			}
			return err
		},
		func() error { _, err := c.Subscription(ctx, 4); return err },
		func() error { _, err := c.SuspendSubscription(ctx, 4); return err },
		func() error { _, err := c.ResumeSubscription(ctx, 4); return err },
		func() error { _, err := c.CancelSubscription(ctx, 4); return err },
		func() error { _, err := c.SubscriptionCredentials(ctx, 4); return err },
		func() error {
			p, err := c.RecordPayment(ctx, controlplane.ManualPaymentRequest{SubscriptionID: 4, Amount: 5000, Reference: "CASH-1"})
			if err == nil && p.Amount != controlplane.KES(5000) {
				err = fmt.Errorf("amount %v", p.Amount)
			}
			return err
		},
		func() error { _, err := c.Payment(ctx, 11); return err },
		func() error { _, err := c.RefundPayment(ctx, 11); return err },
		func() error {
			key := "ck-secret"
			_, err := c.UpdateBillingSettings(ctx, controlplane.BillingSettingsPatch{MpesaConsumerKey: &key})
			return err
		},
	}
	for i, call := range calls {
		if err := call(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	want := []request{
		{"POST", "/api/v1/plans", `{"name":"Day","kind":"hotspot","price":5000,"duration":"24h"}`},
		{"PATCH", "/api/v1/plans/9", `{"price":7500,"active":false}`},
		{"DELETE", "/api/v1/plans/9", ""},
		{"GET", "/api/v1/plans/9", ""},
		{"POST", "/api/v1/customers", `{"phone":"+254712345678"}`},
		{"GET", "/api/v1/customers/3", ""},
		{"POST", "/api/v1/subscriptions", `{"plan_id":9,"phone":"0712345678"}`},
		{"GET", "/api/v1/subscriptions/4", ""},
		{"POST", "/api/v1/subscriptions/4/suspend", ""},
		{"POST", "/api/v1/subscriptions/4/resume", ""},
		{"POST", "/api/v1/subscriptions/4/cancel", ""},
		{"GET", "/api/v1/subscriptions/4/credentials", ""},
		{"POST", "/api/v1/payments", `{"subscription_id":4,"amount":5000,"reference":"CASH-1"}`},
		{"GET", "/api/v1/payments/11", ""},
		{"POST", "/api/v1/payments/11/refund", ""},
		{"PUT", "/api/v1/billing/settings", `{"mpesa_consumer_key":"ck-secret"}`},
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests\n%q\nwant\n%q", got, want)
	}
}

// TestListQueries: the list methods send the domain filter's fields as
// the query parameters the API reads, and leave out zero ones.
func TestListQueries(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.RequestURI())
		w.Write([]byte(`{"data":[],"total":0}`))
	}))
	defer srv.Close()
	c := client.New(srv.URL, client.Options{})
	ctx := context.Background()
	from := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := c.Sessions(ctx, 7, controlplane.SessionFilter{RouterID: "r1", Kind: protocol.KindPPPoE, Limit: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.History(ctx, 0, controlplane.HistoryFilter{User: "ann", From: from, Offset: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commands(ctx, 0, controlplane.CommandFilter{BulkID: "b1", Status: controlplane.CommandFailed, AccountID: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Plans(ctx, 7, controlplane.PlanFilter{Kind: controlplane.PlanPPPoE, ActiveOnly: true, Limit: 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Plans(ctx, 0, controlplane.PlanFilter{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Customers(ctx, 0, controlplane.CustomerFilter{Query: "+2547 12", Offset: 50}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscriptions(ctx, 0, controlplane.SubscriptionFilter{CustomerID: 4, PlanID: 5, Status: controlplane.SubscriptionExpired}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Payments(ctx, 7, controlplane.PaymentFilter{Status: controlplane.PaymentFlagged, Provider: controlplane.ProviderMpesaSTK,
		CustomerID: 4, SubscriptionID: 6, Phone: "+254712345678", From: from, To: from.Add(time.Hour), Limit: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Callbacks(ctx, 0, controlplane.CallbackRejected, 0, 20); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AllPayments(ctx, 0, controlplane.PaymentFilter{Status: controlplane.PaymentCompleted, Limit: 1, Offset: 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BillingStats(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BillingSettings(ctx, 0); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/api/v1/sessions?kind=pppoe&limit=5&router_id=r1&tenant_id=7",
		"/api/v1/sessions/history?from=2026-03-01T12%3A00%3A00Z&offset=10&user=ann",
		"/api/v1/commands?account_id=3&bulk_id=b1&status=failed",
		"/api/v1/plans?active=true&kind=pppoe&limit=20&tenant_id=7",
		"/api/v1/plans",
		"/api/v1/customers?offset=50&q=%2B2547+12",
		"/api/v1/subscriptions?customer_id=4&plan_id=5&status=expired",
		"/api/v1/payments?customer_id=4&from=2026-03-01T12%3A00%3A00Z&limit=3&phone=%2B254712345678&provider=mpesa_stk&status=flagged&subscription_id=6&tenant_id=7&to=2026-03-01T13%3A00%3A00Z",
		"/api/v1/payments/callbacks?offset=20&outcome=rejected",
		// All* read full pages from the start, whatever Limit and Offset say.
		"/api/v1/payments?limit=500&status=completed",
		"/api/v1/billing/stats?tenant_id=7",
		"/api/v1/billing/settings",
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests\n%q\nwant\n%q", got, want)
	}
}
