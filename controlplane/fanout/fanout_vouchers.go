package fanout

import (
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Events of vouchers and the captive portal.
const (
	// private-tenant.{t}.vouchers: a generated batch (no codes); a
	// voucher redeemed, used up, expired or revoked (code masked).
	EventVoucherBatchCreated = "VoucherBatchCreated"
	EventVoucherUpdated      = "VoucherUpdated"
	// private-tenant.{t}.portal: a purchase or redemption at the portal
	// (phone and MAC masked).
	EventPortalPurchase = "PortalPurchase"
)

// Channel topics of vouchers and the portal (TenantChannel's second
// argument).
const (
	TopicVouchers = "vouchers"
	TopicPortal   = "portal"
)

// applyVouchers publishes a voucher or portal change; it reports false for
// a change that is neither.
func (f *Fanout) applyVouchers(c controlplane.Change) bool {
	switch c := c.(type) {
	case controlplane.VoucherChanged:
		if c.Batch != nil {
			b := c.Batch
			f.publish(TenantChannel(b.TenantID, TopicVouchers), EventVoucherBatchCreated, map[string]any{"batch": newVoucherBatchView(*b)})
			return true
		}
		v := c.Voucher
		if v.ID == 0 || v.TenantID == 0 {
			f.log.Debug("fan-out: voucher change without a voucher or batch")
			return true
		}
		f.publish(TenantChannel(v.TenantID, TopicVouchers), EventVoucherUpdated, map[string]any{"voucher": newVoucherView(v)})
	case controlplane.PortalPurchaseChanged:
		p := c.Purchase
		if p.TenantID == 0 {
			return true
		}
		f.publish(TenantChannel(p.TenantID, TopicPortal), EventPortalPurchase, map[string]any{"purchase": newPortalPurchaseView(p)})
	default:
		return false
	}
	return true
}

// MaskCode hides a voucher code but for its last three characters, behind
// a fixed run of stars so the mask tells nothing of the code's length:
// "KDX7-4HNQ9T" → "****Q9T". A code of three characters or fewer is masked
// entirely. A printed, unused code is as good as cash; the dashboard tells
// vouchers apart by id and shows staff the full code from REST.
func MaskCode(code string) string {
	code = strings.TrimSpace(code)
	if code == "" {
		return ""
	}
	r := []rune(code)
	if len(r) <= 3 {
		return "****"
	}
	return "****" + string(r[len(r)-3:])
}

// MaskMAC hides a device's MAC address but for its last two octets:
// "AA:BB:CC:DD:EE:FF" → "**:**:**:**:EE:FF" (dashes or dots as
// separators are read too and written as colons). Anything that is not a
// MAC of six octets is masked entirely.
func MaskMAC(mac string) string {
	mac = strings.TrimSpace(mac)
	if mac == "" {
		return ""
	}
	hex := make([]byte, 0, 12)
	for i := 0; i < len(mac); i++ {
		switch c := mac[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			hex = append(hex, c)
		case c == ':' || c == '-' || c == '.':
		default:
			return "**:**:**:**:**:**"
		}
	}
	if len(hex) != 12 {
		return "**:**:**:**:**:**"
	}
	u := strings.ToUpper(string(hex))
	return "**:**:**:**:" + u[8:10] + ":" + u[10:12]
}

// voucherView is a voucher as broadcast: the code masked to its last three
// characters, the redeeming device's MAC masked, no tenant id (the channel
// says it).
type voucherView struct {
	ID         int64                      `json:"id"`
	BatchID    int64                      `json:"batch_id"`
	PlanID     int64                      `json:"plan_id"`
	PlanName   string                     `json:"plan_name"`
	Code       string                     `json:"code"`
	Status     controlplane.VoucherStatus `json:"status"`
	Price      controlplane.Money         `json:"price"`
	ExpiresAt  *time.Time                 `json:"expires_at,omitempty"`
	RedeemedAt *time.Time                 `json:"redeemed_at,omitempty"`
	EndsAt     *time.Time                 `json:"ends_at,omitempty"`
	AccountID  int64                      `json:"account_id,omitempty"`
	RouterID   string                     `json:"router_id,omitempty"`
	RedeemedBy string                     `json:"redeemed_by,omitempty"`
	CreatedAt  time.Time                  `json:"created_at"`
	UpdatedAt  time.Time                  `json:"updated_at"`
}

func newVoucherView(v controlplane.Voucher) voucherView {
	return voucherView{
		ID: v.ID, BatchID: v.BatchID, PlanID: v.PlanID, PlanName: v.PlanName, Code: MaskCode(v.Code), Status: v.Status,
		Price: v.Price, ExpiresAt: v.ExpiresAt, RedeemedAt: v.RedeemedAt, EndsAt: v.EndsAt, AccountID: v.AccountID,
		RouterID: v.RouterID, RedeemedBy: MaskMAC(v.RedeemedBy), CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
	}
}

// voucherBatchView is a batch as broadcast: its figures and counts per
// status, never a code (a VoucherBatch holds none; this view could not
// carry one if it did), the staff actor and the note masked where they hold
// a contact.
type voucherBatchView struct {
	ID        int64              `json:"id"`
	PlanID    int64              `json:"plan_id"`
	PlanName  string             `json:"plan_name"`
	Count     int                `json:"count"`
	Prefix    string             `json:"prefix,omitempty"`
	Length    int                `json:"length"`
	Price     controlplane.Money `json:"price"`
	ExpiresAt *time.Time         `json:"expires_at,omitempty"`
	Note      string             `json:"note,omitempty"`
	Actor     string             `json:"actor,omitempty"`
	Unused    int                `json:"unused"`
	Active    int                `json:"active"`
	Used      int                `json:"used"`
	Expired   int                `json:"expired"`
	Revoked   int                `json:"revoked"`
	CreatedAt time.Time          `json:"created_at"`
}

func newVoucherBatchView(b controlplane.VoucherBatch) voucherBatchView {
	return voucherBatchView{
		ID: b.ID, PlanID: b.PlanID, PlanName: b.PlanName, Count: b.Count, Prefix: b.Prefix, Length: b.Length,
		Price: b.Price, ExpiresAt: b.ExpiresAt, Note: maskContactsIn(b.Note), Actor: maskIdentity(b.Actor),
		Unused: b.Unused, Active: b.Active, Used: b.Used, Expired: b.Expired, Revoked: b.Revoked, CreatedAt: b.CreatedAt,
	}
}

// portalPurchaseView is a portal purchase as broadcast: the phone masked
// (by publish's scrub, which masks every field so named: masking here too
// would spoil it), the MAC masked, no tenant id.
type portalPurchaseView struct {
	RouterID  string    `json:"router_id"`
	PaymentID int64     `json:"payment_id,omitempty"`
	VoucherID int64     `json:"voucher_id,omitempty"`
	PlanID    int64     `json:"plan_id"`
	Phone     string    `json:"phone,omitempty"`
	MAC       string    `json:"mac,omitempty"`
	Status    string    `json:"status"`
	At        time.Time `json:"at"`
}

func newPortalPurchaseView(p controlplane.PortalPurchase) portalPurchaseView {
	return portalPurchaseView{
		RouterID: p.RouterID, PaymentID: p.PaymentID, VoucherID: p.VoucherID, PlanID: p.PlanID,
		Phone: p.Phone, MAC: MaskMAC(p.MAC), Status: maskContactsIn(p.Status), At: p.At,
	}
}
