package fanout

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// What must never travel in a voucher or portal frame: the full code, the
// device's MAC (in any spelling) and the customer's phone.
var voucherLeaks = []string{"KDX74HNQ9T", "4HNQ9T", "AA:BB:CC:DD", "aa:bb:cc:dd", "AABBCCDD", "712345678", "tech@"}

func noVoucherLeaks(t *testing.T, what string, raw []byte) {
	t.Helper()
	for _, leak := range voucherLeaks {
		if strings.Contains(string(raw), leak) {
			t.Errorf("%s leaks %q: %s", what, leak, raw)
		}
	}
}

func testVoucher(tenant, id int64, st controlplane.VoucherStatus) controlplane.Voucher {
	redeemed, ends := fanoutEpoch.Add(time.Minute), fanoutEpoch.Add(24*time.Hour)
	return controlplane.Voucher{
		ID: id, TenantID: tenant, BatchID: 9, PlanID: 7, PlanName: "Daily", Code: "KDX74HNQ9T", Status: st,
		Price: controlplane.KES(5000), RedeemedAt: &redeemed, EndsAt: &ends, AccountID: 12, RouterID: "r-1",
		RedeemedBy: "aa:bb:cc:dd:ee:0f", CreatedAt: fanoutEpoch, UpdatedAt: redeemed,
	}
}

func testBatch(tenant int64) *controlplane.VoucherBatch {
	exp := fanoutEpoch.Add(30 * 24 * time.Hour)
	return &controlplane.VoucherBatch{
		ID: 9, TenantID: tenant, PlanID: 7, PlanName: "Daily", Count: 50, Prefix: "KDX", Length: 7,
		Price: controlplane.KES(9007199254740993), ExpiresAt: &exp, Note: "for tech@example.com",
		Actor: "tech@example.com", Unused: 50, CreatedAt: fanoutEpoch,
	}
}

// TestVoucherMaskVectors checks MaskCode and MaskMAC against the vectors
// the dashboard's maskCode and maskMAC are tested with
// (controlplane/web/test/vouchers.test.js), so a REST row and its masked
// broadcast are matched the same way on both sides.
func TestVoucherMaskVectors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "web", "test", "voucher_mask_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct{ Code, MAC [][2]string }
	if err := json.Unmarshal(b, &vectors); err != nil {
		t.Fatal(err)
	}
	if len(vectors.Code) == 0 || len(vectors.MAC) == 0 {
		t.Fatalf("no vectors in %s", b)
	}
	for _, v := range vectors.Code {
		if got := MaskCode(v[0]); got != v[1] {
			t.Errorf("MaskCode(%q) = %q, want %q", v[0], got, v[1])
		}
	}
	for _, v := range vectors.MAC {
		if got := MaskMAC(v[0]); got != v[1] {
			t.Errorf("MaskMAC(%q) = %q, want %q", v[0], got, v[1])
		}
	}
	// The mask's length says nothing of the code's.
	if len(MaskCode("ACDEFG")) != len(MaskCode("ACDEFGHJKMNPQRTU")) {
		t.Error("masks of codes of different lengths differ in length")
	}
}

// FuzzMaskMAC checks that a mask never carries more than the last two
// octets' hex digits of what it masks.
func FuzzMaskMAC(f *testing.F) {
	for _, s := range []string{"AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", "aabb.ccdd.eeff", "", "x", "AA:BB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, mac string) {
		got := MaskMAC(mac)
		if mac == "" || strings.TrimSpace(mac) == "" {
			if got != "" {
				t.Fatalf("MaskMAC(%q) = %q, want empty", mac, got)
			}
			return
		}
		if len(got) != len("**:**:**:**:EE:FF") || !strings.HasPrefix(got, "**:**:**:**:") {
			t.Fatalf("MaskMAC(%q) = %q: not a masked MAC", mac, got)
		}
	})
}

func TestFanoutVoucherEvents(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, TopicVouchers), "")
	other := dial(t, srv)
	other.subscribeOK(TenantChannel(4, TopicVouchers), "")
	f := New(h, Options{})

	f.Apply(controlplane.VoucherChanged{Batch: testBatch(3)})
	for _, st := range []controlplane.VoucherStatus{controlplane.VoucherActive, controlplane.VoucherUsed, controlplane.VoucherRevoked} {
		f.Apply(controlplane.VoucherChanged{Voucher: testVoucher(3, 41, st)})
	}
	f.Apply(controlplane.VoucherChanged{}) // neither batch nor voucher: nothing

	fr := c.expect(EventVoucherBatchCreated)
	noVoucherLeaks(t, EventVoucherBatchCreated, fr.Raw)
	// Exact, not through a float64.
	if !strings.Contains(string(fr.Data), `"price":{"amount":9007199254740993,"currency":"KES"}`) {
		t.Errorf("batch price not exact in %s", fr.Data)
	}
	for _, hidden := range []string{`"tenant_id"`, `"code"`, `"codes"`} {
		if strings.Contains(string(fr.Raw), hidden) {
			t.Errorf("%s carries %s: %s", EventVoucherBatchCreated, hidden, fr.Raw)
		}
	}
	var bd struct {
		Seq   uint64           `json:"seq"`
		Batch voucherBatchView `json:"batch"`
	}
	fr.decode(t, &bd)
	b := bd.Batch
	if bd.Seq != 1 || b.ID != 9 || b.PlanID != 7 || b.PlanName != "Daily" || b.Count != 50 || b.Unused != 50 || b.Prefix != "KDX" ||
		b.Length != 7 || b.ExpiresAt == nil || b.Actor != "t***@example.com" || b.Note != "for t***@example.com" {
		t.Errorf("%s = seq %d %+v", EventVoucherBatchCreated, bd.Seq, b)
	}

	for i, st := range []controlplane.VoucherStatus{controlplane.VoucherActive, controlplane.VoucherUsed, controlplane.VoucherRevoked} {
		fr := c.expect(EventVoucherUpdated)
		noVoucherLeaks(t, EventVoucherUpdated, fr.Raw)
		if strings.Contains(string(fr.Raw), `"tenant_id"`) {
			t.Errorf("VoucherUpdated carries the tenant: %s", fr.Raw)
		}
		var d struct {
			Seq     uint64      `json:"seq"`
			Voucher voucherView `json:"voucher"`
		}
		fr.decode(t, &d)
		v := d.Voucher
		if d.Seq != uint64(i+2) || v.ID != 41 || v.BatchID != 9 || v.Status != st || v.Code != "****Q9T" ||
			v.RedeemedBy != "**:**:**:**:EE:0F" || v.Price != controlplane.KES(5000) || v.RouterID != "r-1" || v.RedeemedAt == nil {
			t.Errorf("VoucherUpdated %d = seq %d %+v", i, d.Seq, v)
		}
	}
	c.alive()
	other.alive() // tenant 4 hears nothing of tenant 3
}

func TestFanoutPortalPurchase(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, TopicPortal), "")
	vouchers := dial(t, srv)
	vouchers.subscribeOK(TenantChannel(3, TopicVouchers), "")
	f := New(h, Options{})

	at := fanoutEpoch.Add(time.Minute)
	buy := controlplane.PortalPurchase{TenantID: 3, RouterID: "r-1", PaymentID: 41, PlanID: 7,
		Phone: "0712345678", MAC: "AA:BB:CC:DD:EE:FF", Status: string(controlplane.PaymentPending), At: at}
	f.Apply(controlplane.PortalPurchaseChanged{Purchase: buy})
	buy.Status = string(controlplane.PaymentCompleted)
	f.Apply(controlplane.PortalPurchaseChanged{Purchase: buy})
	f.Apply(controlplane.PortalPurchaseChanged{Purchase: controlplane.PortalPurchase{TenantID: 3, RouterID: "r-1", VoucherID: 8,
		PlanID: 7, MAC: "aa-bb-cc-dd-ee-ff", Status: "redeemed", At: at}})

	for i, want := range []struct {
		status, phone    string
		payment, voucher int64
	}{
		{"pending", "0712****678", 41, 0},
		{"completed", "0712****678", 41, 0},
		{"redeemed", "", 0, 8},
	} {
		fr := c.expect(EventPortalPurchase)
		noVoucherLeaks(t, EventPortalPurchase, fr.Raw)
		var d struct {
			Seq      uint64             `json:"seq"`
			Purchase portalPurchaseView `json:"purchase"`
		}
		fr.decode(t, &d)
		p := d.Purchase
		if d.Seq != uint64(i+1) || p.Status != want.status || p.Phone != want.phone || p.PaymentID != want.payment ||
			p.VoucherID != want.voucher || p.MAC != "**:**:**:**:EE:FF" || p.PlanID != 7 || p.RouterID != "r-1" || !p.At.Equal(at) {
			t.Errorf("PortalPurchase %d = seq %d %+v", i, d.Seq, p)
		}
	}
	c.alive()
	vouchers.alive() // each topic its own channel and seq
}

// TestFanoutVouchersOverRealHub sends voucher and portal changes through
// the real Pusher server to tenant 1's viewer and checks every frame's
// bytes; tenant 2's admin is refused tenant 1's channels.
func TestFanoutVouchersOverRealHub(t *testing.T) {
	h, srv := newRealHub(t)
	viewer := dialWS(t, srv, "t1-viewer")
	topics := []string{TopicVouchers, TopicPortal}
	for _, topic := range topics {
		viewer.subscribe(TenantChannel(1, topic))
	}
	intruder := dialWS(t, srv, "t2-admin")
	for _, topic := range topics {
		if status, _ := intruder.authorize(TenantChannel(1, topic)); status != http.StatusForbidden {
			t.Errorf("tenant 2's admin authorizing %s: HTTP %d, want 403", TenantChannel(1, topic), status)
		}
	}

	f := New(h, Options{})
	f.Apply(controlplane.VoucherChanged{Batch: testBatch(1)})
	f.Apply(controlplane.VoucherChanged{Voucher: testVoucher(1, 41, controlplane.VoucherActive)})
	f.Apply(controlplane.PortalPurchaseChanged{Purchase: controlplane.PortalPurchase{TenantID: 1, RouterID: "r-1", PaymentID: 5,
		PlanID: 7, Phone: "+254712345678", MAC: "AA:BB:CC:DD:EE:FF", Status: "completed", At: fanoutEpoch}})

	wants := []struct {
		event, has string
		seq        string
	}{
		{EventVoucherBatchCreated, `"unused":50`, `"seq":1`},
		{EventVoucherUpdated, `"code":"****Q9T"`, `"seq":2`},
		{EventPortalPurchase, `"phone":"+2547****678"`, `"seq":1`},
	}
	// Order is kept per channel, not across channels: the vouchers
	// channel's two events arrive in order, the portal's anywhere.
	var order []string
	got := map[string][]byte{}
	for range wants {
		event, raw, data := viewer.next()
		noVoucherLeaks(t, event, raw)
		got[event] = data
		if event != EventPortalPurchase {
			order = append(order, event)
		}
	}
	if len(order) != 2 || order[0] != EventVoucherBatchCreated || order[1] != EventVoucherUpdated {
		t.Errorf("vouchers channel events in order %v", order)
	}
	for _, want := range wants {
		data := got[want.event]
		if !strings.Contains(string(data), want.has) || !strings.Contains(string(data), want.seq) {
			t.Errorf("%s data %s: want %s and %s", want.event, data, want.has, want.seq)
		}
	}
}

func TestCanSubscribeVoucherAndPortalChannels(t *testing.T) {
	t1, t2, sys := testTokens["t1-viewer"], testTokens["t2-admin"], testTokens["sysadmin"]
	for _, tt := range []struct {
		p       controlplane.Principal
		channel string
		want    bool
	}{
		{t1, "private-tenant.1.vouchers", true},
		{t1, "private-tenant.1.portal", true},
		{t2, "private-tenant.1.vouchers", false},
		{t2, "private-tenant.1.portal", false},
		{t2, "private-tenant.2.portal", true},
		{t1, "private-tenant.10.vouchers", false},
		{t1, "private-tenant.01.portal", false},
		{t1, "presence-tenant.2.vouchers", false},
		{t1, "vouchers", false},
		{sys, "private-tenant.1.vouchers", true},
		{sys, "private-tenant.2.portal", true},
	} {
		if got := CanSubscribe(tt.p, tt.channel); got != tt.want {
			t.Errorf("CanSubscribe(user %d tenant %d %s, %q) = %v, want %v", tt.p.UserID, tt.p.TenantID, tt.p.Role, tt.channel, got, tt.want)
		}
	}
}
