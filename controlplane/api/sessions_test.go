package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

func TestSessionsPaginationAndFilters(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		a := e.tenant("A")
		_, tok := e.user(a.ID, controlplane.RoleViewer, "v@a.test")
		r1, _ := e.router(a.ID, "r1")
		r2, _ := e.router(a.ID, "r2")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

		// r1: 7 hotspot users; r2: 3 PPPoE users.
		var hs []*protocol.Session
		var evs []protocol.Event
		for i := range 7 {
			s := hotspot(fmt.Sprintf("guest%02d", i), t0.Add(time.Duration(i)*time.Minute))
			hs = append(hs, s)
			evs = append(evs, started(s))
		}
		e.apply(r1.ID, evs...)
		var ps []protocol.Event
		for i := range 3 {
			ps = append(ps, started(pppoe(fmt.Sprintf("pppoe-cust%d", i), fmt.Sprintf("0x8%d", i), t0)))
		}
		e.apply(r2.ID, ps...)

		// Page through everything: every session exactly once.
		seen := map[string]bool{}
		for offset := 0; ; offset += 4 {
			var p controlplane.Page[controlplane.Session]
			e.do("GET", fmt.Sprintf("/api/v1/sessions?limit=4&offset=%d", offset), tok, nil).want(t, http.StatusOK, &p)
			if p.Total != 10 || p.Limit != 4 || p.Offset != offset {
				t.Fatalf("page at %d: total %d limit %d offset %d", offset, p.Total, p.Limit, p.Offset)
			}
			for _, s := range p.Data {
				if seen[s.Key] {
					t.Fatalf("session %s on two pages", s.Key)
				}
				seen[s.Key] = true
			}
			if len(p.Data) < 4 {
				break
			}
		}
		if len(seen) != 10 {
			t.Fatalf("paged through %d sessions, want 10", len(seen))
		}

		for _, c := range []struct {
			query string
			want  int
		}{
			{"kind=hotspot", 7},
			{"kind=pppoe", 3},
			{"router_id=" + r2.ID, 3},
			{"router_id=" + r1.ID + "&kind=pppoe", 0},
			{"user=guest0", 7},
			{"user=cust1", 1},
			{"user=nobody", 0},
		} {
			t.Run(c.query, func(t *testing.T) {
				var p controlplane.Page[controlplane.Session]
				e.do("GET", "/api/v1/sessions?"+c.query, tok, nil).want(t, http.StatusOK, &p)
				if p.Total != c.want || len(p.Data) != c.want {
					t.Fatalf("total %d, %d rows; want %d", p.Total, len(p.Data), c.want)
				}
			})
		}

		var p controlplane.Page[controlplane.Session]
		e.do("GET", "/api/v1/routers/"+r1.ID+"/sessions?limit=2", tok, nil).want(t, http.StatusOK, &p)
		if p.Total != 7 || len(p.Data) != 2 || p.Data[0].RouterID != r1.ID {
			t.Fatalf("router sessions %+v", p)
		}

		// Three hotspot users log out at known times: they move to history.
		var ends []protocol.Event
		for i := range 3 {
			ends = append(ends, ended(hs[i], t0.Add(time.Hour+time.Duration(i)*time.Minute)))
		}
		e.apply(r1.ID, ends...)
		e.do("GET", "/api/v1/sessions?kind=hotspot", tok, nil).want(t, http.StatusOK, &p)
		if p.Total != 4 {
			t.Fatalf("%d live hotspot sessions after 3 logouts, want 4", p.Total)
		}
		var h controlplane.Page[controlplane.SessionRecord]
		e.do("GET", "/api/v1/sessions/history", tok, nil).want(t, http.StatusOK, &h)
		if h.Total != 3 {
			t.Fatalf("history total %d, want 3", h.Total)
		}
		var users []string
		for _, r := range h.Data {
			users = append(users, r.User)
			if r.EndReason != protocol.EndLogout {
				t.Fatalf("end reason %q", r.EndReason)
			}
		}
		sort.Strings(users)
		if fmt.Sprint(users) != "[guest00 guest01 guest02]" {
			t.Fatalf("history users %v", users)
		}
		q := url.Values{"from": {t0.Add(time.Hour + 30*time.Second).Format(time.RFC3339)}, "to": {t0.Add(2 * time.Hour).Format(time.RFC3339)}}
		e.do("GET", "/api/v1/sessions/history?"+q.Encode(), tok, nil).want(t, http.StatusOK, &h)
		if h.Total != 2 {
			t.Fatalf("history in window: total %d, want 2", h.Total)
		}
		e.do("GET", "/api/v1/sessions/history?user=guest01&router_id="+r1.ID, tok, nil).want(t, http.StatusOK, &h)
		if h.Total != 1 || h.Data[0].User != "guest01" {
			t.Fatalf("history by user: %+v", h)
		}
		e.do("GET", "/api/v1/sessions/history?limit=1&offset=1", tok, nil).want(t, http.StatusOK, &h)
		if h.Total != 3 || len(h.Data) != 1 {
			t.Fatalf("history page: total %d rows %d", h.Total, len(h.Data))
		}

		for _, c := range []struct{ query, field string }{
			{"limit=0", "limit:"},
			{"limit=501", "limit:"},
			{"limit=x", "limit:"},
			{"offset=-1", "offset:"},
			{"kind=wifi", "kind:"},
		} {
			e.do("GET", "/api/v1/sessions?"+c.query, tok, nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, c.field)
		}
		e.do("GET", "/api/v1/sessions/history?from=yesterday", tok, nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "from:")
		e.do("GET", "/api/v1/sessions/history?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", tok, nil).
			wantError(t, http.StatusBadRequest, controlplane.EINVALID, "to:")
		e.do("GET", "/api/v1/routers/"+r1.ID+"/sessions?router_id="+r2.ID, tok, nil).wantError(t, http.StatusBadRequest, controlplane.EINVALID, "router_id")
		e.do("GET", "/api/v1/routers/rnope/sessions", tok, nil).wantError(t, http.StatusNotFound, controlplane.ENOTFOUND, "")
	})
}

func TestStats(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, e *env) {
		a, b := e.tenant("A"), e.tenant("B")
		_, root := e.user(0, controlplane.RoleSystemAdmin, "root@sitepulse.test")
		ra, _ := e.router(a.ID, "ra")
		rb, _ := e.router(b.ID, "rb")
		e.router(b.ID, "rb-never-connected")
		now := time.Now().UTC()
		for _, st := range []*protocol.Status{
			{V: protocol.Version, Router: ra.ID, State: protocol.StateOnline, TS: now, RouterConnected: true, Resources: &protocol.Resources{RxBps: 1000, TxBps: 200}},
			{V: protocol.Version, Router: rb.ID, State: protocol.StateOnline, TS: now, RouterConnected: true, Resources: &protocol.Resources{RxBps: 500, TxBps: 50}},
		} {
			if _, _, err := e.store.SetRouterStatus(e.ctx(), st); err != nil {
				t.Fatal(err)
			}
		}
		e.apply(ra.ID, started(hotspot("h1", now)), started(hotspot("h2x", now)), started(pppoe("p1", "0x1", now)))
		e.apply(rb.ID, started(pppoe("p2", "0x2", now)))

		var st controlplane.Stats
		e.do("GET", "/api/v1/stats", root, nil).want(t, http.StatusOK, &st)
		if st.OnlineHotspot != 2 || st.OnlinePPPoE != 2 || st.RoutersOnline != 2 || st.RoutersOffline != 1 || st.RoutersTotal != 3 {
			t.Fatalf("stats %+v", st)
		}
		// Throughput sums the rates reported by online routers.
		if st.RxBps == nil || st.TxBps == nil || *st.RxBps != 1500 || *st.TxBps != 250 {
			t.Fatalf("throughput rx %v tx %v, want 1500 and 250", st.RxBps, st.TxBps)
		}
	})
}
