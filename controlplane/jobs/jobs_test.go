package jobs_test

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane/jobs"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

type echoArgs struct {
	N int `json:"n"`
}

func (echoArgs) Kind() string { return "test_echo" }

func (echoArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: "work", MaxAttempts: 1} }

type tickArgs struct{}

func (tickArgs) Kind() string { return "test_tick" }

func (tickArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: "ticks", MaxAttempts: 1}
}

// TestClient runs functions registered with Add on their queues, a
// periodic job from Every at start, jobs inserted with InsertTx once their
// transaction commits, and reports outcomes through Count and failures
// through Failed.
func TestClient(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, db testkit.Database) {
		ctx := context.Background()
		log := &testkit.LogBuffer{}
		st, err := store.Open(ctx, store.Options{DataDir: db.Dir, DatabaseURL: db.URL, PasswordIterations: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()

		var mu sync.Mutex
		seen := map[int]bool{}
		ticks := 0
		outcomes := map[string]int{}
		ws := river.NewWorkers()
		jobs.Add(ws, func(ctx context.Context, j *river.Job[echoArgs]) error {
			mu.Lock()
			defer mu.Unlock()
			seen[j.Args.N] = true
			if j.Args.N < 0 {
				return errors.New("negative on purpose")
			}
			return nil
		})
		jobs.Add(ws, func(ctx context.Context, j *river.Job[tickArgs]) error {
			mu.Lock()
			defer mu.Unlock()
			ticks++
			return nil
		})
		c, err := jobs.NewClient(jobs.Config{
			Store: st, Logger: log.Logger(), Workers: ws,
			Queues:       map[string]int{"work": 2, "ticks": 0},
			Periodic:     []*river.PeriodicJob{jobs.Every(time.Hour, tickArgs{})},
			PollInterval: 50 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := c.Stop(sctx); err != nil {
				t.Error(err)
			}
		}()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go jobs.Count(cctx, c, func(queue, kind, outcome string) {
			mu.Lock()
			defer mu.Unlock()
			outcomes[queue+"/"+kind+"/"+outcome]++
		})

		// A rolled-back transaction inserts nothing.
		rollback := errors.New("roll back")
		if err := st.Write(ctx, func(tx *store.Tx) error {
			if err := jobs.InsertTx(ctx, c, tx, echoArgs{N: 7}); err != nil {
				return err
			}
			return rollback
		}); !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		if err := st.Write(ctx, func(tx *store.Tx) error {
			return jobs.InsertTx(ctx, c, tx, echoArgs{N: 1}, echoArgs{N: -1})
		}); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 20*time.Second, "both jobs counted and the tick run", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return outcomes["work/test_echo/completed"] == 1 && outcomes["work/test_echo/discarded"] == 1 && ticks == 1
		})
		mu.Lock()
		if seen[7] {
			t.Error("the job of a rolled-back transaction ran")
		}
		mu.Unlock()

		failed, err := jobs.Failed(ctx, c, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) != 1 || failed[0].Kind != "test_echo" || failed[0].Queue != "work" || failed[0].State != "discarded" ||
			failed[0].Error != "negative on purpose" || failed[0].Args != `{"n": -1}` && failed[0].Args != `{"n":-1}` {
			t.Errorf("Failed = %+v, want the one discarded echo job", failed)
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(jobs.FailedCollector(st, "work", "idle"))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		gauges := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				gauges[mf.GetName()+" "+l["queue"]+"/"+l["state"]] = m.GetGauge().GetValue()
			}
		}
		want := map[string]float64{
			"sitepulse_jobs_failed work/discarded": 1, "sitepulse_jobs_failed work/retryable": 0,
			"sitepulse_jobs_failed idle/discarded": 0, "sitepulse_jobs_failed idle/retryable": 0,
		}
		if !maps.Equal(gauges, want) {
			t.Errorf("FailedCollector = %v, want %v", gauges, want)
		}
		testkit.Eventually(t, 5*time.Second, "the failure logged", func() bool {
			return log.Contains("job failed") && log.Contains("negative on purpose")
		})
	})
}
