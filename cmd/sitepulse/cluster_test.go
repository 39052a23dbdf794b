package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/cluster/clustertest"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/internal/testpg"
	"github.com/sitepulse/sitepulse/protocol"
)

// pusherClient is a dashboard's connection to one private channel
// (package client's Realtime), failing the test on errors.
type pusherClient struct {
	t  *testing.T
	rt *client.Realtime
}

// pusherFrame is one frame; Data is the event's JSON text.
type pusherFrame struct {
	Event, Channel, Data string
}

// subscribePusher connects to m's hub and subscribes to a private channel
// with an auth signature from m's auth endpoint.
func subscribePusher(t *testing.T, m *Main, token, channel string) *pusherClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, err := client.New("http://"+m.HTTPAddr(), client.Options{Token: token}).DialRealtime(ctx, client.RealtimeOptions{ClientName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	if err := rt.SubscribeWait(ctx, channel); err != nil {
		t.Fatal(err)
	}
	return &pusherClient{t: t, rt: rt}
}

// triggerPusherAPI publishes an event through m's Pusher HTTP API, signed
// as the pusher SDKs sign it.
func triggerPusherAPI(t *testing.T, m *Main, secret, channel, name, data string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "data": data, "channel": channel})
	path := "/apps/sitepulse/events"
	q, err := pusher.SignedQuery("sitepulse", secret, "POST", path, nil, body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post("http://"+m.HTTPAddr()+path+"?"+q.Encode(), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
	}
}

func (c *pusherClient) next() pusherFrame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		f, err := c.rt.Next(ctx)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if f.Event == "pusher_internal:subscription_count" {
			continue // the hub's count of the channel's subscribers, on by default
		}
		return pusherFrame{Event: f.Event, Channel: f.Channel, Data: string(f.Data)}
	}
}

// nextSessionEvent skips protocol frames and returns the next session
// event with its seq and session key.
func (c *pusherClient) nextSessionEvent() (event string, seq uint64, key string) {
	c.t.Helper()
	for {
		f := c.next()
		if strings.HasPrefix(f.Event, "pusher") {
			continue
		}
		var d struct {
			Seq     uint64 `json:"seq"`
			Session struct {
				Key string `json:"key"`
			} `json:"session"`
		}
		if err := json.Unmarshal([]byte(f.Data), &d); err != nil {
			c.t.Fatalf("%s data %s: %v", f.Event, f.Data, err)
		}
		return f.Event, d.Seq, d.Session.Key
	}
}

// TestScaleOutTwoReplicas runs two control-plane replicas on one
// PostgreSQL database behind one Mosquitto: an agent's batches are applied
// once each, split between the replicas, and a dashboard on either
// replica gets every session event exactly once, in a gap-free seq.
func TestScaleOutTwoReplicas(t *testing.T) {
	brokerURL := clustertest.StartMosquitto(t)
	db := testpg.NewDatabase(t)
	cfg := func(id string) Config {
		return Config{DatabaseURL: db, External: ExternalMQTT{URL: brokerURL, ClientID: id},
			AdminEmail: "root@isp.test", AdminPassword: "a very long admin password", PusherSecret: "shared-secret"}
	}
	a := startMain(t, cfg("cp-a"))
	b := startMain(t, cfg("cp-b"))
	if a.MQTTAddr() != "" {
		t.Errorf("embedded broker listening on %s in scale-out mode", a.MQTTAddr())
	}

	ctx := context.Background()
	st := a.Store()
	ten, err := st.CreateTenant(ctx, "Kilimani WiFi")
	if err != nil {
		t.Fatal(err)
	}
	rt, _, err := st.CreateRouter(ctx, ten.ID, "core", "Kilimani")
	if err != nil {
		t.Fatal(err)
	}
	token := login(t, "http://"+a.HTTPAddr(), "root@isp.test", "a very long admin password")
	channel := fanout.TenantChannel(ten.ID, "sessions")
	dashA := subscribePusher(t, a, token, channel)
	dashB := subscribePusher(t, b, token, channel)

	agent := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(rt.ID))
	if tok := agent.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer agent.Disconnect(0)

	t0 := time.Now().UTC().Truncate(time.Second)
	sess := func(i int) *protocol.Session {
		return &protocol.Session{Kind: protocol.KindHotspot, Key: fmt.Sprintf("hotspot:u%d|AA:BB:CC:00:00:0%d|x", i, i),
			User: fmt.Sprintf("u%d", i), MAC: fmt.Sprintf("AA:BB:CC:00:00:0%d", i), StartedAt: t0}
	}
	// Four batches, published back to back and the second before the
	// first: the broker hands them to the replicas in turn, and a batch
	// that arrives before the one it follows (Prev) waits for it instead
	// of making its events look like replays.
	batches := []protocol.Event{
		{Type: protocol.EventSessionStarted, Session: sess(1)},
		{Type: protocol.EventSessionStarted, Session: sess(2)},
		{Type: protocol.EventSessionEnded, Session: sess(1), Reason: protocol.EndLogout},
		{Type: protocol.EventSessionEnded, Session: sess(2), Reason: protocol.EndLogout},
	}
	for _, i := range []int{1, 0, 2, 3} {
		ev := batches[i]
		ev.Seq, ev.TS = uint64(i+1), t0.Add(time.Duration(i)*time.Second)
		payload, err := protocol.Encode(&protocol.EventBatch{V: protocol.Version, Router: rt.ID, Epoch: "e1", Prev: uint64(i), Events: []protocol.Event{ev}})
		if err != nil {
			t.Fatal(err)
		}
		if tok := agent.Publish(protocol.EventsTopic(rt.ID), 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	testkit.Eventually(t, 15*time.Second, "all four batches applied", func() bool {
		r, err := st.GetRouter(ctx, 0, rt.ID)
		return err == nil && r.LastSeq == 4
	})
	// Published again (an agent resending after a lost PUBACK): skipped.
	dup, _ := protocol.Encode(&protocol.EventBatch{V: protocol.Version, Router: rt.ID, Epoch: "e1", Events: []protocol.Event{{Seq: 1, TS: t0, Type: protocol.EventSessionStarted, Session: sess(1)}}})
	if tok := agent.Publish(protocol.EventsTopic(rt.ID), 1, false, dup); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	want := []struct {
		event string
		user  string
	}{{fanout.EventSessionStarted, "u1"}, {fanout.EventSessionStarted, "u2"}, {fanout.EventSessionEnded, "u1"}, {fanout.EventSessionEnded, "u2"}}
	for name, d := range map[string]*pusherClient{"replica A": dashA, "replica B": dashB} {
		for i, w := range want {
			ev, seq, key := d.nextSessionEvent()
			if ev != w.event || !strings.Contains(key, ":"+w.user+"|") || seq != uint64(i+1) {
				t.Errorf("%s event %d: %s seq %d key %q, want %s seq %d of %s", name, i, ev, seq, key, w.event, i+1, w.user)
			}
		}
	}

	// The duplicate is applied by one replica as a no-op: wait for it, then
	// check the counts.
	applied := func(m *Main, name string) float64 {
		mfs, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	testkit.Eventually(t, 10*time.Second, "the duplicate batch handled", func() bool {
		return applied(a, "sitepulse_ingest_batches_applied_total")+applied(b, "sitepulse_ingest_batches_applied_total") == 5
	})
	na, nb := applied(a, "sitepulse_ingest_batches_applied_total"), applied(b, "sitepulse_ingest_batches_applied_total")
	t.Logf("batches applied: replica A %v, replica B %v", na, nb)
	if na == 0 || nb == 0 {
		t.Errorf("one replica applied every batch (A %v, B %v): the events were not split", na, nb)
	}
	if skipped := applied(a, "sitepulse_ingest_events_skipped_total") + applied(b, "sitepulse_ingest_events_skipped_total"); skipped != 1 {
		t.Errorf("%v events skipped, want the 1 duplicate", skipped)
	}
	if live, n, err := st.ListSessions(ctx, ten.ID, controlplane.SessionFilter{}); err != nil || n != 0 {
		t.Errorf("live sessions %v (%d, %v), want none", live, n, err)
	}
	if r, _ := st.GetRouter(ctx, 0, rt.ID); r.LastSeq != 4 {
		t.Errorf("last_seq %d, want 4", r.LastSeq)
	}
	// A backend publishing through one replica's Pusher HTTP API reaches
	// the sockets of both.
	triggerPusherAPI(t, a, "shared-secret", channel, "OrderPlaced", `{"order":7}`)
	for name, d := range map[string]*pusherClient{"replica A": dashA, "replica B": dashB} {
		for {
			f := d.next()
			if strings.HasPrefix(f.Event, "pusher") {
				continue
			}
			if f.Event != "OrderPlaced" || f.Channel != channel || f.Data != `{"order":7}` {
				t.Errorf("%s got %+v, want the API event", name, f)
			}
			break
		}
	}

	// Nothing more reaches the dashboards (no duplicate of any event).
	for name, d := range map[string]*pusherClient{"replica A": dashA, "replica B": dashB} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		if f, err := d.rt.Next(ctx); err == nil && !strings.HasPrefix(f.Event, "pusher") {
			t.Errorf("%s got an extra frame %s %s", name, f.Event, f.Data)
		}
		cancel()
	}
}
