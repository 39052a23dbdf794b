package cluster

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// batch returns router r's batch prev→last with one change naming it.
func batch(r string, prev, last uint64) *group {
	return &group{
		head:    controlplane.BatchApplied{TenantID: 7, RouterID: r, Prev: prev, Last: last, Changes: 1},
		changes: []controlplane.Change{controlplane.SessionStarted{Session: controlplane.Session{TenantID: 7, RouterID: r, Key: fmt.Sprintf("%d-%d", prev, last)}}},
	}
}

// names renders changes as "r:prev-last" and "gap".
func names(chs []controlplane.Change) []string {
	out := []string{}
	for _, ch := range chs {
		switch c := ch.(type) {
		case controlplane.SessionStarted:
			out = append(out, c.Session.RouterID+":"+c.Session.Key)
		case controlplane.ReplicaGap:
			out = append(out, "gap")
		default:
			out = append(out, fmt.Sprintf("%T", ch))
		}
	}
	return out
}

func TestOrdererDeliversEachRoutersBatchesInCommitOrder(t *testing.T) {
	m, _ := newMetrics(nil)
	// The store had applied a's seqs up to 5 when the replica started.
	o := newOrderer(time.Second, m, []controlplane.Router{{ID: "a", LastSeq: 5}, {ID: "never-sent"}})
	t0 := time.Unix(1000, 0)
	steps := []struct {
		add  *group
		at   time.Duration
		want []string
	}{
		{batch("a", 5, 6), 0, []string{"a:5-6"}},                                              // the first batch of a router: nothing older known
		{batch("a", 6, 9), 0, []string{"a:6-9"}},                                              // follows on
		{batch("a", 10, 11), 0, []string{}},                                                   // 9→10 missing: held
		{batch("b", 0, 1), 0, []string{"b:0-1"}},                                              // other routers are not held up
		{batch("a", 11, 12), 0, []string{}},                                                   // still missing
		{batch("a", 9, 10), 100 * time.Millisecond, []string{"a:9-10", "a:10-11", "a:11-12"}}, // arrives: all three in order
		{batch("a", 12, 13), 0, []string{"a:12-13"}},
		{batch("a", 6, 9), 0, []string{"gap", "a:6-9"}}, // older than what was delivered: late, behind a gap
	}
	for i, s := range steps {
		got := names(o.add(s.add, t0.Add(s.at)))
		if !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d: delivered %v, want %v", i, got, s.want)
		}
	}
	if o.holding() {
		t.Fatal("still holding batches")
	}

	// The agent's seqs restart under a new epoch: a new chain, and what was
	// held of the old one is let go behind a gap.
	o.add(batch("a", 20, 21), t0)
	g := batch("a", 0, 2)
	g.head.Epoch = "e2"
	if got, want := names(o.add(g, t0)), []string{"gap", "a:20-21", "a:0-2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("new epoch: delivered %v, want %v", got, want)
	}
	g = batch("a", 2, 3)
	g.head.Epoch = "e2"
	if got, want := names(o.add(g, t0)), []string{"a:2-3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("new epoch continues: delivered %v, want %v", got, want)
	}
}

func TestOrdererGivesUpOnAMissingBatchAfterHold(t *testing.T) {
	m, _ := newMetrics(nil)
	o := newOrderer(time.Second, m, nil)
	t0 := time.Unix(1000, 0)
	o.add(batch("a", 0, 1), t0)
	if got := o.add(batch("a", 2, 3), t0); len(got) != 0 {
		t.Fatalf("delivered %v before its predecessor", names(got))
	}
	o.add(batch("a", 5, 6), t0.Add(500*time.Millisecond)) // a second hole
	if got := o.expire(t0.Add(999 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("expired %v before hold", names(got))
	}
	// 1→2 is given up on; 5→6 has its own hold.
	if got, want := names(o.expire(t0.Add(time.Second))), []string{"gap", "a:2-3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("expired %v, want %v", got, want)
	}
	if got := o.add(batch("a", 3, 5), t0.Add(1100*time.Millisecond)); !reflect.DeepEqual(names(got), []string{"a:3-5", "a:5-6"}) {
		t.Fatalf("delivered %v, want the filled hole and what it unblocked", names(got))
	}
	if got, want := names(o.add(batch("a", 1, 2), t0.Add(2*time.Second))), []string{"gap", "a:1-2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("the batch given up on arrived late: %v, want %v", got, want)
	}
	if o.holding() {
		t.Fatal("still holding batches")
	}
}
