package webhooks

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

// Issue 15's done-when: 500 three times then 200 → exactly one successful
// delivery and four logged attempts; no second send after the success,
// whether the change comes again or the job is retried.
func TestRetriesThenOneSuccess(t *testing.T) {
	eachStore(t, Options{AllowPrivate: true}, func(t *testing.T, e *env) {
		rcv := newReceiver(t, func(n int) int {
			if n <= 3 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		ep, secret, err := e.svc.CreateEndpoint(e.ctx, e.admin, controlplane.WebhookEndpointRequest{URL: rcv.srv.URL + "/hook",
			EventTypes: []string{"RouterStatusUpdated"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("secret %q", secret)
		}
		e.bus.Publish(e.routerChange("r-1", controlplane.RouterOnline))
		testkit.Eventually(t, 20*time.Second, "a succeeded delivery", func() bool {
			d := e.deliveries(ep.ID)
			return len(d) == 1 && d[0].Status == controlplane.DeliverySucceeded
		})
		d := e.deliveries(ep.ID)[0]
		if d.Attempts != 4 || len(d.AttemptLog) != 4 {
			t.Fatalf("attempts %d, log %d; want 4", d.Attempts, len(d.AttemptLog))
		}
		for i, a := range d.AttemptLog {
			want := 500
			if i == 3 {
				want = 200
			}
			if a.StatusCode != want || len(a.Response) != MaxResponseLog {
				t.Errorf("attempt %d: status %d, response %d bytes; want %d, %d", i, a.StatusCode, len(a.Response), want, MaxResponseLog)
			}
		}
		got := rcv.requests()
		if len(got) != 4 {
			t.Fatalf("receiver got %d requests, want 4", len(got))
		}
		for _, r := range got {
			checkSignature(t, secret, r.signature, r.body)
			if r.event != "RouterStatusUpdated" || r.delivery == "" {
				t.Errorf("headers event=%q delivery=%q", r.event, r.delivery)
			}
		}
		var body Event
		if err := json.Unmarshal(got[3].body, &body); err != nil {
			t.Fatal(err)
		}
		router, _ := body.Data["router"].(map[string]any)
		if body.Type != "RouterStatusUpdated" || body.TenantID != e.tenant.ID || body.ID != d.EventID || router["id"] != "r-1" {
			t.Errorf("body = %+v", body)
		}
		if _, ok := body.Data["seq"]; ok {
			t.Error("per-channel seq leaked into the webhook data")
		}
		// The same change again (a relay, a replay): same event id, no delivery.
		e.bus.Publish(e.routerChange("r-1", controlplane.RouterOnline))
		// A job retried after the success, for every attempt number.
		for n := 0; n <= 4; n++ {
			if err := e.svc.send(e.ctx, d.ID, n); err != nil {
				t.Fatal(err)
			}
		}
		// A different change is delivered, proving the reader read past the duplicate.
		e.bus.Publish(e.routerChange("r-1", controlplane.RouterOffline))
		testkit.Eventually(t, 20*time.Second, "the second event", func() bool { return len(e.deliveries(ep.ID)) == 2 })
		testkit.Eventually(t, 20*time.Second, "the second event sent", func() bool { return len(rcv.requests()) == 5 })
		if n := len(rcv.requests()); n != 5 {
			t.Fatalf("receiver got %d requests, want 5 (no resend of the first)", n)
		}
		// Replay makes a new attempt of the succeeded delivery.
		if _, err := e.svc.Replay(e.ctx, e.admin, ep.ID, d.ID); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 20*time.Second, "the replay", func() bool { return len(rcv.requests()) == 6 })
		testkit.Eventually(t, 20*time.Second, "the replay recorded", func() bool {
			for _, x := range e.deliveries(ep.ID) {
				if x.ID == d.ID {
					return x.Status == controlplane.DeliverySucceeded && len(x.AttemptLog) == 5
				}
			}
			return false
		})
	})
}

// A hanging receiver times out and a closed port refuses; both are
// retried, and logged.
func TestTimeoutAndRefusedRetried(t *testing.T) {
	eachStore(t, Options{AllowPrivate: true, Timeout: 200 * time.Millisecond}, func(t *testing.T, e *env) {
		rcv := newReceiver(t, func(int) int { return http.StatusNoContent })
		rcv.delay = func(n int) time.Duration {
			if n == 1 {
				return 5 * time.Second
			}
			return 0
		}
		slow, _, err := e.svc.CreateEndpoint(e.ctx, e.admin, controlplane.WebhookEndpointRequest{URL: rcv.srv.URL, EventTypes: []string{"RouterStatusUpdated"}})
		if err != nil {
			t.Fatal(err)
		}
		closed := httptest.NewServer(http.NotFoundHandler())
		closedURL := closed.URL
		closed.Close()
		dead, _, err := e.svc.CreateEndpoint(e.ctx, e.admin, controlplane.WebhookEndpointRequest{URL: closedURL, EventTypes: []string{"RouterStatusUpdated"}})
		if err != nil {
			t.Fatal(err)
		}
		e.bus.Publish(e.routerChange("r-2", controlplane.RouterOnline))
		testkit.Eventually(t, 20*time.Second, "the slow endpoint's success", func() bool {
			d := e.deliveries(slow.ID)
			return len(d) == 1 && d[0].Status == controlplane.DeliverySucceeded
		})
		d := e.deliveries(slow.ID)[0]
		if len(d.AttemptLog) != 2 || !strings.Contains(d.AttemptLog[0].Error, "timeout") || d.AttemptLog[1].StatusCode != 204 {
			t.Errorf("slow attempts = %+v", d.AttemptLog)
		}
		testkit.Eventually(t, 20*time.Second, "refused attempts retried", func() bool {
			d := e.deliveries(dead.ID)
			return len(d) == 1 && len(d[0].AttemptLog) >= 3
		})
		x := e.deliveries(dead.ID)[0]
		if x.Status == controlplane.DeliverySucceeded || !strings.Contains(x.AttemptLog[0].Error, "refused") {
			t.Errorf("refused delivery = %+v", x)
		}
	})
}

// Dead deliveries in a row disable the endpoint, with a reason, a bus
// change and a notice.
func TestFailingEndpointDisabled(t *testing.T) {
	eachStore(t, Options{AllowPrivate: true, DisableAfterDead: 2,
		Retry: RetryPolicy{Base: 5 * time.Millisecond, Max: 10 * time.Millisecond, Window: 40 * time.Millisecond}}, func(t *testing.T, e *env) {
		rcv := newReceiver(t, func(int) int { return http.StatusBadGateway })
		ep, _, err := e.svc.CreateEndpoint(e.ctx, e.admin, controlplane.WebhookEndpointRequest{URL: rcv.srv.URL, EventTypes: []string{"RouterStatusUpdated"}})
		if err != nil {
			t.Fatal(err)
		}
		e.bus.Publish(e.routerChange("r-3", controlplane.RouterOnline), e.routerChange("r-4", controlplane.RouterOnline))
		testkit.Eventually(t, 20*time.Second, "the endpoint disabled", func() bool {
			got, err := e.svc.Endpoint(e.ctx, e.admin, ep.ID)
			return err == nil && !got.Enabled
		})
		got, _ := e.svc.Endpoint(e.ctx, e.admin, ep.ID)
		// Whichever rule trips first on a loaded machine: the dead count
		// or failing for longer than the (here 40 ms) retry window.
		if !(strings.Contains(got.DisabledReason, "2 dead deliveries") && got.ConsecutiveDead == 2) &&
			!(strings.Contains(got.DisabledReason, "failing for more than") && got.ConsecutiveDead >= 1) {
			t.Errorf("disabled endpoint = %+v", got)
		}
		testkit.Eventually(t, 5*time.Second, "the notice", func() bool { return e.notes.count() == 1 })
		testkit.Eventually(t, 5*time.Second, "the bus change", func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			for _, c := range e.changes {
				if c, ok := c.(controlplane.WebhookEndpointChanged); ok && !c.Endpoint.Enabled {
					return true
				}
			}
			return false
		})
		for _, d := range e.deliveries(ep.ID) {
			if d.Status != controlplane.DeliveryDead {
				t.Errorf("delivery %d status %s, want dead", d.ID, d.Status)
			}
		}
	})
}

// Without AllowPrivate: private targets refused at registration, at dial
// time (an endpoint stored with a loopback address, as DNS rebinding
// would make it), only https, and no redirect followed.
func TestSSRF(t *testing.T) {
	eachStore(t, Options{}, func(t *testing.T, e *env) {
		for _, u := range []string{"https://127.0.0.1/x", "https://10.1.2.3/", "https://192.168.88.1/", "https://169.254.169.254/latest",
			"https://[::1]/", "https://[fd00::1]/", "https://100.64.0.1/", "https://0.0.0.0/", "https://224.0.0.1/",
			"http://93.184.215.14/", "https://localhost/", "ftp://example.com/", "https://user:pw@93.184.215.14/"} {
			if _, _, err := e.svc.CreateEndpoint(e.ctx, e.admin, controlplane.WebhookEndpointRequest{URL: u, EventTypes: []string{"*"}}); controlplane.ErrorCode(err) != controlplane.EINVALID {
				t.Errorf("%s: %v, want EINVALID", u, err)
			}
		}
		rcv := newReceiver(t, func(int) int { return 200 })
		var ep controlplane.WebhookEndpoint
		sealed, _ := e.svc.o.Sealer.Seal([]byte("whsec_x"), secretAAD(e.tenant.ID))
		if err := e.st.Write(e.ctx, func(tx *store.Tx) error {
			var err error
			ep, err = tx.InsertWebhookEndpoint(e.ctx, controlplane.WebhookEndpoint{TenantID: e.tenant.ID, URL: rcv.srv.URL,
				EventTypes: []string{"RouterStatusUpdated"}, Enabled: true}, sealed)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		e.bus.Publish(e.routerChange("r-5", controlplane.RouterOnline))
		testkit.Eventually(t, 20*time.Second, "refused attempts", func() bool {
			d := e.deliveries(ep.ID)
			return len(d) == 1 && len(d[0].AttemptLog) >= 1
		})
		a := e.deliveries(ep.ID)[0].AttemptLog[0]
		if !strings.Contains(a.Error, "non-public address") || len(rcv.requests()) != 0 {
			t.Errorf("dial-time refusal: %+v, receiver got %d", a, len(rcv.requests()))
		}
	})
}

func TestNoRedirect(t *testing.T) {
	eachStore(t, Options{AllowPrivate: true}, func(t *testing.T, e *env) {
		target := newReceiver(t, func(int) int { return 200 })
		redir := httptest.NewServer(http.RedirectHandler(target.srv.URL, http.StatusFound))
		t.Cleanup(redir.Close)
		ep, _, err := e.svc.CreateEndpoint(e.ctx, e.admin, controlplane.WebhookEndpointRequest{URL: redir.URL, EventTypes: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Test(e.ctx, e.admin, ep.ID); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 20*time.Second, "attempts", func() bool {
			d := e.deliveries(ep.ID)
			return len(d) == 1 && len(d[0].AttemptLog) >= 2
		})
		a := e.deliveries(ep.ID)[0].AttemptLog[0]
		if a.StatusCode != http.StatusFound || !strings.Contains(a.Error, "redirect") || len(target.requests()) != 0 {
			t.Errorf("redirect attempt %+v; target got %d", a, len(target.requests()))
		}
	})
}

func TestBlocked(t *testing.T) {
	for ip, want := range map[string]bool{
		"127.0.0.1": true, "10.0.0.1": true, "172.16.5.4": true, "192.168.1.1": true, "169.254.169.254": true,
		"100.64.1.1": true, "0.0.0.0": true, "224.0.0.1": true, "::1": true, "fd12::1": true, "fe80::1": true,
		"::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true, "255.255.255.255": true,
		"93.184.215.14": false, "8.8.8.8": false, "2606:4700::1111": false,
	} {
		if got := Blocked(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Blocked(%s) = %v, want %v", ip, got, want)
		}
	}
}

func TestSignVerify(t *testing.T) {
	secret, body := []byte("whsec_abc"), []byte(`{"a":1}`)
	now := time.Unix(1_800_000_000, 0)
	h := Sign(secret, now, body)
	if err := Verify(secret, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		secret, body []byte
		at           time.Time
	}{
		"secret": {[]byte("other"), body, now}, "body": {secret, []byte(`{"a":2}`), now}, "old": {secret, body, now.Add(time.Hour)},
	} {
		if err := Verify(c.secret, h, c.body, c.at, 5*time.Minute); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func FuzzParseSignature(f *testing.F) {
	for _, s := range []string{"t=1,v1=" + strings.Repeat("ab", 32), "t=1", "v1=zz", "", ",", "t=-1,v1=00", "t=1,v1=" + strings.Repeat("0", 64) + ",v0=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		ts, sigs, err := ParseSignature(h)
		if err == nil && (ts < 0 || len(sigs) == 0) {
			t.Fatalf("accepted %q: %d %d", h, ts, len(sigs))
		}
		_ = Verify([]byte("k"), h, []byte("b"), time.Unix(ts, 0), time.Minute)
	})
}
