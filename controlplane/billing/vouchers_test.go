package billing

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// vouchers generates a batch of plan.
func (e *env) vouchers(req controlplane.VoucherBatchRequest) (controlplane.VoucherBatch, []controlplane.Voucher) {
	e.t.Helper()
	b, err := e.svc.GenerateVouchers(e.ctx, e.admin, req)
	if err != nil {
		e.t.Fatalf("generate vouchers: %v", err)
	}
	vs, n, err := e.svc.ListVouchers(e.ctx, e.tenant.ID, controlplane.VoucherFilter{BatchID: b.ID})
	if err != nil || n != req.Count || len(vs) != req.Count {
		e.t.Fatalf("list vouchers: %d of %d, %v; want %d", len(vs), n, err, req.Count)
	}
	return b, vs
}

// voucher returns voucher id as stored.
func (e *env) voucher(id int64) controlplane.Voucher {
	e.t.Helper()
	var v controlplane.Voucher
	vs, _, err := e.st.ListVouchers(e.ctx, 0, controlplane.VoucherFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, x := range vs {
		if x.ID == id {
			v = x
		}
	}
	if v.ID == 0 {
		e.t.Fatalf("voucher %d not found", id)
	}
	return v
}

// changesOf returns the published changes of type T.
func changesOf[T controlplane.Change](e *env) []T {
	e.flush()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []T
	for _, c := range e.changes {
		if x, ok := c.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func TestGenerateVouchers(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("1 hour", controlplane.PlanHotspot, 5000, "1h")
		b, vs := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 300, Length: 6, Prefix: "kw", ValidDays: 30, Note: "launch"})
		if b.Count != 300 || b.Unused != 300 || b.Prefix != "KW" || b.Length != 6 || b.Price != controlplane.KES(5000) ||
			b.PlanName != "1 hour" || b.Actor != e.admin.Email || b.ExpiresAt == nil || !b.ExpiresAt.Equal(e.clock.Now().AddDate(0, 0, 30)) {
			t.Fatalf("batch = %+v", b)
		}
		seen := map[string]bool{}
		for _, v := range vs {
			if !strings.HasPrefix(v.Code, "KW") || len(v.Code) != 8 {
				t.Fatalf("code %q: want KW and 6 characters", v.Code)
			}
			for _, c := range v.Code[2:] {
				if !strings.ContainsRune(controlplane.VoucherAlphabet, c) {
					t.Fatalf("code %q: %q is not in the alphabet", v.Code, c)
				}
			}
			if seen[v.Code] {
				t.Fatalf("code %q twice", v.Code)
			}
			seen[v.Code] = true
			if v.Status != controlplane.VoucherUnused || v.BatchID != b.ID || v.Price != b.Price || v.ExpiresAt == nil || v.AccountID != 0 {
				t.Fatalf("voucher = %+v", v)
			}
		}
		// A generated voucher is on no router.
		for _, r := range e.routes {
			if got := e.commands(r.ID)[string(protocol.CmdHotspotUserAdd)]; got != 0 {
				t.Fatalf("router %s: %d user adds before any redemption", r.ID, got)
			}
		}
		if bs := changesOf[controlplane.VoucherChanged](e); len(bs) != 1 || bs[0].Batch == nil || bs[0].Batch.ID != b.ID {
			t.Fatalf("published %+v, want one batch change", bs)
		}
		// A price of its own; the default length.
		free := int64(0)
		b2, vs2 := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 2, Price: &free})
		if b2.Price != controlplane.KES(0) || len(vs2[0].Code) != controlplane.DefaultVoucherLength {
			t.Fatalf("second batch = %+v, code %q", b2, vs2[0].Code)
		}
		bs, total, err := e.svc.ListVoucherBatches(e.ctx, e.tenant.ID, 10, 0)
		if err != nil || total != 2 || bs[0].ID != b2.ID || bs[1].Unused != 300 {
			t.Fatalf("batches = %+v, %d, %v", bs, total, err)
		}

		pppoe := e.plan("home", controlplane.PlanPPPoE, 150000, "30d")
		for name, tc := range map[string]struct {
			p    controlplane.Principal
			req  controlplane.VoucherBatchRequest
			want string
		}{
			"technician":   {e.tech, controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 1}, controlplane.EFORBIDDEN},
			"no count":     {e.admin, controlplane.VoucherBatchRequest{PlanID: plan.ID}, controlplane.EINVALID},
			"too many":     {e.admin, controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 5001}, controlplane.EINVALID},
			"short":        {e.admin, controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 1, Length: 5}, controlplane.EINVALID},
			"long":         {e.admin, controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 1, Length: 17}, controlplane.EINVALID},
			"prefix":       {e.admin, controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 1, Prefix: "K-W"}, controlplane.EINVALID},
			"pppoe":        {e.admin, controlplane.VoucherBatchRequest{PlanID: pppoe.ID, Count: 1}, controlplane.EINVALID},
			"other plan":   {e.admin, controlplane.VoucherBatchRequest{PlanID: plan.ID + 100, Count: 1}, controlplane.ENOTFOUND},
			"negative":     {e.admin, controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 1, Price: ptr(int64(-1))}, controlplane.EINVALID},
			"other tenant": {e.admin, controlplane.VoucherBatchRequest{TenantID: e.tenant.ID + 1, PlanID: plan.ID, Count: 1}, controlplane.ENOTFOUND},
		} {
			if _, err := e.svc.GenerateVouchers(e.ctx, tc.p, tc.req); controlplane.ErrorCode(err) != tc.want {
				t.Errorf("%s: %v, want %s", name, err, tc.want)
			}
		}
	})
}

func TestRedeemVoucherCreatesAccountEverywhere(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("1 hour", controlplane.PlanHotspot, 5000, "1h")
		grace, capBytes := int64(300), uint64(500<<20)
		plan, err := e.svc.UpdatePlan(e.ctx, e.admin, plan.ID, controlplane.PlanPatch{GraceSeconds: &grace, DataCapBytes: &capBytes})
		if err != nil {
			t.Fatal(err)
		}
		_, vs := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 3, Length: 8})
		code := vs[0].Code
		typed := strings.ToLower(code[:4]) + "-" + code[4:] + " "
		e.clock.Advance(time.Minute)
		now := e.clock.Now()
		red, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: typed,
			RouterID: e.routes[0].ID, MAC: "aa:bb:cc:00:00:01", IP: "10.5.50.10"})
		if err != nil {
			t.Fatalf("redeem: %v", err)
		}
		v := red.Voucher
		if red.Credentials.Username != code || red.Credentials.Password != code || v.Status != controlplane.VoucherActive ||
			v.RedeemedBy != "AA:BB:CC:00:00:01" || v.RouterID != e.routes[0].ID || v.RedeemedAt == nil || !v.RedeemedAt.Equal(now) ||
			v.EndsAt == nil || !v.EndsAt.Equal(now.Add(time.Hour)) || v.AccountID == 0 {
			t.Fatalf("redemption = %+v", red)
		}
		a, err := e.st.GetAccount(e.ctx, 0, v.AccountID)
		if err != nil {
			t.Fatal(err)
		}
		if a.Kind != controlplane.AccountHotspot || a.Name != code || a.Profile != plan.Profile || a.Disabled || a.LimitBytesTotal != capBytes ||
			a.ExpiresAt == nil || !a.ExpiresAt.Equal(now.Add(time.Hour+5*time.Minute)) || len(a.Routers) != 2 {
			t.Fatalf("account = %+v", a)
		}
		for _, r := range e.routes {
			if got := e.commands(r.ID)[string(protocol.CmdHotspotUserAdd)]; got != 1 {
				t.Fatalf("router %s: %d user adds, want 1", r.ID, got)
			}
		}
		st, err := e.svc.Stats(e.ctx, e.tenant.ID)
		if err != nil || st.RevenueToday != 5000 || st.Revenue30d != 5000 || st.PaymentsToday != 1 {
			t.Fatalf("stats = %+v, %v", st, err)
		}
		if got := changesOf[controlplane.VoucherChanged](e); len(got) != 2 || got[1].Voucher.ID != v.ID || got[1].Voucher.Status != controlplane.VoucherActive {
			t.Fatalf("voucher changes = %+v", got)
		}
		if got := changesOf[controlplane.PortalPurchaseChanged](e); len(got) != 1 || got[0].Purchase.Status != "redeemed" ||
			got[0].Purchase.VoucherID != v.ID || got[0].Purchase.RouterID != e.routes[0].ID {
			t.Fatalf("portal purchase changes = %+v", got)
		}
		if got := changesOf[controlplane.BillingStatsChanged](e); len(got) != 2 || got[0].Stats.RevenueToday != 5000 {
			t.Fatalf("stats changes = %+v", got)
		}
		if got := changesOf[controlplane.AccountChanged](e); len(got) != 1 || got[0].Op != controlplane.AccountCreated {
			t.Fatalf("account changes = %+v", got)
		}

		// The same device again (a re-login): its login, nothing new.
		again, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: code, MAC: "AA-BB-CC-00-00-01"})
		if err != nil || again.Credentials != red.Credentials || again.Voucher.ID != v.ID {
			t.Fatalf("re-redeem from the same MAC = %+v, %v", again, err)
		}
		if got := e.commands(e.routes[1].ID)[string(protocol.CmdHotspotUserAdd)]; got != 1 {
			t.Fatalf("re-redeem queued %d adds", got)
		}
		if st, _ := e.svc.Stats(e.ctx, e.tenant.ID); st.RevenueToday != 5000 {
			t.Fatalf("re-redeem counted revenue again: %+v", st)
		}

		// Another device, an unknown code, a revoked one: one answer.
		_, err = e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: code, MAC: "AA:BB:CC:00:00:02"})
		notValidErr := err
		if controlplane.ErrorCode(err) != controlplane.ENOTFOUND || controlplane.ErrorMessage(err) != controlplane.VoucherNotValid {
			t.Fatalf("another MAC: %v", err)
		}
		if _, err := e.svc.RevokeVoucher(e.ctx, e.admin, vs[1].ID); err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]string{"unknown": "ACDEFGHJ", "revoked": vs[1].Code,
			"other tenant's": vs[2].Code} {
			tenant := e.tenant.ID
			if name == "other tenant's" {
				tenant++
			}
			_, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: tenant, Code: c, MAC: "AA:BB:CC:00:00:03"})
			if controlplane.ErrorCode(err) != controlplane.ENOTFOUND || err.Error() != notValidErr.Error() {
				t.Errorf("%s code: %v, want %v", name, err, notValidErr)
			}
		}
		// Its hour over, the device cannot log in with it again.
		e.clock.Advance(time.Hour)
		if _, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: code,
			MAC: "AA:BB:CC:00:00:01"}); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
			t.Fatalf("re-login after the voucher's end: %v", err)
		}
		for name, req := range map[string]controlplane.RedeemRequest{
			"malformed": {TenantID: e.tenant.ID, Code: "AB!"},
			"no tenant": {Code: code},
			"bad mac":   {TenantID: e.tenant.ID, Code: code, MAC: "nope"},
		} {
			if _, err := e.svc.RedeemVoucher(e.ctx, req); controlplane.ErrorCode(err) != controlplane.EINVALID {
				t.Errorf("%s: %v, want EINVALID", name, err)
			}
		}
	})
}

func TestConcurrentRedemptionSucceedsOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("day", controlplane.PlanHotspot, 8000, "24h")
		_, vs := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 1})
		const devices = 16
		var wg sync.WaitGroup
		errs := make([]error, devices)
		start := make(chan struct{})
		for i := range devices {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: vs[0].Code,
					MAC: fmt.Sprintf("02:00:00:00:00:%02x", i)})
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case controlplane.ErrorCode(err) != controlplane.ENOTFOUND:
				t.Errorf("device %d: %v", i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d devices redeemed the voucher, want 1", ok)
		}
		accs, _, err := e.st.ListAccounts(e.ctx, e.tenant.ID, controlplane.AccountFilter{})
		if err != nil || len(accs) != 1 {
			t.Fatalf("%d accounts, %v; want 1", len(accs), err)
		}
		if st, _ := e.svc.Stats(e.ctx, e.tenant.ID); st.RevenueToday != 8000 || st.PaymentsToday != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestRevokeVoucher(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("day", controlplane.PlanHotspot, 8000, "24h")
		_, vs := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 2})
		red, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: vs[0].Code, MAC: "02:00:00:00:00:01"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.RevokeVoucher(e.ctx, e.tech, vs[0].ID); controlplane.ErrorCode(err) != controlplane.EFORBIDDEN {
			t.Fatalf("technician revokes: %v", err)
		}
		v, err := e.svc.RevokeVoucher(e.ctx, e.admin, vs[0].ID)
		if err != nil || v.Status != controlplane.VoucherRevoked {
			t.Fatalf("revoke active: %+v, %v", v, err)
		}
		a, err := e.st.GetAccount(e.ctx, 0, red.Voucher.AccountID)
		if err != nil || !a.Disabled || !a.Expired {
			t.Fatalf("revoked voucher's account = %+v, %v", a, err)
		}
		for _, r := range e.routes {
			got := e.commands(r.ID)
			if got[string(protocol.CmdHotspotUserDisable)] != 1 || got[string(protocol.CmdHotspotActiveKick)] != 1 {
				t.Fatalf("router %s after revoke: %v", r.ID, got)
			}
		}
		// The device that had it cannot come back with it.
		if _, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: vs[0].Code,
			MAC: "02:00:00:00:00:01"}); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
			t.Fatalf("re-redeem a revoked voucher: %v", err)
		}
		if v, err := e.svc.RevokeVoucher(e.ctx, e.admin, vs[1].ID); err != nil || v.Status != controlplane.VoucherRevoked {
			t.Fatalf("revoke unused: %+v, %v", v, err)
		}
		if _, err := e.svc.RevokeVoucher(e.ctx, e.admin, vs[1].ID); controlplane.ErrorCode(err) != controlplane.ECONFLICT {
			t.Fatalf("revoke twice: %v", err)
		}
		if _, err := e.svc.RevokeVoucher(e.ctx, e.admin, vs[1].ID+1000); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
			t.Fatalf("revoke unknown: %v", err)
		}
		bs, _, _ := e.svc.ListVoucherBatches(e.ctx, e.tenant.ID, 10, 0)
		if bs[0].Revoked != 2 || bs[0].Unused != 0 {
			t.Fatalf("batch counts = %+v", bs[0])
		}
		// A plan is deleted only once none of its vouchers is left to
		// redeem or running.
		_, more := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 1})
		if err := e.svc.DeletePlan(e.ctx, e.admin, plan.ID); controlplane.ErrorCode(err) != controlplane.ECONFLICT {
			t.Fatalf("delete a plan with an unused voucher: %v", err)
		}
		if _, err := e.svc.RevokeVoucher(e.ctx, e.admin, more[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeletePlan(e.ctx, e.admin, plan.ID); err != nil {
			t.Fatalf("delete a plan whose vouchers are over: %v", err)
		}
	})
}

func TestVoucherSweep(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("hour", controlplane.PlanHotspot, 2000, "1h")
		_, vs := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 3, ValidDays: 1})
		if _, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: vs[0].Code}); err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.EndVouchers(e.ctx); err != nil || n != 0 {
			t.Fatalf("sweep before anything is due: %d, %v", n, err)
		}
		e.clock.Advance(time.Hour)
		if n, err := e.svc.EndVouchers(e.ctx); err != nil || n != 1 {
			t.Fatalf("sweep after the hour: %d, %v; want 1", n, err)
		}
		if v := e.voucher(vs[0].ID); v.Status != controlplane.VoucherUsed {
			t.Fatalf("redeemed voucher after its hour: %s", v.Status)
		}
		// Redeemed just before the batch's expiry: it runs its full hour.
		e.clock.Advance(23*time.Hour - time.Second)
		if _, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: vs[1].Code}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		if _, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: vs[2].Code}); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
			t.Fatalf("redeem past the expiry: %v", err)
		}
		if n, err := e.svc.EndVouchers(e.ctx); err != nil || n != 1 {
			t.Fatalf("sweep at the expiry: %d, %v; want 1", n, err)
		}
		got := map[controlplane.VoucherStatus]int{}
		for _, v := range vs {
			got[e.voucher(v.ID).Status]++
		}
		if got[controlplane.VoucherUsed] != 1 || got[controlplane.VoucherActive] != 1 || got[controlplane.VoucherExpired] != 1 {
			t.Fatalf("statuses = %v", got)
		}
		var ended []controlplane.VoucherStatus
		for _, c := range changesOf[controlplane.VoucherChanged](e) {
			if c.Batch == nil && (c.Voucher.Status == controlplane.VoucherUsed || c.Voucher.Status == controlplane.VoucherExpired) {
				ended = append(ended, c.Voucher.Status)
			}
		}
		if len(ended) != 2 {
			t.Fatalf("sweep published %v, want used and expired", ended)
		}
	})
}

func TestVoucherPDFPrintsUnusedWithPortalURL(t *testing.T) {
	for _, tool := range []string{"pdftoppm", "zbarimg"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed: %v", tool, err)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("1 hour", controlplane.PlanHotspot, 5000, "1h")
		b, vs := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 3})
		if _, err := e.svc.RedeemVoucher(e.ctx, controlplane.RedeemRequest{TenantID: e.tenant.ID, Code: vs[0].Code}); err != nil {
			t.Fatal(err)
		}
		// With the portal's settings in the store (migration 0022), the
		// QR codes name the tenant's slug; before, its id.
		portal := strconv.FormatInt(e.tenant.ID, 10)
		if ps, ok := any(e.st).(interface {
			PutPortalSettings(context.Context, controlplane.PortalSettings) (controlplane.PortalSettings, error)
		}); ok {
			if _, err := ps.PutPortalSettings(e.ctx, controlplane.PortalSettings{TenantID: e.tenant.ID, Slug: "kahawa", Name: "Kahawa",
				PrimaryColor: "#112233", AccentColor: "#445566", PlanIDs: []int64{}}); err != nil {
				t.Fatal(err)
			}
			portal = "kahawa"
		}
		var buf bytes.Buffer
		if err := e.svc.VoucherPDF(e.ctx, e.tenant.ID, b.ID, &buf); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.VoucherPDF(e.ctx, e.tenant.ID+1, b.ID, &bytes.Buffer{}); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
			t.Fatalf("another tenant's batch: %v", err)
		}
		dir := t.TempDir()
		file := filepath.Join(dir, "b.pdf")
		os.WriteFile(file, buf.Bytes(), 0o600)
		if out, err := exec.CommandContext(e.ctx, "pdftoppm", "-png", "-r", "100", file, filepath.Join(dir, "p")).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v %s", err, out)
		}
		pages, _ := filepath.Glob(filepath.Join(dir, "p-*.png"))
		out, err := exec.CommandContext(e.ctx, "zbarimg", append([]string{"--quiet", "--raw"}, pages...)...).Output()
		if err != nil {
			t.Fatalf("zbarimg: %v", err)
		}
		got := strings.Fields(string(out))
		slices.Sort(got)
		base := e.svc.publicURL() + "/portal/" + portal + "?voucher="
		want := []string{base + vs[1].Code, base + vs[2].Code}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("QR codes %q, want the unused ones %q", got, want)
		}
	})
}

// TestVoucherCodeClashDrawsAgain forces the random draws to repeat: a
// clash with a code the tenant has is drawn again (the unique index
// decides, the transaction goes on), and a code space that yields only
// clashes fails the whole batch with nothing written.
func TestVoucherCodeClashDrawsAgain(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("hour", controlplane.PlanHotspot, 2000, "1h")
		var mu sync.Mutex
		draws := []string{"ACDEFG", "ACDEFG", "ACDEFG", "HJKMNP"}
		drawCode = func(int) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if len(draws) == 0 {
				return "QRTUVW", nil
			}
			c := draws[0]
			draws = draws[1:]
			return c, nil
		}
		t.Cleanup(func() { drawCode = newCode })
		_, vs := e.vouchers(controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 2, Length: 6})
		if vs[0].Code != "ACDEFG" || vs[1].Code != "HJKMNP" {
			t.Fatalf("codes %q %q, want ACDEFG then HJKMNP after two clashes", vs[0].Code, vs[1].Code)
		}
		drawCode = func(int) (string, error) { return "HJKMNP", nil }
		if _, err := e.svc.GenerateVouchers(e.ctx, e.admin, controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: 3, Length: 6}); controlplane.ErrorCode(err) != controlplane.ECONFLICT {
			t.Fatalf("only clashes: %v, want ECONFLICT", err)
		}
		if bs, n, _ := e.svc.ListVoucherBatches(e.ctx, e.tenant.ID, 10, 0); n != 1 || len(bs) != 1 {
			t.Fatalf("a failed batch left %d batches", n)
		}
		// Another tenant may have the same code.
		other, err := e.st.CreateTenant(e.ctx, "Other")
		if err != nil {
			t.Fatal(err)
		}
		admin := controlplane.Principal{UserID: 9, TenantID: other.ID, Role: controlplane.RoleTenantAdmin, Email: "admin@other.test"}
		p2, err := e.svc.CreatePlan(e.ctx, admin, controlplane.PlanRequest{Name: "hour", Kind: controlplane.PlanHotspot, Price: 2000, Duration: "1h"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GenerateVouchers(e.ctx, admin, controlplane.VoucherBatchRequest{PlanID: p2.ID, Count: 1, Length: 6}); err != nil {
			t.Fatalf("the same code in another tenant: %v", err)
		}
	})
}

// TestGenerateFullBatch makes the largest batch in one transaction.
func TestGenerateFullBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		plan := e.plan("hour", controlplane.PlanHotspot, 2000, "1h")
		start := time.Now()
		b, err := e.svc.GenerateVouchers(e.ctx, e.admin, controlplane.VoucherBatchRequest{PlanID: plan.ID, Count: controlplane.MaxVoucherBatch, Length: 6})
		if err != nil || b.Unused != controlplane.MaxVoucherBatch {
			t.Fatalf("batch of %d: %+v, %v", controlplane.MaxVoucherBatch, b, err)
		}
		t.Logf("%d vouchers in %v", b.Count, time.Since(start))
	})
}
