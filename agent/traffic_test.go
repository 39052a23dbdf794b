package agent

import (
	"testing"
	"time"
)

func TestTrafficRates(t *testing.T) {
	var r router
	t0 := time.Unix(1000, 0)
	if rx, tx := r.takeRates(t0); rx != 0 || tx != 0 {
		t.Fatalf("first call: got %v/%v, want 0/0", rx, tx)
	}
	r.countTraffic([4]uint64{100, 1000}, [4]uint64{1100, 3000}) // +1000 in, +2000 out
	r.countTraffic([4]uint64{500, 500}, [4]uint64{400, 1500})   // in went backwards: reset counts nothing
	rx, tx := r.takeRates(t0.Add(10 * time.Second))
	if rx != 1000*8/10.0 || tx != 3000*8/10.0 {
		t.Fatalf("rates: got rx %v tx %v, want %v %v", rx, tx, 800.0, 2400.0)
	}
	if rx, tx := r.takeRates(t0.Add(20 * time.Second)); rx != 0 || tx != 0 {
		t.Fatalf("after reset: got %v/%v, want 0/0", rx, tx)
	}
}
