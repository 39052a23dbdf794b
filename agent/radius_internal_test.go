package agent

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/agent/radius"
	"github.com/sitepulse/sitepulse/protocol"
)

// newTestEdge is the RADIUS side on its own database, without a server
// or an uplink.
func newTestEdge(tb testing.TB) *radiusEdge {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	db, err := openDB(ctx, dir)
	if err != nil {
		tb.Fatal(err)
	}
	rdb, err := openReadDB(dir, 2)
	if err != nil {
		tb.Fatal(err)
	}
	ob, err := newOutbox(ctx, db, outboxConfig{Router: "bench-1"})
	if err != nil {
		tb.Fatal(err)
	}
	x, err := newRadiusEdge(ctx, db, rdb, ob, newSessionLedger(), radiusConfig{Router: "bench-1"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = ob.close(ctx)
		_ = rdb.Close()
		_ = db.Close()
	})
	return x
}

// syncPages encodes n entries in pages of protocol.MaxRadiusEntries, as
// the control plane sends a full sync: hotspot entries with a password
// and PPP ones with an NT hash, plan attributes on each.
func syncPages(tb testing.TB, n int) [][]byte {
	tb.Helper()
	var out [][]byte
	for from := 0; from < n; from += protocol.MaxRadiusEntries {
		to := min(from+protocol.MaxRadiusEntries, n)
		p := protocol.RadiusSync{V: protocol.Version, Router: "bench-1", Mode: protocol.AuthRadius, From: uint64(from), To: uint64(to), Head: uint64(n)}
		for v := from + 1; v <= to; v++ {
			e := protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: fmt.Sprintf("customer-%06d", v), Version: uint64(v),
				Password: fmt.Sprintf("pw-%08x", v*7919), Profile: "plan-10m", RateLimit: "5M/10M", DataCapBytes: 50 << 30, SharedUsers: 2}
			if v%2 == 0 {
				e.Kind, e.Password, e.NTHash = protocol.KindPPPoE, "", fmt.Sprintf("%032x", v)
			}
			p.Entries = append(p.Entries, e)
		}
		b, err := protocol.Encode(&p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkRadiusSync50k applies 50,000 entries in pages of 500 and
// reports the agent's heap growth once they are held (heap-B/op): the
// copy lives in SQLite, not in memory, so it stays flat however many
// accounts a router has. Decisions then read one row each.
func BenchmarkRadiusSync50k(b *testing.B) {
	pages := syncPages(b, 50_000)
	ctx := context.Background()
	var growth, rss uint64
	for b.Loop() {
		b.StopTimer()
		x := newTestEdge(b)
		before := heapInUse()
		b.StartTimer()
		for _, p := range pages {
			x.handleSync(ctx, p)
		}
		b.StopTimer()
		if v, n := x.book.state(); v != 50_000 || n != 50_000 {
			b.Fatalf("held version %d, %d entries; want 50000 of each", v, n)
		}
		after := heapInUse()
		if after > before {
			growth += after - before
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss = max(rss, ms.Sys)
		if _, ok := x.Credentials(protocol.KindPPPoE, "customer-049998"); !ok {
			b.Fatal("entry not found after the sync")
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(growth)/float64(b.N), "heap-B/op")
	b.ReportMetric(float64(rss), "go-sys-B")
}

// BenchmarkRadiusDecide is one Access-Request's work at the agent with
// 50,000 entries held: credentials, then the decision.
func BenchmarkRadiusDecide(b *testing.B) {
	x := newTestEdge(b)
	ctx := context.Background()
	for _, p := range syncPages(b, 50_000) {
		x.handleSync(ctx, p)
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		name := fmt.Sprintf("customer-%06d", 1+2*(i%25_000))
		if _, ok := x.Credentials(protocol.KindHotspot, name); !ok {
			b.Fatal("no credentials for " + name)
		}
		if d := x.Decide(ctx, radiusRequest(name, i%25_000)); !d.Accept {
			b.Fatalf("%s: %+v", name, d)
		}
	}
}

// radiusRequest is device i's login as name (the same device each time,
// so shared users never refuse it).
func radiusRequest(name string, i int) radius.Request {
	return radius.Request{Kind: protocol.KindHotspot, User: name, MAC: fmt.Sprintf("02:00:00:%02X:%02X:%02X", i>>16&0xff, i>>8&0xff, i&0xff),
		AcctSessionID: fmt.Sprintf("%08X", i), Method: radius.MethodCHAP}
}

func TestHotspotAcctIDs(t *testing.T) {
	for _, c := range []struct{ acct, id string }{{"0000001A", "*1A"}, {"80000001", "*80000001"}, {"00000001", "*1"}} {
		id, ok := hotspotIDFromAcct(c.acct)
		if !ok || id != c.id {
			t.Errorf("hotspotIDFromAcct(%q) = %q %v, want %q", c.acct, id, ok, c.id)
		}
		if a, ok := acctFromHotspotID(c.id); !ok || a != c.acct {
			t.Errorf("acctFromHotspotID(%q) = %q %v, want %q", c.id, a, ok, c.acct)
		}
	}
	for _, bad := range []string{"", "1A", "0x81500001", "zzzzzzzz", "000000001"} {
		if _, ok := hotspotIDFromAcct(bad); ok {
			t.Errorf("hotspotIDFromAcct(%q) accepted", bad)
		}
	}
}

func FuzzHotspotAcctID(f *testing.F) {
	for _, s := range []string{"0000001A", "80000001", "0x815000", "", "ffffffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, acct string) {
		id, ok := hotspotIDFromAcct(acct)
		if !ok {
			return
		}
		back, ok := acctFromHotspotID(id)
		if !ok || back != strings.ToUpper(acct) {
			t.Fatalf("%q → %q → %q %v", acct, id, back, ok)
		}
	})
}

// FuzzRadiusSync feeds arbitrary payloads to the sync handler: nothing
// panics, the held version never goes back, and the count it reports is
// what SQLite holds.
func FuzzRadiusSync(f *testing.F) {
	for _, p := range syncPages(f, 3) {
		f.Add(p)
	}
	f.Add([]byte(`{"v":1,"router":"bench-1","mode":"radius","from":0,"to":2,"head":2,"entries":[{"kind":"hotspot","name":"a","version":1,"deleted":true},{"kind":"pppoe","name":"a","version":2,"nt_hash":"00"}]}`))
	f.Add([]byte(`{"v":1,"router":"bench-1","mode":"local","from":5,"to":5,"head":9,"answers":[{"id":"x","accept":true,"entry":{"kind":"hotspot","name":"v","version":9}}]}`))
	f.Add([]byte(`{"v":1,"router":"other","mode":"radius","from":0,"to":1,"head":1}`))
	f.Add([]byte(`not json`))
	x := newTestEdge(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, payload []byte) {
		before, _ := x.book.state()
		x.handleSync(ctx, payload)
		v, n := x.book.state()
		if v < before {
			t.Fatalf("version went back from %d to %d", before, v)
		}
		var rows int
		if err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM radius_entries`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != n {
			t.Fatalf("reports %d entries, holds %d", n, rows)
		}
	})
}

func TestLedgerEndsStaleRadiusSessions(t *testing.T) {
	l := newSessionLedger()
	t0 := time.Now()
	rec := radius.Accounting{Status: radius.AcctStart, Kind: protocol.KindPPPoE, AcctSessionID: "0x1", User: "u", MAC: "02:00:00:00:00:01"}
	if cs, _, _ := l.account(rec, t0, entryRef{protocol.KindPPPoE, "u"}, 1, 0, 0); len(cs) != 1 || cs[0].event.Type != protocol.EventSessionStarted {
		t.Fatalf("start: %+v", cs)
	}
	// An API-tracked session is the API's to end.
	api := protocol.Session{Kind: protocol.KindPPPoE, Key: protocol.PPPKey("w", "0x2"), User: "w", SessionID: "0x2", RouterOSID: "*5"}
	l.apiStart(&api)
	rec2 := rec
	rec2.AcctSessionID, rec2.User = "0x2", "w"
	l.account(rec2, t0, entryRef{protocol.KindPPPoE, "w"}, 1, 0, 0)
	if cs := l.endStale(t0.Add(time.Minute), 2*time.Minute); len(cs) != 0 {
		t.Fatalf("ended %d sessions before they went quiet", len(cs))
	}
	cs := l.endStale(t0.Add(3*time.Minute), 2*time.Minute)
	if len(cs) != 1 || cs[0].event.Session.User != "u" || cs[0].event.Reason != protocol.EndVanished {
		t.Fatalf("stale ends %+v, want u's session vanished", cs)
	}
	if cs := l.endStale(t0.Add(4*time.Minute), 2*time.Minute); len(cs) != 0 {
		t.Fatal("a stale session ended twice")
	}
	// Its late Stop adds nothing.
	rec.Status = radius.AcctStop
	if cs, _, _ := l.account(rec, t0.Add(5*time.Minute), entryRef{protocol.KindPPPoE, "u"}, 1, 0, 0); len(cs) != 0 {
		t.Fatalf("late stop: %+v", cs)
	}
}

func TestEndReasonForCause(t *testing.T) {
	for cause, want := range map[int]protocol.EndReason{0: protocol.EndLogout, 1: protocol.EndLogout, 4: protocol.EndLogout,
		5: protocol.EndExpired, 6: protocol.EndKicked, 10: protocol.EndKicked} {
		if got := endReasonForCause(cause); got != want {
			t.Errorf("cause %d: %s, want %s", cause, got, want)
		}
	}
}

// An overlapping page applies from the held version on, and no page
// replaces an entry with a newer one (an accepted answer's).
func TestRadiusBookOverlapAndNewerEntries(t *testing.T) {
	x := newTestEdge(t)
	ctx := context.Background()
	page := func(from, to uint64, es ...protocol.RadiusEntry) *protocol.RadiusSync {
		return &protocol.RadiusSync{V: protocol.Version, Router: "bench-1", Mode: protocol.AuthRadius, From: from, To: to, Head: to, Entries: es}
	}
	hs := func(name string, v uint64, pw string) protocol.RadiusEntry {
		return protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: name, Version: v, Password: pw}
	}
	if out, _, err := x.book.apply(ctx, page(0, 2, hs("a", 1, "a1"), hs("b", 2, "b2"))); err != nil || out != syncApplied {
		t.Fatalf("first page: %v %v", out, err)
	}
	// The answer's entry for c at version 9 arrives before the sync has it.
	if _, err := x.book.put(ctx, &protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "c", Version: 9, Password: "c9"}); err != nil {
		t.Fatal(err)
	}
	// 1..4 overlaps what is held (2): a at version 1 is already applied and
	// is skipped, and c at 4 must not replace c at 9.
	out, changes, err := x.book.apply(ctx, page(1, 4, hs("a", 1, "stale"), hs("d", 3, "d3"), hs("c", 4, "c4")))
	if err != nil || out != syncApplied {
		t.Fatalf("overlapping page: %v %v", out, err)
	}
	if len(changes) != 1 || changes[0].cur.Name != "d" {
		t.Fatalf("changes %+v, want only d", changes)
	}
	for name, want := range map[string]string{"a": "a1", "c": "c9", "d": "d3"} {
		if s, ok := x.Credentials(protocol.KindHotspot, name); !ok || s.Password != want {
			t.Errorf("%s: password %q, want %q", name, s.Password, want)
		}
	}
	if v, n := x.book.state(); v != 4 || n != 4 {
		t.Fatalf("state %d/%d, want version 4 with 4 entries", v, n)
	}
}
