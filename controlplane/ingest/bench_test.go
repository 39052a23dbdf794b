package ingest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// BenchmarkIngest1000Routers measures events/s through HandleMessage (the
// path the broker calls before each PUBACK) for 1,000 routers, on SQLite
// and PostgreSQL. One b.N is one batch of benchBatch events (a mix of
// starts, counter updates and ends) for the next router; up to 16 ×
// GOMAXPROCS batches are in flight, one at a time per router, as the broker
// processes each connection in order. Run with a fixed count, e.g.
//
//	go test -run '^$' -bench Ingest1000 -benchtime 2000x ./controlplane/ingest/
func BenchmarkIngest1000Routers(b *testing.B) {
	const routers, benchBatch = 1000, 50
	for _, d := range dialects {
		b.Run(d, func(b *testing.B) {
			st := openStore(b, d)
			ctx := context.Background()
			ten, err := st.CreateTenant(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			type benchRouter struct {
				mu  sync.Mutex
				id  string
				seq int
			}
			rs := make([]*benchRouter, routers)
			for i := range rs {
				r, _, err := st.CreateRouter(ctx, ten.ID, fmt.Sprintf("router %d", i), "site")
				if err != nil {
					b.Fatal(err)
				}
				rs[i] = &benchRouter{id: r.ID}
			}
			bus := &controlplane.Bus{}
			sub := bus.Subscribe(4096)
			go func() {
				for range sub.C {
				}
			}()
			defer sub.Close()
			in, err := New(Options{Store: st, Bus: bus})
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := rs[next.Add(1)%routers]
					r.mu.Lock()
					p, err := protocol.Encode(lifecycle(r.id, r.seq+1, r.seq+benchBatch))
					if err == nil {
						r.seq += benchBatch
						err = in.HandleMessage(ctx, protocol.EventsTopic(r.id), p)
					}
					r.mu.Unlock()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N*benchBatch)/elapsed.Seconds(), "events/s")
		})
	}
}
