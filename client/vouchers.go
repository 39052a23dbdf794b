package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Vouchers: prepaid codes for a plan, generated in batches, printed as
// PDF, redeemed on use. Prices are integer minor units.

// GenerateVouchers makes a batch of vouchers for a hotspot plan (tenant
// admins).
func (c *Client) GenerateVouchers(ctx context.Context, req controlplane.VoucherBatchRequest) (controlplane.VoucherBatch, error) {
	var res controlplane.VoucherBatch
	err := c.Do(ctx, http.MethodPost, "/api/v1/vouchers/batches", req, &res)
	return res, err
}

// VoucherBatches reads one page of batches, newest first, with their
// counts per status.
func (c *Client) VoucherBatches(ctx context.Context, tenantID int64, limit, offset int) (controlplane.Page[controlplane.VoucherBatch], error) {
	var res controlplane.Page[controlplane.VoucherBatch]
	path := "/api/v1/vouchers/batches" + query("tenant_id", id(tenantID), "limit", num(limit), "offset", num(offset))
	err := c.Do(ctx, http.MethodGet, path, nil, &res)
	return res, err
}

// Vouchers reads one page of vouchers f selects (Code as printed).
func (c *Client) Vouchers(ctx context.Context, tenantID int64, f controlplane.VoucherFilter) (controlplane.Page[controlplane.Voucher], error) {
	var res controlplane.Page[controlplane.Voucher]
	path := "/api/v1/vouchers" + query("tenant_id", id(tenantID), "batch_id", id(f.BatchID), "plan_id", id(f.PlanID),
		"status", string(f.Status), "code", f.Code, "limit", num(f.Limit), "offset", num(f.Offset))
	err := c.Do(ctx, http.MethodGet, path, nil, &res)
	return res, err
}

// AllVouchers reads every voucher f selects, page by page (Limit and
// Offset are ignored).
func (c *Client) AllVouchers(ctx context.Context, tenantID int64, f controlplane.VoucherFilter) ([]controlplane.Voucher, error) {
	return all(func(offset int) (controlplane.Page[controlplane.Voucher], error) {
		f.Limit, f.Offset = maxPage, offset
		return c.Vouchers(ctx, tenantID, f)
	})
}

// VoucherBatchPDF downloads the printable A4 sheets of a batch's unused
// vouchers.
func (c *Client) VoucherBatchPDF(ctx context.Context, batchID int64) ([]byte, error) {
	var pdf []byte
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/vouchers/batches/%d/pdf", batchID), nil, &pdf)
	return pdf, err
}

// RevokeVoucher cancels an unused or active voucher (tenant admins); an
// active one's device is cut off.
func (c *Client) RevokeVoucher(ctx context.Context, voucherID int64) (controlplane.Voucher, error) {
	var res controlplane.Voucher
	err := c.Do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/vouchers/%d/revoke", voucherID), nil, &res)
	return res, err
}

// RedeemVoucher redeems a code for a device (technicians and up) and
// returns the hotspot login it gives.
func (c *Client) RedeemVoucher(ctx context.Context, req controlplane.RedeemRequest) (controlplane.Redemption, error) {
	var res controlplane.Redemption
	err := c.Do(ctx, http.MethodPost, "/api/v1/vouchers/redeem", req, &res)
	return res, err
}
