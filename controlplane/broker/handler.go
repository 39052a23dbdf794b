package broker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// outcome is what the broker does with a message after the Handler ran.
type outcome int

const (
	outcomeAck   outcome = iota // applied: acknowledge
	outcomeDrop                 // never applicable: acknowledge, do not retain or deliver
	outcomeRetry                // not applied: no PUBACK, close the connection
)

// classify is the one place that maps Handler errors to MQTT behaviour.
func classify(err error) outcome {
	switch controlplane.ErrorCode(err) {
	case "":
		return outcomeAck
	case controlplane.EINVALID, controlplane.ETOOLARGE, controlplane.ENOTFOUND,
		controlplane.EUNAUTHORIZED, controlplane.EFORBIDDEN:
		return outcomeDrop
	default:
		return outcomeRetry
	}
}

// ingestHook hands agent messages and wills to the Handler.
type ingestHook struct {
	mochi.HookBase
	b *Broker
}

// ID implements mochi.Hook.
func (h *ingestHook) ID() string { return "sitepulse-ingest" }

// Provides implements mochi.Hook.
func (h *ingestHook) Provides(hook byte) bool {
	switch hook {
	case mochi.OnPublish, mochi.OnWill, mochi.OnWillSent, mochi.OnDisconnect, mochi.OnSessionEstablished:
		return true
	}
	return false
}

// OnPublish runs on the publishing client's goroutine after the ACL check
// and before mochi retains, delivers or acknowledges the message; see the
// package comment for why ingest happens here.
func (h *ingestHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil // commands from the control plane itself
	}
	b := h.b
	b.metrics.received.Inc()
	status := pk.TopicName == protocol.StatusTopic(cl.ID)
	// Only status is meant to be retained; a retained batch would sit in
	// broker memory for nobody.
	if !status {
		pk.FixedHeader.Retain = false
	}

	ctx, cancel := context.WithTimeout(b.ctx, b.opts.HandleTimeout)
	start := time.Now()
	err := b.opts.Handler.HandleMessage(ctx, pk.TopicName, pk.Payload)
	cancel()
	b.metrics.handleSeconds.Observe(time.Since(start).Seconds())

	switch classify(err) {
	case outcomeAck:
		if status {
			b.conns.noteStatus(cl, pk.Payload)
		}
		return pk, nil
	case outcomeDrop:
		// The Handler has logged and counted the reason. Acknowledge so the
		// agent stops resending it; Ignore keeps it out of the retained
		// store and away from subscribers. (An MQTT 5 negative PUBACK would
		// also work, but mochi then logs the whole packet at error level.)
		b.metrics.rejected.WithLabelValues(controlplane.ErrorCode(err)).Inc()
		return pk, packets.CodeSuccessIgnore
	default:
		b.metrics.handlerRetries.Inc()
		b.log.Error("ingest failed; closing the connection so the agent resends",
			"client", cl.ID, "topic", logSafe(pk.TopicName), "error", err)
		b.disconnect(cl, packets.ErrServerBusy)
		// ErrRejectPacket makes mochi skip the PUBACK (and everything else).
		return pk, packets.ErrRejectPacket
	}
}

// OnWill moves the timestamp of a router's will after that of the last
// status the router published on this connection. The agent stamps its
// will when it connects, before its "online" status; unchanged, the store
// would discard the will as older than the status it holds. The new time
// stays in the agent's clock domain, so it still orders before whatever the
// agent publishes after reconnecting.
func (h *ingestHook) OnWill(cl *mochi.Client, will mochi.Will) (mochi.Will, error) {
	if cl.Net.Inline || will.TopicName != protocol.StatusTopic(cl.ID) {
		return will, nil
	}
	last, ok := h.b.conns.lastStatus(cl)
	if !ok {
		return will, nil
	}
	st, err := protocol.DecodeStatus(will.Payload)
	if err != nil || st.TS.After(last) {
		return will, nil // an invalid will is rejected and counted by the Handler
	}
	// A millisecond, not a nanosecond: stores may keep microseconds.
	st.TS = last.Add(time.Millisecond)
	payload, err := protocol.Encode(st)
	if err != nil {
		return will, nil
	}
	will.Payload = payload
	return will, nil
}

// OnSessionEstablished keeps the connection's will. mochi sends a will only
// when reading the connection fails; when Close stops a connection between
// two packets its read loop ends cleanly and the will is dropped, which
// would leave the router online in the store after a graceful shutdown.
// OnDisconnect sends the kept will then. Runs on the client's goroutine,
// before mochi can clear the will.
func (h *ingestHook) OnSessionEstablished(cl *mochi.Client, _ packets.Packet) {
	if cl.Net.Inline || atomic.LoadUint32(&cl.Properties.Will.Flag) == 0 {
		return
	}
	w := cl.Properties.Will
	w.Payload = append([]byte(nil), w.Payload...)
	h.b.conns.keepWill(cl, w)
}

// OnWillSent hands a will that mochi has published to the Handler. There is
// no one to resend it, so a failure is only logged.
func (h *ingestHook) OnWillSent(cl *mochi.Client, pk packets.Packet) {
	if cl.Net.Inline {
		return
	}
	h.b.conns.takeWill(cl) // sent: OnDisconnect must not send it again
	h.handleWill(cl, pk.TopicName, pk.Payload)
}

// handleWill applies a will as ingest applies a status.
func (h *ingestHook) handleWill(cl *mochi.Client, topic string, payload []byte) {
	b := h.b
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.HandleTimeout)
	defer cancel()
	err := b.opts.Handler.HandleMessage(ctx, topic, payload)
	switch classify(err) {
	case outcomeAck:
	case outcomeDrop:
		b.metrics.rejected.WithLabelValues(controlplane.ErrorCode(err)).Inc()
	default:
		b.metrics.handlerRetries.Inc()
		b.log.Error("ingest of will failed; the router's status may stay stale until its next status",
			"client", cl.ID, "error", err)
	}
}

// OnDisconnect forgets the connection and counts oversized packets, which
// mochi refuses while reading, before any other hook sees them.
func (h *ingestHook) OnDisconnect(cl *mochi.Client, err error, expire bool) {
	if w, ok := h.b.conns.takeWill(cl); ok && h.b.stopping.Load() && err == nil {
		// Close stopped the connection between two packets: mochi dropped
		// the will (see OnSessionEstablished). Send it as mochi would.
		if w, werr := h.OnWill(cl, w); werr == nil {
			h.handleWill(cl, w.TopicName, w.Payload)
		}
	}
	h.b.conns.forget(cl)
	if errors.Is(err, packets.ErrPacketTooLarge) {
		h.b.metrics.rejected.WithLabelValues(rejectPacketTooLarge).Inc()
		h.b.log.Warn("MQTT client sent a packet above the maximum size; disconnected",
			"client", logSafe(cl.ID), "max", h.b.opts.MaxPacketSize, "remote", cl.Net.Remote)
	}
}

// connStates holds per-connection state, keyed by mochi's client (one per
// connection, even when a client id reconnects).
type connStates struct {
	mu    sync.Mutex
	m     map[*mochi.Client]time.Time  // the TS of the last status acknowledged
	wills map[*mochi.Client]mochi.Will // wills not sent yet
}

func (c *connStates) keepWill(cl *mochi.Client, w mochi.Will) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wills == nil {
		c.wills = make(map[*mochi.Client]mochi.Will)
	}
	c.wills[cl] = w
}

// takeWill returns and forgets cl's kept will.
func (c *connStates) takeWill(cl *mochi.Client) (mochi.Will, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.wills[cl]
	delete(c.wills, cl)
	return w, ok
}

func (c *connStates) noteStatus(cl *mochi.Client, payload []byte) {
	st, err := protocol.DecodeStatus(payload)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[*mochi.Client]time.Time)
	}
	if st.TS.After(c.m[cl]) {
		c.m[cl] = st.TS
	}
}

func (c *connStates) lastStatus(cl *mochi.Client) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts, ok := c.m[cl]
	return ts, ok
}

func (c *connStates) forget(cl *mochi.Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, cl)
}
