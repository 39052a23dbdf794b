package broker

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/ingest"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// BenchmarkTCPIngest measures events/s from paho agents over loopback TCP
// through the broker, ingest and the store: each agent publishes batches
// of benchBatch events at QoS 1 and waits for each PUBACK, like an agent
// draining its outbox. One b.N is one batch. Run with a fixed count, e.g.
//
//	go test -run '^$' -bench TCPIngest -benchtime 400x ./controlplane/broker/
func BenchmarkTCPIngest(b *testing.B) {
	const agents, benchBatch = 20, 50
	for _, d := range testkit.Dialects {
		b.Run(d, func(b *testing.B) {
			st := openStore(b, d)
			reg := prometheus.NewRegistry()
			bus := &controlplane.Bus{}
			drain(b, bus)
			in, err := ingest.New(ingest.Options{Store: st, Bus: bus})
			if err != nil {
				b.Fatal(err)
			}
			tb := startBrokerOn(b, newCredentialsOn(b, st), in, reg, &testkit.LogBuffer{}, nil)
			type agentSeq struct {
				a   *agent
				seq int
			}
			as := make([]*agentSeq, agents)
			for i := range as {
				id, secret := tb.creds.create(b)
				as[i] = &agentSeq{a: dialAgent(b, tb.Addr(), id, secret)}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for _, s := range as {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						p := eventsPayload(b, s.a.id, s.seq+1, s.seq+benchBatch)
						s.seq += benchBatch
						if err := s.a.publish(protocol.EventsTopic(s.a.id), p); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N*benchBatch)/elapsed.Seconds(), "events/s")
		})
	}
}

// drain keeps a bus subscriber reading, as the realtime hub would.
func drain(tb testing.TB, bus *controlplane.Bus) {
	sub := bus.Subscribe(1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sub.C {
		}
	}()
	tb.Cleanup(func() { sub.Close(); <-done })
}
