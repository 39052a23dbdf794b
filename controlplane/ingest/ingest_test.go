package ingest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// testStore is the store as these tests use it: ingest's Store plus the
// calls that set up routers.
type testStore interface {
	Store
	CreateTenant(ctx context.Context, name string) (controlplane.Tenant, error)
	CreateRouter(ctx context.Context, tenantID int64, name, site string) (controlplane.Router, string, error)
	GetRouter(ctx context.Context, scope int64, id string) (controlplane.Router, error)
	RevokeRouter(ctx context.Context, scope int64, id string) (controlplane.Router, error)
}

type env struct {
	st       testStore
	in       *Ingest
	bus      *controlplane.Bus
	sub      *controlplane.BusSubscription
	reg      *prometheus.Registry
	tenant   int64
	sessions func(router string) []controlplane.Session
	results  *resultRecorder

	t       *testing.T
	heads   []controlplane.BatchApplied
	lastSeq map[string]uint64 // router → Last of its newest head
}

func newEnv(t *testing.T, st testStore, sessions func(string) []controlplane.Session) *env {
	t.Helper()
	e := &env{st: st, bus: &controlplane.Bus{}, reg: prometheus.NewRegistry(), sessions: sessions, results: &resultRecorder{},
		t: t, lastSeq: make(map[string]uint64)}
	e.sub = e.bus.Subscribe(10000)
	t.Cleanup(e.sub.Close)
	in, err := New(Options{Store: st, Bus: e.bus, Registerer: e.reg, CommandResults: e.results})
	if err != nil {
		t.Fatal(err)
	}
	e.in = in
	ten, err := st.CreateTenant(context.Background(), "tenant "+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	e.tenant = ten.ID
	return e
}

func (e *env) router(t *testing.T) string {
	t.Helper()
	r, _, err := e.st.CreateRouter(context.Background(), e.tenant, "router", "site")
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// changes drains what the bus has received so far, without the
// BatchApplied heads (e.heads), after checking each heads its batch's
// changes and chains onto the router's previous batch.
func (e *env) changes() []controlplane.Change {
	e.t.Helper()
	var out []controlplane.Change
	want := 0 // changes still owed to the last head
	for {
		select {
		case c := <-e.sub.C:
			if h, ok := c.(controlplane.BatchApplied); ok {
				if want != 0 {
					e.t.Errorf("BatchApplied %+v arrived %d changes early", h, want)
				}
				if prev, seen := e.lastSeq[h.RouterID]; seen && h.Prev != prev {
					e.t.Errorf("BatchApplied %+v does not chain onto last seq %d", h, prev)
				}
				if h.Last <= h.Prev || h.TenantID != e.tenant {
					e.t.Errorf("BatchApplied %+v: want Prev < Last and tenant %d", h, e.tenant)
				}
				e.lastSeq[h.RouterID] = h.Last
				e.heads = append(e.heads, h)
				want = h.Changes
				continue
			}
			switch c.(type) {
			case controlplane.RouterStatusChanged: // from statuses, not batches
			default:
				if want == 0 {
					e.t.Errorf("%T without a BatchApplied ahead of it", c)
				}
				want--
			}
			out = append(out, c)
		default:
			if want != 0 {
				e.t.Errorf("%d changes missing after the last BatchApplied", want)
			}
			return out
		}
	}
}

func (e *env) handle(t *testing.T, topic string, payload []byte) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.in.HandleMessage(ctx, topic, payload)
}

func (e *env) mustHandle(t *testing.T, topic string, payload []byte) {
	t.Helper()
	if err := e.handle(t, topic, payload); err != nil {
		t.Fatalf("HandleMessage %s: %v", topic, err)
	}
}

func (e *env) counter(name string, labels ...string) float64 {
	switch name {
	case "rejected":
		return testutil.ToFloat64(e.in.m.rejected.WithLabelValues(labels...))
	case "failures":
		return testutil.ToFloat64(e.in.m.failures.WithLabelValues(labels...))
	case "applied":
		return testutil.ToFloat64(e.in.m.eventsApplied)
	case "skipped":
		return testutil.ToFloat64(e.in.m.eventsSkipped)
	case "batches":
		return testutil.ToFloat64(e.in.m.batches)
	}
	panic(name)
}

type resultRecorder struct {
	mu   sync.Mutex
	got  []*protocol.CommandResult
	fail error
}

func (r *resultRecorder) ApplyCommandResult(ctx context.Context, res *protocol.CommandResult) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, res)
	return nil
}

var t0 = time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)

func session(seq int) *protocol.Session {
	login := t0.Add(time.Duration(seq) * time.Second)
	user := fmt.Sprintf("user%d", seq)
	mac := fmt.Sprintf("AA:BB:CC:00:%02X:%02X", (seq>>8)&0xff, seq&0xff)
	return &protocol.Session{Kind: protocol.KindHotspot, Key: protocol.HotspotKey(user, mac, login, ""), User: user, MAC: mac, Address: "10.5.50.2", StartedAt: login}
}

// lifecycle is a batch of events seq from..to: every third event ends the
// session started two events before, the others start or update one.
func lifecycle(router string, from, to int) *protocol.EventBatch {
	b := &protocol.EventBatch{V: protocol.Version, Router: router}
	for seq := from; seq <= to; seq++ {
		e := protocol.Event{Seq: uint64(seq), TS: t0.Add(time.Duration(seq) * time.Second)}
		switch seq % 3 {
		case 1:
			e.Type, e.Session = protocol.EventSessionStarted, session(seq)
		case 2:
			s := session(seq - 1)
			s.BytesIn, s.BytesOut = uint64(seq*1000), uint64(seq*100)
			e.Type, e.Session = protocol.EventSessionUpdated, s
		default:
			if seq%2 == 0 {
				e.Type, e.Session, e.Reason = protocol.EventSessionEnded, session(seq-2), protocol.EndLogout
			} else {
				e.Type, e.Session = protocol.EventSessionStarted, session(seq)
			}
		}
		b.Events = append(b.Events, e)
	}
	return b
}

func encode(t testing.TB, m protocol.Message) []byte {
	t.Helper()
	b, err := protocol.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// normalized drops what differs between routers so that two routers' live
// sessions can be compared.
func normalized(ss []controlplane.Session) []controlplane.Session {
	out := make([]controlplane.Session, len(ss))
	for i, s := range ss {
		s.RouterID, s.UpdatedAt = "", time.Time{}
		out[i] = s
	}
	return out
}

func TestBatchAppliedOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.router(t)
		payload := encode(t, lifecycle(r, 1, 10))
		e.mustHandle(t, protocol.EventsTopic(r), payload)
		first := e.sessions(r)
		changes := e.changes()
		if len(changes) != 10 {
			t.Errorf("changes after the first delivery = %d, want 10", len(changes))
		}
		if want := []controlplane.BatchApplied{{TenantID: e.tenant, RouterID: r, Prev: 0, Last: 10, Changes: 10}}; !reflect.DeepEqual(e.heads, want) {
			t.Errorf("heads %+v, want %+v", e.heads, want)
		}

		e.mustHandle(t, protocol.EventsTopic(r), payload)
		if got := e.changes(); len(got) != 0 {
			t.Errorf("redelivery announced %d changes, want none", len(got))
		}
		if got := e.sessions(r); !reflect.DeepEqual(got, first) {
			t.Errorf("sessions after redelivery differ:\n got %+v\nwant %+v", got, first)
		}
		if got, want := e.counter("applied"), 10.0; got != want {
			t.Errorf("events applied = %v, want %v", got, want)
		}
		if got, want := e.counter("skipped"), 10.0; got != want {
			t.Errorf("events skipped = %v, want %v", got, want)
		}
		if got, want := e.counter("batches"), 2.0; got != want {
			t.Errorf("batches = %v, want %v", got, want)
		}
		rt, err := e.st.GetRouter(context.Background(), 0, r)
		if err != nil {
			t.Fatal(err)
		}
		if rt.LastSeq != 10 {
			t.Errorf("last_seq = %d, want 10", rt.LastSeq)
		}
	})
}

func TestReplayEqualsSingleDelivery(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		once, replayed := e.router(t), e.router(t)
		e.mustHandle(t, protocol.EventsTopic(once), encode(t, lifecycle(once, 1, 30)))

		// The agent delivered 1..20, lost the PUBACK of 11..20, reconnected
		// and replayed from its oldest unacknowledged event, in other chunks.
		for _, span := range [][2]int{{1, 10}, {11, 20}, {11, 25}, {21, 30}, {26, 30}} {
			e.mustHandle(t, protocol.EventsTopic(replayed), encode(t, lifecycle(replayed, span[0], span[1])))
		}
		a, b := normalized(e.sessions(once)), normalized(e.sessions(replayed))
		if len(a) == 0 {
			t.Fatal("no sessions stored")
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("replayed router's sessions differ from a single delivery:\n got %+v\nwant %+v", b, a)
		}
	})
}

func TestRejections(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.router(t)
		other := e.router(t)
		revoked := e.router(t)
		if _, err := e.st.RevokeRouter(context.Background(), 0, revoked); err != nil {
			t.Fatal(err)
		}
		good := string(encode(t, lifecycle(r, 1, 1)))
		status := func(router string) []byte {
			return encode(t, &protocol.Status{V: protocol.Version, Router: router, State: protocol.StateOnline, TS: t0})
		}
		result := func(router string) []byte {
			return encode(t, &protocol.CommandResult{V: protocol.Version, ID: "c1", Router: router, Status: protocol.ResultSucceeded, TS: t0})
		}
		unknown := "r000000000000"
		tests := []struct {
			name    string
			topic   string
			payload []byte
			reason  string
			code    string
		}{
			{"malformed JSON", protocol.EventsTopic(r), []byte(`{"v":1,"router":`), "malformed", controlplane.EINVALID},
			{"not JSON", protocol.EventsTopic(r), []byte("\x00\xff binary"), "malformed", controlplane.EINVALID},
			{"empty", protocol.EventsTopic(r), nil, "malformed", controlplane.EINVALID},
			{"too large", protocol.EventsTopic(r), []byte(good + strings.Repeat(" ", protocol.MaxPayloadSize)), "too_large", controlplane.ETOOLARGE},
			{"future version", protocol.EventsTopic(r), []byte(strings.Replace(good, `"v":1`, `"v":2`, 1)), "version", controlplane.EINVALID},
			{"invalid field", protocol.EventsTopic(r), []byte(strings.Replace(good, `"seq":1`, `"seq":0`, 1)), "invalid_field", controlplane.EINVALID},
			{"batch of another router", protocol.EventsTopic(r), encode(t, lifecycle(other, 1, 1)), ReasonRouterMismatch, controlplane.EINVALID},
			{"status of another router", protocol.StatusTopic(r), status(other), ReasonRouterMismatch, controlplane.EINVALID},
			{"result of another router", protocol.CmdResultTopic(r), result(other), ReasonRouterMismatch, controlplane.EINVALID},
			{"bad status", protocol.StatusTopic(r), []byte(`{"v":1,"router":"` + r + `","state":"asleep","ts":"2026-11-27T07:00:00Z"}`), "invalid_field", controlplane.EINVALID},
			{"bad result", protocol.CmdResultTopic(r), []byte(`{"v":1}`), "invalid_field", controlplane.EINVALID},
			{"unknown router", protocol.EventsTopic(unknown), encode(t, lifecycle(unknown, 1, 1)), ReasonUnknownRouter, controlplane.ENOTFOUND},
			{"status of unknown router", protocol.StatusTopic(unknown), status(unknown), ReasonUnknownRouter, controlplane.ENOTFOUND},
			{"revoked router", protocol.EventsTopic(revoked), encode(t, lifecycle(revoked, 1, 1)), ReasonRevoked, controlplane.EUNAUTHORIZED},
			{"command topic", protocol.CmdTopic(r), []byte(good), ReasonTopic, controlplane.EINVALID},
			{"broadcast topic", protocol.BroadcastTopic("1", "x"), []byte(good), ReasonTopic, controlplane.EINVALID},
			{"foreign topic", "elsewhere/x", []byte(good), ReasonTopic, controlplane.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := e.counter("rejected", tt.reason)
				err := e.handle(t, tt.topic, tt.payload)
				var re *RejectError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want a *RejectError", err)
				}
				if re.Reason != tt.reason {
					t.Errorf("reason = %q, want %q (%v)", re.Reason, tt.reason, err)
				}
				if got := controlplane.ErrorCode(err); got != tt.code {
					t.Errorf("code = %q, want %q", got, tt.code)
				}
				if got := e.counter("rejected", tt.reason); got != before+1 {
					t.Errorf("rejected{%s} = %v, want %v", tt.reason, got, before+1)
				}
			})
		}
		for _, id := range []string{r, other} {
			if got := e.sessions(id); len(got) != 0 {
				t.Errorf("router %s has %d sessions after rejected messages, want 0", id, len(got))
			}
			rt, err := e.st.GetRouter(context.Background(), 0, id)
			if err != nil {
				t.Fatal(err)
			}
			if rt.LastSeq != 0 || rt.Status != controlplane.RouterPending {
				t.Errorf("router %s: last_seq %d status %s after rejected messages, want 0 pending", id, rt.LastSeq, rt.Status)
			}
		}
		if got := e.changes(); len(got) != 0 {
			t.Errorf("rejected messages announced %d changes", len(got))
		}
		if len(e.results.got) != 0 {
			t.Errorf("rejected results reached CommandResults: %d", len(e.results.got))
		}
	})
}

func TestStatus(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.router(t)
		st := func(state protocol.AgentState, ts time.Time) []byte {
			return encode(t, &protocol.Status{V: protocol.Version, Router: r, State: state, TS: ts, AgentVersion: "1.2.3", RouterConnected: true})
		}
		statusOf := func() string {
			t.Helper()
			rt, err := e.st.GetRouter(context.Background(), 0, r)
			if err != nil {
				t.Fatal(err)
			}
			return rt.Status
		}
		e.mustHandle(t, protocol.StatusTopic(r), st(protocol.StateOnline, t0))
		if got := statusOf(); got != controlplane.RouterOnline {
			t.Fatalf("status = %s, want online", got)
		}
		ch := e.changes()
		if len(ch) != 1 {
			t.Fatalf("changes = %v, want one RouterStatusChanged", ch)
		}
		if c, ok := ch[0].(controlplane.RouterStatusChanged); !ok || c.Router.ID != r || c.Router.Status != controlplane.RouterOnline || c.Router.TenantID != e.tenant {
			t.Errorf("change = %+v, want RouterStatusChanged online of %s in tenant %d", ch[0], r, e.tenant)
		}

		// The will: offline, stamped after the last status by the broker.
		e.mustHandle(t, protocol.StatusTopic(r), st(protocol.StateOffline, t0.Add(time.Millisecond)))
		if got := statusOf(); got != controlplane.RouterOffline {
			t.Errorf("status after the will = %s, want offline", got)
		}
		// A status older than the stored one is ignored.
		e.mustHandle(t, protocol.StatusTopic(r), st(protocol.StateOnline, t0.Add(-time.Minute)))
		if got := statusOf(); got != controlplane.RouterOffline {
			t.Errorf("status after an older online = %s, want still offline", got)
		}
	})
}

func TestCommandResults(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.router(t)
		res := encode(t, &protocol.CommandResult{V: protocol.Version, ID: "c1", Router: r, Status: protocol.ResultSucceeded, TS: t0})
		e.mustHandle(t, protocol.CmdResultTopic(r), res)
		if len(e.results.got) != 1 || e.results.got[0].ID != "c1" {
			t.Fatalf("CommandResults got %v, want c1", e.results.got)
		}

		e.results.fail = controlplane.Errorf(controlplane.ENOTFOUND, "command c1")
		var re *RejectError
		if err := e.handle(t, protocol.CmdResultTopic(r), res); !errors.As(err, &re) || re.Reason != ReasonUnknownCommand {
			t.Errorf("unknown command: %v, want rejection %s", err, ReasonUnknownCommand)
		}
		e.results.fail = errors.New("database is locked")
		if err := e.handle(t, protocol.CmdResultTopic(r), res); err == nil || errors.As(err, &re) {
			t.Errorf("transient failure: %v, want a plain (retryable) error", err)
		}

		// Without CommandResults, results are acknowledged and ignored.
		in, err := New(Options{Store: e.st})
		if err != nil {
			t.Fatal(err)
		}
		if err := in.HandleMessage(context.Background(), protocol.CmdResultTopic(r), res); err != nil {
			t.Errorf("without CommandResults: %v", err)
		}
	})
}

// failingStore fails ApplyBatch and SetRouterStatus while fail is set.
type failingStore struct {
	testStore
	mu   sync.Mutex
	fail error
}

func (f *failingStore) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail
}

func (f *failingStore) ApplyBatch(ctx context.Context, b *protocol.EventBatch) (controlplane.Applied, error) {
	if err := f.err(); err != nil {
		return controlplane.Applied{}, err
	}
	return f.testStore.ApplyBatch(ctx, b)
}

func (f *failingStore) SetRouterStatus(ctx context.Context, st *protocol.Status) (controlplane.Router, bool, error) {
	if err := f.err(); err != nil {
		return controlplane.Router{}, false, err
	}
	return f.testStore.SetRouterStatus(ctx, st)
}

func TestStoreFailureIsRetryable(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.router(t)
		fs := &failingStore{testStore: e.st, fail: controlplane.Errorf(controlplane.EUNAVAILABLE, "database down")}
		in, err := New(Options{Store: fs, Bus: e.bus})
		if err != nil {
			t.Fatal(err)
		}
		payload := encode(t, lifecycle(r, 1, 5))
		for _, topic := range []string{protocol.EventsTopic(r), protocol.StatusTopic(r)} {
			p := payload
			if topic == protocol.StatusTopic(r) {
				p = encode(t, &protocol.Status{V: protocol.Version, Router: r, State: protocol.StateOnline, TS: t0})
			}
			err := in.HandleMessage(context.Background(), topic, p)
			var re *RejectError
			if err == nil || errors.As(err, &re) {
				t.Fatalf("%s with the store down: %v, want a retryable error", topic, err)
			}
			if code := controlplane.ErrorCode(err); code != controlplane.EUNAVAILABLE {
				t.Errorf("code = %s, want %s (the broker retries it)", code, controlplane.EUNAVAILABLE)
			}
		}
		if got := testutil.ToFloat64(in.m.failures.WithLabelValues(kindEvents)); got != 1 {
			t.Errorf("failures{events} = %v, want 1", got)
		}
		fs.mu.Lock()
		fs.fail = nil
		fs.mu.Unlock()
		if err := in.HandleMessage(context.Background(), protocol.EventsTopic(r), payload); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
		if got := len(e.changes()); got != 5 {
			t.Errorf("changes after recovery = %d, want 5", got)
		}
	})
}

func TestNewRequiresStore(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
}

// Behind a shared subscription a router's batch can reach one replica
// before the batch it follows is applied by another: it waits for it, so
// that the earlier batch's events are not skipped as replays.
func TestBatchWaitsForItsPredecessor(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		shared, err := New(Options{Store: e.st, Bus: e.bus, PredecessorWait: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		r := e.router(t)
		first, second := lifecycle(r, 1, 6), lifecycle(r, 7, 12)
		second.Prev = 6
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done <- shared.HandleMessage(ctx, protocol.EventsTopic(r), encode(t, second))
		}()
		select {
		case err := <-done:
			t.Fatalf("the second batch returned (%v) before the first was applied", err)
		case <-time.After(200 * time.Millisecond):
		}
		e.mustHandle(t, protocol.EventsTopic(r), encode(t, first)) // on "another replica"
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(shared.m.predecessor.WithLabelValues("applied")); got != 1 {
			t.Errorf("predecessor waits applied = %v, want 1", got)
		}
		ref := e.router(t) // the same events, in order, in one batch
		e.mustHandle(t, protocol.EventsTopic(ref), encode(t, lifecycle(ref, 1, 12)))
		if got, want := normalized(e.sessions(r)), normalized(e.sessions(ref)); !reflect.DeepEqual(got, want) {
			t.Errorf("sessions after both batches:\n got %+v\nwant %+v", got, want)
		}
		if got := testutil.ToFloat64(shared.m.eventsSkipped) + testutil.ToFloat64(e.in.m.eventsSkipped); got != 0 {
			t.Errorf("%v events skipped, want none", got)
		}

		// A predecessor that never comes (rejected for good) holds the
		// router up only for PredecessorWait.
		quick, err := New(Options{Store: e.st, PredecessorWait: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		third := lifecycle(r, 20, 21)
		third.Prev = 19
		if err := quick.HandleMessage(context.Background(), protocol.EventsTopic(r), encode(t, third)); err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(quick.m.predecessor.WithLabelValues("timeout")); got != 1 {
			t.Errorf("predecessor timeouts = %v, want 1", got)
		}
		// In order (the embedded broker), Prev is not checked at all.
		fourth := lifecycle(r, 30, 31)
		fourth.Prev = 29
		e.mustHandle(t, protocol.EventsTopic(r), encode(t, fourth))
		if rt, _ := e.st.GetRouter(context.Background(), 0, r); rt.LastSeq != 31 {
			t.Errorf("last_seq %d, want 31", rt.LastSeq)
		}
	})
}
