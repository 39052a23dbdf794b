package billing

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/controlplane/voucherprint"
)

// portalSettings reads a tenant's portal settings (the store has them
// once the portal's migration is in): the voucher sheet prints its slug,
// name and logo. Without it the sheet names the tenant and its id.
type portalSettings interface {
	PortalSettings(ctx context.Context, tenantID int64) (controlplane.PortalSettings, error)
}

// VoucherPDF writes the A4 sheet of batch id's unused vouchers (within
// scope) to w: one card each, with the tenant's name and inline logo, the
// plan, the price, the code and a QR code of the portal URL
// {public-url}/portal/{slug or tenant id}?voucher=CODE. ENOTFOUND for a
// batch out of scope; ECONFLICT when none of its vouchers is unused;
// EUNAVAILABLE without a public URL (the QR codes would lead nowhere).
func (s *Service) VoucherPDF(ctx context.Context, scope, id int64, w io.Writer) error {
	base := s.publicURL()
	if base == "" {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "no public URL for the portal (--public-url)")
	}
	var sh voucherprint.Sheet
	var tz string
	err := s.st.ReadTx(ctx, func(tx *store.Tx) error {
		var err error
		if sh.Batch, err = tx.VoucherBatch(ctx, scope, id); err != nil {
			return err
		}
		set, err := tx.BillingSettings(ctx, sh.Batch.TenantID)
		tz = set.Timezone
		return err
	})
	if err != nil {
		return err
	}
	t := sh.Batch.TenantID
	vs, _, err := s.st.ListVouchers(ctx, t, controlplane.VoucherFilter{BatchID: id, Status: controlplane.VoucherUnused})
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return controlplane.Errorf(controlplane.ECONFLICT, "voucher batch %d has no unused vouchers to print", id)
	}
	sh.Vouchers = vs
	tenant, err := s.st.GetTenant(ctx, 0, t)
	if err != nil {
		return err
	}
	sh.Tenant = tenant.Name
	path := strconv.FormatInt(t, 10)
	if ps, ok := any(s.st).(portalSettings); ok {
		set, err := ps.PortalSettings(ctx, t)
		if err != nil {
			return fmt.Errorf("portal settings of tenant %d: %w", t, err)
		}
		if set.Slug != "" {
			path = set.Slug
		}
		if set.Name != "" {
			sh.Tenant = set.Name
		}
		sh.LogoURL = set.LogoURL
	}
	sh.PortalURL = base + "/portal/" + path
	if loc, err := time.LoadLocation(tz); err == nil {
		sh.Location = loc
	}
	return voucherprint.Render(w, sh)
}
