package protocol

import (
	"strconv"
	"time"
)

// EventType names an event in a batch.
type EventType string

// Event types.
const (
	// EventSnapshot carries (a part of) the full list of active sessions; the
	// last part replaces the router's live state: sessions not listed in any
	// part of the same snapshot end with EndVanished.
	EventSnapshot EventType = "snapshot"
	// EventSessionStarted reports a new session.
	EventSessionStarted EventType = "session.started"
	// EventSessionUpdated carries absolute counters, so a later update
	// supersedes an earlier one and coalescing loses nothing.
	EventSessionUpdated EventType = "session.updated"
	// EventSessionEnded reports a finished session with its final counters.
	EventSessionEnded EventType = "session.ended"
	// EventRouterResources reports CPU, memory and disk of the router.
	EventRouterResources EventType = "router.resources"
)

// SessionKind is the kind of subscriber session.
type SessionKind string

// Session kinds.
const (
	KindHotspot SessionKind = "hotspot"
	KindPPPoE   SessionKind = "pppoe"
)

// EndReason says why a session ended.
type EndReason string

// End reasons.
const (
	EndLogout   EndReason = "logout"
	EndKicked   EndReason = "kicked"
	EndExpired  EndReason = "expired"
	EndVanished EndReason = "vanished-on-resync"
)

// EventBatch is the payload of sp/v1/{router}/events.
type EventBatch struct {
	V      int    `json:"v"`
	Router string `json:"router"`
	// Epoch names the agent's seq space: a random id the agent draws when
	// it creates its database. A new epoch tells the control plane that
	// seqs restarted (the agent was reinstalled or its data lost), so that
	// its events are not skipped as already applied. Optional: a batch
	// without one continues the router's current epoch.
	Epoch string `json:"epoch,omitempty"`
	// Prev is the seq of the last event the agent published before this
	// batch in Epoch (0: none, or not known). When batches can reach the
	// control plane out of order (replicas sharing a subscription), it
	// waits for that event to be applied before applying this batch, so
	// that a later batch cannot make an earlier one look like a replay.
	Prev   uint64  `json:"prev,omitempty"`
	Events []Event `json:"events"`
}

// MaxEpochLen bounds EventBatch.Epoch.
const MaxEpochLen = 32

// Event is one change seen on a router. Seq is per router, starts at 1 and
// increases by one per event the agent records (coalescing may leave holes).
type Event struct {
	Seq  uint64    `json:"seq"`
	TS   time.Time `json:"ts"`
	Type EventType `json:"type"`
	// Session is set for session.started, session.updated and session.ended.
	Session *Session `json:"session,omitempty"`
	// Reason is set for session.ended.
	Reason EndReason `json:"reason,omitempty"`
	// Snapshot is set for snapshot.
	Snapshot *Snapshot `json:"snapshot,omitempty"`
	// Resources is set for router.resources.
	Resources *Resources `json:"resources,omitempty"`
	// Voucher is set for voucher.used.
	Voucher *VoucherUse `json:"voucher,omitempty"`
}

// Snapshot is one part of a full session list. Parts of one snapshot share
// ID and are sent in order with consecutive seqs; Part counts from 1.
type Snapshot struct {
	ID       string    `json:"id"`
	Part     int       `json:"part"`
	Parts    int       `json:"parts"`
	Sessions []Session `json:"sessions"`
}

// Session is a hotspot or PPPoE session as the agent sees it.
type Session struct {
	Kind SessionKind `json:"kind"`
	// Key is the stable identity (see HotspotKey and PPPKey); never the
	// volatile RouterOS .id alone.
	Key string `json:"key"`
	// RouterOSID is the item's .id, usable to kick it until the next reboot.
	RouterOSID string `json:"ros_id,omitempty"`
	User       string `json:"user"`
	Address    string `json:"address,omitempty"`
	MAC        string `json:"mac,omitempty"`     // hotspot mac-address or PPP caller-id
	Service    string `json:"service,omitempty"` // hotspot server or PPP service
	LoginBy    string `json:"login_by,omitempty"`
	SessionID  string `json:"session_id,omitempty"` // PPP session-id
	// AcctSessionID is the RADIUS Acct-Session-Id, set when the router
	// authenticates the session by RADIUS (see RadiusSync).
	AcctSessionID string    `json:"acct_session_id,omitempty"`
	StartedAt     time.Time `json:"started_at"`
	BytesIn       uint64    `json:"bytes_in"`
	BytesOut      uint64    `json:"bytes_out"`
	PacketsIn     uint64    `json:"packets_in,omitempty"`
	PacketsOut    uint64    `json:"packets_out,omitempty"`
}

// HotspotKey is the stable identity of a hotspot session: user, MAC and
// login time to the second, plus the RouterOS .id of its active row when
// known. The .id keeps apart a user who logs out and back in from the same
// device within one second (two sessions, same user, MAC and second); it is
// stable for a session's whole life, since only a reboot renumbers items
// and a reboot ends every session.
func HotspotKey(user, mac string, loginAt time.Time, rosID string) string {
	k := "hotspot:" + user + "|" + mac + "|" + strconv.FormatInt(loginAt.Unix(), 10)
	if rosID != "" {
		k += "|" + rosID
	}
	return k
}

// PPPKey is the stable identity of a PPP session: name and session-id.
func PPPKey(name, sessionID string) string {
	return "pppoe:" + name + "|" + sessionID
}

// Resources is a router's health and identity as reported by
// /system/resource and /system/identity.
type Resources struct {
	Identity      string  `json:"identity,omitempty"`
	Version       string  `json:"version,omitempty"`
	Board         string  `json:"board,omitempty"`
	Architecture  string  `json:"architecture,omitempty"`
	UptimeSeconds int64   `json:"uptime_s"`
	CPULoad       int     `json:"cpu_load"`
	CPUCount      int     `json:"cpu_count,omitempty"`
	FreeMemory    uint64  `json:"free_memory"`
	TotalMemory   uint64  `json:"total_memory"`
	FreeHDD       uint64  `json:"free_hdd,omitempty"`
	TotalHDD      uint64  `json:"total_hdd,omitempty"`
	RxBps         float64 `json:"rx_bps,omitempty"` // bits/s received from subscribers (their upload), if known
	TxBps         float64 `json:"tx_bps,omitempty"` // bits/s sent to subscribers (their download), if known
}
