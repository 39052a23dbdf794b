package pusher

import (
	"hash/maphash"
	"sync"

	"github.com/gorilla/websocket"
)

// shard owns the channels whose names hash to it: their subscriber sets
// under its own lock, and one worker goroutine that fans out what is
// published on them. A publish only hands the event to the shard's queue,
// so the publisher (the bus, an HTTP API request) never waits for the
// fan-out, and a channel with ten thousand subscribers keeps only its own
// shard busy.
type shard struct {
	// mu guards channels and every channel's state. The worker takes it
	// shared while it enqueues; subscription changes take it exclusively.
	mu       sync.RWMutex
	channels map[string]*channel
	// jobs is the shard's publish queue, drained in order by the worker:
	// the events of one channel are delivered in the order published.
	jobs chan publishJob
}

// publishJob is one event waiting for its fan-out. frame is the encoded
// Pusher frame; exceptSocketID or skip names a connection that must not get
// it (the API's socket_id, the sender of a client event).
type publishJob struct {
	channel        string
	frame          []byte
	exceptSocketID string
	skip           *conn
}

// shardQueue is the number of events a shard queues before a publisher has
// to wait for its worker (which never waits on a socket).
const shardQueue = 4096

var shardSeed = maphash.MakeSeed()

// shardFor returns the shard that owns a channel name.
func (h *Hub) shardFor(name string) *shard {
	return h.shards[maphash.String(shardSeed, name)%uint64(len(h.shards))]
}

// run is the shard's worker. It stops when stop is closed.
func (s *shard) run(h *Hub, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case j := <-s.jobs:
			s.deliver(h, j)
		}
	}
}

// deliver fans one job out to the channel's current subscribers.
func (s *shard) deliver(h *Hub, j publishJob) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ch := s.channels[j.channel]
	if ch == nil {
		return
	}
	skip := j.skip
	if j.exceptSocketID != "" {
		for c := range ch.subs {
			if c.socketID == j.exceptSocketID {
				skip = c
				break
			}
		}
	}
	h.broadcastLocked(ch, j.frame, skip)
}

// enqueuePublish hands an encoded frame to its channel's shard. It waits
// only when the shard's queue is full, which means its worker is behind on
// enqueueing, never on a socket. After Shutdown it drops the event.
func (h *Hub) enqueuePublish(j publishJob) {
	s := h.shardFor(j.channel)
	select {
	case s.jobs <- j:
		return
	default:
	}
	h.metrics.shardQueueFull.Inc()
	select {
	case s.jobs <- j:
	case <-h.stop:
	}
}

// broadcastLocked queues an encoded frame to every subscriber of ch except
// skip. The shard's lock must be held (shared is enough). The frame is
// encoded once: with more than one recipient it is wrapped in one
// websocket.PreparedMessage, which frames (and compresses, for connections
// that negotiated permessage-deflate) once for all of them.
func (h *Hub) broadcastLocked(ch *channel, frame []byte, skip *conn) int {
	n := len(ch.subs)
	if skip != nil {
		if _, ok := ch.subs[skip]; ok {
			n--
		}
	}
	if n <= 0 {
		return 0
	}
	msg := outMsg{data: frame}
	if n > 1 {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frame)
		if err == nil {
			msg = outMsg{prepared: pm, data: frame}
		}
	}
	sent := 0
	for c := range ch.subs {
		if c == skip {
			continue
		}
		if c.enqueue(msg) {
			sent++
		}
	}
	return sent
}
