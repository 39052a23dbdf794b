package controlplane

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PlanKind is what a plan sells: hotspot time or a PPPoE line.
type PlanKind string

// Plan kinds.
const (
	PlanHotspot PlanKind = "hotspot" // /ip/hotspot/user with a /ip/hotspot/user/profile
	PlanPPPoE   PlanKind = "pppoe"   // /ppp/secret with a /ppp/profile
)

// Valid reports whether k is a known kind.
func (k PlanKind) Valid() bool { return k == PlanHotspot || k == PlanPPPoE }

// AccountKind is the kind of the accounts a plan's subscriptions get.
func (k PlanKind) AccountKind() AccountKind {
	if k == PlanPPPoE {
		return AccountPPP
	}
	return AccountHotspot
}

// Plan is something a tenant sells: time on the hotspot or a PPPoE line,
// at a price, with a rate limit. It is a RouterOS profile (Profile) that
// SitePulse keeps in sync on the tenant's routers.
type Plan struct {
	ID       int64    `json:"id"`
	TenantID int64    `json:"tenant_id"`
	Name     string   `json:"name"`
	Kind     PlanKind `json:"kind"`
	Price    Money    `json:"price"`
	// Duration is how long a purchase lasts, in the form ParseDuration
	// reads (1h, 24h, 7d, 30d); DurationSeconds is the same in seconds.
	Duration        string `json:"duration"`
	DurationSeconds int64  `json:"duration_seconds"`
	// DataCapBytes ends the subscription early once its sessions moved
	// that many bytes (in + out); 0 means no cap.
	DataCapBytes uint64 `json:"data_cap_bytes,omitempty"`
	RateLimit    string `json:"rate_limit,omitempty"` // RouterOS rx/tx, e.g. 2M/5M
	SharedUsers  int    `json:"shared_users,omitempty"`
	// GraceSeconds delays the disconnect after a subscription's end.
	GraceSeconds int64 `json:"grace_seconds,omitempty"`
	Active       bool  `json:"active"`
	// Profile is the RouterOS profile name on the routers (sp-plan-{id}).
	Profile   string       `json:"profile"`
	Routers   []PlanRouter `json:"routers"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// PlanProfile is the RouterOS profile name of plan id: stable across
// renames, so accounts keep pointing at it.
func PlanProfile(id int64) string { return fmt.Sprintf("sp-plan-%d", id) }

// PlanRouter is a plan's profile sync state on one router (SyncPending,
// SyncSynced or SyncFailed), like an account's.
type PlanRouter struct {
	RouterID  string    `json:"router_id"`
	State     string    `json:"state"`
	Message   string    `json:"message,omitempty"`
	CommandID string    `json:"command_id,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PlanRequest creates a plan (POST /api/v1/plans). Price is in minor
// units of the tenant's currency; Currency, when set, must be it.
type PlanRequest struct {
	TenantID     int64    `json:"tenant_id,omitempty"` // system admins only
	Name         string   `json:"name"`
	Kind         PlanKind `json:"kind"`
	Price        int64    `json:"price"`
	Currency     string   `json:"currency,omitempty"`
	Duration     string   `json:"duration"`
	DataCapBytes uint64   `json:"data_cap_bytes,omitempty"`
	RateLimit    string   `json:"rate_limit,omitempty"`
	SharedUsers  int      `json:"shared_users,omitempty"`
	GraceSeconds int64    `json:"grace_seconds,omitempty"`
	// Active defaults to true.
	Active *bool `json:"active,omitempty"`
}

// PlanPatch changes a plan (PATCH /api/v1/plans/{id}); nil fields stay.
// A price change applies to purchases from then on.
type PlanPatch struct {
	Name         *string `json:"name,omitempty"`
	Price        *int64  `json:"price,omitempty"`
	Duration     *string `json:"duration,omitempty"`
	DataCapBytes *uint64 `json:"data_cap_bytes,omitempty"`
	RateLimit    *string `json:"rate_limit,omitempty"`
	SharedUsers  *int    `json:"shared_users,omitempty"`
	GraceSeconds *int64  `json:"grace_seconds,omitempty"`
	Active       *bool   `json:"active,omitempty"`
}

// PlanFilter selects plans. Zero fields match everything.
type PlanFilter struct {
	Kind       PlanKind
	ActiveOnly bool
	Limit      int
	Offset     int
}

// ParseDuration reads a plan duration: a positive whole number of m
// (minutes), h, d or w, or Go's form (1h30m). EINVALID otherwise, or
// above a year.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := Errorf(EINVALID, "duration %q: want e.g. 30m, 1h, 24h, 7d or 30d", s)
	if s == "" {
		return 0, bad
	}
	var d time.Duration
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if n, err := strconv.ParseInt(s[:len(s)-1], 10, 64); err == nil && unit != 0 && n > 0 && n <= 366*24*60 {
		d = time.Duration(n) * unit
	} else if gd, err := time.ParseDuration(s); err == nil && gd > 0 {
		d = gd
	} else {
		return 0, bad
	}
	if d < time.Minute || d > 366*24*time.Hour {
		return 0, Errorf(EINVALID, "duration %q: must be between 1m and 366d", s)
	}
	return d, nil
}

// RouterOSDuration formats d the way RouterOS writes durations (1w2d3h4m5s),
// for a profile's session-timeout.
func RouterOSDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	s := int64(d / time.Second)
	for _, u := range []struct {
		n int64
		c byte
	}{{7 * 86400, 'w'}, {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}} {
		if s >= u.n {
			fmt.Fprintf(&b, "%d%c", s/u.n, u.c)
			s %= u.n
		}
	}
	return b.String()
}
