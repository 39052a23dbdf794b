package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Vouchers generates, lists, prints, revokes and redeems prepaid
// vouchers; *billing.Service implements it. GenerateVouchers and
// RevokeVoucher check the principal's role (EFORBIDDEN); every method
// answers ENOTFOUND for another tenant's ids, EINVALID naming the field;
// RevokeVoucher ECONFLICT for a voucher already over; RedeemVoucher
// ENOTFOUND "voucher not valid" for any code that cannot be redeemed;
// VoucherPDF ECONFLICT for a batch with nothing unused, EUNAVAILABLE
// without a public URL.
type Vouchers interface {
	GenerateVouchers(ctx context.Context, p controlplane.Principal, req controlplane.VoucherBatchRequest) (controlplane.VoucherBatch, error)
	ListVoucherBatches(ctx context.Context, scope int64, limit, offset int) ([]controlplane.VoucherBatch, int, error)
	ListVouchers(ctx context.Context, scope int64, f controlplane.VoucherFilter) ([]controlplane.Voucher, int, error)
	RevokeVoucher(ctx context.Context, p controlplane.Principal, id int64) (controlplane.Voucher, error)
	RedeemVoucher(ctx context.Context, req controlplane.RedeemRequest) (controlplane.Redemption, error)
	VoucherPDF(ctx context.Context, scope, batchID int64, w io.Writer) error
}

// vouchers returns Options.Vouchers, or Options.Billing when it sells
// vouchers too, or EUNAVAILABLE.
func (s *Server) vouchers() (Vouchers, error) {
	if s.opts.Vouchers != nil {
		return s.opts.Vouchers, nil
	}
	if v, ok := s.opts.Billing.(Vouchers); ok {
		return v, nil
	}
	return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "vouchers are not sold on this server")
}

// voucherFilter reads batch_id, plan_id, status and code.
func voucherFilter(q url.Values, limit, offset int) (controlplane.VoucherFilter, error) {
	f := controlplane.VoucherFilter{Limit: limit, Offset: offset, Code: q.Get("code")}
	var err error
	if f.BatchID, err = optionalID(q, "batch_id"); err != nil {
		return f, err
	}
	if f.PlanID, err = optionalID(q, "plan_id"); err != nil {
		return f, err
	}
	if st := controlplane.VoucherStatus(q.Get("status")); st != "" {
		if !st.Valid() {
			return f, invalid("status", "must be unused, active, used, expired or revoked")
		}
		f.Status = st
	}
	if f.Code != "" {
		if _, err := controlplane.NormalizeVoucherCode(f.Code); err != nil {
			return f, invalid("code", "letters and digits, as printed")
		}
	}
	return f, nil
}

// pageOnly is the filter of a list that has only limit and offset.
type pageOnly struct{ limit, offset int }

func parsePageOnly(_ url.Values, limit, offset int) (pageOnly, error) {
	return pageOnly{limit, offset}, nil
}

func (s *Server) handleListVouchers(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	v, err := s.vouchers()
	if err != nil {
		return err
	}
	list := v.ListVouchers
	if !p.CanMutate() {
		// An unused code is a credential: viewers read the list, not the
		// codes (technicians sell and print them).
		list = func(ctx context.Context, scope int64, f controlplane.VoucherFilter) ([]controlplane.Voucher, int, error) {
			vs, n, err := v.ListVouchers(ctx, scope, f)
			for i := range vs {
				vs[i].Code = maskCode(vs[i].Code)
			}
			return vs, n, err
		}
	}
	return listPage(w, r, voucherFilter, func() (int64, error) { return listScope(r, p) }, list)
}

// maskCode keeps a voucher code's last three characters.
func maskCode(c string) string {
	if len(c) <= 3 {
		return "***"
	}
	return strings.Repeat("*", len(c)-3) + c[len(c)-3:]
}

func (s *Server) handleListVoucherBatches(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	v, err := s.vouchers()
	if err != nil {
		return err
	}
	return listPage(w, r, parsePageOnly, func() (int64, error) { return listScope(r, p) },
		func(ctx context.Context, scope int64, f pageOnly) ([]controlplane.VoucherBatch, int, error) {
			return v.ListVoucherBatches(ctx, scope, f.limit, f.offset)
		})
}

func (s *Server) handleGenerateVouchers(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	v, err := s.vouchers()
	if err != nil {
		return err
	}
	if err := requireBillingAdmin(p); err != nil {
		return err
	}
	var req controlplane.VoucherBatchRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	b, err := v.GenerateVouchers(r.Context(), p, req)
	if err != nil {
		// A generated batch is audited with its transaction; a refused
		// one here.
		s.audit(r, p, p.TenantID, "voucher.generate", "plan:"+idString(req.PlanID), err, "")
		return err
	}
	w.Header().Set("Location", "/api/v1/vouchers?batch_id="+idString(b.ID))
	writeJSON(w, http.StatusCreated, b)
	return nil
}

func (s *Server) handleVoucherPDF(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	v, err := s.vouchers()
	if err != nil {
		return err
	}
	if !p.CanMutate() {
		return controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not print vouchers: the sheet holds their codes", p.Role)
	}
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	// Rendered whole before the first byte, so a failure still answers
	// with a JSON error.
	var buf bytes.Buffer
	if err := v.VoucherPDF(r.Context(), p.Scope(), id, &buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="vouchers-`+idString(id)+`.pdf"`)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	buf.WriteTo(w) // a client that hung up is nothing to answer
	return nil
}

func (s *Server) handleRevokeVoucher(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	v, err := s.vouchers()
	if err != nil {
		return err
	}
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	if err := requireBillingAdmin(p); err != nil {
		return err
	}
	out, err := v.RevokeVoucher(r.Context(), p, id)
	if err != nil {
		s.audit(r, p, p.TenantID, "voucher.revoke", "voucher:"+idString(id), err, "")
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleRedeemVoucher(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	v, err := s.vouchers()
	if err != nil {
		return err
	}
	if err := requireSell(p); err != nil {
		return err
	}
	var req controlplane.RedeemRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	switch {
	case p.IsSystemAdmin() && req.TenantID == 0:
		return invalid("tenant_id", "required for system admins")
	case !p.IsSystemAdmin() && req.TenantID != 0 && req.TenantID != p.TenantID:
		return controlplane.Errorf(controlplane.ENOTFOUND, "no tenant %d", req.TenantID)
	case !p.IsSystemAdmin():
		req.TenantID = p.TenantID
	}
	red, err := v.RedeemVoucher(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, red)
	return nil
}
