package controlplane

import "time"

// LoginCount is a number of hotspot/PPPoE session starts on one router in
// one hour for one service, as ingest adds them to the login series.
type LoginCount struct {
	TenantID int64
	RouterID string
	Hour     time.Time // truncated to the hour, UTC
	Service  string    // the session kind: "hotspot" or "pppoe"
	Logins   int64
}

// LoginBucket is one hour of GET /api/v1/stats/logins: the session starts
// of the hour beginning at Hour, zero when there were none.
type LoginBucket struct {
	Hour   time.Time `json:"hour"`
	Logins int64     `json:"logins"`
}

// LoginSeries answers GET /api/v1/stats/logins: one bucket per hour,
// oldest first, the last being the current (partial) hour.
type LoginSeries struct {
	TenantID int64         `json:"tenant_id"` // 0: every tenant (system admin without tenant_id)
	RouterID string        `json:"router_id,omitempty"`
	Data     []LoginBucket `json:"data"`
}
