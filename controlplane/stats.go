package controlplane

import "time"

// Stats is the dashboard's initial figures for the caller's scope; the
// realtime hub keeps them current afterwards.
type Stats struct {
	OnlineHotspot  int `json:"online_hotspot"`
	OnlinePPPoE    int `json:"online_pppoe"`
	RoutersOnline  int `json:"routers_online"`
	RoutersOffline int `json:"routers_offline"` // offline or never connected; revoked routers are not counted
	RoutersTotal   int `json:"routers_total"`   // every router, revoked ones included
	// RxBps and TxBps sum the subscriber rates reported by online routers;
	// null when no online router reports one.
	RxBps *float64  `json:"rx_bps"`
	TxBps *float64  `json:"tx_bps"`
	At    time.Time `json:"at"`
}

// SystemStats answers GET /api/v1/system/stats, the system admin's
// overview across tenants; SystemStatsUpdated on private-system-admin
// keeps it current.
type SystemStats struct {
	Tenants int   `json:"tenants"`
	Stats   Stats `json:"stats"`
	// Revenue is the system-wide billing figures; null when billing is
	// not configured.
	Revenue *BillingStats `json:"revenue"`
}
