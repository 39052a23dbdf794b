package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/cluster/clustertest"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

// A publish-only client (a jobs node) learns connectivity from the
// retained statuses, publishes commands and relays its changes to the
// replicas with ingest, but never takes an agent message off the shared
// subscription: every batch goes to the replica with ingest.
func TestPublishOnlyClient(t *testing.T) {
	broker := clustertest.StartMosquitto(t)
	r := newRecorder()
	a := startClient(t, broker, "cp-a", r)

	agent := agentClient(t, broker, "r1", nil)
	defer agent.Disconnect(0)
	cmds := make(chan []byte, 1)
	if tok := agent.Subscribe(protocol.CmdTopic("r1"), 1, func(_ mqtt.Client, m mqtt.Message) { cmds <- m.Payload() }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	online, _ := protocol.Encode(&protocol.Status{V: protocol.Version, Router: "r1", State: protocol.StateOnline, TS: time.Now().UTC()})
	publish(t, agent, protocol.StatusTopic("r1"), true, online)

	if _, err := New(Options{URL: broker}); err == nil {
		t.Error("New without a Handler accepted a client that is not publish-only")
	}
	j, err := New(Options{URL: broker, ClientID: "cp-jobs", PublishOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	// Started after the agent: the retained status tells it.
	testkit.Eventually(t, 0, "the jobs client sees the agent connected", func() bool { return j.Connected("r1") })

	cmd := &protocol.Command{V: protocol.Version, ID: "c-1", Router: "r1", Kind: protocol.CmdResync, IssuedAt: time.Now()}
	if err := j.PublishCommand(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-cmds:
		if got, err := protocol.DecodeCommand(p); err != nil || got.ID != "c-1" {
			t.Fatalf("agent got %s (%v)", p, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent did not get the command")
	}

	// Every agent message is applied by the replica with ingest.
	var want []string
	for i := range 6 {
		p := fmt.Sprintf("batch-%d", i)
		want = append(want, p)
		publish(t, agent, protocol.EventsTopic("r1"), false, []byte(p))
	}
	testkit.Eventually(t, 0, "replica A applied every batch", func() bool {
		n := 0
		for _, p := range r.appliedCopy() {
			for _, w := range want {
				if p == w {
					n++
				}
			}
		}
		return n == len(want)
	})

	// The jobs client's committed changes reach A's fan-out.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outA := a.Fanin(ctx, make(chan controlplane.Change), nil)
	local := make(chan controlplane.Change)
	done := make(chan struct{})
	go func() { defer close(done); j.Relay(ctx, local) }()
	changed := controlplane.CommandChanged{Command: controlplane.Command{ID: "c-1", TenantID: 7, RouterID: "r1", Status: controlplane.CommandSent}}
	local <- changed
	if got := recv(t, outA); !sameChange(got, changed) {
		t.Fatalf("A's fan-out got %#v, want the jobs node's change", got)
	}
	close(local)
	<-done
}
