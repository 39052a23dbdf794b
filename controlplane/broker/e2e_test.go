package broker

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/ingest"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// End-to-end: paho agents over TCP, the broker, the real ingest and the
// real store, on SQLite and on PostgreSQL.

type e2eEnv struct {
	*testBroker
	st    *store.Store
	flaky *flakyStore
}

// flakyStore fails the next failNext ApplyBatch calls as if the database
// were unavailable.
type flakyStore struct {
	*store.Store
	failNext atomic.Int32
}

func (f *flakyStore) ApplyBatch(ctx context.Context, b *protocol.EventBatch) (controlplane.Applied, error) {
	for {
		n := f.failNext.Load()
		if n <= 0 {
			return f.Store.ApplyBatch(ctx, b)
		}
		if f.failNext.CompareAndSwap(n, n-1) {
			return controlplane.Applied{}, errors.New("database unavailable")
		}
	}
}

// forEachDialect runs fn once per store dialect (testkit.EachDialect) with
// a broker whose handler ingests into that store.
func forEachDialect(t *testing.T, fn func(t *testing.T, e *e2eEnv)) {
	testkit.EachDialect(t, func(t *testing.T, db testkit.Database) {
		st := openStoreIn(t, db)
		reg := prometheus.NewRegistry()
		logs := &testkit.LogBuffer{}
		flaky := &flakyStore{Store: st}
		in, err := ingest.New(ingest.Options{Store: flaky, Bus: &controlplane.Bus{}, Registerer: reg, Logger: logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		tb := startBrokerOn(t, newCredentialsOn(t, st), in, reg, logs, nil)
		fn(t, &e2eEnv{testBroker: tb, st: st, flaky: flaky})
	})
}

func (e *e2eEnv) router(t *testing.T, id string) controlplane.Router {
	t.Helper()
	r, err := e.st.GetRouter(context.Background(), 0, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// state is a router's live sessions and history, without what differs
// between two routers fed the same events.
func (e *e2eEnv) state(t *testing.T, id string) ([]controlplane.Session, []controlplane.SessionRecord) {
	t.Helper()
	ctx := context.Background()
	live, _, err := e.st.ListSessions(ctx, 0, controlplane.SessionFilter{RouterID: id, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	hist, _, err := e.st.ListHistory(ctx, 0, controlplane.HistoryFilter{RouterID: id, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range live {
		live[i].RouterID, live[i].UpdatedAt = "", time.Time{}
	}
	for i := range hist {
		hist[i].RouterID, hist[i].UpdatedAt = "", time.Time{}
	}
	return live, hist
}

func TestE2EDuplicateBatchAppliedOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *e2eEnv) {
		id, secret := e.creds.create(t)
		a := dialAgent(t, e.Addr(), id, secret)
		p := eventsPayload(t, id, 1, 20)
		for i := range 2 {
			if err := a.publish(protocol.EventsTopic(id), p); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
		live, hist := e.state(t, id)
		if len(live) == 0 || len(hist) == 0 {
			t.Fatalf("state after the batch: %d live, %d ended, want both", len(live), len(hist))
		}
		if got := e.router(t, id).LastSeq; got != 20 {
			t.Errorf("last_seq = %d, want 20", got)
		}
		if got := counter(t, e.reg, "sitepulse_ingest_events_applied_total"); got != 20 {
			t.Errorf("events applied = %v, want 20", got)
		}
		if got := counter(t, e.reg, "sitepulse_ingest_events_skipped_total"); got != 20 {
			t.Errorf("events skipped = %v, want 20 (the second delivery)", got)
		}
	})
}

func TestE2EReplayAfterReconnect(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *e2eEnv) {
		once, onceSecret := e.creds.create(t)
		rep, repSecret := e.creds.create(t)
		a := dialAgent(t, e.Addr(), once, onceSecret)
		if err := a.publish(protocol.EventsTopic(once), eventsPayload(t, once, 1, 30)); err != nil {
			t.Fatal(err)
		}

		b := dialAgent(t, e.Addr(), rep, repSecret)
		for _, span := range [][2]int{{1, 10}, {11, 20}} {
			if err := b.publish(protocol.EventsTopic(rep), eventsPayload(t, rep, span[0], span[1])); err != nil {
				t.Fatal(err)
			}
		}
		// As if the PUBACK of 11..20 was lost: the connection dies and the
		// agent replays from 11 on a new one.
		b.kill()
		b.client.Disconnect(0)
		testkit.Eventually(t, 0, "the broker to notice", func() bool { return !e.Connected(rep) })
		b = dialAgent(t, e.Addr(), rep, repSecret)
		for _, span := range [][2]int{{11, 25}, {21, 30}} {
			if err := b.publish(protocol.EventsTopic(rep), eventsPayload(t, rep, span[0], span[1])); err != nil {
				t.Fatal(err)
			}
		}

		wantLive, wantHist := e.state(t, once)
		gotLive, gotHist := e.state(t, rep)
		if !reflect.DeepEqual(gotLive, wantLive) {
			t.Errorf("live sessions after replay:\n got %+v\nwant %+v", gotLive, wantLive)
		}
		if !reflect.DeepEqual(gotHist, wantHist) {
			t.Errorf("history after replay:\n got %+v\nwant %+v", gotHist, wantHist)
		}
		if a, b := e.router(t, once).LastSeq, e.router(t, rep).LastSeq; a != 30 || b != 30 {
			t.Errorf("last_seq = %d and %d, want 30", a, b)
		}
	})
}

func TestE2EACL(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *e2eEnv) {
		r1, s1 := e.creds.create(t)
		r2, _ := e.creds.create(t)
		a := dialAgent(t, e.Addr(), r1, s1)
		a.client.Publish(protocol.EventsTopic(r2), 1, false, eventsPayload(t, r2, 1, 5))
		a.waitLost()
		a = dialAgent(t, e.Addr(), r1, s1)
		a.client.Publish(protocol.StatusTopic(r2), 1, true, statusPayload(t, r2, protocol.StateOnline, t0))
		a.waitLost()
		a = dialAgent(t, e.Addr(), r1, s1)
		if got := a.subscribe(protocol.CmdTopic(r2)); got != 0x80 {
			t.Errorf("subscribe to r2's commands: %#x, want 0x80", got)
		}

		live, hist := e.state(t, r2)
		if r := e.router(t, r2); len(live)+len(hist) != 0 || r.LastSeq != 0 || r.Status != controlplane.RouterPending {
			t.Errorf("r2 after r1's attempts: %d sessions, last_seq %d, status %s; want nothing stored", len(live)+len(hist), r.LastSeq, r.Status)
		}
		if got := counter(t, e.reg, "sitepulse_broker_acl_denied_total", "action", aclPublish); got != 2 {
			t.Errorf("acl denied{publish} = %v, want 2", got)
		}
		if got := counter(t, e.reg, "sitepulse_broker_acl_denied_total", "action", aclSubscribe); got != 1 {
			t.Errorf("acl denied{subscribe} = %v, want 1", got)
		}
		if got := counter(t, e.reg, "sitepulse_ingest_batches_applied_total"); got != 0 {
			t.Errorf("batches applied = %v, want 0", got)
		}
	})
}

func TestE2ECredentials(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *e2eEnv) {
		id, secret := e.creds.create(t)
		if _, err := tryAgent(t, e.Addr(), id, secret[:len(secret)-1]+"x"); err == nil {
			t.Error("wrong secret connected")
		}

		live := dialAgent(t, e.Addr(), id, secret)
		rotated := e.creds.rotate(t, id)
		e.Invalidate(id)
		live.waitLost()
		if _, err := tryAgent(t, e.Addr(), id, secret); err == nil {
			t.Error("the secret before rotation still connects")
		}
		live = dialAgent(t, e.Addr(), id, rotated)

		e.creds.revoke(t, id)
		e.Invalidate(id)
		live.waitLost()
		if _, err := tryAgent(t, e.Addr(), id, rotated); err == nil {
			t.Error("a revoked router connected")
		}
		if got := counter(t, e.reg, "sitepulse_broker_auth_failures_total", "reason", authCredentials); got != 3 {
			t.Errorf("auth failures{credentials} = %v, want 3", got)
		}
		if e.logs.Contains(secret) || e.logs.Contains(rotated) {
			t.Error("a secret appeared in the logs")
		}
	})
}

func TestE2EBadPayloads(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *e2eEnv) {
		id, secret := e.creds.create(t)
		other, _ := e.creds.create(t)
		good := string(eventsPayload(t, id, 1, 3))
		tests := []struct {
			name    string
			payload []byte
			reason  string // ingest reason
			code    string // broker reason
		}{
			{"malformed", []byte(`{"v":1,"router":"` + id + `","events":[{"seq":1,`), "malformed", controlplane.EINVALID},
			{"wrong version", []byte(strings.Replace(good, `"v":1`, `"v":7`, 1)), "version", controlplane.EINVALID},
			{"invalid field", []byte(strings.Replace(good, `"type":"session.started"`, `"type":"session.exploded"`, 1)), "invalid_field", controlplane.EINVALID},
			{"another router's batch", eventsPayload(t, other, 1, 3), ingest.ReasonRouterMismatch, controlplane.EINVALID},
			{"above MaxPayloadSize", []byte(good + strings.Repeat(" ", protocol.MaxPayloadSize)), "too_large", controlplane.ETOOLARGE},
		}
		a := dialAgent(t, e.Addr(), id, secret)
		for _, tt := range tests {
			if err := a.publish(protocol.EventsTopic(id), tt.payload); err != nil {
				t.Fatalf("%s: %v, want an acknowledged rejection", tt.name, err)
			}
			if got := counter(t, e.reg, "sitepulse_ingest_rejected_total", "reason", tt.reason); got != 1 {
				t.Errorf("%s: ingest rejected{%s} = %v, want 1", tt.name, tt.reason, got)
			}
		}
		if got := counter(t, e.reg, "sitepulse_broker_rejected_total", "reason", controlplane.EINVALID); got != 4 {
			t.Errorf("broker rejected{invalid} = %v, want 4", got)
		}
		if got := counter(t, e.reg, "sitepulse_broker_rejected_total", "reason", controlplane.ETOOLARGE); got != 1 {
			t.Errorf("broker rejected{too_large} = %v, want 1", got)
		}

		// Above the packet limit the connection is closed.
		a.client.Publish(protocol.EventsTopic(id), 1, false, make([]byte, protocol.MaxPayloadSize+DefaultPacketHeadroom+1))
		a.waitLost()
		testkit.Eventually(t, 0, "rejected{packet_too_large} to count", func() bool {
			return counter(t, e.reg, "sitepulse_broker_rejected_total", "reason", rejectPacketTooLarge) == 1
		})

		if live, hist := e.state(t, id); len(live)+len(hist) != 0 || e.router(t, id).LastSeq != 0 {
			t.Fatalf("bad payloads stored something: %d sessions", len(live)+len(hist))
		}
		// The broker and ingest keep working.
		a = dialAgent(t, e.Addr(), id, secret)
		if err := a.publish(protocol.EventsTopic(id), []byte(good)); err != nil {
			t.Fatal(err)
		}
		if got := e.router(t, id).LastSeq; got != 3 {
			t.Errorf("last_seq after a good batch = %d, want 3", got)
		}
	})
}

func TestE2EWillMarksOffline(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *e2eEnv) {
		id, secret := e.creds.create(t)
		a := dialAgent(t, e.Addr(), id, secret, func(o *paho.ClientOptions) {
			o.SetBinaryWill(protocol.StatusTopic(id), statusPayload(t, id, protocol.StateOffline, t0), 1, true)
		})
		tok := a.client.Publish(protocol.StatusTopic(id), 1, true, statusPayload(t, id, protocol.StateOnline, t0.Add(time.Second)))
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish status: %v", tok.Error())
		}
		if got := e.router(t, id).Status; got != controlplane.RouterOnline {
			t.Fatalf("status = %s, want online", got)
		}
		a.kill()
		testkit.Eventually(t, 0, "the will to mark the router offline", func() bool {
			return e.router(t, id).Status == controlplane.RouterOffline
		})
	})
}

func TestE2EStoreFailsOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, e *e2eEnv) {
		id, secret := e.creds.create(t)
		e.flaky.failNext.Store(1)
		a := dialAgent(t, e.Addr(), id, secret, func(o *paho.ClientOptions) {
			o.SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond)
		})
		a.client.Publish(protocol.EventsTopic(id), 1, false, eventsPayload(t, id, 1, 10))
		// The metric moves after the commit, so wait for it rather than the row.
		testkit.Eventually(t, 0, "the redelivered batch", func() bool {
			return counter(t, e.reg, "sitepulse_ingest_events_applied_total") == 10
		})
		if got := e.router(t, id).LastSeq; got != 10 {
			t.Errorf("last_seq = %d, want 10", got)
		}
		if got := counter(t, e.reg, "sitepulse_ingest_failures_total", "kind", "events"); got != 1 {
			t.Errorf("ingest failures = %v, want 1", got)
		}
		if got := counter(t, e.reg, "sitepulse_broker_handler_retries_total"); got != 1 {
			t.Errorf("broker retries = %v, want 1", got)
		}
		if got := counter(t, e.reg, "sitepulse_ingest_events_skipped_total"); got != 0 {
			t.Errorf("events skipped = %v, want 0 (the failed attempt committed nothing)", got)
		}
	})
}
