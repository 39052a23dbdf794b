package controlplane

import "time"

// VoucherStatus is where a voucher is:
//
//	unused → active → used
//	unused → expired (not redeemed before its batch's expiry) | revoked
//	active → revoked (its account is disabled)
type VoucherStatus string

// Voucher statuses.
const (
	VoucherUnused  VoucherStatus = "unused"  // printed, never redeemed
	VoucherActive  VoucherStatus = "active"  // redeemed: the plan's clock runs
	VoucherUsed    VoucherStatus = "used"    // its time ran out
	VoucherExpired VoucherStatus = "expired" // never redeemed before ExpiresAt
	VoucherRevoked VoucherStatus = "revoked" // cancelled by staff
)

// Valid reports whether s is a known status.
func (s VoucherStatus) Valid() bool {
	switch s {
	case VoucherUnused, VoucherActive, VoucherUsed, VoucherExpired, VoucherRevoked:
		return true
	}
	return false
}

// VoucherAlphabet is what voucher codes are made of: no look-alikes (0/O,
// 1/I/L, 5/S, 2/Z, 8/B), so a code read off paper is typed right.
const VoucherAlphabet = "ACDEFGHJKMNPQRTUVWXY34679"

// Voucher is one prepaid code for a plan. It is redeemed on use, at the
// portal or the API: redemption creates its account (a hotspot user named
// and keyed by the code) on the plan's routers and starts the plan's
// clock; a voucher never redeemed exists on no router.
type Voucher struct {
	ID       int64         `json:"id"`
	TenantID int64         `json:"tenant_id"`
	BatchID  int64         `json:"batch_id"`
	PlanID   int64         `json:"plan_id"`
	PlanName string        `json:"plan_name"`
	Code     string        `json:"code"` // shown to staff; never broadcast
	Status   VoucherStatus `json:"status"`
	Price    Money         `json:"price"`
	// ExpiresAt is when an unused voucher stops being redeemable.
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RedeemedAt *time.Time `json:"redeemed_at,omitempty"`
	// EndsAt is when an active voucher's time runs out.
	EndsAt     *time.Time `json:"ends_at,omitempty"`
	AccountID  int64      `json:"account_id,omitempty"`
	RouterID   string     `json:"router_id,omitempty"`   // where it was redeemed
	RedeemedBy string     `json:"redeemed_by,omitempty"` // the device's MAC; masked in broadcasts
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// VoucherBatch is a set of vouchers generated together for one plan.
type VoucherBatch struct {
	ID        int64      `json:"id"`
	TenantID  int64      `json:"tenant_id"`
	PlanID    int64      `json:"plan_id"`
	PlanName  string     `json:"plan_name"`
	Count     int        `json:"count"`
	Prefix    string     `json:"prefix,omitempty"`
	Length    int        `json:"length"` // random characters after the prefix
	Price     Money      `json:"price"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Note      string     `json:"note,omitempty"`
	Actor     string     `json:"actor"`
	// Counts per status, for the dashboard.
	Unused    int       `json:"unused"`
	Active    int       `json:"active"`
	Used      int       `json:"used"`
	Expired   int       `json:"expired"`
	Revoked   int       `json:"revoked"`
	CreatedAt time.Time `json:"created_at"`
}

// VoucherBatchRequest generates a batch (POST /api/v1/vouchers/batches).
type VoucherBatchRequest struct {
	TenantID int64  `json:"tenant_id,omitempty"` // system admins only
	PlanID   int64  `json:"plan_id"`
	Count    int    `json:"count"`  // 1..5000
	Length   int    `json:"length"` // random characters, 6..16; 0 means 8
	Prefix   string `json:"prefix,omitempty"`
	// Price in minor units; nil means the plan's price.
	Price *int64 `json:"price,omitempty"`
	// ValidDays bounds how long unused vouchers can be redeemed; 0 means
	// no expiry.
	ValidDays int    `json:"valid_days,omitempty"`
	Note      string `json:"note,omitempty"`
}

// VoucherFilter selects vouchers. Zero fields match everything.
type VoucherFilter struct {
	BatchID int64
	PlanID  int64
	Status  VoucherStatus
	Code    string // exact code
	Limit   int
	Offset  int
}

// RedeemRequest redeems a voucher for a device on a router (the portal,
// or POST /api/v1/vouchers/redeem).
type RedeemRequest struct {
	TenantID int64  `json:"tenant_id,omitempty"`
	Code     string `json:"code"`
	RouterID string `json:"router_id,omitempty"`
	MAC      string `json:"mac,omitempty"`
	IP       string `json:"ip,omitempty"`
}

// Redemption is a redeemed voucher and the login it gives: the hotspot
// user to log the device in with.
type Redemption struct {
	Voucher     Voucher     `json:"voucher"`
	Credentials Credentials `json:"credentials"`
}

// VoucherChanged announces a generated batch's vouchers (one change per
// batch, Voucher zero), a redeemed, used, expired or revoked voucher.
type VoucherChanged struct {
	Voucher Voucher
	Batch   *VoucherBatch // set for a generated batch
}

// ChangeTenant implements Change.
func (c VoucherChanged) ChangeTenant() int64 {
	if c.Batch != nil {
		return c.Batch.TenantID
	}
	return c.Voucher.TenantID
}

// Voucher limits.
const (
	MaxVoucherBatch      = 5000 // vouchers per generated batch
	MinVoucherLength     = 6    // random characters: 25^6 ≈ 2.4e8 codes
	MaxVoucherLength     = 16
	DefaultVoucherLength = 8
	MaxVoucherPrefix     = 8
	// maxVoucherCode bounds what NormalizeVoucherCode accepts: a prefix
	// and the longest random part.
	maxVoucherCode = MaxVoucherPrefix + MaxVoucherLength
)

// VoucherNotValid is the one answer to a code that cannot be redeemed,
// whether unknown, used, expired or revoked: a guesser learns nothing.
const VoucherNotValid = "voucher not valid"

// NormalizeVoucherCode returns a typed code as stored: spaces and dashes
// (as printed, "ABCD-EFGH") dropped, letters in upper case. EINVALID for
// anything but letters and digits, or a length no voucher has.
func NormalizeVoucherCode(s string) (string, error) {
	if len(s) > 4*maxVoucherCode {
		return "", Errorf(EINVALID, "code: too long")
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		default:
			return "", Errorf(EINVALID, "code: letters and digits only")
		}
	}
	if len(b) < MinVoucherLength || len(b) > maxVoucherCode {
		return "", Errorf(EINVALID, "code: %d to %d letters and digits", MinVoucherLength, maxVoucherCode)
	}
	return string(b), nil
}
