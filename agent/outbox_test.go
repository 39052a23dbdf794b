package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

func testSession(i int) protocol.Session {
	return protocol.Session{
		Kind: protocol.KindHotspot, Key: protocol.HotspotKey(fmt.Sprintf("u%d", i), "AA:BB:CC:00:00:01", time.Unix(1700000000, 0), ""),
		RouterOSID: fmt.Sprintf("*%X", i), User: fmt.Sprintf("u%d", i), StartedAt: time.Unix(1700000000, 0).UTC(),
	}
}

func ev(t protocol.EventType, s protocol.Session, bytes uint64) *protocol.Event {
	s.BytesIn = bytes
	e := &protocol.Event{TS: time.Now().UTC(), Type: t, Session: &s}
	if t == protocol.EventSessionEnded {
		e.Reason = protocol.EndLogout
	}
	return e
}

func openTestOutbox(tb testing.TB, dir string, cfg outboxConfig) *outbox {
	tb.Helper()
	ctx := context.Background()
	db, err := openDB(ctx, dir)
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.Router == "" {
		cfg.Router = "r1"
	}
	ob, err := newOutbox(ctx, db, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := ob.close(context.Background()); err != nil {
			tb.Error(err)
		}
		_ = db.Close()
	})
	return ob
}

func allPending(tb testing.TB, ob *outbox) []storedEvent {
	tb.Helper()
	evs, err := ob.pending(context.Background(), 0, 1_000_000)
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

func seqs(evs []storedEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.seq
	}
	return out
}

func TestOutboxSeqAckAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := openDB(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := newOutbox(ctx, db, outboxConfig{Router: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := ob.record(ctx, change{event: ev(protocol.EventSessionStarted, testSession(i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := seqs(allPending(t, ob)), []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Fatalf("pending seqs = %v, want %v", got, want)
	}
	if err := ob.ack(ctx, 1, 4); err != nil {
		t.Fatal(err)
	}
	if err := ob.flush(ctx); err != nil {
		t.Fatal(err)
	}
	st := ob.stats(ctx)
	if st.Depth != 6 || st.LastSeq != 10 || st.LastAcked != 4 {
		t.Fatalf("stats = %+v, want depth 6 last seq 10 last acked 4", st)
	}
	epoch := ob.epoch
	if len(epoch) != 16 || epoch == strings.Repeat("0", 16) {
		t.Fatalf("epoch %q, want 16 hex digits", epoch)
	}
	if err := ob.close(ctx); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	// Reopen: pending rows are still there, seq continues, same epoch.
	ob2 := openTestOutbox(t, dir, outboxConfig{})
	if ob2.epoch != epoch {
		t.Fatalf("epoch after reopen %q, want %q", ob2.epoch, epoch)
	}
	// A new database (the agent reinstalled) is a new seq space.
	if other := openTestOutbox(t, t.TempDir(), outboxConfig{}).epoch; other == epoch {
		t.Fatalf("two databases drew the same epoch %q", epoch)
	}
	if got, want := seqs(allPending(t, ob2)), []uint64{5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Fatalf("after reopen pending = %v, want %v", got, want)
	}
	if err := ob2.ack(ctx, 5, 10); err != nil {
		t.Fatal(err)
	}
	if err := ob2.record(ctx, change{event: ev(protocol.EventSessionEnded, testSession(1), 0)}); err != nil {
		t.Fatal(err)
	}
	if err := ob2.flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Every row acked and deleted: the seq must still continue from meta.
	if got, want := seqs(allPending(t, ob2)), []uint64{11}; !slices.Equal(got, want) {
		t.Fatalf("after full ack pending = %v, want %v", got, want)
	}
}

func TestOutboxSessionsPersistWithEvents(t *testing.T) {
	ctx := context.Background()
	ob := openTestOutbox(t, t.TempDir(), outboxConfig{})
	a, b := testSession(1), testSession(2)
	err := ob.record(ctx,
		change{event: ev(protocol.EventSessionStarted, a, 0), upsert: &a},
		change{event: ev(protocol.EventSessionStarted, b, 0), upsert: &b},
		change{event: ev(protocol.EventSessionEnded, a, 0), forget: sessionRef(&a)},
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := ob.sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != b.Key {
		t.Fatalf("sessions = %+v, want only %s", got, b.Key)
	}
}

func TestOutboxCoalescesOnlySupersededUpdates(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var dropped []uint64
	ob := openTestOutbox(t, t.TempDir(), outboxConfig{MaxEvents: 20, OnCoalesce: func(s []uint64) {
		mu.Lock()
		dropped = append(dropped, s...)
		mu.Unlock()
	}})
	a, b := testSession(1), testSession(2)
	var cs []change
	cs = append(cs, change{event: ev(protocol.EventSessionStarted, a, 0)}, change{event: ev(protocol.EventSessionStarted, b, 0)})
	for i := range 30 {
		cs = append(cs, change{event: ev(protocol.EventSessionUpdated, a, uint64(i+1))}, change{event: ev(protocol.EventSessionUpdated, b, uint64(i+1))})
	}
	cs = append(cs, change{event: ev(protocol.EventSessionEnded, a, 99)})
	if err := ob.record(ctx, cs...); err != nil {
		t.Fatal(err)
	}
	if err := ob.flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs := allPending(t, ob)
	count := map[protocol.EventType]int{}
	newest := map[string]uint64{}
	for _, se := range evs {
		d, err := protocol.DecodeEventBatch([]byte(`{"v":1,"router":"r1","events":[` + string(se.body) + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		e := d.Events[0]
		count[e.Type]++
		if e.Type == protocol.EventSessionUpdated {
			newest[e.Session.Key] = e.Session.BytesIn
		}
	}
	if count[protocol.EventSessionStarted] != 2 || count[protocol.EventSessionEnded] != 1 {
		t.Fatalf("started/ended = %d/%d, want 2/1 (never coalesced)", count[protocol.EventSessionStarted], count[protocol.EventSessionEnded])
	}
	if newest[a.Key] != 30 || newest[b.Key] != 30 {
		t.Fatalf("newest updates kept = %v, want 30 for both keys", newest)
	}
	if ob.stats(ctx).Depth > 20 {
		t.Fatalf("depth %d still over bound 20", ob.stats(ctx).Depth)
	}
	// Every seq 1..63 is either pending or reported as coalesced.
	mu.Lock()
	all := append(seqs(evs), dropped...)
	mu.Unlock()
	slices.Sort(all)
	for i, s := range all {
		if s != uint64(i+1) {
			t.Fatalf("seq %d missing: pending+coalesced = %v", i+1, all)
		}
	}
	if len(all) != 63 {
		t.Fatalf("pending+coalesced = %d seqs, want 63", len(all))
	}
}

func TestOutboxCoalesceSparesInFlight(t *testing.T) {
	ctx := context.Background()
	ob := openTestOutbox(t, t.TempDir(), outboxConfig{MaxEvents: 5})
	a := testSession(1)
	for i := range 4 {
		if err := ob.record(ctx, change{event: ev(protocol.EventSessionUpdated, a, uint64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The publisher has read seqs 1..4; they may be on the wire.
	if _, err := ob.pending(ctx, 0, 100); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if err := ob.record(ctx, change{event: ev(protocol.EventSessionUpdated, a, uint64(10+i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := seqs(allPending(t, ob))
	if want := []uint64{1, 2, 3, 4, 10}; !slices.Equal(got, want) {
		t.Fatalf("pending = %v, want %v (in-flight rows kept, newer superseded rows coalesced)", got, want)
	}
}

func TestOutboxWaitEmpty(t *testing.T) {
	ctx := context.Background()
	ob := openTestOutbox(t, t.TempDir(), outboxConfig{})
	if err := ob.record(ctx, change{event: ev(protocol.EventSessionStarted, testSession(1), 0)}); err != nil {
		t.Fatal(err)
	}
	if err := ob.flush(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ob.waitEmpty(ctx) }()
	testkit.Never(t, 20*time.Millisecond, "waitEmpty returning with an event pending", func() bool { return len(done) > 0 })
	if err := ob.ack(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waitEmpty did not return after the last ack")
	}
}

// Commits fail for good (a full disk): close still returns once its
// context ends, and names the events it could not commit.
func TestOutboxCloseGivesUpWhenCommitsKeepFailing(t *testing.T) {
	ctx := context.Background()
	db, err := openDB(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logs := &testkit.LogBuffer{}
	ob, err := newOutbox(ctx, db, outboxConfig{Router: "r1", Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	full := func() error { return errors.New("database or disk is full (injected)") }
	ob.commitFault.Store(&full)
	for i := range 3 {
		if err := ob.record(ctx, change{event: ev(protocol.EventSessionStarted, testSession(i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 0, "a failed commit", func() bool { return logs.Contains("outbox commit failed") })

	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- ob.close(cctx) }()
	select {
	case err = <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("close did not return within 10s of its 100ms context while commits kept failing")
	}
	if err == nil || !strings.Contains(err.Error(), "3 events not committed") {
		t.Fatalf("close = %v, want it to name 3 events not committed", err)
	}
	if err := ob.record(ctx, change{event: ev(protocol.EventSessionStarted, testSession(9), 0)}); !errors.Is(err, errOutboxClosed) {
		t.Errorf("record after close = %v, want errOutboxClosed", err)
	}
}

// A router blocked recording into a full queue while commits fail is
// released by giveUp, and the events it could not queue are counted.
func TestOutboxGiveUpReleasesABlockedRecord(t *testing.T) {
	ctx := context.Background()
	db, err := openDB(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ob, err := newOutbox(ctx, db, outboxConfig{Router: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	full := func() error { return errors.New("database or disk is full (injected)") }
	ob.commitFault.Store(&full)
	// The writer holds at most one group; fill the queue behind it.
	many := make([]change, cap(ob.in)+maxGroup+10)
	for i := range many {
		many[i] = change{event: ev(protocol.EventSessionUpdated, testSession(1), uint64(i))}
	}
	recorded := make(chan error, 1)
	go func() { recorded <- ob.record(ctx, many...) }()
	testkit.Eventually(t, 0, "a full queue", func() bool { return len(ob.in) == cap(ob.in) })
	ob.giveUp()
	select {
	case err := <-recorded:
		if !errors.Is(err, errOutboxGaveUp) {
			t.Fatalf("record = %v, want errOutboxGaveUp", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("record still blocked 10s after giveUp")
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = ob.close(cctx)
	want := fmt.Sprintf("%d events not committed", len(many))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("close = %v, want %q", err, want)
	}
}
