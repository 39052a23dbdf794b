package agent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0s", 0},
		{"5s", 5 * time.Second},
		{"1w2d3h4m5s", 7*24*time.Hour + 2*24*time.Hour + 3*time.Hour + 4*time.Minute + 5*time.Second},
		{"150ms", 150 * time.Millisecond},
		{"1m30s250ms", 90*time.Second + 250*time.Millisecond},
		{"04:05:06", 4*time.Hour + 5*time.Minute + 6*time.Second},
		{"3d04:05:06", 3*24*time.Hour + 4*time.Hour + 5*time.Minute + 6*time.Second},
		{"12", 0},
		{"abc", 0},
		{"5x", 0},
	}
	for _, tt := range tests {
		if got := parseDuration(tt.in); got != tt.want {
			t.Errorf("parseDuration(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestFormatInterval(t *testing.T) {
	for in, want := range map[time.Duration]string{10 * time.Second: "10s", 200 * time.Millisecond: "200ms", 1500 * time.Millisecond: "1500ms"} {
		if got := formatInterval(in); got != want {
			t.Errorf("formatInterval(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionIdentityToleratesRounding(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 600e6, time.UTC)
	row := map[string]string{".id": "*A", "user": "alice", "mac-address": "AA:BB:CC:DD:EE:FF", "uptime": "1h", "address": "10.0.0.5", "bytes-in": "12"}
	first, ok := sessionFromRow(protocol.KindHotspot, row, now)
	if !ok {
		t.Fatal("row rejected")
	}
	if want := protocol.HotspotKey("alice", "AA:BB:CC:DD:EE:FF", now.Add(-time.Hour), "*A"); first.s.Key != want {
		t.Fatalf("key = %q, want %q", first.s.Key, want)
	}
	// Restored from the database: only the wall-clock StartedAt is known.
	known := &tracked{s: first.s}
	tests := []struct {
		name   string
		row    map[string]string
		at     time.Time
		sameAs bool
	}{
		{"same second later", map[string]string{"uptime": "1h0m10s"}, now.Add(10 * time.Second), true},
		{"rounded one second off", map[string]string{"uptime": "1h0m9s"}, now.Add(10*time.Second + 500*time.Millisecond), true},
		{"another login", map[string]string{"uptime": "5s"}, now.Add(10 * time.Second), false},
		{"other mac", map[string]string{"uptime": "1h", "mac-address": "11:22:33:44:55:66"}, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := map[string]string{}
			for k, v := range row {
				r[k] = v
			}
			for k, v := range tt.row {
				r[k] = v
			}
			cand, _ := sessionFromRow(protocol.KindHotspot, r, tt.at)
			if got := sameSession(known, &cand); got != tt.sameAs {
				t.Fatalf("sameSession = %v, want %v (%v vs %v)", got, tt.sameAs, first.s.StartedAt, cand.s.StartedAt)
			}
		})
	}
	ppp, ok := sessionFromRow(protocol.KindPPPoE, map[string]string{".id": "*80000001", "name": "bob", "session-id": "0x81", "uptime": "5m", "caller-id": "AA:AA:AA:AA:AA:AA"}, now)
	if !ok || ppp.s.Key != protocol.PPPKey("bob", "0x81") || ppp.s.MAC != "AA:AA:AA:AA:AA:AA" {
		t.Fatalf("ppp session = %+v", ppp)
	}
}

// A wall-clock step while the agent runs (NTP on a router without an RTC)
// must not turn every hotspot session into an end and a start: sightings
// from this process are compared on the monotonic clock.
func TestSessionIdentitySurvivesWallClockStep(t *testing.T) {
	row := map[string]string{".id": "*A", "user": "alice", "mac-address": "AA:BB:CC:DD:EE:FF", "uptime": "10m"}
	mono := time.Now() // carries a monotonic reading
	first, _ := sessionFromRow(protocol.KindHotspot, row, mono)
	known := &tracked{s: first.s, loginRef: first.ref}

	row["uptime"] = "10m30s"
	later, _ := sessionFromRow(protocol.KindHotspot, row, mono.Add(30*time.Second))
	// The wall clock jumped by an hour in between: the wall-clock login
	// times disagree, the monotonic references do not.
	later.s.StartedAt = later.s.StartedAt.Add(time.Hour)
	if !sameSession(known, &later) {
		t.Fatal("a wall-clock step split one session in two")
	}
	row["uptime"] = "1s"
	relogin, _ := sessionFromRow(protocol.KindHotspot, row, mono.Add(31*time.Second))
	if sameSession(known, &relogin) {
		t.Fatal("a new login matched the old session")
	}
}

func TestSplitBatches(t *testing.T) {
	big := strings.Repeat("x", 900)
	var evs []storedEvent
	for i := range 2500 {
		s := testSession(i)
		s.Address = big
		e := &protocol.Event{Seq: uint64(i + 1), TS: time.Unix(1700000000, 0).UTC(), Type: protocol.EventSessionUpdated, Session: &s}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, storedEvent{seq: e.Seq, body: b})
	}
	for _, n := range []int{1, 10, 1000, 2500} {
		// prev 5 is above the first seq (an ack recorded meanwhile): capped.
		bs := splitBatches("r1", "0123456789abcdef", 5, evs[:n])
		next := uint64(1)
		wantPrev := uint64(0)
		for _, b := range bs {
			if len(b.payload) > protocol.MaxPayloadSize {
				t.Fatalf("n=%d: payload %d bytes over the limit", n, len(b.payload))
			}
			d, err := protocol.DecodeEventBatch(b.payload)
			if err != nil {
				t.Fatalf("n=%d: batch does not decode: %v", n, err)
			}
			if d.Epoch != "0123456789abcdef" || d.Prev != wantPrev {
				t.Fatalf("n=%d: epoch %q prev %d, want prev %d", n, d.Epoch, d.Prev, wantPrev)
			}
			wantPrev = b.to
			if d.Events[0].Seq != next || b.from != next || b.to != d.Events[len(d.Events)-1].Seq || b.n != len(d.Events) {
				t.Fatalf("n=%d: batch %d..%d (%d) starts at %d, want %d", n, b.from, b.to, b.n, d.Events[0].Seq, next)
			}
			next = b.to + 1
		}
		if next != uint64(n+1) {
			t.Fatalf("n=%d: batches end at %d", n, next-1)
		}
	}
}
