package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/controlplane/pusher"
	"github.com/sitepulse/sitepulse/protocol"
)

// Cluster-wide channel queries. Each replica's hub knows only its own
// sockets, so the Pusher HTTP API's GET channels, channels/{name} and
// channels/{name}/users ask the other replicas over the broker: a query on
// sp/v1/_bcast/_hub/query, answered by every replica on
// sp/v1/_bcast/_hub/answer with its occupancy of the selected channels
// (QoS 0, like the relay: a lost message is a replica left out of one
// answer, never a wrong state). The asker waits until every replica it
// heard from lately has answered, or DefaultQueryTimeout; a replica that
// stays silent is left out and forgotten until it speaks again, so a dead
// replica costs one timeout, not one per query. terminate_connections
// travels the same way (sp/v1/_bcast/_hub/terminate), without an answer.

// DefaultQueryTimeout bounds how long a channel query waits for the other
// replicas' answers.
const DefaultQueryTimeout = 500 * time.Millisecond

// peerForget is how long a replica that has not been heard from is still
// waited for.
const peerForget = 5 * time.Minute

// hubTopicTenant is the tenant segment of the hub-control topics; it is
// not a number, so the relay never takes them for changes.
const hubTopicTenant = "_hub"

var (
	queryTopic     = protocol.BroadcastTopic(hubTopicTenant, "query")
	answerTopic    = protocol.BroadcastTopic(hubTopicTenant, "answer")
	terminateTopic = protocol.BroadcastTopic(hubTopicTenant, "terminate")
	hubTopicPrefix = protocol.BroadcastTopic(hubTopicTenant, "")
)

// SharedHub is the realtime hub a Client shares with the other replicas
// (*pusher.Hub).
type SharedHub interface {
	// LocalOccupancy is this replica's occupancy, the answer to a query.
	LocalOccupancy(q pusher.OccupancyQuery) pusher.Occupancy
	// TerminateUserConnections closes a user's connections here.
	TerminateUserConnections(userID string) int
	// SetPeers makes the hub ask the other replicas (the Client).
	SetPeers(p pusher.Peers)
}

type hubQuery struct {
	ID     string                `json:"id"`
	Origin string                `json:"origin"`
	Query  pusher.OccupancyQuery `json:"query"`
}

type hubAnswer struct {
	ID        string           `json:"id"`
	To        string           `json:"to"`
	Origin    string           `json:"origin"`
	Occupancy pusher.Occupancy `json:"occupancy"`
}

type hubTerminate struct {
	Origin string `json:"origin"`
	UserID string `json:"user_id"`
}

// sharing is the Client's side of the exchange.
type sharing struct {
	mu      sync.Mutex
	hub     SharedHub
	peers   map[string]time.Time      // replica → last heard from
	pending map[string]chan hubAnswer // query id → answers
}

// ShareHub answers the other replicas' channel queries with hub's
// occupancy and makes hub's queries and terminate_connections cluster-wide.
// Call it once, before serving the hub's HTTP API.
func (c *Client) ShareHub(h SharedHub) {
	c.share.mu.Lock()
	c.share.hub = h
	c.share.mu.Unlock()
	h.SetPeers(c)
}

// heardLocked records that replica origin is alive.
func (s *sharing) heardLocked(origin string, now time.Time) {
	if s.peers == nil {
		s.peers = make(map[string]time.Time)
	}
	s.peers[origin] = now
}

// Occupancy implements pusher.Peers: it asks the other replicas and returns
// the answers that came before every recently heard replica answered, the
// timeout, or ctx.
func (c *Client) Occupancy(ctx context.Context, q pusher.OccupancyQuery) []pusher.Occupancy {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	body, err := json.Marshal(hubQuery{ID: id, Origin: c.opts.ReplicaID, Query: q})
	if err != nil {
		return nil
	}
	answers := make(chan hubAnswer, 16)
	now := time.Now()
	c.share.mu.Lock()
	if c.share.pending == nil {
		c.share.pending = make(map[string]chan hubAnswer)
	}
	c.share.pending[id] = answers
	waitFor := map[string]bool{}
	for p, at := range c.share.peers {
		if now.Sub(at) < peerForget {
			waitFor[p] = true
		}
	}
	c.share.mu.Unlock()
	defer func() {
		c.share.mu.Lock()
		delete(c.share.pending, id)
		c.share.mu.Unlock()
	}()
	if c.closed.Load() || !c.cl.IsConnectionOpen() {
		c.m.queries.WithLabelValues("broker_down").Inc()
		return nil
	}
	c.cl.Publish(queryTopic, 0, false, body)

	ctx, cancel := context.WithTimeout(ctx, c.queryTimeout())
	defer cancel()
	var out []pusher.Occupancy
	answered := map[string]bool{}
	for {
		if len(waitFor) > 0 && len(answered) >= len(waitFor) && allAnswered(waitFor, answered) {
			c.m.queries.WithLabelValues("complete").Inc()
			return out
		}
		select {
		case a := <-answers:
			if answered[a.Origin] {
				continue
			}
			answered[a.Origin] = true
			out = append(out, a.Occupancy)
		case <-ctx.Done():
			// Forget the silent ones until they speak again.
			c.share.mu.Lock()
			missing := 0
			for p := range waitFor {
				if !answered[p] {
					delete(c.share.peers, p)
					missing++
				}
			}
			c.share.mu.Unlock()
			if missing > 0 {
				c.m.queries.WithLabelValues("partial").Inc()
				c.log.Warn("channel query: replicas did not answer in time; left out", "missing", missing)
			} else {
				c.m.queries.WithLabelValues("complete").Inc()
			}
			return out
		}
	}
}

func allAnswered(waitFor, answered map[string]bool) bool {
	for p := range waitFor {
		if !answered[p] {
			return false
		}
	}
	return true
}

func (c *Client) queryTimeout() time.Duration {
	if c.opts.QueryTimeout > 0 {
		return c.opts.QueryTimeout
	}
	return DefaultQueryTimeout
}

// TerminateUser implements pusher.Peers.
func (c *Client) TerminateUser(userID string) {
	body, err := json.Marshal(hubTerminate{Origin: c.opts.ReplicaID, UserID: userID})
	if err != nil || c.closed.Load() {
		return
	}
	c.cl.Publish(terminateTopic, 0, false, body)
}

// isHubTopic reports whether topic is one of the hub-control topics.
func isHubTopic(topic string) bool { return strings.HasPrefix(topic, hubTopicPrefix) }

// onHubMessage handles a query, an answer or a terminate from another
// replica, on paho's dispatch goroutine: it never waits on the broker.
func (c *Client) onHubMessage(topic string, payload []byte) {
	s := &c.share
	now := time.Now()
	switch topic {
	case queryTopic:
		var q hubQuery
		if err := json.Unmarshal(payload, &q); err != nil || q.ID == "" || q.Origin == "" {
			c.m.relayDropped.WithLabelValues("malformed").Inc()
			return
		}
		if q.Origin == c.opts.ReplicaID {
			return
		}
		s.mu.Lock()
		s.heardLocked(q.Origin, now)
		h := s.hub
		s.mu.Unlock()
		if h == nil {
			return // no hub here (yet): the asker leaves us out
		}
		body, err := json.Marshal(hubAnswer{ID: q.ID, To: q.Origin, Origin: c.opts.ReplicaID, Occupancy: h.LocalOccupancy(q.Query)})
		if err != nil {
			return
		}
		c.cl.Publish(answerTopic, 0, false, body)
	case answerTopic:
		var a hubAnswer
		if err := json.Unmarshal(payload, &a); err != nil || a.ID == "" || a.Origin == "" {
			c.m.relayDropped.WithLabelValues("malformed").Inc()
			return
		}
		if a.To != c.opts.ReplicaID {
			return
		}
		s.mu.Lock()
		s.heardLocked(a.Origin, now)
		ch := s.pending[a.ID]
		s.mu.Unlock()
		if ch != nil {
			select {
			case ch <- a:
			default: // more replicas than the buffer: the query ends at its timeout
			}
		}
	case terminateTopic:
		var m hubTerminate
		if err := json.Unmarshal(payload, &m); err != nil || m.Origin == "" || !pusher.ValidUserID(m.UserID) {
			c.m.relayDropped.WithLabelValues("malformed").Inc()
			return
		}
		if m.Origin == c.opts.ReplicaID {
			return
		}
		s.mu.Lock()
		s.heardLocked(m.Origin, now)
		h := s.hub
		s.mu.Unlock()
		if h != nil {
			h.TerminateUserConnections(m.UserID)
		}
	default:
		c.m.relayDropped.WithLabelValues("topic").Inc()
	}
}
