package radiussync

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

func TestEntryOf(t *testing.T) {
	exp := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	plan := &controlplane.Plan{ID: 3, Profile: "sp-plan-3", RateLimit: "2M/5M", SharedUsers: 2, DataCapBytes: 1000, DurationSeconds: 3600}
	ppp := entryOf(store.RadiusRow{Kind: protocol.KindPPPoE, Name: "bob", Version: 7, Account: &controlplane.Account{
		Kind: controlplane.AccountPPP, Name: "bob", Password: "password", Profile: "sp-plan-3", ExpiresAt: &exp}, Plan: plan, UsedBytes: 10})
	// MS-CHAPv2's NtPasswordHash of "password" (RFC 2759 test vectors use
	// "clientPass"; this one is the well-known NTLM hash).
	want := protocol.RadiusEntry{Kind: protocol.KindPPPoE, Name: "bob", Version: 7, NTHash: "8846f7eaee8fb117ad06bdd830b7586c",
		Profile: "sp-plan-3", RateLimit: "2M/5M", SharedUsers: 2, DataCapBytes: 1000, UsedBytes: 10, ExpiresAt: exp}
	if fmt.Sprint(ppp) != fmt.Sprint(want) {
		t.Errorf("ppp entry\n got %+v\nwant %+v", ppp, want)
	}
	hot := entryOf(store.RadiusRow{Kind: protocol.KindHotspot, Name: "amy", Version: 8, Account: &controlplane.Account{
		Kind: controlplane.AccountHotspot, Name: "amy", Password: "pw", LimitUptime: "1h30m", LimitBytesTotal: 500, Expired: true, Disabled: true}})
	if hot.Password != "pw" || hot.NTHash != "" || hot.UptimeLimitSeconds != 5400 || hot.DataCapBytes != 500 ||
		!hot.Disabled || hot.Reason != ReasonExpired {
		t.Errorf("hotspot entry %+v", hot)
	}
	v := entryOf(store.RadiusRow{Kind: protocol.KindHotspot, Name: "ACDEFGHJ", Version: 9, Plan: plan,
		Voucher: &controlplane.Voucher{Code: "ACDEFGHJ", Status: controlplane.VoucherUnused}})
	if !v.Voucher || v.Password != "ACDEFGHJ" || v.VoucherSeconds != 3600 || v.Profile != "sp-plan-3" || v.Deleted {
		t.Errorf("voucher entry %+v", v)
	}
	used := entryOf(store.RadiusRow{Kind: protocol.KindHotspot, Name: "ACDEFGHJ", Version: 10, Plan: plan,
		Voucher: &controlplane.Voucher{Code: "ACDEFGHJ", Status: controlplane.VoucherRevoked}})
	if used != (protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "ACDEFGHJ", Version: 10, Deleted: true}) {
		t.Errorf("revoked voucher entry %+v, want a deletion", used)
	}
	for in, want := range map[string]int64{"": 0, "1d": 86400, "2h3m4s": 7384, "01:00:00": 3600, "90": 90, "1x": 0, "h": 0} {
		if got := uptimeSeconds(in); got != want {
			t.Errorf("uptimeSeconds(%q) = %d, want %d", in, got, want)
		}
	}
}

// entriesOf flattens pages into "name@v" strings and checks they chain.
func chain(t *testing.T, pages []protocol.RadiusSync, from uint64) []string {
	t.Helper()
	var out []string
	for _, p := range pages {
		if p.From != from {
			t.Fatalf("page %d..%d after %d: pages must chain", p.From, p.To, from)
		}
		for _, e := range p.Entries {
			out = append(out, fmt.Sprintf("%s@%d", e.Name, e.Version))
		}
		from = p.To
	}
	return out
}

func TestChangesAndStates(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		r := e.radiusRouter("site-r")
		e.start(nil)
		res, err := e.prov.CreateAccount(e.ctx, e.admin, controlplane.AccountRequest{Kind: controlplane.AccountHotspot,
			Name: "amy", Password: "pw-amy", Profile: e.plan.Profile, RouterIDs: []string{r.ID}})
		if err != nil {
			t.Fatal(err)
		}
		e.waitFor("the page with amy", func() bool { return len(e.pub.to(r.ID)) == 1 })
		p := e.pub.to(r.ID)[0]
		if p.Mode != protocol.AuthRadius || p.From != 0 || p.To != 1 || p.Head != 1 || len(p.Entries) != 1 || p.InterimSeconds != 300 {
			t.Fatalf("page %+v", p)
		}
		if en := p.Entries[0]; en.Name != "amy" || en.Password != "pw-amy" || en.RateLimit != "2M/5M" || en.Profile != e.plan.Profile {
			t.Errorf("entry %+v", en)
		}

		// The agent lost it (or restarted empty): its state brings it again.
		if err := e.svc.HandleRadiusState(e.ctx, &protocol.RadiusState{V: 1, Router: r.ID, Version: 0}); err != nil {
			t.Fatal(err)
		}
		e.waitFor("the page again", func() bool { return len(e.pub.to(r.ID)) == 2 })
		if p := e.pub.to(r.ID)[1]; p.From != 0 || p.To != 1 {
			t.Errorf("resent page %d..%d", p.From, p.To)
		}
		// Applied: synced, nothing more is sent.
		if err := e.svc.HandleRadiusState(e.ctx, &protocol.RadiusState{V: 1, Router: r.ID, Version: 1, Count: 1}); err != nil {
			t.Fatal(err)
		}
		a, err := e.st.GetAccount(e.ctx, 0, res.Account.ID)
		if err != nil || len(a.Routers) != 1 || a.Routers[0].State != controlplane.SyncSynced {
			t.Fatalf("account after the state: %+v %v", a.Routers, err)
		}
		e.waitFor("AccountChanged with the synced state", func() bool {
			ch := changesOf[controlplane.AccountChanged](e)
			return len(ch) > 0 && ch[len(ch)-1].Account.Routers[0].State == controlplane.SyncSynced
		})
		if rt := e.router(r.ID); !rt.Radius.InSync || rt.Radius.AgentCount != 1 {
			t.Errorf("radius status %+v", rt.Radius)
		}

		// 1100 more entries: pages of at most 500, in version order, the
		// last one ending at the head.
		keys := make([]store.RadiusKey, 1100)
		for i := range keys {
			keys[i] = store.RadiusKey{Kind: protocol.KindHotspot, Name: fmt.Sprintf("gone%04d", i), Deleted: true}
		}
		if err := e.st.Write(e.ctx, func(tx *store.Tx) error { _, err := tx.BumpRadius(e.ctx, r.ID, keys...); return err }); err != nil {
			t.Fatal(err)
		}
		e.bus.Publish(controlplane.RadiusChanged{TenantID: e.tenant.ID, RouterID: r.ID})
		e.waitFor("three more pages", func() bool { return len(e.pub.to(r.ID)) == 5 })
		pages := e.pub.to(r.ID)[2:]
		got := chain(t, pages, 1)
		if len(got) != 1100 || got[0] != "gone0000@2" || got[1099] != "gone1099@1101" {
			t.Errorf("%d entries from %s to %s", len(got), got[0], got[len(got)-1])
		}
		for _, p := range pages {
			if len(p.Entries) > protocol.MaxRadiusEntries || p.Head != 1101 {
				t.Errorf("page %d..%d of %d entries, head %d", p.From, p.To, len(p.Entries), p.Head)
			}
		}
		if last := pages[len(pages)-1]; last.To != 1101 {
			t.Errorf("last page ends at %d, want the head 1101", last.To)
		}
		if n := testutil.ToFloat64(e.svc.m.pages); n != 5 {
			t.Errorf("pages metric %v", n)
		}
	})
}

func TestSwitchAnnouncesMode(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		r, _, err := e.st.CreateRouter(e.ctx, e.tenant.ID, "site-l", "")
		if err != nil {
			t.Fatal(err)
		}
		e.start(nil)
		// No account and no voucher: nothing to sync, yet the agent must
		// learn that it decides logins now.
		if _, err := e.prov.SetRouterAuthMode(e.ctx, e.admin, r.ID, protocol.AuthRadius); err != nil {
			t.Fatal(err)
		}
		e.waitFor("an empty page with the mode", func() bool { return len(e.pub.to(r.ID)) == 1 })
		if p := e.pub.to(r.ID)[0]; p.Mode != protocol.AuthRadius || p.From != 0 || p.To != 0 || len(p.Entries) != 0 {
			t.Errorf("page %+v", p)
		}
	})
}

func TestAsks(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		r := e.radiusRouter("site-r")
		e.start(nil)
		b, err := e.bill.GenerateVouchers(e.ctx, e.admin, controlplane.VoucherBatchRequest{PlanID: e.plan.ID, Count: 1, Length: 8})
		if err != nil {
			t.Fatal(err)
		}
		vs, _, err := e.bill.ListVouchers(e.ctx, e.tenant.ID, controlplane.VoucherFilter{BatchID: b.ID})
		if err != nil || len(vs) != 1 {
			t.Fatal(vs, err)
		}
		code := vs[0].Code
		e.waitFor("the voucher's page", func() bool { return len(e.pub.to(r.ID)) == 1 })
		if en := e.pub.to(r.ID)[0].Entries[0]; !en.Voucher || en.Name != code || en.VoucherSeconds != 3600 {
			t.Fatalf("voucher entry %+v", en)
		}
		if err := e.svc.HandleRadiusState(e.ctx, &protocol.RadiusState{V: 1, Router: r.ID, Version: 1, Count: 1}); err != nil {
			t.Fatal(err)
		}
		ask := &protocol.RadiusAsk{V: 1, Router: r.ID, ID: "q1", Code: strings.ToLower(code), MAC: "AA:BB:CC:00:00:01", TS: e.clock.Now()}
		if err := e.svc.HandleRadiusAsk(e.ctx, ask); err != nil {
			t.Fatal(err)
		}
		ans := e.answer(r.ID, "q1")
		if ans.From != 1 || ans.To != 1 || len(ans.Entries) != 0 || len(ans.Answers) != 1 {
			t.Fatalf("answer page %+v", ans)
		}
		a := ans.Answers[0]
		if a.ID != "q1" || !a.Accept || a.Entry == nil || a.Entry.Voucher || a.Entry.Name != code || a.Entry.Password != code ||
			a.Entry.ExpiresAt.IsZero() {
			t.Fatalf("answer %+v entry %+v", a, a.Entry)
		}
		v, _, _ := e.bill.ListVouchers(e.ctx, e.tenant.ID, controlplane.VoucherFilter{BatchID: b.ID})
		if v[0].Status != controlplane.VoucherActive || v[0].RouterID != r.ID || v[0].RedeemedBy != "AA:BB:CC:00:00:01" {
			t.Errorf("voucher after the ask %+v", v[0])
		}
		// The redemption's account entry follows in the normal sync.
		e.waitFor("the account's page", func() bool {
			for _, p := range e.pub.to(r.ID) {
				if p.From == 1 && len(p.Entries) == 1 && !p.Entries[0].Voucher && p.Entries[0].Name == code {
					return true
				}
			}
			return false
		})
		// Another device, and an unknown code: rejected alike.
		for i, c := range []string{code, "ZZZZZZZZ"} {
			ask := &protocol.RadiusAsk{V: 1, Router: r.ID, ID: fmt.Sprintf("r%d", i), Code: c, MAC: "AA:BB:CC:00:00:02", TS: e.clock.Now()}
			if err := e.svc.HandleRadiusAsk(e.ctx, ask); err != nil {
				t.Fatal(err)
			}
			got := e.answer(r.ID, ask.ID).Answers
			if len(got) != 1 || got[0].Accept || got[0].Reason != controlplane.VoucherNotValid || got[0].Entry != nil || got[0].ID != ask.ID {
				t.Errorf("answer to %s: %+v", c, got)
			}
		}
		if a, r := testutil.ToFloat64(e.svc.m.asks.WithLabelValues("accept")), testutil.ToFloat64(e.svc.m.asks.WithLabelValues("reject")); a != 1 || r != 2 {
			t.Errorf("asks metric accept %v reject %v", a, r)
		}
	})
}

func TestVoucherUsedOffline(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ra, rb := e.radiusRouter("site-a"), e.radiusRouter("site-b")
		e.start(nil)
		b, err := e.bill.GenerateVouchers(e.ctx, e.admin, controlplane.VoucherBatchRequest{PlanID: e.plan.ID, Count: 2, Length: 8})
		if err != nil {
			t.Fatal(err)
		}
		vs, _, err := e.bill.ListVouchers(e.ctx, e.tenant.ID, controlplane.VoucherFilter{BatchID: b.ID})
		if err != nil {
			t.Fatal(err)
		}
		at := e.clock.Now().Add(-10 * time.Minute)
		used := func(router string, seq uint64, code, mac string) *protocol.EventBatch {
			return &protocol.EventBatch{V: 1, Router: router, Events: []protocol.Event{{Seq: seq, TS: at, Type: protocol.EventVoucherUsed,
				Voucher: &protocol.VoucherUse{Code: code, MAC: mac, At: at, EndsAt: at.Add(time.Hour)}}}}
		}
		apply := func(b *protocol.EventBatch) {
			t.Helper()
			a, err := e.st.ApplyBatch(e.ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			e.bus.Publish(a.Changes...) // as ingest does
		}
		// Used offline at A: redeemed as of its use.
		ab := used(ra.ID, 1, vs[0].Code, "AA:BB:CC:00:00:01")
		apply(ab)
		e.waitFor("the voucher redeemed", func() bool {
			v, _, _ := e.bill.ListVouchers(e.ctx, e.tenant.ID, controlplane.VoucherFilter{Code: vs[0].Code})
			return len(v) == 1 && v[0].Status == controlplane.VoucherActive
		})
		v, _, _ := e.bill.ListVouchers(e.ctx, e.tenant.ID, controlplane.VoucherFilter{Code: vs[0].Code})
		if !v[0].RedeemedAt.Equal(at) || !v[0].EndsAt.Equal(at.Add(time.Hour)) || v[0].RouterID != ra.ID {
			t.Errorf("redeemed %+v, want as of the offline use at A", v[0])
		}
		// The same code used offline at B by another device: flagged once,
		// and a replay of either batch changes nothing.
		bb := used(rb.ID, 1, vs[0].Code, "AA:BB:CC:00:00:02")
		apply(bb)
		e.waitFor("the double use flagged", func() bool { return len(changesOf[controlplane.VoucherDoubleUse](e)) == 1 })
		apply(bb)
		apply(ab)
		if err := e.svc.reconcileUses(e.ctx); err != nil {
			t.Fatal(err)
		}
		d := changesOf[controlplane.VoucherDoubleUse](e)
		if len(d) != 1 || d[0].RouterID != rb.ID || d[0].Voucher.ID != vs[0].ID {
			t.Errorf("double uses %+v", d)
		}
		if n := testutil.ToFloat64(e.svc.m.doubleUse); n != 1 {
			t.Errorf("sitepulse_voucher_double_use_total = %v, want 1", n)
		}
		audit, err := e.st.ListAudit(e.ctx, e.tenant.ID, 200, 0)
		if err != nil {
			t.Fatal(err)
		}
		flagged := 0
		for _, a := range audit {
			if a.Action == "voucher.double_use" {
				flagged++
			}
		}
		if flagged != 1 {
			t.Errorf("%d double-use audit entries, want 1", flagged)
		}
		if !strings.Contains(e.logs.String(), "voucher used twice") {
			t.Errorf("no log line for the double use")
		}
		// An unknown code is recorded as not valid, and nothing else.
		apply(used(ra.ID, 2, "QQQQQQQQ", ""))
		e.waitFor("the unknown code handled", func() bool {
			return testutil.ToFloat64(e.svc.m.uses.WithLabelValues(store.VoucherUseNotValid)) == 1
		})
		if n := testutil.ToFloat64(e.svc.m.uses.WithLabelValues(store.VoucherUseRedeemed)); n != 1 {
			t.Errorf("redeemed uses %v, want 1", n)
		}
		if p, err := e.st.PendingVoucherUses(e.ctx, 0); err != nil || len(p) != 0 {
			t.Errorf("pending uses %v %v", p, err)
		}
	})
}

// answer returns the page that answered ask id (the sync may publish
// pages around it).
func (e *env) answer(router, id string) protocol.RadiusSync {
	e.t.Helper()
	for _, p := range e.pub.to(router) {
		if len(p.Answers) > 0 && p.Answers[0].ID == id {
			return p
		}
	}
	e.t.Fatalf("no answer to %s", id)
	return protocol.RadiusSync{}
}
