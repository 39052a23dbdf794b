package radiussync

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/broker"
	"github.com/sitepulse/sitepulse/controlplane/ingest"
	"github.com/sitepulse/sitepulse/protocol"
)

// Over TCP: a paho client logged in as the router subscribes to its radius
// topic, publishes its state, and receives its pages from the embedded
// broker; the ACL refuses it another router's radius topic. Malformed
// states are counted and dropped.
func TestSyncOverTheBroker(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		r := e.radiusRouter("site-r")
		other := e.radiusRouter("site-o")
		sec, err := e.st.RotateRouterSecret(e.ctx, 0, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		in, err := ingest.New(ingest.Options{Store: e.st, Bus: e.bus, Radius: e.svc, Registerer: e.reg, Logger: e.logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		b, err := broker.New(broker.Options{Addr: "127.0.0.1:0", Verifier: e.st, Handler: in, Logger: e.logs.Logger(), Registerer: e.reg})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(e.ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		e.start(b)
		for _, n := range []string{"amy", "bob", "cy"} {
			if _, err := e.prov.CreateAccount(e.ctx, e.admin, controlplane.AccountRequest{Kind: controlplane.AccountHotspot,
				Name: n, Password: "pw-" + n, RouterIDs: []string{r.ID}}); err != nil {
				t.Fatal(err)
			}
		}

		pages := make(chan protocol.RadiusSync, 64)
		o := paho.NewClientOptions().AddBroker("tcp://" + b.Addr().String()).SetClientID(r.ID).SetUsername(r.ID).SetPassword(sec).
			SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetOrderMatters(true)
		cl := paho.NewClient(o)
		if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		t.Cleanup(func() { cl.Disconnect(0) })
		// Another router's pages: refused (SUBACK 0x80).
		tok := cl.Subscribe(protocol.RadiusSyncTopic(other.ID), 1, nil)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		if res := tok.(*paho.SubscribeToken).Result()[protocol.RadiusSyncTopic(other.ID)]; res != 0x80 {
			t.Errorf("SUBACK for another router's radius topic = %#x, want 0x80 (refused)", res)
		}
		tok = cl.Subscribe(protocol.RadiusSyncTopic(r.ID), 1, func(_ paho.Client, m paho.Message) {
			p, err := protocol.DecodeRadiusSync(m.Payload())
			if err != nil {
				t.Errorf("page does not decode: %v", err)
				return
			}
			pages <- *p
		})
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil || tok.(*paho.SubscribeToken).Result()[protocol.RadiusSyncTopic(r.ID)] == 0x80 {
			t.Fatalf("subscribe to its own radius topic: %v", tok.Error())
		}
		// A malformed state is counted and dropped; the connection lives on.
		if tok := cl.Publish(protocol.RadiusStateTopic(r.ID), 1, false, []byte(`{"v":1,"router":"`+r.ID+`","version":"x"}`)); !tok.WaitTimeout(5 * time.Second) {
			t.Fatal("publish timed out")
		}
		state, _ := protocol.Encode(&protocol.RadiusState{V: protocol.Version, Router: r.ID, Version: 0})
		if tok := cl.Publish(protocol.RadiusStateTopic(r.ID), 1, false, state); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish state: %v", tok.Error())
		}
		// Apply as the agent does: a page only when it starts at the
		// version held (pages published before the subscription, or in a
		// race with the state, are skipped).
		var got []string
		var held uint64
		deadline := time.After(10 * time.Second)
		for held < 3 {
			select {
			case p := <-pages:
				if p.Router != r.ID || p.Mode != protocol.AuthRadius {
					t.Fatalf("page %+v", p)
				}
				if p.From != held {
					continue
				}
				for _, en := range p.Entries {
					got = append(got, en.Name)
				}
				held = p.To
			case <-deadline:
				t.Fatalf("pages received: %v, want amy, bob and cy", got)
			}
		}
		if len(got) != 3 || got[0] != "amy" || got[2] != "cy" {
			t.Errorf("entries %v in version order, want amy bob cy", got)
		}
		// Publishing on another router's state topic is refused by the ACL:
		// the broker drops it, so nothing changes there.
		st2, _ := protocol.Encode(&protocol.RadiusState{V: protocol.Version, Router: other.ID, Version: 0})
		cl.Publish(protocol.RadiusStateTopic(other.ID), 1, false, st2).WaitTimeout(5 * time.Second)
		e.waitFor("the malformed state counted", func() bool {
			return counter(e, "sitepulse_ingest_rejected_total", "reason", "malformed")+
				counter(e, "sitepulse_ingest_rejected_total", "reason", "invalid_field") >= 1
		})
		e.waitFor("both ACL refusals counted", func() bool {
			return counter(e, "sitepulse_broker_acl_denied_total", "action", "publish") == 1 &&
				counter(e, "sitepulse_broker_acl_denied_total", "action", "subscribe") == 1
		})
		if rt := e.router(other.ID); rt.Radius.AgentAt != nil {
			t.Errorf("another router's state was applied: %+v", rt.Radius)
		}
		if rt := e.router(r.ID); rt.Radius.AgentAt == nil {
			t.Errorf("the router's own state was not recorded")
		}
	})
}

// counter reads a counter of the env's registry (0 when absent).
func counter(e *env, name, label, value string) float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
