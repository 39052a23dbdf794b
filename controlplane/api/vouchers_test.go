package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
)

// TestVouchersAPI drives the voucher routes over the real billing
// service and store: roles, tenant isolation, generation, the list
// filters, redemption's one answer for bad codes, revocation and the PDF.
func TestVouchersAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		withRealBilling(t, e)
		p := newBillPeople(e)
		var pl controlplane.Plan
		e.do("POST", "/api/v1/plans", p.adminA, map[string]any{"name": "Hour", "kind": "hotspot", "price": 2000, "duration": "1h"}).
			want(t, http.StatusCreated, &pl)

		gen := map[string]any{"plan_id": pl.ID, "count": 12, "prefix": "ka", "valid_days": 30}
		e.do("POST", "/api/v1/vouchers/batches", p.techA, gen).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("POST", "/api/v1/vouchers/batches", p.adminB, gen).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		e.do("POST", "/api/v1/vouchers/batches", p.adminA, map[string]any{"plan_id": pl.ID, "count": 1, "price": 20.5}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "price")
		e.do("POST", "/api/v1/vouchers/batches", p.adminA, map[string]any{"plan_id": pl.ID, "count": 5001}).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "count")
		r := e.do("POST", "/api/v1/vouchers/batches", p.adminA, gen)
		var b controlplane.VoucherBatch
		r.want(t, http.StatusCreated, &b)
		if b.Count != 12 || b.Unused != 12 || b.Prefix != "KA" || b.Price != controlplane.KES(2000) || r.header.Get("Location") != "/api/v1/vouchers?batch_id="+itoa(b.ID) {
			t.Fatalf("batch %+v, Location %q", b, r.header.Get("Location"))
		}

		var vs controlplane.Page[controlplane.Voucher]
		e.do("GET", "/api/v1/vouchers?batch_id="+itoa(b.ID)+"&limit=5", p.techA, nil).want(t, http.StatusOK, &vs)
		if vs.Total != 12 || len(vs.Data) != 5 || !strings.HasPrefix(vs.Data[0].Code, "KA") {
			t.Fatalf("vouchers page %+v", vs)
		}
		// Viewers see the list, not the codes, and may not print them.
		e.do("GET", "/api/v1/vouchers?batch_id="+itoa(b.ID)+"&limit=5", p.viewerA, nil).want(t, http.StatusOK, &vs)
		if vs.Total != 12 || !strings.HasPrefix(vs.Data[0].Code, "*****") || strings.Contains(vs.Data[0].Code, "KA") {
			t.Fatalf("viewer's vouchers page %+v", vs)
		}
		e.do("GET", "/api/v1/vouchers/batches/"+itoa(b.ID)+"/pdf", p.viewerA, nil).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("GET", "/api/v1/vouchers", p.adminB, nil).want(t, http.StatusOK, &vs)
		if vs.Total != 0 {
			t.Fatalf("B sees A's vouchers: %+v", vs)
		}
		e.do("GET", "/api/v1/vouchers?status=sold", p.adminA, nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "status")
		e.do("GET", "/api/v1/vouchers?code=%21%21", p.adminA, nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "code")
		e.do("GET", "/api/v1/vouchers", p.adminA, nil).want(t, http.StatusOK, &vs)
		code, id := vs.Data[0].Code, vs.Data[0].ID
		printed := code[:2] + "-" + strings.ToLower(code[2:6]) + "-" + code[6:]
		e.do("GET", "/api/v1/vouchers?code="+printed, p.adminA, nil).want(t, http.StatusOK, &vs)
		if vs.Total != 1 || vs.Data[0].ID != id {
			t.Fatalf("by code %q: %+v", printed, vs)
		}

		// Redemption: technicians and up, in their own tenant.
		redeem := map[string]any{"code": printed, "mac": "02:00:00:00:00:01"}
		e.do("POST", "/api/v1/vouchers/redeem", p.viewerA, redeem).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("POST", "/api/v1/vouchers/redeem", p.adminB, redeem).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, controlplane.VoucherNotValid)
		e.do("POST", "/api/v1/vouchers/redeem", p.root, redeem).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "tenant_id")
		e.do("POST", "/api/v1/vouchers/redeem", p.techA, map[string]any{"code": "?"}).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "code")
		var red controlplane.Redemption
		e.do("POST", "/api/v1/vouchers/redeem", p.techA, redeem).want(t, http.StatusOK, &red)
		if red.Voucher.ID != id || red.Voucher.Status != controlplane.VoucherActive || red.Credentials.Username != code || red.Credentials.Password != code {
			t.Fatalf("redemption %+v", red)
		}
		e.do("POST", "/api/v1/vouchers/redeem", p.techA, map[string]any{"code": code, "mac": "02:00:00:00:00:02"}).
			wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, controlplane.VoucherNotValid)

		// Revocation: tenant admins.
		path := "/api/v1/vouchers/" + itoa(id) + "/revoke"
		e.do("POST", path, p.techA, nil).wantError(t, http.StatusForbidden, controlplane.EFORBIDDEN, "")
		e.do("POST", path, p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
		var v controlplane.Voucher
		e.do("POST", path, p.adminA, nil).want(t, http.StatusOK, &v)
		if v.Status != controlplane.VoucherRevoked {
			t.Fatalf("revoked %+v", v)
		}
		e.do("POST", path, p.adminA, nil).wantError(t, http.StatusConflict, controlplane.ECONFLICT, "revoked")

		var bs controlplane.Page[controlplane.VoucherBatch]
		e.do("GET", "/api/v1/vouchers/batches", p.viewerA, nil).want(t, http.StatusOK, &bs)
		if bs.Total != 1 || bs.Data[0].Unused != 11 || bs.Data[0].Revoked != 1 {
			t.Fatalf("batches %+v", bs)
		}

		// The sheet: a PDF of the eleven unused.
		r = e.do("GET", "/api/v1/vouchers/batches/"+itoa(b.ID)+"/pdf", p.techA, nil)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(r.body, []byte("%PDF-")) ||
			!strings.Contains(r.header.Get("Content-Disposition"), "vouchers-"+itoa(b.ID)+".pdf") {
			t.Fatalf("pdf: %d %v %.40q", r.status, r.header, r.body)
		}
		e.do("GET", "/api/v1/vouchers/batches/"+itoa(b.ID)+"/pdf", p.adminB, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
	})
}
