package agent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

func benchSession(i int) protocol.Session {
	s := testSession(i % 10_000)
	s.Address = fmt.Sprintf("10.5.%d.%d", (i/250)%250, 2+i%250)
	s.MAC = "02:00:00:00:12:34"
	s.Service = "hotspot1"
	s.LoginBy = "http-chap"
	s.BytesIn, s.BytesOut, s.PacketsIn, s.PacketsOut = uint64(i)*1500, uint64(i)*9000, uint64(i), uint64(i)*7
	return s
}

// BenchmarkOutboxWrite measures recording events with group commit, from
// record to committed (the final flush is inside the timer): events alone,
// and events with the session-state upsert the router records with each
// session event.
func BenchmarkOutboxWrite(b *testing.B) {
	for _, withState := range []bool{false, true} {
		name := "event"
		if withState {
			name = "event+state"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			ob := openTestOutbox(b, b.TempDir(), outboxConfig{MaxEvents: 10_000_000, MaxBytes: 1 << 40})
			now := time.Now().UTC()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				s := benchSession(i)
				c := change{event: &protocol.Event{TS: now, Type: protocol.EventSessionUpdated, Session: &s}}
				if withState {
					c.upsert = &s
				}
				if err := ob.record(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			if err := ob.flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkOutboxReplay measures reading the outbox oldest-first and
// packing it into batches, as the uplink does after a reconnect.
func BenchmarkOutboxReplay(b *testing.B) {
	ctx := context.Background()
	ob := openTestOutbox(b, b.TempDir(), outboxConfig{MaxEvents: 10_000_000, MaxBytes: 1 << 40})
	const n = 20_000
	now := time.Now().UTC()
	for i := range n {
		s := benchSession(i)
		if err := ob.record(ctx, change{event: &protocol.Event{TS: now, Type: protocol.EventSessionUpdated, Session: &s}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := ob.flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		var after uint64
		got := 0
		for {
			evs, err := ob.pending(ctx, after, protocol.MaxEventsPerBatch)
			if err != nil {
				b.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			for _, bt := range splitBatches("r1", "0123456789abcdef", 0, evs) {
				got += bt.n
			}
			after = evs[len(evs)-1].seq
		}
		if got != n {
			b.Fatalf("replayed %d events, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "events/s")
}
