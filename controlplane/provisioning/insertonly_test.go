package provisioning

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane/store"
)

// jobStates lists the states of the tenant_activate jobs in river_job.
func (e *env) jobStates() []string {
	e.t.Helper()
	rows, err := e.st.DB().QueryContext(context.Background(), `SELECT state FROM river_job WHERE kind = '`+KindTenantActivate+`' ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// An insert-only service commits its jobs with its changes but runs none;
// a service with workers on the same database runs them.
func TestInsertOnly(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		e := newEnv(t, so, Options{InsertOnly: true}, true)
		ctx := context.Background()
		tn, err := e.svc.CreateTenant(ctx, "ISP insert-only", nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := e.activationJobs(tn.ID); n != 1 {
			t.Fatalf("%d activation jobs, want 1", n)
		}
		if got := e.jobStates(); len(got) != 1 || got[0] != "available" {
			t.Fatalf("job states = %v, want [available] (nobody runs jobs)", got)
		}
		workers, err := New(Options{Store: e.st, Bus: e.bus, Now: e.clock.Now, Logger: e.svc.log, JobPollInterval: 50 * time.Millisecond, DisablePeriodic: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := workers.Start(ctx, e.br); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = workers.Close(ctx)
		})
		e.waitFor("the workers' process completes the activation", func() bool {
			got := e.jobStates()
			return len(got) == 1 && got[0] == "completed"
		})
	})
}

func TestQueueWorkers(t *testing.T) {
	eachStore(t, func(t *testing.T, so store.Options) {
		newEnv(t, so, Options{QueueWorkers: map[string]int{QueueProvisioning: 2, QueueTenantManagement: 1}}, false)
		e := newEnv(t, so, Options{}, false)
		for q, want := range map[string]string{"nope": "known: maintenance, provisioning, tenant-management", QueueProvisioning: "at least 1"} {
			n := 3
			if q == QueueProvisioning {
				n = 0
			}
			_, err := New(Options{Store: e.st, Bus: e.bus, QueueWorkers: map[string]int{q: n}})
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("QueueWorkers{%s: %d}: err = %v, want it to contain %q", q, n, err, want)
			}
		}
	})
}
