package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

const (
	benchRouters   = 1000
	benchBatch     = 50 // events per batch: 5 ended, 5 started, 40 updated
	benchLivePerRt = 10 // live sessions per router in steady state
)

// benchRouter is one simulated agent: its seq and live sessions.
type benchRouter struct {
	mu   sync.Mutex
	ag   agent
	live []protocol.Session
	next int // sessions made so far, for unique users
}

func (r *benchRouter) session() protocol.Session {
	r.next++
	return hotspot(fmt.Sprintf("%s-u%d", r.ag.router, r.next), 1)
}

// steadyBatch returns a batch that ends the five oldest sessions, starts
// five, and updates the live ones' counters 40 times.
func (r *benchRouter) steadyBatch() *protocol.EventBatch {
	evs := make([]protocol.Event, 0, benchBatch)
	for _, v := range r.live[:5] {
		evs = append(evs, r.ag.ended(v, protocol.EndLogout))
	}
	r.live = append(r.live[:0], r.live[5:]...)
	for range 5 {
		v := r.session()
		r.live = append(r.live, v)
		evs = append(evs, r.ag.started(v))
	}
	for i := 0; len(evs) < benchBatch; i++ {
		v := &r.live[i%len(r.live)]
		v.BytesIn += 1500
		v.BytesOut += 9000
		evs = append(evs, r.ag.updated(*v))
	}
	return r.ag.batch(evs...)
}

// BenchmarkApplyBatch measures ingest throughput: batches of 50 events
// (5 ended, 5 started, 40 updated) round-robin over 1,000 routers with 10
// live sessions each, on both dialects; on PostgreSQL also from several
// goroutines, as concurrent MQTT deliveries would. It reports events/s.
//
//	go test -run '^$' -bench ApplyBatch ./controlplane/store/
func BenchmarkApplyBatch(b *testing.B) {
	pgURL := testDatabase(b)
	for _, dialect := range []string{DialectSQLite, DialectPostgres} {
		if dialect == DialectPostgres && pgURL == "" {
			b.Log("SITEPULSE_TEST_DATABASE_URL is not set: skipping postgres")
			continue
		}
		o := Options{DataDir: b.TempDir(), PasswordIterations: 1000}
		if dialect == DialectPostgres {
			o = Options{DatabaseURL: pgURL, PasswordIterations: 1000}
		}
		s, routers := benchSetup(b, o)
		b.Run(dialect, func(b *testing.B) {
			n := 0
			for b.Loop() {
				n++
				benchApply(b, s, routers[n%benchRouters])
			}
			b.ReportMetric(float64(n*benchBatch)/b.Elapsed().Seconds(), "events/s")
		})
		if dialect == DialectPostgres {
			b.Run(dialect+"/parallel", func(b *testing.B) {
				b.SetParallelism(2) // 2×GOMAXPROCS goroutines
				var n atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						benchApply(b, s, routers[int(n.Add(1))%benchRouters])
					}
				})
				b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
			})
		}
		s.Close()
	}
}

func benchApply(b *testing.B, s *Store, r *benchRouter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, err := s.ApplyBatch(context.Background(), r.steadyBatch())
	if err != nil {
		b.Fatal(err)
	}
	if a.Applied != benchBatch {
		b.Fatalf("applied %d of %d", a.Applied, benchBatch)
	}
}

// benchSetup opens a store with 1,000 routers in 10 tenants, each with its
// steady-state live sessions.
func benchSetup(b *testing.B, o Options) (*Store, []*benchRouter) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	s, err := Open(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	routers := make([]*benchRouter, benchRouters)
	var tenant int64
	for i := range routers {
		if i%100 == 0 {
			t, err := s.CreateTenant(ctx, fmt.Sprintf("tenant %d", i/100))
			if err != nil {
				b.Fatal(err)
			}
			tenant = t.ID
		}
		r, _, err := s.CreateRouter(ctx, tenant, fmt.Sprintf("router %d", i), "")
		if err != nil {
			b.Fatal(err)
		}
		br := &benchRouter{ag: agent{router: r.ID}}
		evs := make([]protocol.Event, 0, benchLivePerRt)
		for range benchLivePerRt {
			v := br.session()
			br.live = append(br.live, v)
			evs = append(evs, br.ag.started(v))
		}
		if _, err := s.ApplyBatch(ctx, br.ag.batch(evs...)); err != nil {
			b.Fatal(err)
		}
		routers[i] = br
	}
	b.Logf("%s setup: %d routers, %d live sessions in %v", s.Dialect(), benchRouters, benchRouters*benchLivePerRt,
		time.Since(start).Round(time.Millisecond))
	return s, routers
}
