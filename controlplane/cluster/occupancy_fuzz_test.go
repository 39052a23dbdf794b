package cluster

import (
	"testing"

	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

// nullHub is a SharedHub with nothing on it.
type nullHub struct{ terminated []string }

func (*nullHub) LocalOccupancy(pusher.OccupancyQuery) pusher.Occupancy {
	return pusher.Occupancy{Channels: map[string]pusher.ChannelOccupancy{"presence-x": {Subscriptions: 1, Users: []string{"1"}}}}
}
func (h *nullHub) TerminateUserConnections(id string) int {
	h.terminated = append(h.terminated, id)
	return 0
}
func (*nullHub) SetPeers(pusher.Peers) {}

// FuzzHubMessage feeds the hub-control decoder what another replica (or
// anyone allowed on sp/v1/_bcast/#) could publish: it never panics, and
// terminates only valid user ids.
func FuzzHubMessage(f *testing.F) {
	f.Add(0, []byte(`{"id":"a","origin":"r2","query":{"channel":"presence-x","users":true}}`))
	f.Add(1, []byte(`{"id":"a","to":"me","origin":"r2","occupancy":{"channels":{"x":{"subscriptions":2}}}}`))
	f.Add(2, []byte(`{"origin":"r2","user_id":"7"}`))
	f.Add(2, []byte(`{"origin":"r2","user_id":"a b"}`))
	f.Add(1, []byte(`[]`))
	c, err := New(Options{URL: "tcp://127.0.0.1:1", ClientID: "me", ReplicaID: "me", Handler: newRecorder()})
	if err != nil {
		f.Fatal(err)
	}
	h := &nullHub{}
	c.ShareHub(h)
	answers := make(chan hubAnswer, 1)
	c.share.pending = map[string]chan hubAnswer{"a": answers}
	topics := []string{queryTopic, answerTopic, terminateTopic, hubTopicPrefix + "other"}
	f.Fuzz(func(t *testing.T, kind int, payload []byte) {
		h.terminated = h.terminated[:0]
		c.onHubMessage(topics[uint(kind)%uint(len(topics))], payload)
		select {
		case <-answers:
		default:
		}
		for _, id := range h.terminated {
			if !pusher.ValidUserID(id) {
				t.Fatalf("terminated invalid user id %q", id)
			}
		}
	})
}
