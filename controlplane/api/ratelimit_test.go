package api

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(5, 5, func() time.Time { return now })
	for i := range 5 {
		if ok, _ := l.allow("k"); !ok {
			t.Fatalf("attempt %d refused within the burst", i+1)
		}
	}
	ok, wait := l.allow("k")
	if ok || wait <= 0 || wait > 12*time.Second {
		t.Fatalf("6th attempt: ok %v wait %v, want refused with wait in (0, 12s]", ok, wait)
	}
	if ok, _ := l.allow("other"); !ok {
		t.Fatal("another key shares the bucket")
	}
	now = now.Add(12 * time.Second)
	if ok, _ := l.allow("k"); !ok {
		t.Fatal("no token after 12 s at 5/min")
	}
	if ok, _ := l.allow("k"); ok {
		t.Fatal("two tokens after 12 s at 5/min")
	}
	// Full buckets are forgotten after a sweep.
	now = now.Add(2 * time.Minute)
	l.allow("fresh")
	if _, ok := l.buckets["k"]; ok {
		t.Fatal("refilled bucket not swept")
	}
}
