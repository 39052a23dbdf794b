package fanout

import (
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

func TestFanoutReplicaGapSkipsASeqOnTheTenantsChannels(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(1, "sessions"), "")
	f := New(h, Options{Now: func() time.Time { return fanoutEpoch }})

	s := hotspotSession(1, "guest1", "AA:BB:CC:00:00:01", 1)
	f.Apply(controlplane.SessionStarted{Session: s})
	f.Apply(controlplane.ReplicaGap{Tenant: 2}) // another tenant: no effect on tenant 1
	f.Apply(controlplane.SessionEnded{Record: controlplane.SessionRecord{Session: s}})
	f.Apply(controlplane.ReplicaGap{Tenant: 1})
	f.Apply(controlplane.SessionStarted{Session: s})
	for i, want := range []uint64{1, 2, 4} {
		if got := seqOf(t, c.expect([]string{EventSessionStarted, EventSessionEnded, EventSessionStarted}[i])); got != want {
			t.Errorf("event %d: seq %d, want %d", i, got, want)
		}
	}
}
