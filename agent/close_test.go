package agent_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

// The disk fills up while the agent runs: every outbox commit fails from
// then on. A graceful stop must still end, Close within the shutdown
// timeout, and say how many events it could not commit.
func TestCloseReturnsWhenCommitsKeepFailing(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	router := startSim(t, sim.Config{})
	addUsers(t, router, "f", 1)
	logs := &testkit.LogBuffer{}
	cfg := testConfig(t, router, br.url(), logs)
	cfg.ShutdownTimeout = 500 * time.Millisecond
	a, err := agent.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	testkit.Eventually(t, 20*time.Second, "the agent's first snapshot at the broker", func() bool {
		return len(rcv.ofType(protocol.EventSnapshot)) > 0
	})

	full := errors.New("database or disk is full (injected)")
	agent.FailCommits(a, func() error { return full })
	if _, err := router.LoginHotspot("f-h-0", mac(1), ip(1)); err != nil {
		t.Fatal(err)
	}
	// A failed commit of the login's event, not only of an ack or a
	// flush mark (on a slow machine those can fail first).
	failedEvent := regexp.MustCompile(`outbox commit failed.* events=[1-9]`)
	testkit.Eventually(t, 0, "a failed outbox commit of an event", func() bool { return failedEvent.MatchString(logs.String()) })

	// The bound: the shutdown timeout, once for Run's flush and once for
	// Close, plus slack for a loaded machine.
	bound := 2*cfg.ShutdownTimeout + 5*time.Second
	start := time.Now()
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(bound):
		t.Fatalf("Run did not return within %s with the disk full", bound)
	}
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	select {
	case err = <-closed:
	case <-time.After(bound):
		t.Fatalf("Close did not return within %s with the disk full", bound)
	}
	if took := time.Since(start); took > bound {
		t.Errorf("stop took %s, want under %s", took, bound)
	}
	if err == nil {
		t.Fatal("Close = nil, want an error naming the events it could not commit")
	}
	count := regexp.MustCompile(`[1-9][0-9]* events? not committed`)
	if !count.MatchString(err.Error()) {
		t.Errorf("Close = %q, want it to name the count of events not committed", err)
	}
	if !count.MatchString(logs.String()) {
		t.Errorf("the log does not name the count of events not committed:\n%s", logs.String())
	}
}
