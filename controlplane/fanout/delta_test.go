package fanout

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// updatedSessions decodes a SessionUpdated's list as generic objects, so a
// test sees which fields were sent.
func updatedSessions(t *testing.T, f wsFrame) []map[string]json.RawMessage {
	t.Helper()
	var d struct {
		Sessions []map[string]json.RawMessage `json:"sessions"`
	}
	f.decode(t, &d)
	return d.Sessions
}

func TestSessionUpdatedSendsOnlyWhatChanged(t *testing.T) {
	h, _ := newTestHub(t, nil)
	c := dial(t, h)
	c.subscribeOK(TenantChannel(1, "sessions"), "")
	f := New(h, Options{Epoch: "e1"})
	a := hotspotSession(1, "alice", "AA:BB:CC:00:00:01", 100)
	idle := hotspotSession(1, "idle", "AA:BB:CC:00:00:02", 100)
	f.Apply(controlplane.SessionStarted{Session: a})
	f.Apply(controlplane.SessionStarted{Session: idle})
	c.expect(EventSessionStarted)
	c.expect(EventSessionStarted)

	// a moves on bytes_in only; idle is re-reported with the same counters.
	a.BytesIn, a.UpdatedAt = 5000, a.UpdatedAt.Add(time.Second)
	idle.UpdatedAt = idle.UpdatedAt.Add(time.Second)
	f.Apply(controlplane.SessionUpdated{Session: a})
	f.Apply(controlplane.SessionUpdated{Session: idle})
	f.Flush()
	list := updatedSessions(t, c.expect(EventSessionUpdated))
	if len(list) != 1 {
		t.Fatalf("SessionUpdated has %d sessions, want only the one that moved", len(list))
	}
	got := list[0]
	for _, k := range []string{"id", "router_id", "key", "kind", "updated_at", "bytes_in"} {
		if _, ok := got[k]; !ok {
			t.Errorf("delta lacks %q: %v", k, got)
		}
	}
	for _, k := range []string{"bytes_out", "packets_in", "user", "address", "mac", "started_at"} {
		if v, ok := got[k]; ok {
			t.Errorf("delta carries unchanged %q = %s", k, v)
		}
	}
	if string(got["bytes_in"]) != "5000" {
		t.Errorf("bytes_in = %s, want 5000", got["bytes_in"])
	}

	// Nothing moved: nothing is published.
	idle.UpdatedAt = idle.UpdatedAt.Add(time.Second)
	f.Apply(controlplane.SessionUpdated{Session: idle})
	f.Flush()
	c.alive()

	// The delta is against what was last sent, not against the start.
	a.BytesOut, a.UpdatedAt = 77, a.UpdatedAt.Add(time.Second)
	f.Apply(controlplane.SessionUpdated{Session: a})
	f.Flush()
	got = updatedSessions(t, c.expect(EventSessionUpdated))[0]
	if _, ok := got["bytes_in"]; ok || string(got["bytes_out"]) != "77" {
		t.Errorf("second delta = %v, want bytes_out 77 and no bytes_in", got)
	}

	// A session the fan-out never broadcast (live before a restart) is
	// sent whole.
	f2 := New(h, Options{})
	b := hotspotSession(1, "bob", "AA:BB:CC:00:00:03", 0)
	f2.Seed([]controlplane.Session{b}, nil)
	b.BytesIn = 9
	f2.Apply(controlplane.SessionUpdated{Session: b})
	f2.Flush()
	got = updatedSessions(t, c.expect(EventSessionUpdated))[0]
	for _, k := range []string{"bytes_in", "bytes_out", "packets_in", "packets_out", "user", "started_at"} {
		if _, ok := got[k]; !ok {
			t.Errorf("full update lacks %q: %v", k, got)
		}
	}
}

// Counters above 2^53 survive exactly: one encoding from the struct to the
// frame, no float64 on the way (2^60+1 is not a float64).
func TestCountersStayExactIntegers(t *testing.T) {
	h, _ := newTestHub(t, nil)
	c := dial(t, h)
	c.subscribeOK(TenantChannel(1, "sessions"), "")
	f := New(h, Options{})
	const big = uint64(1)<<60 + 1
	s := hotspotSession(1, "alice", "AA:BB:CC:00:00:01", 1)
	s.BytesIn, s.PacketsOut = big, big
	f.Apply(controlplane.SessionStarted{Session: s})
	started := c.expect(EventSessionStarted)
	s.BytesIn, s.UpdatedAt = big+2, s.UpdatedAt.Add(time.Second)
	f.Apply(controlplane.SessionUpdated{Session: s})
	f.Flush()
	updated := c.expect(EventSessionUpdated)
	for _, tt := range []struct {
		f    wsFrame
		want string
	}{
		{started, `"bytes_in":1152921504606846977`},
		{started, `"packets_out":1152921504606846977`},
		{updated, `"bytes_in":1152921504606846979`},
	} {
		if !strings.Contains(string(tt.f.Data), tt.want) {
			t.Errorf("%s data %s: want %s", tt.f.Event, tt.f.Data, tt.want)
		}
	}
	// The slow path (a payload with a key the scrub must look at) is exact
	// too.
	data, ok := f.encodePayload("X", map[string]any{"phone": "+254712345678", "n": big}, 3)
	if !ok || !strings.Contains(string(data), `"n":1152921504606846977`) || strings.Contains(string(data), "712345678") {
		t.Errorf("scrubbed payload %s: want exact n and a masked phone", data)
	}
}

func TestEventsCarrySeqAndEpoch(t *testing.T) {
	h, _ := newTestHub(t, nil)
	c := dial(t, h)
	c.subscribeOK(TenantChannel(1, "sessions"), "")
	f := New(h, Options{Epoch: "abc123"})
	f.Apply(controlplane.SessionStarted{Session: hotspotSession(1, "alice", "AA:BB:CC:00:00:01", 1)})
	var d struct {
		Seq   uint64 `json:"seq"`
		Epoch string `json:"epoch"`
	}
	c.expect(EventSessionStarted).decode(t, &d)
	if d.Seq != 1 || d.Epoch != "abc123" {
		t.Errorf("seq %d epoch %q, want 1 and abc123", d.Seq, d.Epoch)
	}
	if a, b := New(h, Options{}).epoch, New(h, Options{}).epoch; a == b || a == "" {
		t.Errorf("two processes' epochs %q and %q, want distinct random ids", a, b)
	}
}

func TestHasSensitiveKey(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{`{"user":"a","bytes_in":1}`, false},
		{`{"session":{"id":"x","note":"\"phone\":1"}}`, false},
		{`{"a":{"phone":"+2547"}}`, true},
		{`{"api_token":"x"}`, true},
		{`{"cust\u006fmer_email":"x"}`, true},
		{`{"x":"unterminated`, true},
	} {
		if got := hasSensitiveKey([]byte(tt.in)); got != tt.want {
			t.Errorf("hasSensitiveKey(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// The tick backs off while nothing moves, and the next movement is still
// published within Interval of the last flush.
func TestAdaptiveTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newTestHub(t, nil)
		c := dial(t, h)
		c.subscribeOK(TenantChannel(1, "sessions"), "")
		var bus controlplane.Bus
		f := New(h, Options{Interval: time.Second, MaxInterval: 10 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		sub := bus.Subscribe(16)
		defer sub.Close()
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx, sub.C) }()
		s := hotspotSession(1, "alice", "AA:BB:CC:00:00:01", 1)
		bus.Publish(controlplane.SessionStarted{Session: s})
		synctest.Wait()
		c.expect(EventSessionStarted)
		// A long quiet spell: the tick has backed off to 10 s.
		time.Sleep(time.Minute)
		synctest.Wait()
		c.alive()
		moved := time.Now()
		s.BytesIn, s.UpdatedAt = 99, s.UpdatedAt.Add(time.Minute)
		bus.Publish(controlplane.SessionUpdated{Session: s})
		synctest.Wait()
		for i := 0; i < 2000 && c.pending() == 0; i++ {
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		c.expect(EventSessionUpdated)
		if d := time.Since(moved); d > time.Second {
			t.Errorf("movement published after %v, want within the 1 s interval", d)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

// sensitiveIn reports, the slow way, whether a decoded JSON value has an
// object key that scrubValue would touch.
func sensitiveIn(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if looksSecret(k) || looksPhone(k) || looksEmail(k) || sensitiveIn(val) {
				return true
			}
		}
	case []any:
		for _, val := range t {
			if sensitiveIn(val) {
				return true
			}
		}
	}
	return false
}

// FuzzHasSensitiveKey: the fast key scan never misses a key the scrub
// would act on (it may err on the safe side only for input it cannot
// read), on any JSON text as json.Marshal writes it.
func FuzzHasSensitiveKey(f *testing.F) {
	for _, s := range []string{`{"user":"a"}`, `{"a":{"phone":"1"}}`, `{"x":["\"token\":",{"Email":1}]}`, `{"k\u0065y":"v","password":""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var v any
		if json.Unmarshal([]byte(in), &v) != nil {
			_ = hasSensitiveKey([]byte(in)) // must not panic
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		if sensitiveIn(v) && !hasSensitiveKey(b) {
			t.Fatalf("hasSensitiveKey(%s) = false, but a key is sensitive", b)
		}
	})
}
