package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

func init() {
	addCases(
		storeCase{"ingest/started-updated-ended", testIngestLifecycle},
		storeCase{"ingest/same-batch-twice", testIngestDuplicate},
		storeCase{"ingest/overlapping-replay", testIngestOverlap},
		storeCase{"ingest/concurrent-duplicate", testIngestConcurrent},
		storeCase{"ingest/snapshot-in-parts", testIngestSnapshot},
		storeCase{"ingest/updated-unknown-session", testIngestUpdatedUnknown},
		storeCase{"ingest/rejected", testIngestRejected},
		storeCase{"ingest/resources", testIngestResources},
		storeCase{"ingest/provisional-end", testIngestProvisionalEnd},
		storeCase{"ingest/large-counters", testIngestLargeCounters},
		storeCase{"ingest/agent-epoch", testIngestEpoch},
		storeCase{"ingest/predecessor", testIngestPredecessor},
	)
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// agent builds event batches the way an agent numbers them: seq from 1, one
// second apart.
type agent struct {
	router string
	seq    uint64
}

func (a *agent) ev(typ protocol.EventType) protocol.Event {
	a.seq++
	return protocol.Event{Seq: a.seq, TS: t0.Add(time.Duration(a.seq) * time.Second), Type: typ}
}

func (a *agent) started(s protocol.Session) protocol.Event {
	e := a.ev(protocol.EventSessionStarted)
	e.Session = &s
	return e
}

func (a *agent) updated(s protocol.Session) protocol.Event {
	e := a.ev(protocol.EventSessionUpdated)
	e.Session = &s
	return e
}

func (a *agent) ended(s protocol.Session, reason protocol.EndReason) protocol.Event {
	e := a.ev(protocol.EventSessionEnded)
	e.Session, e.Reason = &s, reason
	return e
}

func (a *agent) snapshot(id string, part, parts int, ss ...protocol.Session) protocol.Event {
	e := a.ev(protocol.EventSnapshot)
	e.Snapshot = &protocol.Snapshot{ID: id, Part: part, Parts: parts, Sessions: ss}
	return e
}

func (a *agent) batch(evs ...protocol.Event) *protocol.EventBatch {
	return &protocol.EventBatch{V: protocol.Version, Router: a.router, Events: evs}
}

// hotspot returns a hotspot session of user with counters.
func hotspot(user string, bytes uint64) protocol.Session {
	login := t0.Add(-time.Hour)
	mac := "AA:BB:CC:00:00:" + fmt.Sprintf("%02X", len(user))
	return protocol.Session{Kind: protocol.KindHotspot, Key: protocol.HotspotKey(user, mac, login, ""), RouterOSID: "*1",
		User: user, Address: "10.5.50.2", MAC: mac, Service: "hs1", LoginBy: "http-chap", StartedAt: login,
		BytesIn: bytes, BytesOut: bytes * 2, PacketsIn: bytes / 100, PacketsOut: bytes / 50}
}

func pppoe(user, id string, bytes uint64) protocol.Session {
	return protocol.Session{Kind: protocol.KindPPPoE, Key: protocol.PPPKey(user, id), User: user, Address: "100.64.0.9",
		MAC: "11:22:33:44:55:66", Service: "pppoe-in", SessionID: id, StartedAt: t0.Add(-2 * time.Hour),
		BytesIn: bytes, BytesOut: bytes}
}

func apply(t *testing.T, s *Store, b *protocol.EventBatch) controlplane.Applied {
	t.Helper()
	a, err := s.ApplyBatch(context.Background(), b)
	if err != nil {
		t.Fatalf("ApplyBatch: %v", err)
	}
	return a
}

// fromWire is what the store should hold for p seen at ts.
func fromWire(tenant int64, router string, p protocol.Session, ts time.Time) controlplane.Session {
	return sessionFromWire(tenant, router, &p, dbTime(ts))
}

// dump renders a router's complete ingest state (live sessions with their
// snapshot stamps, history, last_seq) with the router id replaced by "R",
// so that two routers fed the same events compare equal.
func dump(t *testing.T, s *Store, router string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	var last int64
	if err := s.DB().QueryRowContext(ctx, `SELECT last_seq FROM routers WHERE id = $1`, router).Scan(&last); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "last_seq %d\n", last)
	rows, err := s.DB().QueryContext(ctx, `SELECT `+sessionColumns+`, snapshot_id FROM sessions WHERE router_id = $1 ORDER BY session_key`, router)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v controlplane.Session
		var c [4]int64
		var snap string
		if err := rows.Scan(append(sessionDest(&v, &c), &snap)...); err != nil {
			t.Fatal(err)
		}
		fixSession(&v, c)
		v.RouterID = "R"
		fmt.Fprintf(&b, "live %+v snapshot=%q\n", v, snap)
	}
	rows.Close()
	recs, err := queryAll(ctx, &dbtx{q: s.DB(), dialect: s.Dialect()}, scanRecord,
		`SELECT `+recordColumns+` FROM session_history WHERE router_id = $1 ORDER BY id`, router)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.RouterID = "R"
		fmt.Fprintf(&b, "ended %+v\n", r)
	}
	return b.String()
}

func sessionsOf(t *testing.T, s *Store, router string) []controlplane.Session {
	t.Helper()
	ss, _, err := s.ListSessions(context.Background(), 0, controlplane.SessionFilter{RouterID: router})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func historyOf(t *testing.T, s *Store, router string) []controlplane.SessionRecord {
	t.Helper()
	hs, _, err := s.ListHistory(context.Background(), 0, controlplane.HistoryFilter{RouterID: router})
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func wantChanges(t *testing.T, got, want []controlplane.Change) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes:\n got %d: %+v\nwant %d: %+v", len(got), got, len(want), want)
	}
}

func testIngestLifecycle(t *testing.T, e *env) {
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	ag := &agent{router: r.ID}
	ann, bob := hotspot("ann", 100), pppoe("bob", "0x81500001", 5000)

	e1, e2 := ag.started(ann), ag.started(bob)
	ann2 := ann
	ann2.BytesIn, ann2.BytesOut, ann2.Address = 1500, 3000, ""
	e3 := ag.updated(ann2)
	a := apply(t, s, ag.batch(e1, e2, e3))
	if a.TenantID != ten.ID || a.Applied != 3 || a.Skipped != 0 || a.LastSeq != 3 {
		t.Errorf("Applied = %+v", a)
	}
	annLive := fromWire(ten.ID, r.ID, ann, e1.TS)
	annUpd := annLive
	annUpd.BytesIn, annUpd.BytesOut, annUpd.UpdatedAt = 1500, 3000, dbTime(e3.TS) // empty address keeps the known one
	bobLive := fromWire(ten.ID, r.ID, bob, e2.TS)
	wantChanges(t, a.Changes, []controlplane.Change{
		controlplane.SessionStarted{Session: annLive},
		controlplane.SessionStarted{Session: bobLive},
		controlplane.SessionUpdated{Session: annUpd},
	})
	live := sessionsOf(t, s, r.ID)
	if !reflect.DeepEqual(live, []controlplane.Session{annUpd, bobLive}) { // newest start first
		t.Errorf("live sessions = %+v", live)
	}

	// An update that changes nothing announces nothing.
	e4 := ag.updated(ann2)
	a = apply(t, s, ag.batch(e4))
	if a.Applied != 1 || len(a.Changes) != 0 {
		t.Errorf("no-op update: %+v", a)
	}

	annEnd := ann2
	annEnd.BytesIn, annEnd.BytesOut = 2000, 4000
	e5 := ag.ended(annEnd, protocol.EndLogout)
	a = apply(t, s, ag.batch(e5))
	rec := controlplane.SessionRecord{Session: annUpd, EndedAt: dbTime(e5.TS), EndReason: protocol.EndLogout}
	rec.BytesIn, rec.BytesOut, rec.UpdatedAt = 2000, 4000, dbTime(e5.TS)
	wantChanges(t, a.Changes, []controlplane.Change{controlplane.SessionEnded{Record: rec}})
	if a.LastSeq != 5 {
		t.Errorf("LastSeq = %d, want 5", a.LastSeq)
	}
	if live := sessionsOf(t, s, r.ID); !reflect.DeepEqual(live, []controlplane.Session{bobLive}) {
		t.Errorf("live after end = %+v", live)
	}
	if hist := historyOf(t, s, r.ID); !reflect.DeepEqual(hist, []controlplane.SessionRecord{rec}) {
		t.Errorf("history = %+v, want %+v", hist, rec)
	}
	got := must[controlplane.Router](t, "GetRouter")(s.GetRouter(context.Background(), 0, r.ID))
	if got.LastSeq != 5 || got.LastSeenAt == nil || !got.LastSeenAt.Equal(e.clock.Now()) {
		t.Errorf("router after ingest: last_seq %d, last_seen %v", got.LastSeq, got.LastSeenAt)
	}
}

func testIngestDuplicate(t *testing.T, e *env) {
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	ag := &agent{router: r.ID}
	ann := hotspot("ann", 10)
	upd := ann
	upd.BytesIn = 99
	b := ag.batch(ag.started(ann), ag.updated(upd), ag.ended(upd, protocol.EndKicked), ag.started(hotspot("cy", 1)))
	first := apply(t, s, b)
	before := dump(t, s, r.ID)
	second := apply(t, s, b)
	if first.Applied != 4 || first.Skipped != 0 {
		t.Errorf("first delivery %+v", first)
	}
	if second.Applied != 0 || second.Skipped != 4 || second.LastSeq != 4 || len(second.Changes) != 0 {
		t.Errorf("second delivery %+v", second)
	}
	if after := dump(t, s, r.ID); after != before {
		t.Errorf("second delivery changed the store:\n%s\nwant\n%s", after, before)
	}
}

// overlapEvents returns the same 30 events for any router.
func overlapEvents(router string) []protocol.Event {
	ag := &agent{router: router}
	var evs []protocol.Event
	users := []string{"ann", "bob", "cy", "dee", "eve"}
	for i, u := range users {
		evs = append(evs, ag.started(hotspot(u, uint64(i))))
	}
	for i := 0; len(evs) < 24; i++ {
		evs = append(evs, ag.updated(hotspot(users[i%len(users)], uint64(1000+i))))
	}
	evs = append(evs, ag.ended(hotspot("bob", 9999), protocol.EndExpired))
	evs = append(evs, ag.snapshot("s1", 1, 2, hotspot("ann", 7777)))
	evs = append(evs, ag.snapshot("s1", 2, 2, hotspot("cy", 8888), pppoe("fay", "0x1", 5)))
	evs = append(evs, ag.updated(pppoe("fay", "0x1", 6)))
	evs = append(evs, ag.ended(hotspot("ann", 7800), protocol.EndLogout))
	evs = append(evs, ag.started(hotspot("gus", 3)))
	return evs
}

func testIngestOverlap(t *testing.T, e *env) {
	s := e.s
	ten := newTenant(t, s, "A")
	once, replayed := newRouter(t, s, ten.ID, "once"), newRouter(t, s, ten.ID, "replayed")
	evs1, evs2 := overlapEvents(once.ID), overlapEvents(replayed.ID)
	if len(evs1) != 30 {
		t.Fatalf("%d events, want 30", len(evs1))
	}
	var want []controlplane.Change
	for _, rng := range [][2]int{{0, 10}, {10, 20}, {20, 30}} {
		want = append(want, apply(t, s, &protocol.EventBatch{V: 1, Router: once.ID, Events: evs1[rng[0]:rng[1]]}).Changes...)
	}
	var got []controlplane.Change
	applied, skipped := 0, 0
	for _, rng := range [][2]int{{0, 10}, {4, 15}, {0, 20}, {10, 25}, {24, 25}, {20, 30}, {29, 30}, {0, 30}} {
		a := apply(t, s, &protocol.EventBatch{V: 1, Router: replayed.ID, Events: evs2[rng[0]:rng[1]]})
		got = append(got, a.Changes...)
		applied += a.Applied
		skipped += a.Skipped
	}
	if applied != 30 || skipped != 0+6+15+10+1+5+1+30 { // the overlap of each range with what came before
		t.Errorf("replayed: applied %d skipped %d", applied, skipped)
	}
	if d1, d2 := dump(t, s, once.ID), dump(t, s, replayed.ID); d1 != d2 {
		t.Errorf("replayed delivery differs from single delivery:\n%s\nsingle:\n%s", d2, d1)
	}
	// The same changes were announced, once each.
	norm := func(cs []controlplane.Change) string {
		return strings.NewReplacer(once.ID, "R", replayed.ID, "R").Replace(fmt.Sprintf("%+v", cs))
	}
	if norm(got) != norm(want) {
		t.Errorf("replayed changes:\n%s\nsingle:\n%s", norm(got), norm(want))
	}
}

func testIngestConcurrent(t *testing.T, e *env) {
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	ag := &agent{router: r.ID}
	const batches = 100 // enough to catch a missing row lock (checked by removing FOR UPDATE)
	var applied, skipped, changes [2]int
	for i := range batches {
		u := fmt.Sprintf("u%d", i)
		b := ag.batch(ag.started(hotspot(u, 1)), ag.updated(hotspot(u, 2)), ag.ended(hotspot(u, 3), protocol.EndLogout))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				a, err := s.ApplyBatch(context.Background(), b)
				if err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
				applied[g] += a.Applied
				skipped[g] += a.Skipped
				changes[g] += len(a.Changes)
			}()
		}
		close(start)
		wg.Wait()
	}
	if total := applied[0] + applied[1]; total != 3*batches {
		t.Errorf("applied %v, want %d in total", applied, 3*batches)
	}
	if total := skipped[0] + skipped[1]; total != 3*batches {
		t.Errorf("skipped %v, want %d in total", skipped, 3*batches)
	}
	if total := changes[0] + changes[1]; total != 3*batches {
		t.Errorf("changes %v, want %d in total", changes, 3*batches)
	}
	if hist := historyOf(t, s, r.ID); len(hist) != batches {
		t.Errorf("%d history rows, want %d", len(hist), batches)
	}
	if live := sessionsOf(t, s, r.ID); len(live) != 0 {
		t.Errorf("live sessions left: %+v", live)
	}
}

func testIngestSnapshot(t *testing.T, e *env) {
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	other := newRouter(t, s, ten.ID, "other")
	ag, og := &agent{router: r.ID}, &agent{router: other.ID}
	a, b, c, d := hotspot("ann", 1), hotspot("bob", 2), pppoe("cy", "0x1", 3), hotspot("dee", 4)
	apply(t, s, ag.batch(ag.started(a), ag.started(b), ag.started(c), ag.started(d)))
	apply(t, s, og.batch(og.started(a))) // another router's session is never touched

	b2 := b
	b2.BytesIn = 200
	newE := hotspot("eve", 5)
	p1 := ag.snapshot("snap-1", 1, 3, a) // unchanged: no change
	p2 := ag.snapshot("snap-1", 2, 3, b2)
	res := apply(t, s, ag.batch(p1, p2))
	bUpd := fromWire(ten.ID, r.ID, b2, p2.TS)
	wantChanges(t, res.Changes, []controlplane.Change{controlplane.SessionUpdated{Session: bUpd}})
	if n := len(sessionsOf(t, s, r.ID)); n != 4 {
		t.Errorf("before the last part: %d live sessions, want 4", n)
	}

	p3 := ag.snapshot("snap-1", 3, 3, newE)
	res = apply(t, s, ag.batch(p3))
	cLive, dLive := fromWire(ten.ID, r.ID, c, t0.Add(3*time.Second)), fromWire(ten.ID, r.ID, d, t0.Add(4*time.Second))
	end := func(v controlplane.Session) controlplane.Change {
		return controlplane.SessionEnded{Record: controlplane.SessionRecord{Session: v, EndedAt: dbTime(p3.TS), EndReason: protocol.EndVanished}}
	}
	// c and d were listed in no part; ends come by key (hotspot: < pppoe:).
	wantChanges(t, res.Changes, []controlplane.Change{
		controlplane.SessionStarted{Session: fromWire(ten.ID, r.ID, newE, p3.TS)},
		end(dLive),
		end(cLive),
	})
	live := sessionsOf(t, s, r.ID)
	var users []string
	for _, v := range live {
		users = append(users, v.User)
	}
	if fmt.Sprint(users) != "[ann bob eve]" && fmt.Sprint(users) != "[eve ann bob]" {
		t.Errorf("live after snapshot: %v", users)
	}
	if n := len(sessionsOf(t, s, other.ID)); n != 1 {
		t.Errorf("other router has %d live sessions, want 1", n)
	}
	hist := historyOf(t, s, r.ID)
	if len(hist) != 2 || hist[0].EndReason != protocol.EndVanished || hist[1].EndReason != protocol.EndVanished {
		t.Errorf("history = %+v", hist)
	}

	// A single-part snapshot listing nothing ends everything.
	res = apply(t, s, ag.batch(ag.snapshot("snap-2", 1, 1)))
	if len(res.Changes) != 3 || len(sessionsOf(t, s, r.ID)) != 0 {
		t.Errorf("empty snapshot: %d changes, %d live", len(res.Changes), len(sessionsOf(t, s, r.ID)))
	}
}

func testIngestUpdatedUnknown(t *testing.T, e *env) {
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	ag := &agent{router: r.ID}
	v := pppoe("zed", "0x9", 12345)
	ev := ag.updated(v)
	res := apply(t, s, ag.batch(ev))
	want := fromWire(ten.ID, r.ID, v, ev.TS)
	wantChanges(t, res.Changes, []controlplane.Change{controlplane.SessionStarted{Session: want}})
	if live := sessionsOf(t, s, r.ID); !reflect.DeepEqual(live, []controlplane.Session{want}) {
		t.Errorf("live = %+v", live)
	}
}

func testIngestRejected(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	ag := &agent{router: r.ID}
	apply(t, s, ag.batch(ag.started(hotspot("ann", 1))))
	before := dump(t, s, r.ID)

	must[controlplane.Router](t, "RevokeRouter")(s.RevokeRouter(ctx, 0, r.ID))
	_, err := s.ApplyBatch(ctx, ag.batch(ag.started(hotspot("bob", 1))))
	wantCode(t, "revoked router", err, controlplane.EUNAUTHORIZED)
	if after := dump(t, s, r.ID); after != before {
		t.Errorf("revoked router's batch changed the store:\n%s", after)
	}

	unknown := &agent{router: "rffffffffffff"}
	_, err = s.ApplyBatch(ctx, unknown.batch(unknown.started(hotspot("x", 1))))
	wantCode(t, "unknown router", err, controlplane.ENOTFOUND)

	bad := ag.batch(ag.started(hotspot("x", 1)))
	bad.Events[0].Session.Key = "nope"
	_, err = s.ApplyBatch(ctx, bad)
	wantCode(t, "invalid batch", err, controlplane.EINVALID)
	_, err = s.ApplyBatch(ctx, nil)
	wantCode(t, "nil batch", err, controlplane.EINVALID)
}

func testIngestResources(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	ag := &agent{router: r.ID}
	res := protocol.Resources{Identity: "gw-1", Version: "7.19.4", Board: "hAP ax3", Architecture: "arm64",
		UptimeSeconds: 3600, CPULoad: 7, CPUCount: 4, FreeMemory: 500, TotalMemory: 1024, RxBps: 1.5e6, TxBps: 2e5}
	ev := ag.ev(protocol.EventRouterResources)
	ev.Resources = &res
	a := apply(t, s, ag.batch(ev))
	wantChanges(t, a.Changes, []controlplane.Change{
		controlplane.RouterResourcesUpdated{TenantID: ten.ID, RouterID: r.ID, Resources: res, At: ev.TS},
	})
	got := must[controlplane.Router](t, "GetRouter")(s.GetRouter(ctx, 0, r.ID))
	if got.Identity != "gw-1" || got.RouterOSVersion != "7.19.4" || got.Board != "hAP ax3" || got.Resources == nil || *got.Resources != res {
		t.Errorf("router = %+v", got)
	}
	// A reading without identity keeps the known one.
	ev2 := ag.ev(protocol.EventRouterResources)
	ev2.Resources = &protocol.Resources{CPULoad: 50, FreeMemory: 1, TotalMemory: 2}
	apply(t, s, ag.batch(ev2))
	got = must[controlplane.Router](t, "GetRouter")(s.GetRouter(ctx, 0, r.ID))
	if got.Identity != "gw-1" || got.Resources.CPULoad != 50 {
		t.Errorf("router after second reading = %+v", got)
	}
}

// testIngestProvisionalEnd covers sessions ended by the control plane (stale
// sweep, resync) that the agent later reports alive or ended: history keeps
// one row per session.
func testIngestProvisionalEnd(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	ag := &agent{router: r.ID}
	ann, bob := hotspot("ann", 1), hotspot("bob", 1)
	apply(t, s, ag.batch(ag.started(ann), ag.started(bob)))

	if _, err := s.EndRouterSessions(ctx, r.ID, "router-offline", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(historyOf(t, s, r.ID)); n != 2 {
		t.Fatalf("%d history rows after sweep, want 2", n)
	}
	// The agent comes back: ann is still there, bob ended while offline.
	ann.BytesIn = 50
	snap := ag.snapshot("s", 1, 1, ann)
	res := apply(t, s, ag.batch(snap))
	wantChanges(t, res.Changes, []controlplane.Change{controlplane.SessionStarted{Session: fromWire(ten.ID, r.ID, ann, snap.TS)}})
	bob.BytesIn = 70
	end := ag.ended(bob, protocol.EndLogout)
	res = apply(t, s, ag.batch(end))
	if len(res.Changes) != 1 {
		t.Fatalf("changes = %+v", res.Changes)
	}
	hist := historyOf(t, s, r.ID)
	if len(hist) != 1 || hist[0].User != "bob" || hist[0].EndReason != protocol.EndLogout || hist[0].BytesIn != 70 ||
		!hist[0].EndedAt.Equal(end.TS) {
		t.Errorf("history = %+v, want bob's logout only", hist)
	}
	if live := sessionsOf(t, s, r.ID); len(live) != 1 || live[0].User != "ann" {
		t.Errorf("live = %+v", live)
	}
}

func testIngestLargeCounters(t *testing.T, e *env) {
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	ag := &agent{router: r.ID, seq: 1 << 63}
	v := hotspot("big", 1)
	v.BytesIn, v.BytesOut = 1<<64-1, 1<<63
	ev := ag.started(v)
	a := apply(t, s, ag.batch(ev))
	if a.LastSeq != 1<<63+1 {
		t.Errorf("LastSeq = %d", a.LastSeq)
	}
	live := sessionsOf(t, s, r.ID)
	if len(live) != 1 || live[0].BytesIn != 1<<64-1 || live[0].BytesOut != 1<<63 {
		t.Errorf("live = %+v", live)
	}
	got := must[controlplane.Router](t, "GetRouter")(s.GetRouter(context.Background(), 0, r.ID))
	if got.LastSeq != 1<<63+1 {
		t.Errorf("router last_seq = %d", got.LastSeq)
	}
	// Replaying below the huge last_seq is skipped, not misordered.
	if a := apply(t, s, ag.batch(ev)); a.Skipped != 1 {
		t.Errorf("replay: %+v", a)
	}
}

// A reinstalled agent counts from seq 1 again under a new epoch: its
// events are applied, not skipped, and the old epoch can never come back.
func testIngestEpoch(t *testing.T, e *env) {
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	old := &agent{router: r.ID}
	b := old.batch(old.started(hotspot("ann", 1)), old.started(hotspot("bo", 1)), old.updated(hotspot("bo", 5)))
	b.Epoch = "aaaa"
	if a := apply(t, s, b); a.Applied != 3 || a.Epoch != "aaaa" || a.NewEpoch || a.PrevSeq != 0 || a.LastSeq != 3 {
		t.Fatalf("first epoch adopted: %+v", a)
	}
	// A batch without an epoch (an older agent) continues the current one.
	nb := old.batch(old.ended(hotspot("ann", 2), protocol.EndLogout))
	if a := apply(t, s, nb); a.Applied != 1 || a.Epoch != "aaaa" || a.LastSeq != 4 {
		t.Fatalf("batch without epoch: %+v", a)
	}

	// The agent's database is lost: seqs restart at 1 under a new epoch.
	fresh := &agent{router: r.ID}
	b2 := fresh.batch(fresh.started(hotspot("cy", 1)), fresh.ended(hotspot("bo", 6), protocol.EndLogout))
	b2.Epoch = "bbbb"
	a := apply(t, s, b2)
	if a.Applied != 2 || a.Skipped != 0 || !a.NewEpoch || a.Epoch != "bbbb" || a.PrevSeq != 0 || a.LastSeq != 2 || len(a.Changes) != 2 {
		t.Fatalf("new epoch: %+v", a)
	}
	if got := sessionsOf(t, s, r.ID); len(got) != 1 || got[0].User != "cy" {
		t.Errorf("live sessions after the new epoch: %+v", got)
	}
	if got := historyOf(t, s, r.ID); len(got) != 2 {
		t.Errorf("history after the new epoch: %d rows, want ann and bo", len(got))
	}
	if got, _ := s.GetRouter(context.Background(), 0, r.ID); got.LastSeq != 2 {
		t.Errorf("last_seq %d, want 2", got.LastSeq)
	}
	// Redelivery within the new epoch is still skipped.
	if a := apply(t, s, b2); a.Applied != 0 || a.Skipped != 2 {
		t.Errorf("redelivery in the new epoch: %+v", a)
	}
	// The old epoch is retired: a late batch from it is refused, unapplied.
	late := old.batch(old.started(hotspot("dee", 1)))
	late.Epoch = "aaaa"
	before := dump(t, s, r.ID)
	if _, err := s.ApplyBatch(context.Background(), late); controlplane.ErrorCode(err) != controlplane.EINVALID {
		t.Fatalf("batch from the retired epoch: %v, want EINVALID", err)
	}
	if after := dump(t, s, r.ID); after != before {
		t.Errorf("the retired epoch's batch changed the store:\n%s\nwant\n%s", after, before)
	}
	entries, err := s.ListAudit(context.Background(), ten.ID, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, en := range entries {
		found = found || (en.Action == "router.epoch" && en.Target == "router:"+r.ID && strings.Contains(en.Detail, "epoch aaaa at seq 4"))
	}
	if !found {
		t.Errorf("no router.epoch audit entry in %+v", entries)
	}
}

// A batch naming a predecessor that is not applied yet is refused, with
// nothing applied, until it is.
func testIngestPredecessor(t *testing.T, e *env) {
	s := e.s
	ten := newTenant(t, s, "A")
	r := newRouter(t, s, ten.ID, "R")
	ag := &agent{router: r.ID}
	first := ag.batch(ag.started(hotspot("ann", 1)), ag.started(hotspot("bo", 1)))
	ag.seq++ // seq 3 coalesced away: never published
	second := ag.batch(ag.ended(hotspot("ann", 2), protocol.EndLogout))
	second.Prev = 2
	before := dump(t, s, r.ID)
	_, err := s.ApplyBatch(context.Background(), second)
	var pe *controlplane.PredecessorError
	if !errors.As(err, &pe) || pe.Prev != 2 || pe.LastSeq != 0 || controlplane.ErrorCode(err) != controlplane.EUNAVAILABLE {
		t.Fatalf("second batch before the first: %v, want a controlplane.PredecessorError (EUNAVAILABLE)", err)
	}
	if after := dump(t, s, r.ID); after != before {
		t.Errorf("the refused batch changed the store:\n%s\nwant\n%s", after, before)
	}
	apply(t, s, first)
	if a := apply(t, s, second); a.Applied != 1 || a.PrevSeq != 2 || a.LastSeq != 4 {
		t.Errorf("second batch after the first: %+v", a)
	}
	if got := sessionsOf(t, s, r.ID); len(got) != 1 || got[0].User != "bo" {
		t.Errorf("live sessions %+v, want bo", got)
	}
}
