package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultShareGroup     = "sitepulse"
	DefaultHandleTimeout  = 30 * time.Second
	DefaultRetryDelay     = 2 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultKeepAlive      = 30 * time.Second
	DefaultRemoteBuffer   = 1024
	DefaultReorderHold    = 2 * time.Second
)

// Handler applies a message an agent published. *ingest.Ingest implements
// it; its error decides the acknowledgement exactly as with the embedded
// broker (see the package comment).
type Handler interface {
	HandleMessage(ctx context.Context, topic string, payload []byte) error
}

// Options configure a Client.
type Options struct {
	// URL is the broker, tcp://user:pass@host:1883 or ssl://… (also tls://,
	// mqtts://). The user info, if any, becomes the MQTT credentials.
	// Required.
	URL string
	// TLSConfig is used for ssl:// URLs; nil means the system roots.
	TLSConfig *tls.Config
	// ClientID is the MQTT client id. It must be unique per replica and
	// stable across its restarts (the session, holding the messages
	// queued for the replica, is keyed by it). Empty means
	// "sitepulse-" + the host name.
	ClientID string
	// ReplicaID tells this process's relayed changes from other replicas'.
	// Empty means ClientID + a random suffix, new on every start.
	ReplicaID string
	// ShareGroup is the shared-subscription group; empty means
	// DefaultShareGroup.
	ShareGroup string
	// Handler applies agent messages. Required unless PublishOnly.
	Handler Handler
	// PublishOnly makes a client for a process without ingest (a
	// --roles=jobs node): it publishes commands (PublishCommand) and relays
	// its own committed changes (Relay) but joins no shared subscription
	// and applies no agent message. It subscribes only to the agents'
	// retained statuses, unshared, to answer Connected; other replicas'
	// relays are not received. Its session is clean: nothing is queued for
	// it while it is away. Handler and ShareGroup are ignored.
	PublishOnly bool
	// HandleTimeout bounds one Handler call; 0 means DefaultHandleTimeout.
	HandleTimeout time.Duration
	// RetryDelay is how long the client waits, after a retryable Handler
	// failure, before it reconnects to have the broker redeliver; 0 means
	// DefaultRetryDelay.
	RetryDelay time.Duration
	// ConnectTimeout bounds one connection attempt and Start; 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// KeepAlive is the MQTT keepalive; 0 means DefaultKeepAlive.
	KeepAlive time.Duration
	// RemoteBuffer is the capacity of the channel of changes relayed by
	// other replicas; 0 means DefaultRemoteBuffer.
	RemoteBuffer int
	// ReorderHold is how long Fanin holds a router's batch whose
	// predecessor, applied by another replica, has not been relayed yet
	// (see orderer); 0 means DefaultReorderHold.
	ReorderHold time.Duration
	// QueryTimeout bounds how long a cluster-wide channel query waits for
	// the other replicas (see ShareHub); 0 means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the metrics; nil means unregistered.
	Registerer prometheus.Registerer
}

// Client is a control-plane replica's connection to an external broker.
type Client struct {
	opts Options
	log  *slog.Logger
	m    *metrics
	cl   mqtt.Client

	ctx    context.Context // parent of Handler calls; Close cancels it
	cancel context.CancelFunc

	// poisoned is set after a retryable failure: later messages of the
	// same connection are left unacknowledged too (so that the broker
	// resends them after the failed one, in order) until the reconnect.
	poisoned   atomic.Bool
	reconnects sync.WaitGroup

	handling    atomic.Int32 // onMessage calls running
	lastHandled atomic.Int64 // unix nanos when the last one ended
	closed      atomic.Bool
	closeOnce   sync.Once

	// subscribed is closed after the first connection's subscriptions.
	subscribed     chan struct{}
	subscribedOnce sync.Once

	statusMu sync.Mutex
	status   map[string]routerStatus

	relay relayState
	share sharing // channel queries with the other replicas (occupancy.go)
}

// routerStatus is the newest status a replica has seen of a router.
type routerStatus struct {
	ts     time.Time
	online bool
}

// New configures a client; Start connects it.
func New(o Options) (*Client, error) {
	if o.URL == "" {
		return nil, errors.New("cluster: Options.URL is required")
	}
	if o.Handler == nil && !o.PublishOnly {
		return nil, errors.New("cluster: Options.Handler is required")
	}
	if o.ClientID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			return nil, fmt.Errorf("cluster: no ClientID and no host name: %v", err)
		}
		o.ClientID = "sitepulse-" + host
	}
	if o.ReplicaID == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("cluster: replica id: %w", err)
		}
		o.ReplicaID = o.ClientID + "-" + hex.EncodeToString(b[:])
	}
	if o.ShareGroup == "" {
		o.ShareGroup = DefaultShareGroup
	}
	if strings.ContainsAny(o.ShareGroup, "/+#") {
		return nil, fmt.Errorf("cluster: share group %q has a separator or wildcard", o.ShareGroup)
	}
	setDefault(&o.HandleTimeout, DefaultHandleTimeout)
	setDefault(&o.RetryDelay, DefaultRetryDelay)
	setDefault(&o.ConnectTimeout, DefaultConnectTimeout)
	setDefault(&o.KeepAlive, DefaultKeepAlive)
	if o.RemoteBuffer <= 0 {
		o.RemoteBuffer = DefaultRemoteBuffer
	}
	if o.ReorderHold <= 0 {
		o.ReorderHold = DefaultReorderHold
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts:   o,
		log:    o.Logger.With("component", "cluster", "replica", o.ReplicaID),
		m:      m,
		ctx:    ctx,
		cancel: cancel,
		status: make(map[string]routerStatus),

		subscribed: make(chan struct{}),
	}
	c.relay.init(o.RemoteBuffer)

	mo, err := c.clientOptions()
	if err != nil {
		cancel()
		return nil, err
	}
	c.cl = mqtt.NewClient(mo)
	return c, nil
}

func setDefault(p *time.Duration, v time.Duration) {
	if *p <= 0 {
		*p = v
	}
}

// clientOptions maps Options to paho's. The session is persistent (clean
// session off) so that QoS 1 messages the broker queued or sent without an
// acknowledgement are delivered again when the replica reconnects.
func (c *Client) clientOptions() (*mqtt.ClientOptions, error) {
	u, err := url.Parse(c.opts.URL)
	if err != nil {
		return nil, fmt.Errorf("cluster: broker URL: %v", redactErr(err))
	}
	mo := mqtt.NewClientOptions()
	if u.User != nil {
		mo.SetUsername(u.User.Username())
		if p, ok := u.User.Password(); ok {
			mo.SetPassword(p)
		}
		u.User = nil
	}
	switch u.Scheme {
	case "tcp", "mqtt":
		u.Scheme = "tcp"
	case "ssl", "tls", "mqtts", "tcps":
		u.Scheme = "ssl"
		tc := c.opts.TLSConfig
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		mo.SetTLSConfig(tc)
	default:
		return nil, fmt.Errorf("cluster: broker URL scheme %q: want tcp or ssl", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("cluster: broker URL has no host")
	}
	mo.AddBroker(u.String())
	mo.SetClientID(c.opts.ClientID)
	// A publish-only client has nothing the broker should keep for it:
	// statuses are retained and resent on every subscription.
	mo.SetCleanSession(c.opts.PublishOnly)
	mo.SetOrderMatters(true) // one router's batches must be applied in order
	mo.SetAutoAckDisabled(true)
	mo.SetAutoReconnect(true)
	mo.SetConnectRetry(true)
	mo.SetConnectRetryInterval(time.Second)
	mo.SetMaxReconnectInterval(10 * time.Second)
	mo.SetConnectTimeout(c.opts.ConnectTimeout)
	mo.SetKeepAlive(c.opts.KeepAlive)
	mo.SetWriteTimeout(c.opts.ConnectTimeout)
	mo.SetOnConnectHandler(c.onConnect)
	mo.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		c.m.connectionLost.Inc()
		c.log.Warn("connection to the broker lost; reconnecting", "err", err)
	})
	return mo, nil
}

// redactErr drops a URL (which may hold a password) from url.Parse errors.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Start connects and subscribes, and returns once the first connection's
// subscriptions are in place or ctx (bounded by ConnectTimeout) is done.
func (c *Client) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
	defer cancel()
	tok := c.cl.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("cluster: connect: %w", err)
		}
	case <-ctx.Done():
		// paho keeps retrying in the background (ConnectRetry); Close
		// stops it.
		return fmt.Errorf("cluster: connect: %w", ctx.Err())
	}
	select {
	case <-c.subscribed:
	case <-ctx.Done():
		return fmt.Errorf("cluster: subscribe: %w", ctx.Err())
	}
	c.log.Info("connected to the external broker", "client_id", c.opts.ClientID)
	return nil
}

// Filters the client subscribes to, for the share group g.
func ingestFilters(g string) map[string]byte {
	share := "$share/" + g + "/" + protocol.TopicRoot
	return map[string]byte{
		share + "/+/" + string(protocol.TopicEvents):    1,
		share + "/+/" + string(protocol.TopicCmdResult): 1,
		// Not shared: every replica tracks which agents are connected
		// (Connected) and the will's time (see onStatus). Applying a
		// status on every replica is idempotent; only one sees it change.
		protocol.TopicRoot + "/+/" + string(protocol.TopicStatus):   1,
		protocol.TopicRoot + "/" + protocol.BroadcastSegment + "/#": 0,
	}
}

// publishOnlyFilters are the subscriptions of a PublishOnly client: the
// agents' statuses alone, for Connected.
func publishOnlyFilters() map[string]byte {
	return map[string]byte{protocol.TopicRoot + "/+/" + string(protocol.TopicStatus): 1}
}

// filters are the subscriptions of this client.
func (c *Client) filters() map[string]byte {
	if c.opts.PublishOnly {
		return publishOnlyFilters()
	}
	return ingestFilters(c.opts.ShareGroup)
}

// onConnect subscribes on every (re)connection. The persistent session
// keeps the subscriptions, but a broker may have lost it.
func (c *Client) onConnect(cl mqtt.Client) {
	c.poisoned.Store(false)
	c.m.connects.Inc()
	filters := c.filters()
	tok := cl.SubscribeMultiple(filters, c.onMessage)
	if !tok.WaitTimeout(c.opts.ConnectTimeout) || tok.Error() != nil {
		c.log.Error("subscribe failed; reconnecting", "err", tok.Error())
		c.forceReconnect()
		return
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for f, code := range st.Result() {
			if code == 0x80 {
				c.log.Error("broker refused a subscription; check the control plane's ACL", "filter", f)
			}
		}
	}
	c.subscribedOnce.Do(func() { close(c.subscribed) })
}

// leaveShared unsubscribes from the shared ingest subscriptions and lets
// the messages already on their way be handled. A broker keeps handing
// a share's messages to a member whose persistent session is offline
// (Mosquitto queues them for it), so a replica that goes away without
// leaving would strand them until it came back under the same client id,
// which a Kubernetes Deployment's pod never does.
func (c *Client) leaveShared() {
	if !c.cl.IsConnectionOpen() {
		return
	}
	var shared []string
	for f := range c.filters() {
		if strings.HasPrefix(f, "$share/") {
			shared = append(shared, f)
		}
	}
	if len(shared) == 0 {
		return
	}
	tok := c.cl.Unsubscribe(shared...)
	if !tok.WaitTimeout(c.opts.ConnectTimeout) || tok.Error() != nil {
		c.log.Warn("could not leave the shared subscriptions; the broker may hold messages for this replica's session", "err", tok.Error())
		return
	}
	// Messages sent before the UNSUBACK may still be queued in paho:
	// handle them (they are acknowledged as usual) until none came for a
	// moment, within HandleTimeout.
	deadline := time.Now().Add(c.opts.HandleTimeout)
	for time.Now().Before(deadline) {
		if c.handling.Load() == 0 && time.Since(time.Unix(0, c.lastHandled.Load())) > 200*time.Millisecond {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// onMessage runs on paho's single dispatch goroutine (order matters).
func (c *Client) onMessage(_ mqtt.Client, msg mqtt.Message) {
	c.handling.Add(1)
	defer func() {
		c.lastHandled.Store(time.Now().UnixNano())
		c.handling.Add(-1)
	}()
	topic := msg.Topic()
	if isHubTopic(topic) {
		c.onHubMessage(topic, msg.Payload())
		msg.Ack()
		return
	}
	if strings.HasPrefix(topic, protocol.TopicRoot+"/"+protocol.BroadcastSegment+"/") {
		c.onRelay(topic, msg.Payload())
		msg.Ack()
		return
	}
	if c.poisoned.Load() {
		// An earlier message of this connection failed: leave this one for
		// the broker to resend after it.
		c.m.ingest.WithLabelValues("deferred").Inc()
		return
	}
	payload := msg.Payload()
	if strings.HasSuffix(topic, "/"+string(protocol.TopicStatus)) {
		payload = c.onStatus(topic, payload)
	}
	if c.opts.PublishOnly {
		// Tracked for Connected; the replicas with ingest apply it.
		msg.Ack()
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.HandleTimeout)
	err := c.opts.Handler.HandleMessage(ctx, topic, payload)
	cancel()
	switch {
	case err == nil:
		c.m.ingest.WithLabelValues("applied").Inc()
		msg.Ack()
	case permanent(err):
		// Ingest logged and counted the reason.
		c.m.ingest.WithLabelValues("rejected").Inc()
		msg.Ack()
	default:
		c.m.ingest.WithLabelValues("retry").Inc()
		c.log.Error("ingest failed; leaving the message unacknowledged and reconnecting so the broker resends it",
			"topic", fmt.Sprintf("%.200q", topic), "err", err)
		c.poisoned.Store(true)
		c.forceReconnect()
	}
}

// permanent reports whether a Handler error means the message can never be
// applied (acknowledge and drop), as the embedded broker classifies it.
func permanent(err error) bool {
	switch controlplane.ErrorCode(err) {
	case controlplane.EINVALID, controlplane.ETOOLARGE, controlplane.ENOTFOUND,
		controlplane.EUNAUTHORIZED, controlplane.EFORBIDDEN:
		return true
	}
	return false
}

// forceReconnect disconnects (without acknowledging what is pending) and
// connects again after RetryDelay, off the dispatch goroutine: paho's
// Disconnect waits for it.
func (c *Client) forceReconnect() {
	if c.closed.Load() {
		return
	}
	c.reconnects.Add(1)
	go func() {
		defer c.reconnects.Done()
		c.cl.Disconnect(250)
		t := time.NewTimer(c.opts.RetryDelay)
		defer t.Stop()
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		// ConnectRetry makes Connect keep trying until it succeeds or
		// Disconnect (from Close) stops it.
		tok := c.cl.Connect()
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil && !c.closed.Load() {
				c.log.Error("reconnect failed", "err", err)
			}
		case <-c.ctx.Done():
		}
	}()
}

// onStatus tracks the agent's connectivity and returns the payload to
// ingest. An external broker publishes an agent's will as the agent set
// it: stamped when the agent connected, before its "online" status, so the
// store would discard it as older. Like the embedded broker, the client
// moves such an offline status just after the newest status it has seen
// of the router. Every replica sees every status in the broker's order, so
// every replica computes the same time.
func (c *Client) onStatus(topic string, payload []byte) []byte {
	t, err := protocol.ParseTopic(topic)
	if err != nil {
		return payload
	}
	st, err := protocol.DecodeStatus(payload)
	if err != nil || st.Router != t.Router {
		return payload // ingest rejects and counts it
	}
	online := st.State == protocol.StateOnline
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	prev, known := c.status[st.Router]
	if !online && known && prev.online && !st.TS.After(prev.ts) {
		st.TS = prev.ts.Add(time.Millisecond) // stores may keep microseconds
		if p, err := protocol.Encode(st); err == nil {
			payload = p
		}
	}
	if !known || !st.TS.Before(prev.ts) {
		c.status[st.Router] = routerStatus{ts: st.TS, online: online}
	}
	return payload
}

// Connected reports whether routerID's agent is connected to the broker,
// as its newest status says.
func (c *Client) Connected(routerID string) bool {
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	return c.status[routerID].online
}

// Ready reports whether the client is connected to the broker.
func (c *Client) Ready() bool { return !c.closed.Load() && c.cl.IsConnectionOpen() }

// ReplicaID is this process's id in relayed changes.
func (c *Client) ReplicaID() string { return c.opts.ReplicaID }

// PublishCommand sends cmd to its router on sp/v1/{router}/cmd at QoS 1 and
// waits for the broker's acknowledgement. Like the embedded broker's, a
// nil error means the broker accepted it. It returns EINVALID for an
// invalid command and EUNAVAILABLE when the broker is unreachable.
func (c *Client) PublishCommand(ctx context.Context, cmd *protocol.Command) error {
	payload, err := protocol.Encode(cmd)
	if err != nil {
		return controlplane.Errorf(controlplane.EINVALID, "command: %v", err)
	}
	if c.closed.Load() || !c.cl.IsConnectionOpen() {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "not connected to the broker")
	}
	tok := c.cl.Publish(protocol.CmdTopic(cmd.Router), 1, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return controlplane.Errorf(controlplane.EUNAVAILABLE, "publish command %s to %s: %v", cmd.ID, cmd.Router, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publish command %s to %s: %w", cmd.ID, cmd.Router, ctx.Err())
	}
}

// Close disconnects, leaving unacknowledged messages in the persistent
// session for this replica's next start. A Handler call in progress is
// cancelled; what it did not commit is redelivered. Safe to call more
// than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.leaveShared()
		c.cancel()
		// After any reconnect in progress has given up, so none connects
		// again behind Close's back.
		c.reconnects.Wait()
		c.cl.Disconnect(250)
		c.relay.close()
	})
	return nil
}
