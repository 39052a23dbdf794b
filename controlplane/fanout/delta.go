package fanout

import (
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// sessionUpdatedData is the SessionUpdated payload: {"sessions": [...]},
// plus the seq and epoch every event carries.
type sessionUpdatedData struct {
	Sessions []sessionDelta `json:"sessions"`
}

// sessionDelta is one session in SessionUpdated: the fields that identify
// it (id, router_id, key, kind) and updated_at always, every other field of
// sessionView only when it differs from what this channel last broadcast
// for the session (its SessionStarted or an earlier SessionUpdated). Field
// names and types are sessionView's, so a client that merges the object
// into the row it holds sees the same result as with the full view; the
// full state comes from REST (GET /api/v1/sessions). A session the fan-out
// has not broadcast since it started (one live before a restart) is sent
// in full.
type sessionDelta struct {
	ID         string               `json:"id"`
	RouterID   string               `json:"router_id"`
	Kind       protocol.SessionKind `json:"kind"`
	Key        string               `json:"key"`
	UpdatedAt  time.Time            `json:"updated_at"`
	RouterOSID *string              `json:"ros_id,omitempty"`
	User       *string              `json:"user,omitempty"`
	Address    *string              `json:"address,omitempty"`
	MAC        *string              `json:"mac,omitempty"`
	Service    *string              `json:"service,omitempty"`
	LoginBy    *string              `json:"login_by,omitempty"`
	StartedAt  *time.Time           `json:"started_at,omitempty"`
	BytesIn    *uint64              `json:"bytes_in,omitempty"`
	BytesOut   *uint64              `json:"bytes_out,omitempty"`
	PacketsIn  *uint64              `json:"packets_in,omitempty"`
	PacketsOut *uint64              `json:"packets_out,omitempty"`
}

// sameAs reports whether v carries nothing new over s: every field equal
// but the update time (a router re-reporting the same counters).
func (s sessionView) sameAs(v sessionView) bool {
	return s.ID == v.ID && s.RouterID == v.RouterID && s.RouterOSID == v.RouterOSID &&
		s.Kind == v.Kind && s.Key == v.Key && s.User == v.User && s.Address == v.Address &&
		s.MAC == v.MAC && s.Service == v.Service && s.LoginBy == v.LoginBy &&
		s.StartedAt.Equal(v.StartedAt) && s.BytesIn == v.BytesIn && s.BytesOut == v.BytesOut &&
		s.PacketsIn == v.PacketsIn && s.PacketsOut == v.PacketsOut
}

// newSessionDelta is v as a delta over prev; known false means there is no
// prev and every field is sent.
func newSessionDelta(prev, v sessionView, known bool) sessionDelta {
	d := sessionDelta{ID: v.ID, RouterID: v.RouterID, Kind: v.Kind, Key: v.Key, UpdatedAt: v.UpdatedAt}
	str := func(p, n string) *string {
		if known && p == n {
			return nil
		}
		return &n
	}
	num := func(p, n uint64) *uint64 {
		if known && p == n {
			return nil
		}
		return &n
	}
	d.RouterOSID = str(prev.RouterOSID, v.RouterOSID)
	d.User = str(prev.User, v.User)
	d.Address = str(prev.Address, v.Address)
	d.MAC = str(prev.MAC, v.MAC)
	d.Service = str(prev.Service, v.Service)
	d.LoginBy = str(prev.LoginBy, v.LoginBy)
	if !known || !prev.StartedAt.Equal(v.StartedAt) {
		t := v.StartedAt
		d.StartedAt = &t
	}
	d.BytesIn = num(prev.BytesIn, v.BytesIn)
	d.BytesOut = num(prev.BytesOut, v.BytesOut)
	d.PacketsIn = num(prev.PacketsIn, v.PacketsIn)
	d.PacketsOut = num(prev.PacketsOut, v.PacketsOut)
	return d
}
