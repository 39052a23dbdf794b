package pusher

import (
	"context"
	"sort"
	"strings"
)

// Peers are the other control-plane replicas that serve the same app
// (controlplane/cluster with --mqtt-url): the HTTP API's channel queries
// add up their occupancy, and terminate_connections reaches their sockets.
type Peers interface {
	// Occupancy returns the occupancy matching q of every other replica
	// that answered in time; a replica that did not is left out.
	Occupancy(ctx context.Context, q OccupancyQuery) []Occupancy
	// TerminateUser asks the other replicas to close the connections of
	// a signed-in user. It does not wait for them.
	TerminateUser(userID string)
}

// SetPeers makes channel queries and terminate_connections cluster-wide.
// Call it before serving; nil means this replica alone.
func (h *Hub) SetPeers(p Peers) { h.peers = p }

// OccupancyQuery selects the channels of an occupancy report.
type OccupancyQuery struct {
	// Channel, when set, selects that channel alone.
	Channel string `json:"channel,omitempty"`
	// Prefix selects the channels whose name starts with it (all when
	// empty and Channel is empty).
	Prefix string `json:"prefix,omitempty"`
	// Users asks for the presence user ids of presence channels.
	Users bool `json:"users,omitempty"`
}

// matches reports whether the query selects channel name.
func (q OccupancyQuery) matches(name string) bool {
	if q.Channel != "" {
		return name == q.Channel
	}
	return strings.HasPrefix(name, q.Prefix)
}

// Occupancy is one replica's share of the selected channels.
type Occupancy struct {
	Channels map[string]ChannelOccupancy `json:"channels"`
}

// ChannelOccupancy is one replica's subscriptions of a channel.
type ChannelOccupancy struct {
	// Subscriptions is the number of subscribed connections.
	Subscriptions int `json:"subscriptions"`
	// Users are the presence user ids (presence channels, when asked).
	Users []string `json:"users,omitempty"`
}

// LocalOccupancy reports this hub's occupancy of the channels q selects,
// which is what it answers a peer's query with.
func (h *Hub) LocalOccupancy(q OccupancyQuery) Occupancy {
	out := Occupancy{Channels: map[string]ChannelOccupancy{}}
	h.mu.RLock()
	defer h.mu.RUnlock()
	add := func(ch *channel) {
		co := ChannelOccupancy{Subscriptions: len(ch.subs)}
		if q.Users && ch.kind == ChannelPresence {
			co.Users = make([]string, 0, len(ch.members))
			for id := range ch.members {
				co.Users = append(co.Users, id)
			}
			sort.Strings(co.Users)
		}
		out.Channels[ch.name] = co
	}
	if q.Channel != "" {
		if ch := h.channels[q.Channel]; ch != nil {
			add(ch)
		}
		return out
	}
	for name, ch := range h.channels {
		if q.matches(name) {
			add(ch)
		}
	}
	return out
}

// channelTotal is a channel's occupancy summed over the replicas.
type channelTotal struct {
	subscriptions int
	users         map[string]struct{}
}

func (t *channelTotal) info(name string) ChannelInfo {
	return ChannelInfo{Name: name, SubscriptionCount: t.subscriptions, UserCount: len(t.users)}
}

func (t *channelTotal) userIDs() []string {
	ids := make([]string, 0, len(t.users))
	for id := range t.users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// occupancy sums this hub's and its peers' occupancy: subscriptions add
// up, presence users are a union (one user on two replicas counts once).
func (h *Hub) occupancy(ctx context.Context, q OccupancyQuery) map[string]*channelTotal {
	reports := []Occupancy{h.LocalOccupancy(q)}
	if h.peers != nil {
		reports = append(reports, h.peers.Occupancy(ctx, q)...)
	}
	out := map[string]*channelTotal{}
	for _, r := range reports {
		for name, co := range r.Channels {
			if !q.matches(name) || co.Subscriptions <= 0 {
				continue // a peer's answer beyond the question
			}
			t := out[name]
			if t == nil {
				t = &channelTotal{users: map[string]struct{}{}}
				out[name] = t
			}
			t.subscriptions += co.Subscriptions
			for _, id := range co.Users {
				t.users[id] = struct{}{}
			}
		}
	}
	return out
}
