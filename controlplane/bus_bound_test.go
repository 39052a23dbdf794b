package controlplane

import (
	"testing"
	"testing/synctest"
	"time"
)

func started(tenant int64, key string) Change {
	return SessionStarted{Session{TenantID: tenant, Key: key}}
}

// A subscriber that never reads costs one Publish at most MaxWait; later
// Publishes queue for it without waiting, and it receives everything, in
// order, once it reads. A subscriber that reads is not held back.
func TestBusBoundsTheWaitForASlowSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := Bus{MaxWait: 2 * time.Second}
		slow, fast := b.Subscribe(1), b.Subscribe(100)
		defer slow.Close()
		defer fast.Close()
		keys := []string{"a", "b", "c", "d", "e"}

		start := time.Now()
		b.Publish(started(1, "a"), started(1, "b")) // "a" fits, "b" waits
		if got := time.Since(start); got != 2*time.Second {
			t.Fatalf("first Publish took %v, want MaxWait 2s", got)
		}
		start = time.Now()
		b.Publish(started(1, "c"), started(1, "d"), started(1, "e"))
		if got := time.Since(start); got != 0 {
			t.Fatalf("Publish with a backlog took %v, want no wait", got)
		}
		if st := b.Stats(); st.Deferred != 4 || st.Dropped != 0 || st.Backlog != 4 {
			t.Fatalf("stats %+v, want 4 deferred, 0 dropped, 4 in backlog", st)
		}
		for _, s := range []*BusSubscription{fast, slow} {
			for _, want := range keys {
				if got := (<-s.C).(SessionStarted).Session.Key; got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
		}
		synctest.Wait() // the feeder has ended
		if st := b.Stats(); st.Backlog != 0 {
			t.Fatalf("backlog %d after draining, want 0", st.Backlog)
		}
		// Drained: the subscriber is waited for again.
		b.Publish(started(1, "f"))
		if got := (<-slow.C).(SessionStarted).Session.Key; got != "f" {
			t.Fatalf("after the backlog: %q, want f", got)
		}
		if st := b.Stats(); st.Deferred != 4 {
			t.Fatalf("deferred %d after the backlog drained, want still 4", st.Deferred)
		}
	})
}

// Past MaxBacklog a Publish is dropped whole for the slow subscriber and
// replaced, at its place, by one ReplicaGap per tenant it concerned.
func TestBusDropsWholePublishesPastTheBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := Bus{MaxWait: time.Second, MaxBacklog: 3}
		s := b.Subscribe(0)
		defer s.Close()
		b.Publish(started(1, "a"), started(1, "b")) // waits 1s; the feeder holds a, the backlog b
		synctest.Wait()
		b.Publish(BatchApplied{TenantID: 2, Changes: 1}, started(2, "x")) // fits: b BA x
		b.Publish(started(3, "y"))                                        // 4 > 3: dropped, a gap for 3
		b.Publish(started(2, "z"), started(3, "w"))                       // dropped, a gap for 2 only
		if st := b.Stats(); st.Dropped != 3 || st.Deferred != 4 {
			t.Fatalf("stats %+v, want 3 dropped, 4 deferred", st)
		}
		want := []Change{started(1, "a"), started(1, "b"), BatchApplied{TenantID: 2, Changes: 1}, started(2, "x"), ReplicaGap{Tenant: 3}, ReplicaGap{Tenant: 2}}
		for i, w := range want {
			if got := <-s.C; got != w {
				t.Fatalf("change %d = %#v, want %#v", i, got, w)
			}
		}
		synctest.Wait()
		select {
		case c := <-s.C:
			t.Fatalf("unexpected %#v", c)
		default:
		}
		if st := b.Stats(); st.Backlog != 0 {
			t.Fatalf("backlog %d, want 0", st.Backlog)
		}
	})
}

// Close while a backlog is being fed ends the feeder and closes C.
func TestBusCloseWithBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := Bus{MaxWait: time.Second}
		s := b.Subscribe(0)
		b.Publish(started(1, "a"), started(1, "b"))
		s.Close()
		for range s.C {
		}
		if st := b.Stats(); st.Backlog != 0 {
			t.Fatalf("backlog %d after Close, want 0", st.Backlog)
		}
		b.Publish(started(1, "c")) // no subscriber: returns
	})
}
