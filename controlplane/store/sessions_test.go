package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

func init() {
	addCases(
		storeCase{"sessions/list-filters-pagination", testListSessions},
		storeCase{"sessions/history-range", testListHistory},
		storeCase{"sessions/end-router-sessions", testEndRouterSessions},
		storeCase{"sessions/prune-history", testPruneHistory},
	)
}

func users(ss []controlplane.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.User)
	}
	return out
}

func testListSessions(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
	r1, r2, rb := newRouter(t, s, a.ID, "r1"), newRouter(t, s, a.ID, "r2"), newRouter(t, s, b.ID, "rb")
	// Start times one minute apart so the newest-first order is clear.
	start := func(ag *agent, kind protocol.SessionKind, user string, minute int) protocol.Event {
		v := hotspot(user, 1)
		if kind == protocol.KindPPPoE {
			v = pppoe(user, "0x"+user, 1)
		}
		v.StartedAt = t0.Add(time.Duration(minute) * time.Minute)
		return ag.started(v)
	}
	g1, g2, gb := &agent{router: r1.ID}, &agent{router: r2.ID}, &agent{router: rb.ID}
	apply(t, s, g1.batch(start(g1, protocol.KindHotspot, "Ann_1", 1), start(g1, protocol.KindPPPoE, "bob", 2),
		start(g1, protocol.KindHotspot, "annika", 3)))
	apply(t, s, g2.batch(start(g2, protocol.KindHotspot, "cy", 4), start(g2, protocol.KindPPPoE, "ANN%", 5)))
	apply(t, s, gb.batch(start(gb, protocol.KindHotspot, "ann-b", 6)))

	for _, tc := range []struct {
		name  string
		scope int64
		f     controlplane.SessionFilter
		want  []string
		total int
	}{
		{"all tenants", 0, controlplane.SessionFilter{}, []string{"ann-b", "ANN%", "cy", "annika", "bob", "Ann_1"}, 6},
		{"tenant A", a.ID, controlplane.SessionFilter{}, []string{"ANN%", "cy", "annika", "bob", "Ann_1"}, 5},
		{"tenant B", b.ID, controlplane.SessionFilter{}, []string{"ann-b"}, 1},
		{"router", a.ID, controlplane.SessionFilter{RouterID: r1.ID}, []string{"annika", "bob", "Ann_1"}, 3},
		{"other tenant's router", a.ID, controlplane.SessionFilter{RouterID: rb.ID}, nil, 0},
		{"kind", 0, controlplane.SessionFilter{Kind: protocol.KindPPPoE}, []string{"ANN%", "bob"}, 2},
		{"user substring, any case", a.ID, controlplane.SessionFilter{User: "aNn"}, []string{"ANN%", "annika", "Ann_1"}, 3},
		{"LIKE wildcards are literal", 0, controlplane.SessionFilter{User: "n%"}, []string{"ANN%"}, 1},
		{"underscore is literal", 0, controlplane.SessionFilter{User: "_"}, []string{"Ann_1"}, 1},
		{"page 1", a.ID, controlplane.SessionFilter{Limit: 2}, []string{"ANN%", "cy"}, 5},
		{"page 2", a.ID, controlplane.SessionFilter{Limit: 2, Offset: 2}, []string{"annika", "bob"}, 5},
		{"page 3", a.ID, controlplane.SessionFilter{Limit: 2, Offset: 4}, []string{"Ann_1"}, 5},
		{"offset without limit", a.ID, controlplane.SessionFilter{Offset: 3}, []string{"bob", "Ann_1"}, 5},
		{"past the end", a.ID, controlplane.SessionFilter{Limit: 2, Offset: 10}, nil, 5},
		{"combined", a.ID, controlplane.SessionFilter{RouterID: r1.ID, Kind: protocol.KindHotspot, User: "ann", Limit: 1}, []string{"annika"}, 2},
	} {
		got, total, err := s.ListSessions(ctx, tc.scope, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if fmt.Sprint(users(got)) != fmt.Sprint(tc.want) || total != tc.total {
			t.Errorf("%s: got %v (total %d), want %v (total %d)", tc.name, users(got), total, tc.want, tc.total)
		}
		if got == nil {
			t.Errorf("%s: nil slice, want empty", tc.name)
		}
	}
}

func testListHistory(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
	ra, rb := newRouter(t, s, a.ID, "ra"), newRouter(t, s, b.ID, "rb")
	ga, gb := &agent{router: ra.ID}, &agent{router: rb.ID}
	// Ended at t0+2s, +4s, +6s, +8s on ra (start, end pairs), +2s on rb.
	var ends []time.Time
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		st := ga.started(hotspot(u, 1))
		en := ga.ended(hotspot(u, 2), protocol.EndLogout)
		apply(t, s, ga.batch(st, en))
		ends = append(ends, en.TS)
	}
	apply(t, s, gb.batch(gb.started(hotspot("ub", 1)), gb.ended(hotspot("ub", 2), protocol.EndKicked)))

	names := func(rs []controlplane.SessionRecord) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.User)
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		name  string
		scope int64
		f     controlplane.HistoryFilter
		want  string
		total int
	}{
		{"all", 0, controlplane.HistoryFilter{}, "[u4 u3 u2 ub u1]", 5},
		{"tenant", a.ID, controlplane.HistoryFilter{}, "[u4 u3 u2 u1]", 4},
		{"from inclusive", a.ID, controlplane.HistoryFilter{From: ends[1]}, "[u4 u3 u2]", 3},
		{"to exclusive", a.ID, controlplane.HistoryFilter{To: ends[2]}, "[u2 u1]", 2},
		{"range", a.ID, controlplane.HistoryFilter{From: ends[1], To: ends[3]}, "[u3 u2]", 2},
		{"range in another zone", a.ID, controlplane.HistoryFilter{From: ends[1].In(time.FixedZone("X", -5*3600)), To: ends[3]}, "[u3 u2]", 2},
		{"router", 0, controlplane.HistoryFilter{RouterID: rb.ID}, "[ub]", 1},
		{"router of another tenant", a.ID, controlplane.HistoryFilter{RouterID: rb.ID}, "[]", 0},
		{"user", 0, controlplane.HistoryFilter{User: "U3"}, "[u3]", 1},
		{"page", a.ID, controlplane.HistoryFilter{Limit: 2, Offset: 1}, "[u3 u2]", 4},
	} {
		got, total, err := s.ListHistory(ctx, tc.scope, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if names(got) != tc.want || total != tc.total {
			t.Errorf("%s: got %s (total %d), want %s (total %d)", tc.name, names(got), total, tc.want, tc.total)
		}
	}
	got, _, err := s.ListHistory(ctx, 0, controlplane.HistoryFilter{RouterID: rb.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := controlplane.SessionRecord{Session: fromWire(b.ID, rb.ID, hotspot("ub", 2), t0.Add(2*time.Second)),
		EndedAt: t0.Add(2 * time.Second), EndReason: protocol.EndKicked}
	if !reflect.DeepEqual(got, []controlplane.SessionRecord{want}) {
		t.Errorf("record = %+v, want %+v", got, want)
	}
}

func testEndRouterSessions(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r, other := newRouter(t, s, ten.ID, "r"), newRouter(t, s, ten.ID, "other")
	g, og := &agent{router: r.ID}, &agent{router: other.ID}
	e1, e2 := g.started(hotspot("bob", 5)), g.started(hotspot("ann", 7))
	apply(t, s, g.batch(e1, e2))
	apply(t, s, og.batch(og.started(hotspot("cy", 1))))

	at := t0.Add(time.Hour)
	changes, err := s.EndRouterSessions(ctx, r.ID, protocol.EndExpired, at)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(v protocol.Session, ts time.Time) controlplane.Change {
		return controlplane.SessionEnded{Record: controlplane.SessionRecord{Session: fromWire(ten.ID, r.ID, v, ts),
			EndedAt: at, EndReason: protocol.EndExpired}}
	}
	wantChanges(t, changes, []controlplane.Change{rec(hotspot("ann", 7), e2.TS), rec(hotspot("bob", 5), e1.TS)})
	if n := len(sessionsOf(t, s, r.ID)); n != 0 {
		t.Errorf("%d live sessions left", n)
	}
	if n := len(sessionsOf(t, s, other.ID)); n != 1 {
		t.Errorf("other router: %d live sessions, want 1", n)
	}
	if n := len(historyOf(t, s, r.ID)); n != 2 {
		t.Errorf("%d history rows, want 2", n)
	}
	// Nothing left to end: no changes, no error.
	changes, err = s.EndRouterSessions(ctx, r.ID, protocol.EndExpired, at)
	if err != nil || len(changes) != 0 {
		t.Errorf("second sweep: %v, %v", changes, err)
	}
	_, err = s.EndRouterSessions(ctx, "rnope", protocol.EndExpired, at)
	wantCode(t, "unknown router", err, controlplane.ENOTFOUND)
	_, err = s.EndRouterSessions(ctx, r.ID, "", at)
	wantCode(t, "no reason", err, controlplane.EINVALID)
}

func testPruneHistory(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "r")
	g := &agent{router: r.ID}
	var ends []time.Time
	for i := range 5 {
		u := fmt.Sprintf("u%d", i)
		st, en := g.started(hotspot(u, 1)), g.ended(hotspot(u, 1), protocol.EndLogout)
		apply(t, s, g.batch(st, en))
		ends = append(ends, en.TS)
	}
	n, err := s.PruneHistory(ctx, ends[2]) // strictly before
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("pruned %d, want 2", n)
	}
	hist := historyOf(t, s, r.ID)
	if len(hist) != 3 || hist[2].User != "u2" {
		t.Errorf("history after prune = %+v", hist)
	}
	if n, err := s.PruneHistory(ctx, ends[2]); err != nil || n != 0 {
		t.Errorf("prune again: %d, %v", n, err)
	}
}
