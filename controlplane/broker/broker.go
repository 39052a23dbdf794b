package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// DefaultAddr is the plain TCP listener address a laptop setup uses; the
// command line offers it as the flag default.
const DefaultAddr = "127.0.0.1:1883"

// Defaults applied by New to zero Options fields.
const (
	// DefaultPacketHeadroom is added to protocol.MaxPayloadSize for the
	// fixed header, topic and properties of a PUBLISH packet.
	DefaultPacketHeadroom = 16 << 10
	DefaultMaxInflight    = 1024
	DefaultReceiveMaximum = 64
	DefaultKeepaliveMin   = 5 * time.Second
	DefaultKeepaliveMax   = 5 * time.Minute
	DefaultHandleTimeout  = 30 * time.Second
	DefaultAuthTimeout    = 10 * time.Second
	DefaultAuthCacheTTL   = 5 * time.Minute
	DefaultSessionExpiry  = 24 * time.Hour
)

// Verifier checks an agent's credentials. *store.Store implements it.
type Verifier interface {
	// VerifyRouterSecret returns the router whose id and secret match. It
	// returns EUNAUTHORIZED (or ENOTFOUND) for an unknown or revoked router
	// or a wrong secret; any other error means the check itself failed.
	VerifyRouterSecret(ctx context.Context, id, secret string) (controlplane.Router, error)
}

// Handler applies a message an agent published. *ingest.Ingest implements
// it.
type Handler interface {
	// HandleMessage is called synchronously before the broker acknowledges
	// the message. A nil error acknowledges it. An error whose
	// controlplane.ErrorCode is EINVALID, ETOOLARGE, ENOTFOUND,
	// EUNAUTHORIZED or EFORBIDDEN means the message can never be applied:
	// it is acknowledged and dropped. Any other error leaves it
	// unacknowledged and closes the connection so that the agent resends
	// it. It must return once ctx is done: Close waits for it.
	HandleMessage(ctx context.Context, topic string, payload []byte) error
}

// Options configure a Broker.
type Options struct {
	// Addr is the plain TCP listener address, e.g. DefaultAddr or
	// "127.0.0.1:0". Empty means no plain listener.
	Addr string
	// TLSAddr and TLSConfig configure the TLS listener. A nil TLSConfig
	// means no TLS listener.
	TLSAddr   string
	TLSConfig *tls.Config

	// Verifier checks agent credentials. Required.
	Verifier Verifier
	// Handler receives agent messages and wills. Required.
	Handler Handler

	// MaxPacketSize bounds every MQTT packet; a client sending a larger one
	// is disconnected. 0 means protocol.MaxPayloadSize +
	// DefaultPacketHeadroom. Payloads between protocol.MaxPayloadSize and
	// MaxPacketSize reach the Handler, which rejects them.
	MaxPacketSize int
	// MaxClients bounds concurrently connected clients; 0 means no limit.
	MaxClients int
	// MaxInflight bounds the QoS 1 messages queued for one client (commands
	// to an agent); 0 means DefaultMaxInflight.
	MaxInflight int
	// ReceiveMaximum bounds the unacknowledged QoS 1 messages an MQTT 5
	// client may send at once; 0 means DefaultReceiveMaximum.
	ReceiveMaximum int
	// KeepaliveMin and KeepaliveMax bound the keepalive the broker applies.
	// A client asking for less gets KeepaliveMin (it pings more often than
	// needed). A client asking for more, or for none, gets KeepaliveMax:
	// MQTT 5 clients are told so in the CONNACK; MQTT 3.1.1 clients cannot
	// be told and are disconnected after 1.5 × KeepaliveMax of silence. 0
	// means DefaultKeepaliveMin and DefaultKeepaliveMax.
	KeepaliveMin, KeepaliveMax time.Duration
	// SessionExpiry is how long the broker keeps the session (queued
	// commands) of a disconnected persistent client; 0 means
	// DefaultSessionExpiry.
	SessionExpiry time.Duration

	// HandleTimeout bounds one Handler call; 0 means DefaultHandleTimeout.
	// A call that times out is retried like any transient failure. mochi's
	// connection deadline (1.5 × the keepalive, set when it starts reading
	// a packet) also covers writing the PUBACK, so a call slower than that
	// costs a redelivery, which the store's last_seq makes harmless.
	HandleTimeout time.Duration
	// AuthTimeout bounds one Verifier call; 0 means DefaultAuthTimeout.
	AuthTimeout time.Duration
	// AuthCacheTTL is how long a successful verification is reused for the
	// same router and secret; 0 means DefaultAuthCacheTTL.
	AuthCacheTTL time.Duration

	// Logger receives the broker's and mochi's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the broker's metrics; nil means unregistered.
	Registerer prometheus.Registerer
	// Now is the clock of the authentication cache; nil means time.Now.
	Now func() time.Time
}

// Broker is the embedded MQTT broker.
type Broker struct {
	srv     *mochi.Server
	opts    Options
	log     *slog.Logger
	metrics *metrics
	cache   *authCache
	conns   connStates
	// stopping is set when Close begins, so that the hooks send the wills
	// mochi skips for connections it stops between two packets.
	stopping atomic.Bool

	// ctx is the parent of every Handler and Verifier call; Close cancels
	// it after mochi has drained its connections.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	started  bool
	closed   bool
	tcpAddr  net.Addr
	tlsAddr  net.Addr
	closeErr error
}

// New configures a broker; Start opens its listeners.
func New(o Options) (*Broker, error) {
	if o.Verifier == nil {
		return nil, errors.New("broker: Options.Verifier is required")
	}
	if o.Handler == nil {
		return nil, errors.New("broker: Options.Handler is required")
	}
	if o.TLSConfig != nil && o.TLSAddr == "" {
		return nil, errors.New("broker: Options.TLSConfig set without TLSAddr")
	}
	setDefault(&o.MaxPacketSize, protocol.MaxPayloadSize+DefaultPacketHeadroom)
	setDefault(&o.MaxInflight, DefaultMaxInflight)
	setDefault(&o.ReceiveMaximum, DefaultReceiveMaximum)
	setDefault(&o.KeepaliveMin, DefaultKeepaliveMin)
	setDefault(&o.KeepaliveMax, DefaultKeepaliveMax)
	setDefault(&o.SessionExpiry, DefaultSessionExpiry)
	setDefault(&o.HandleTimeout, DefaultHandleTimeout)
	setDefault(&o.AuthTimeout, DefaultAuthTimeout)
	setDefault(&o.AuthCacheTTL, DefaultAuthCacheTTL)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.MaxPacketSize > math.MaxInt32:
		return nil, fmt.Errorf("broker: MaxPacketSize %d too large", o.MaxPacketSize)
	case o.MaxInflight > math.MaxUint16 || o.ReceiveMaximum > math.MaxUint16:
		return nil, errors.New("broker: MaxInflight and ReceiveMaximum must fit in 16 bits")
	case o.KeepaliveMin > o.KeepaliveMax || o.KeepaliveMax > math.MaxUint16*time.Second:
		return nil, fmt.Errorf("broker: keepalive bounds %v..%v invalid", o.KeepaliveMin, o.KeepaliveMax)
	}

	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = uint32(o.MaxPacketSize)
	caps.MaximumInflight = uint16(o.MaxInflight)
	caps.ReceiveMaximum = uint16(o.ReceiveMaximum)
	caps.MaximumSessionExpiryInterval = uint32(o.SessionExpiry / time.Second)
	caps.MaximumQos = 1 // the contract uses QoS 0 and 1 only
	if o.MaxClients > 0 {
		caps.MaximumClients = int64(o.MaxClients)
	}

	log := o.Logger.With("component", "broker")
	srv := mochi.New(&mochi.Options{
		Capabilities: caps,
		// mochi logs whole packets (payloads) on some errors: redact them.
		Logger:       slog.New(redactHandler{log.Handler()}),
		InlineClient: true,
	})

	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		srv:    srv,
		opts:   o,
		log:    log,
		cache:  newAuthCache(o.AuthCacheTTL, o.Now),
		ctx:    ctx,
		cancel: cancel,
	}
	m, err := newMetrics(o.Registerer, srv)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("broker: %w", err)
	}
	b.metrics = m

	for _, h := range []mochi.Hook{&authHook{b: b}, &ingestHook{b: b}, &metricsHook{b: b}} {
		if err := srv.AddHook(h, nil); err != nil {
			cancel()
			return nil, fmt.Errorf("broker: add hook %s: %w", h.ID(), err)
		}
	}
	return b, nil
}

func setDefault[T int | time.Duration](p *T, v T) {
	if *p <= 0 {
		*p = v
	}
}

// Start opens the listeners and starts serving. ctx bounds only the
// listening; the broker runs until Close.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started || b.closed {
		return errors.New("broker: Start called twice or after Close")
	}
	var lc net.ListenConfig
	var opened []net.Listener
	fail := func(err error) error {
		for _, l := range opened {
			_ = l.Close()
		}
		return err
	}
	if b.opts.Addr != "" {
		l, err := lc.Listen(ctx, "tcp", b.opts.Addr)
		if err != nil {
			return fail(fmt.Errorf("broker: listen %s: %w", b.opts.Addr, err))
		}
		opened = append(opened, l)
		if err := b.srv.AddListener(listeners.NewNet("tcp", l)); err != nil {
			return fail(fmt.Errorf("broker: add listener: %w", err))
		}
		b.tcpAddr = l.Addr()
	}
	if b.opts.TLSConfig != nil {
		l, err := lc.Listen(ctx, "tcp", b.opts.TLSAddr)
		if err != nil {
			return fail(fmt.Errorf("broker: listen %s: %w", b.opts.TLSAddr, err))
		}
		opened = append(opened, l)
		if err := b.srv.AddListener(listeners.NewNet("tls", tls.NewListener(l, b.opts.TLSConfig))); err != nil {
			return fail(fmt.Errorf("broker: add TLS listener: %w", err))
		}
		b.tlsAddr = l.Addr()
	}
	if err := b.srv.Serve(); err != nil {
		return fail(fmt.Errorf("broker: serve: %w", err))
	}
	b.started = true
	b.log.Info("broker started", "addr", addrString(b.tcpAddr), "tls_addr", addrString(b.tlsAddr))
	return nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Close disconnects every client, waits until mochi has finished with them
// (including Handler calls for their last messages and wills), and stops
// the broker. The agents' wills fire, so their routers are recorded as
// offline until they reconnect; close the store after the broker. It is
// safe to call more than once.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.closeErr
	}
	b.closed = true
	b.stopping.Store(true)
	if b.started {
		b.closeErr = b.srv.Close()
	}
	b.cancel()
	return b.closeErr
}

// Addr is the bound address of the plain TCP listener, nil before Start or
// without one.
func (b *Broker) Addr() net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tcpAddr
}

// TLSAddr is the bound address of the TLS listener, nil before Start or
// without one.
func (b *Broker) TLSAddr() net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tlsAddr
}

// PublishCommand sends cmd to its router on sp/v1/{router}/cmd at QoS 1
// through the inline client. A nil error means the broker accepted it, not
// that the agent received it: an offline agent with a persistent session
// gets it when it reconnects, and the command row is resent until the agent
// answers anyway. It returns EINVALID for an invalid command and
// EUNAVAILABLE when the broker is not running.
func (b *Broker) PublishCommand(ctx context.Context, cmd *protocol.Command) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish command: %w", err)
	}
	payload, err := protocol.Encode(cmd)
	if err != nil {
		return controlplane.Errorf(controlplane.EINVALID, "command: %v", err)
	}
	if !b.running() {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "broker not running")
	}
	if err := b.srv.Publish(protocol.CmdTopic(cmd.Router), payload, false, 1); err != nil {
		return fmt.Errorf("publish command %s to %s: %w", cmd.ID, cmd.Router, err)
	}
	return nil
}

// PublishRadius sends a RADIUS sync page to its router on
// sp/v1/{router}/radius at QoS 1 through the inline client, as
// PublishCommand does. EINVALID for an invalid page, EUNAVAILABLE when the
// broker is not running.
func (b *Broker) PublishRadius(ctx context.Context, page *protocol.RadiusSync) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish radius page: %w", err)
	}
	payload, err := protocol.Encode(page)
	if err != nil {
		return controlplane.Errorf(controlplane.EINVALID, "radius page: %v", err)
	}
	if !b.running() {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "broker not running")
	}
	if err := b.srv.Publish(protocol.RadiusSyncTopic(page.Router), payload, false, 1); err != nil {
		return fmt.Errorf("publish radius page %d..%d to %s: %w", page.From, page.To, page.Router, err)
	}
	return nil
}

func (b *Broker) running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.started && !b.closed
}

// Connected reports whether routerID's agent has a live connection.
func (b *Broker) Connected(routerID string) bool {
	cl, ok := b.srv.Clients.Get(routerID)
	return ok && !cl.Net.Inline && !cl.Closed()
}

// Invalidate forgets cached verifications of routerID and disconnects its
// live session, if any. Call it after rotating or revoking the router's
// secret: the agent must then authenticate again with the current secret.
func (b *Broker) Invalidate(routerID string) {
	b.cache.invalidate(routerID)
	cl, ok := b.srv.Clients.Get(routerID)
	if !ok || cl.Net.Inline || cl.Closed() {
		return
	}
	b.log.Info("disconnecting router after credential change", "router", routerID)
	b.disconnect(cl, packets.ErrNotAuthorized)
}

// disconnect closes cl's connection. MQTT 5 clients get a DISCONNECT with
// code; MQTT 3.1.1 has no server-sent DISCONNECT, so their connection is
// just closed.
func (b *Broker) disconnect(cl *mochi.Client, code packets.Code) {
	if cl.Properties.ProtocolVersion == 5 {
		_ = b.srv.DisconnectClient(cl, code)
		return
	}
	cl.Stop(code)
}
