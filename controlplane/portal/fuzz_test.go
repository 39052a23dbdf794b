package portal

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/internal/testkit"
)

func FuzzTokenVerify(f *testing.F) {
	c := testkit.NewClock(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	tk := NewTokens([]byte("0123456789abcdef"), time.Minute, c.Now)
	f.Add(tk.Sign(3, 41))
	f.Add("3.41.9999999999.AAAA")
	f.Add("")
	f.Add("....")
	f.Fuzz(func(t *testing.T, s string) {
		tn, p, err := tk.Verify(s)
		if err == nil && (tn <= 0 || p <= 0 || tk.Sign(tn, p) != s) {
			t.Fatalf("Verify(%q) accepted %d, %d", s, tn, p)
		}
	})
}

func fuzzPortal(f *testing.F) *Portal {
	p, err := New(Options{Store: &fakeStore{}, Billing: &fakeBilling{}, Vouchers: &fakeVouchers{}, TokenKey: []byte("0123456789abcdef"),
		Registerer: prometheus.NewRegistry(), ReadyWait: time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	return p
}

// FuzzPortalInputs: whatever a device sends as the hotspot's variables or
// a voucher form, the page answers without a server error and never
// carries the input unescaped.
func FuzzPortalInputs(f *testing.F) {
	p := fuzzPortal(f)
	f.Add(hotspotQuery[1:], "GOODCODE1")
	f.Add("error=<x-inj>&link-login-only=javascript:alert(1)", "<x-inj>")
	f.Add("mac=%ZZ&chap-id=\\000\"</script><x-inj>", "'\"><x-inj>")
	f.Fuzz(func(t *testing.T, query, code string) {
		r := httptest.NewRequest(http.MethodGet, "/portal/1/r1", nil)
		r.URL.RawQuery = query
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		check := func(what string, w *httptest.ResponseRecorder) {
			if w.Code >= 500 {
				t.Fatalf("%s: %d", what, w.Code)
			}
			if strings.Contains(w.Body.String(), "<x-inj") {
				t.Fatalf("%s: input unescaped in the page", what)
			}
		}
		check("page", w)
		form := url.Values{"code": {code}}
		if v, err := url.ParseQuery(query); err == nil {
			for k, vs := range v {
				form[k] = vs
			}
			form.Set("code", code)
		}
		r = httptest.NewRequest(http.MethodPost, "/portal/1/r1/voucher", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w = httptest.NewRecorder()
		p.ServeHTTP(w, r)
		check("voucher", w)
	})
}

// FuzzBuyBody: POST …/buy never answers a server error to a body.
func FuzzBuyBody(f *testing.F) {
	p := fuzzPortal(f)
	f.Add(`{"plan_id":7,"phone":"0712345678","mac":"aa:bb:cc:00:11:22","ip":"10.5.50.2"}`)
	f.Add(`{"plan_id":1e400,"phone":7}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/portal/1/r1/buy", strings.NewReader(body))
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("buy %q: %d %s", body, w.Code, w.Body)
		}
	})
}
