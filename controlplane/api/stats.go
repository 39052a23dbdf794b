package api

import (
	"net/http"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

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

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	scope, err := listScope(r, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st := Stats{At: s.now().UTC()}
	for _, k := range []struct {
		kind protocol.SessionKind
		dst  *int
	}{{protocol.KindHotspot, &st.OnlineHotspot}, {protocol.KindPPPoE, &st.OnlinePPPoE}} {
		// Only the total is wanted; one row is the smallest page.
		_, n, err := s.store.ListSessions(r.Context(), scope, store.SessionFilter{Kind: k.kind, Limit: 1})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		*k.dst = n
	}
	rs, err := s.store.ListRouters(r.Context(), scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var rx, tx float64
	known := false
	for _, rt := range rs {
		st.RoutersTotal++
		switch rt.Status {
		case controlplane.RouterOnline:
			st.RoutersOnline++
			if res := rt.Resources; res != nil && (res.RxBps != 0 || res.TxBps != 0) {
				rx += res.RxBps
				tx += res.TxBps
				known = true
			}
		case controlplane.RouterOffline, controlplane.RouterPending:
			st.RoutersOffline++
		}
	}
	if known {
		st.RxBps, st.TxBps = &rx, &tx
	}
	writeJSON(w, http.StatusOK, st)
}
