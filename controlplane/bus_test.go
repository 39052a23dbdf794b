package controlplane

import (
	"testing"
	"testing/synctest"
)

func TestBusDeliversInOrderToEverySubscriber(t *testing.T) {
	var b Bus
	s1, s2 := b.Subscribe(10), b.Subscribe(10)
	defer s1.Close()
	defer s2.Close()
	b.Publish(SessionStarted{Session{TenantID: 1, Key: "a"}}, SessionStarted{Session{TenantID: 1, Key: "b"}})
	for _, s := range []*BusSubscription{s1, s2} {
		for _, want := range []string{"a", "b"} {
			got := (<-s.C).(SessionStarted).Session.Key
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	}
}

// Concurrent Publish calls never interleave: a BatchApplied is followed
// by exactly its own changes.
func TestBusKeepsEachPublishContiguous(t *testing.T) {
	var b Bus
	s := b.Subscribe(0) // unbuffered: publishers block mid-call, inviting interleaving
	defer s.Close()
	const publishers, calls, size = 4, 50, 5
	for p := 0; p < publishers; p++ {
		go func() {
			for c := 0; c < calls; c++ {
				batch := []Change{BatchApplied{TenantID: int64(p), Changes: size}}
				for i := 0; i < size; i++ {
					batch = append(batch, SessionStarted{Session{TenantID: int64(p)}})
				}
				b.Publish(batch...)
			}
		}()
	}
	for n := 0; n < publishers*calls; n++ {
		head, ok := (<-s.C).(BatchApplied)
		if !ok {
			t.Fatalf("call %d does not start with its BatchApplied", n)
		}
		for i := 0; i < head.Changes; i++ {
			if c := <-s.C; c.ChangeTenant() != head.TenantID {
				t.Fatalf("publisher %d's change inside publisher %d's call", c.ChangeTenant(), head.TenantID)
			}
		}
	}
}

// A Publish blocked on a full subscriber returns once it closes. In a
// synctest bubble, Wait returns when the publisher is durably blocked, so
// the test checks that it was blocked, not merely that it ended.
func TestBusCloseUnblocksPublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b Bus
		s := b.Subscribe(0)
		done := make(chan struct{})
		go func() {
			b.Publish(TenantCreated{Tenant{ID: 1}})
			close(done)
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Publish returned with nobody reading the subscription")
		default:
		}
		s.Close()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Publish still blocked after the subscriber closed")
		}
		if _, ok := <-s.C; ok {
			t.Fatal("C not closed after Close")
		}
	})
}

func TestPrincipalScope(t *testing.T) {
	admin := Principal{Role: RoleSystemAdmin, TenantID: 5}
	viewer := Principal{Role: RoleViewer, TenantID: 5}
	if admin.Scope() != 0 || viewer.Scope() != 5 {
		t.Fatalf("scope: admin %d viewer %d", admin.Scope(), viewer.Scope())
	}
	if viewer.CanMutate() || !admin.CanMutate() || (Principal{Role: RoleTechnician}).CanManage() {
		t.Fatal("role permissions wrong")
	}
}
