package broker

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/ingest"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// A bus subscriber that never reads (a stuck dashboard fan-out) delays no
// PUBACK beyond the bus's bound: paho over TCP, the real ingest and store.
// Unbounded, the second batch would wait for ever (the subscriber's buffer
// holds one change), far past the agents' 30 s PUBACK timeout.
func TestSlowSubscriberDoesNotDelayPubacks(t *testing.T) {
	const bound = 300 * time.Millisecond
	// Generous for a loaded CI machine, yet far below the ack timeout.
	const margin = 5 * time.Second
	testkit.EachDialect(t, func(t *testing.T, db testkit.Database) {
		st := openStoreIn(t, db)
		reg := prometheus.NewRegistry()
		logs := &testkit.LogBuffer{}
		bus := &controlplane.Bus{MaxWait: bound}
		stuck := bus.Subscribe(1)
		defer stuck.Close()
		in, err := ingest.New(ingest.Options{Store: st, Bus: bus, Registerer: reg, Logger: logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		tb := startBrokerOn(t, newCredentialsOn(t, st), in, reg, logs, nil)
		id, secret := tb.creds.create(t)
		a := dialAgent(t, tb.Addr(), id, secret)

		const batches = 5
		for i := range batches {
			start := time.Now()
			if err := a.publish(protocol.EventsTopic(id), eventsPayload(t, id, i*10+1, i*10+10)); err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
			if got := time.Since(start); got > bound+margin {
				t.Errorf("PUBACK of batch %d after %v, want at most the bound %v (+ %v margin)", i, got, bound, margin)
			}
		}
		// The bound was what let them through: the subscriber's changes
		// were queued, not waited for.
		if s := bus.Stats(); s.Deferred == 0 || s.Dropped != 0 {
			t.Errorf("bus stats %+v, want changes deferred and none dropped", s)
		}
		count, sum := histogram(t, reg, "sitepulse_ingest_bus_wait_seconds")
		if count != batches {
			t.Errorf("bus wait observations = %d, want %d", count, batches)
		}
		if sum < bound.Seconds() || sum > (bound+margin).Seconds()*batches {
			t.Errorf("bus wait total %.3fs, want one bound (%v) and little more", sum, bound)
		}
		if got := counter(t, reg, "sitepulse_bus_changes_deferred_total"); got == 0 {
			t.Error("sitepulse_bus_changes_deferred_total = 0")
		}
		// Nothing was lost for the slow subscriber: it gets every batch, in
		// order, when it reads.
		var last uint64
		for last < batches*10 {
			select {
			case c := <-stuck.C:
				if h, ok := c.(controlplane.BatchApplied); ok {
					if h.Prev != last {
						t.Fatalf("batch after seq %d starts after %d", last, h.Prev)
					}
					last = h.Last
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("slow subscriber stuck at seq %d", last)
			}
		}
	})
}

// histogram returns the sample count and sum of an unlabelled histogram.
func histogram(t testing.TB, reg *prometheus.Registry, name string) (uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatalf("histogram %s not found", name)
	return 0, 0
}
