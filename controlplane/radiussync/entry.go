package radiussync

import (
	"encoding/hex"
	"strconv"
	"strings"

	"layeh.com/radius/rfc2759"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

// Reasons a disabled entry carries; the router shows them on its login
// page.
const (
	ReasonExpired  = "expired"
	ReasonDisabled = "disabled"
)

// entryOf renders a stored entry as the agent needs it. A tombstone, an
// entry whose account or voucher is gone, and a voucher no longer unused
// are deletions.
func entryOf(row store.RadiusRow) protocol.RadiusEntry {
	e := protocol.RadiusEntry{Kind: row.Kind, Name: row.Name, Version: row.Version}
	switch {
	case row.Deleted:
	case row.Account != nil:
		a := row.Account
		if row.Kind == protocol.KindPPPoE {
			e.NTHash = ntHash(a.Password)
		} else {
			e.Password = a.Password
		}
		e.Profile = a.Profile
		if p := row.Plan; p != nil {
			e.RateLimit, e.SharedUsers, e.DataCapBytes = p.RateLimit, p.SharedUsers, p.DataCapBytes
		}
		if a.LimitBytesTotal > 0 {
			e.DataCapBytes = a.LimitBytesTotal
		}
		if e.DataCapBytes > 0 {
			e.UsedBytes = row.UsedBytes
		}
		if a.ExpiresAt != nil {
			e.ExpiresAt = *a.ExpiresAt
		}
		e.UptimeLimitSeconds = uptimeSeconds(a.LimitUptime)
		switch {
		case a.Expired:
			e.Disabled, e.Reason = true, ReasonExpired
		case a.Disabled:
			e.Disabled, e.Reason = true, ReasonDisabled
		}
		return e
	case row.Voucher != nil && row.Voucher.Status == controlplane.VoucherUnused && row.Plan != nil:
		p := row.Plan
		e.Voucher, e.Password, e.VoucherSeconds = true, row.Voucher.Code, p.DurationSeconds
		e.Profile, e.RateLimit, e.SharedUsers, e.DataCapBytes = p.Profile, p.RateLimit, p.SharedUsers, p.DataCapBytes
		return e
	}
	return protocol.RadiusEntry{Kind: row.Kind, Name: row.Name, Version: row.Version, Deleted: true}
}

// ntHash is the hex MD4 of the UTF-16LE password (RFC 2759's
// NtPasswordHash), which checks PAP and MS-CHAPv2 without the clear text.
func ntHash(password string) string {
	u, err := rfc2759.ToUTF16([]byte(password))
	if err != nil {
		return ""
	}
	return hex.EncodeToString(rfc2759.NTPasswordHash(u))
}

// uptimeSeconds reads a RouterOS duration (1w2d3h4m5s, or hh:mm:ss), 0 for
// none or one it cannot read.
func uptimeSeconds(s string) int64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if strings.Contains(s, ":") {
		var total int64
		for _, part := range strings.Split(s, ":") {
			n, err := strconv.ParseInt(part, 10, 64)
			if err != nil || n < 0 {
				return 0
			}
			total = total*60 + n
		}
		return total
	}
	units := map[byte]int64{'w': 7 * 86400, 'd': 86400, 'h': 3600, 'm': 60, 's': 1}
	var total, n int64
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int64(c-'0')
			digits = true
		case units[c] != 0 && digits:
			total += n * units[c]
			n, digits = 0, false
		default:
			return 0
		}
	}
	if digits {
		total += n // bare seconds
	}
	return total
}
