package radius

import (
	"context"
	"net"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

func TestServeStopsOnCancelAndClosesSockets(t *testing.T) {
	s, err := NewServer(Config{AuthAddr: "127.0.0.1:0", AcctAddr: "127.0.0.1:0", Secret: testSecret, Decider: &fakeDecider{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	auth, acct := s.AuthAddr().String(), s.AcctAddr().String()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	for _, a := range []string{auth, acct} {
		pc, err := net.ListenPacket("udp", a)
		if err != nil {
			t.Errorf("%s still bound: %v", a, err)
			continue
		}
		pc.Close()
	}
	if err := s.Serve(context.Background()); err == nil {
		t.Error("second Serve accepted")
	}
}

func TestServeListensByItself(t *testing.T) {
	dec := &fakeDecider{}
	dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})
	s, err := NewServer(Config{AuthAddr: "127.0.0.1:0", Secret: testSecret, Decider: dec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Serve(ctx) }()
	testkit.Eventually(t, 0, "the auth socket", func() bool { return s.AuthAddr() != nil })
	if s.AcctAddr() != nil {
		t.Error("accounting listening though disabled")
	}
	if resp := exchange(t, papRequest(t, "alice", testPassword), s.AuthAddr()); resp.Code != radius.CodeAccessAccept {
		t.Errorf("got %v", resp.Code)
	}
}

func TestMetricsRegistered(t *testing.T) {
	s := startServer(t, nil)
	s.dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})
	for range 3 {
		exchange(t, papRequest(t, "alice", testPassword), s.AuthAddr())
	}
	c := dialRaw(t, s.AuthAddr())
	c.send([]byte("junk"))
	testkit.Eventually(t, 0, "the drop", func() bool { return s.dropped(dropMalformed) == 1 })

	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		found[mf.GetName()] = true
		if mf.GetName() == "sitepulse_agent_radius_access_duration_seconds" {
			if n := mf.GetMetric()[0].GetHistogram().GetSampleCount(); n != 3 {
				t.Errorf("latency samples %d, want 3", n)
			}
		}
	}
	for _, name := range []string{"sitepulse_agent_radius_requests_total", "sitepulse_agent_radius_dropped_total",
		"sitepulse_agent_radius_access_duration_seconds"} {
		if !found[name] {
			t.Errorf("%s not registered", name)
		}
	}
}

func TestDeciderPanicCostsOnlyItsRequest(t *testing.T) {
	s := startServer(t, nil)
	s.dec.add(protocol.KindHotspot, "alice", Secret{Password: testPassword})
	s.dec.add(protocol.KindHotspot, "boom", Secret{Password: testPassword})
	s.dec.set(func(f *fakeDecider) {
		f.decide = func(r Request) Decision {
			if r.User == "boom" {
				panic("decider bug")
			}
			return Decision{Accept: true}
		}
	})
	c := dialRaw(t, s.AuthAddr())
	c.send(encode(t, papRequest(t, "boom", testPassword)))
	testkit.Eventually(t, 0, "the panic counted", func() bool { return s.dropped(dropInternal) == 1 })
	if resp := exchange(t, papRequest(t, "alice", testPassword), s.AuthAddr()); resp.Code != radius.CodeAccessAccept {
		t.Errorf("after a panic: %v", resp.Code)
	}
}
