package ingest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// radiusRecorder records what it is handed. Ready at its zero value.
type radiusRecorder struct {
	mu     sync.Mutex
	states []*protocol.RadiusState
	asks   []*protocol.RadiusAsk
	fail   error
}

func (r *radiusRecorder) HandleRadiusState(_ context.Context, st *protocol.RadiusState) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, st)
	return r.fail
}

func (r *radiusRecorder) HandleRadiusAsk(_ context.Context, a *protocol.RadiusAsk) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asks = append(r.asks, a)
	return r.fail
}

func TestRadiusMessages(t *testing.T) {
	rec := &radiusRecorder{}
	reg := prometheus.NewRegistry()
	in, err := New(Options{Store: nopStore{}, Radius: rec, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const r = "r1"
	state := encode(t, &protocol.RadiusState{V: protocol.Version, Router: r, Version: 7, Count: 3})
	ask := encode(t, &protocol.RadiusAsk{V: protocol.Version, Router: r, ID: "q", Code: "ABCDEFGH", TS: t0})
	if err := in.HandleMessage(ctx, protocol.RadiusStateTopic(r), state); err != nil {
		t.Fatal(err)
	}
	if err := in.HandleMessage(ctx, protocol.RadiusAskTopic(r), ask); err != nil {
		t.Fatal(err)
	}
	if len(rec.states) != 1 || rec.states[0].Version != 7 || len(rec.asks) != 1 || rec.asks[0].Code != "ABCDEFGH" {
		t.Fatalf("handed states %v asks %v", rec.states, rec.asks)
	}

	for _, c := range []struct {
		name, topic string
		payload     []byte
		reason      string
	}{
		{"malformed state", protocol.RadiusStateTopic(r), []byte(`{"v":1,"router":"r1","version":`), "malformed"},
		{"negative count", protocol.RadiusStateTopic(r), []byte(`{"v":1,"router":"r1","count":-1}`), "invalid_field"},
		{"other router's state", protocol.RadiusStateTopic("r2"), state, ReasonRouterMismatch},
		{"ask without code", protocol.RadiusAskTopic(r), []byte(`{"v":1,"router":"r1","id":"q","ts":"2026-01-01T00:00:00Z"}`), "invalid_field"},
		{"unknown version", protocol.RadiusAskTopic(r), []byte(`{"v":99,"router":"r1"}`), "version"},
		{"agents do not publish pages", protocol.RadiusSyncTopic(r), []byte(`{}`), ReasonTopic},
	} {
		before := testutil.ToFloat64(in.m.rejected.WithLabelValues(c.reason))
		err := in.HandleMessage(ctx, c.topic, c.payload)
		var re *RejectError
		if !errors.As(err, &re) || re.Reason != c.reason || controlplane.ErrorCode(err) == "" {
			t.Errorf("%s: %v, want rejection %s", c.name, err, c.reason)
		}
		if got := testutil.ToFloat64(in.m.rejected.WithLabelValues(c.reason)); got != before+1 {
			t.Errorf("%s: rejected{%s} = %v, want %v", c.name, c.reason, got, before+1)
		}
	}
	if len(rec.states) != 1 || len(rec.asks) != 1 {
		t.Errorf("rejected messages reached the handler: %d states, %d asks", len(rec.states), len(rec.asks))
	}

	// The handler's answers: unknown router dropped, a store failure retried.
	rec.fail = controlplane.Errorf(controlplane.ENOTFOUND, "router r1")
	var re *RejectError
	if err := in.HandleMessage(ctx, protocol.RadiusStateTopic(r), state); !errors.As(err, &re) || re.Reason != ReasonUnknownRouter {
		t.Errorf("unknown router: %v", err)
	}
	rec.fail = errors.New("database is locked")
	if err := in.HandleMessage(ctx, protocol.RadiusAskTopic(r), ask); err == nil || errors.As(err, &re) {
		t.Errorf("transient failure: %v, want a retryable error", err)
	}
	if got := testutil.ToFloat64(in.m.failures.WithLabelValues(kindRadiusAsk)); got != 1 {
		t.Errorf("failures{radius_ask} = %v", got)
	}

	// Without a handler: acknowledged and ignored.
	in2, err := New(Options{Store: nopStore{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := in2.HandleMessage(ctx, protocol.RadiusStateTopic(r), state); err != nil {
		t.Errorf("without Radius: %v", err)
	}
}

// nopStore is a Store for tests that apply no batches or statuses.
type nopStore struct{}

func (nopStore) ApplyBatch(context.Context, *protocol.EventBatch) (controlplane.Applied, error) {
	return controlplane.Applied{}, errors.New("not in this test")
}

func (nopStore) SetRouterStatus(context.Context, *protocol.Status) (controlplane.Router, bool, error) {
	return controlplane.Router{}, false, errors.New("not in this test")
}
