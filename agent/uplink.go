package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/sitepulse/sitepulse/protocol"
)

// uplinkConfig configures the MQTT side of the agent.
type uplinkConfig struct {
	// URL is tcp://host:port or ssl://host:port.
	URL    string
	Router string
	Secret string
	// TLS is used for ssl:// URLs; nil means the system roots.
	TLS            *tls.Config
	KeepAlive      time.Duration // 0 means 30 s
	ConnectTimeout time.Duration // 0 means 10 s
	AckTimeout     time.Duration // 0 means 30 s: a PUBACK later than this redials
	MinBackoff     time.Duration // 0 means 500 ms
	MaxBackoff     time.Duration // 0 means 60 s
	MaxInFlight    int           // event batches awaiting PUBACK; 0 means 4
	Logger         *slog.Logger
	Metrics        *metrics
	// Status returns the current online status; the uplink fills in V,
	// Router, State and TS.
	Status func() protocol.Status
	// StatusChanged is signalled when Status would return something new.
	StatusChanged <-chan struct{}
	// OnCommand receives each payload on the cmd topic. It runs on paho's
	// delivery goroutine and must return quickly.
	OnCommand func(payload []byte)
	// OnRadiusSync, if set, subscribes to the radius topic beside cmd and
	// receives each payload there (like OnCommand, quickly).
	OnRadiusSync func(payload []byte)
	// OnConnected, if set, is called once a connection is subscribed and
	// online (the RADIUS side reports its sync state then).
	OnConnected func()
}

// uplink owns the MQTT connection: it publishes the outbox in seq order,
// deletes rows on PUBACK, publishes command results and status, and
// delivers commands.
//
// Reconnects are the uplink's own, not paho's AutoReconnect. With
// CleanSession=true paho would still resend the in-flight publishes of the
// lost connection from its unordered in-memory store when it reconnects,
// racing our replay; the control plane skips seq <= last_seq, so an
// out-of-order arrival would turn into a lost event. Instead every
// connection is a fresh paho client that starts from an empty store, and
// the outbox is replayed from its oldest unacked event in seq order.
//
// CleanSession=true: the broker keeps no session for the agent. A command
// published while the agent is offline is dropped by the broker, which is
// fine because the control plane re-sends unacked commands whenever the
// agent's status turns online (ARCHITECTURE: commands), and the agent's
// command record makes the re-send harmless. A persistent session would
// only add broker state per router and a second redelivery path to reason
// about.
type uplink struct {
	cfg     uplinkConfig
	ob      *outbox
	results *resultLog
	log     *slog.Logger
	m       *metrics

	connected atomic.Bool
	mu        sync.Mutex
	lastErr   string
	client    mqtt.Client // the online connection's client, nil while down
}

func newUplink(cfg uplinkConfig, ob *outbox, results *resultLog) *uplink {
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 30 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 60 * time.Second
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4
	}
	if cfg.Metrics == nil {
		cfg.Metrics = newMetrics()
	}
	return &uplink{cfg: cfg, ob: ob, results: results, log: orDiscard(cfg.Logger), m: cfg.Metrics}
}

// run connects, and reconnects with exponential backoff and jitter, until
// ctx ends; then it publishes the offline status and disconnects.
func (u *uplink) run(ctx context.Context) {
	bo := backoff{min: u.cfg.MinBackoff, max: u.cfg.MaxBackoff}
	for {
		start := time.Now()
		err := u.runConnection(ctx)
		if ctx.Err() != nil {
			return
		}
		u.mu.Lock()
		u.lastErr = err.Error()
		u.mu.Unlock()
		if time.Since(start) > 4*u.cfg.MaxBackoff {
			bo.reset() // it was up for a good while: retry quickly
		}
		d := bo.next()
		u.log.Warn("mqtt connection ended; reconnecting", "err", err, "in", d)
		if !sleepCtx(ctx, d) {
			return
		}
	}
}

func (u *uplink) status(state protocol.AgentState) protocol.Status {
	var s protocol.Status
	if u.cfg.Status != nil {
		s = u.cfg.Status()
	}
	s.V = protocol.Version
	s.Router = u.cfg.Router
	s.State = state
	s.TS = time.Now().UTC()
	if state == protocol.StateOffline {
		s.RouterConnected = false
	}
	return s
}

// runConnection makes one MQTT connection with a fresh paho client, serves
// it (outbox, results, status, commands) until it is lost or ctx ends, and
// returns why it ended.
func (u *uplink) runConnection(ctx context.Context) error {
	will, err := protocol.Encode(ptr(u.status(protocol.StateOffline)))
	if err != nil {
		return fmt.Errorf("encode will: %w", err)
	}
	lost := make(chan error, 1)
	opts := mqtt.NewClientOptions().
		AddBroker(u.cfg.URL).
		SetClientID(u.cfg.Router).
		SetUsername(u.cfg.Router).
		SetPassword(u.cfg.Secret).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(u.cfg.ConnectTimeout).
		SetKeepAlive(u.cfg.KeepAlive).
		SetPingTimeout(u.cfg.ConnectTimeout).
		SetWriteTimeout(u.cfg.AckTimeout).
		SetOrderMatters(true).
		SetBinaryWill(protocol.StatusTopic(u.cfg.Router), will, 1, true).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	if u.cfg.TLS != nil {
		opts.SetTLSConfig(u.cfg.TLS)
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !waitToken(ctx, tok, u.cfg.ConnectTimeout+time.Second) {
		c.Disconnect(0)
		u.m.mqttConnects.WithLabelValues("timeout").Inc()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.New("mqtt connect: timed out")
	}
	if err := tok.Error(); err != nil {
		u.m.mqttConnects.WithLabelValues("error").Inc()
		return fmt.Errorf("mqtt connect %s: %w", redactURL(u.cfg.URL), err)
	}
	u.m.mqttConnects.WithLabelValues("ok").Inc()
	u.log.Info("mqtt connected", "broker", redactURL(u.cfg.URL))

	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cmdTopic, radiusTopic := protocol.CmdTopic(u.cfg.Router), protocol.RadiusSyncTopic(u.cfg.Router)
	filters := map[string]byte{cmdTopic: 1}
	if u.cfg.OnRadiusSync != nil {
		filters[radiusTopic] = 1
	}
	st := c.SubscribeMultiple(filters, func(_ mqtt.Client, m mqtt.Message) {
		switch m.Topic() {
		case cmdTopic:
			if u.cfg.OnCommand != nil {
				u.cfg.OnCommand(m.Payload())
			}
		case radiusTopic:
			if u.cfg.OnRadiusSync != nil {
				u.cfg.OnRadiusSync(m.Payload())
			}
		}
	})
	if !waitToken(sctx, st, u.cfg.AckTimeout) || st.Error() != nil {
		c.Disconnect(0)
		return fmt.Errorf("mqtt subscribe %s: %v", cmdTopic, tokenErr(st))
	}
	if r, ok := st.(*mqtt.SubscribeToken); ok {
		for topic, code := range r.Result() {
			if code >= 0x80 {
				u.log.Error("broker refused a subscription (cmd, or radius on a control plane without RADIUS)", "topic", topic, "code", code)
			}
		}
	}
	// Online only once the command subscription exists: the control plane
	// re-sends pending commands when it sees the agent come online.
	if err := u.publishStatus(sctx, c, protocol.StateOnline); err != nil {
		c.Disconnect(0)
		return err
	}
	u.mu.Lock()
	u.client = c
	u.mu.Unlock()
	u.connected.Store(true)
	defer func() {
		u.connected.Store(false)
		u.mu.Lock()
		u.client = nil
		u.mu.Unlock()
	}()
	if u.cfg.OnConnected != nil {
		u.cfg.OnConnected()
	}

	u.ob.resetCursor()
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	for _, f := range []func(context.Context, mqtt.Client) error{u.publishEvents, u.publishResults, u.watchStatus} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(sctx, c); err != nil && sctx.Err() == nil {
				errs <- err
			}
		}()
	}
	var cause error
	select {
	case cause = <-lost:
		cause = fmt.Errorf("mqtt connection lost: %w", cause)
	case cause = <-errs:
	case <-ctx.Done():
	}
	cancel(cause)
	wg.Wait()
	if ctx.Err() != nil {
		// Graceful stop: replace the retained online status ourselves; the
		// broker does not send the will after a DISCONNECT.
		if err := u.publishStatus(context.Background(), c, protocol.StateOffline); err != nil {
			u.log.Warn("publish offline status", "err", err)
		}
		c.Disconnect(250)
		return ctx.Err()
	}
	c.Disconnect(0)
	return cause
}

// publish sends payload to topic at QoS 1 on the current connection
// without waiting for the PUBACK; it fails at once while there is none.
// A message lost with its connection is the caller's to repeat (RADIUS
// state is re-sent on every connect; an unanswered ask falls back to the
// offline rule).
func (u *uplink) publish(topic string, payload []byte) error {
	u.mu.Lock()
	c := u.client
	u.mu.Unlock()
	if c == nil || !u.connected.Load() {
		return errNotConnected
	}
	c.Publish(topic, 1, false, payload)
	return nil
}

func (u *uplink) publishStatus(ctx context.Context, c mqtt.Client, state protocol.AgentState) error {
	b, err := protocol.Encode(ptr(u.status(state)))
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	tok := c.Publish(protocol.StatusTopic(u.cfg.Router), 1, true, b)
	if !waitToken(ctx, tok, u.cfg.AckTimeout) {
		return errors.New("publish status: no PUBACK")
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("publish status: %w", err)
	}
	return nil
}

func (u *uplink) watchStatus(ctx context.Context, c mqtt.Client) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-u.cfg.StatusChanged:
			if err := u.publishStatus(ctx, c, protocol.StateOnline); err != nil {
				return err
			}
		}
	}
}

type flight struct {
	from, to uint64
	n        int
	tok      mqtt.Token
	start    time.Time
}

// publishEvents publishes the outbox from its oldest unacked event, at most
// MaxInFlight batches ahead of their PUBACKs, and deletes each batch's rows
// when its PUBACK arrives. Any failure ends the connection so that the
// next one replays from the oldest unacked event again.
func (u *uplink) publishEvents(ctx context.Context, c mqtt.Client) error {
	topic := protocol.EventsTopic(u.cfg.Router)
	slots := make(chan struct{}, u.cfg.MaxInFlight)
	flights := make(chan flight, u.cfg.MaxInFlight)
	ackErr := make(chan error, 1)
	defer close(flights)
	go func() {
		for f := range flights {
			if !waitToken(ctx, f.tok, u.cfg.AckTimeout) {
				if ctx.Err() == nil {
					ackErr <- fmt.Errorf("no PUBACK for events %d..%d within %s", f.from, f.to, u.cfg.AckTimeout)
				}
				return
			}
			if err := f.tok.Error(); err != nil {
				ackErr <- fmt.Errorf("publish events %d..%d: %w", f.from, f.to, err)
				return
			}
			u.m.publishLatency.Observe(time.Since(f.start).Seconds())
			u.m.eventsPublished.Add(float64(f.n))
			if err := u.ob.ack(ctx, f.from, f.to); err != nil {
				return
			}
			<-slots
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// What was published before the oldest unacked event: read before
	// pending, so that it is never above it (splitBatches also caps it).
	prev := u.ob.acked()
	var after uint64
	for {
		evs, err := u.ob.pending(ctx, after, protocol.MaxEventsPerBatch)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case err := <-ackErr:
				return err
			case <-u.ob.changed():
			case <-tick.C:
			}
			continue
		}
		for _, b := range splitBatches(u.cfg.Router, u.ob.epoch, prev, evs) {
			select {
			case slots <- struct{}{}:
			case err := <-ackErr:
				return err
			case <-ctx.Done():
				return nil
			}
			f := flight{from: b.from, to: b.to, n: b.n, start: time.Now()}
			f.tok = c.Publish(topic, 1, false, b.payload)
			flights <- f
			after, prev = b.to, b.to
		}
	}
}

// publishResults publishes stored command results oldest first, one at a
// time, deleting each after its PUBACK.
func (u *uplink) publishResults(ctx context.Context, c mqtt.Client) error {
	topic := protocol.CmdResultTopic(u.cfg.Router)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		rs, err := u.results.pending(ctx, 50)
		if err != nil {
			return err
		}
		for _, r := range rs {
			tok := c.Publish(topic, 1, false, r.body)
			if !waitToken(ctx, tok, u.cfg.AckTimeout) {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("publish command result: no PUBACK")
			}
			if err := tok.Error(); err != nil {
				return fmt.Errorf("publish command result: %w", err)
			}
			if err := u.results.remove(ctx, r.n); err != nil {
				return err
			}
		}
		if len(rs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-u.results.changed():
		case <-tick.C:
		}
	}
}

// batch is one events payload covering seqs from..to.
type batch struct {
	from, to uint64
	n        int
	payload  []byte
}

func batchPrefix(router, epoch string, prev uint64) string {
	r, _ := json.Marshal(router)
	return `{"v":` + fmt.Sprint(protocol.Version) + `,"router":` + string(r) + `,"epoch":"` + epoch +
		`","prev":` + strconv.FormatUint(prev, 10) + `,"events":[`
}

// batchOverhead is the largest envelope size around the events of a batch.
func batchOverhead(router string) int {
	return len(batchPrefix(router, strings.Repeat("f", protocol.MaxEpochLen), math.MaxUint64)) + len("]}")
}

// splitBatches packs stored events (already validated JSON) into envelopes
// of at most MaxEventsPerBatch events and at most MaxPayloadSize bytes,
// keeping seq order. Splicing the stored JSON avoids decoding and
// re-encoding every event on replay. prev is the seq published before evs;
// each batch names the one before it.
func splitBatches(router, epoch string, prev uint64, evs []storedEvent) []batch {
	var out []batch
	var sb strings.Builder
	cur := batch{}
	size := 0
	finish := func() {
		if cur.n == 0 {
			return
		}
		sb.WriteString("]}")
		cur.payload = []byte(sb.String())
		out = append(out, cur)
		cur = batch{}
		sb.Reset()
	}
	for _, e := range evs {
		add := len(e.body)
		if cur.n > 0 {
			add++ // comma
		}
		if cur.n > 0 && (cur.n >= protocol.MaxEventsPerBatch || size+add+2 > protocol.MaxPayloadSize) {
			finish()
			add = len(e.body)
		}
		if cur.n == 0 {
			prefix := batchPrefix(router, epoch, min(prev, e.seq-1))
			sb.WriteString(prefix)
			size = len(prefix)
			cur.from = e.seq
		} else {
			sb.WriteByte(',')
		}
		sb.Write(e.body)
		size += add
		cur.to = e.seq
		prev = e.seq
		cur.n++
	}
	finish()
	return out
}

// waitToken waits for tok up to timeout; false means it did not complete.
func waitToken(ctx context.Context, tok mqtt.Token, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func tokenErr(t mqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	default:
		return errors.New("timed out")
	}
}

// backoff is exponential with full jitter in [d/2, d].
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.cur = 0 }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func ptr[T any](v T) *T { return &v }
