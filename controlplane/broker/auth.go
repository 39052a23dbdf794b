package broker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strconv"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// Authentication failure reasons, the label values of
// sitepulse_broker_auth_failures_total.
const (
	authClientID      = "client_id"      // username differs from the client id, or the id is reserved
	authRouterID      = "router_id"      // the client id is not a valid router id
	authNoPassword    = "no_password"    // no secret given
	authWillTopic     = "will_topic"     // a will outside the router's own status topic
	authCredentials   = "credentials"    // the verifier refused the secret
	authVerifierError = "verifier_error" // the verifier failed (store down)
	authInvalidated   = "invalidated"    // the credential changed while being checked
)

var authReasons = []string{authClientID, authRouterID, authNoPassword, authWillTopic, authCredentials, authVerifierError, authInvalidated}

// ACL actions, the label values of sitepulse_broker_acl_denied_total.
const (
	aclPublish   = "publish"
	aclSubscribe = "subscribe"
	aclWill      = "will"
)

// authHook admits agents and enforces the ACL.
type authHook struct {
	mochi.HookBase
	b *Broker
}

// ID implements mochi.Hook.
func (h *authHook) ID() string { return "sitepulse-auth" }

// Provides implements mochi.Hook.
func (h *authHook) Provides(hook byte) bool {
	switch hook {
	case mochi.OnConnect, mochi.OnConnectAuthenticate, mochi.OnACLCheck, mochi.OnSessionEstablished, mochi.OnPacketRead:
		return true
	}
	return false
}

// OnConnect clamps the keepalive into the configured bounds. mochi sets the
// connection deadline from it right after this hook.
func (h *authHook) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	o := h.b.opts
	asked := time.Duration(cl.State.Keepalive) * time.Second
	applied := asked
	switch {
	case asked == 0 || asked > o.KeepaliveMax:
		applied = o.KeepaliveMax
	case asked < o.KeepaliveMin:
		applied = o.KeepaliveMin
	}
	if applied == asked {
		return nil
	}
	cl.State.Keepalive = uint16(applied / time.Second)
	if cl.Properties.ProtocolVersion == 5 {
		cl.State.ServerKeepalive = true // told in the CONNACK
	} else if applied < asked || asked == 0 {
		h.b.log.Warn("MQTT 3.1.1 client asked for a keepalive above the maximum; it will be disconnected when silent for longer",
			"client", cl.ID, "asked", asked, "max", o.KeepaliveMax)
	}
	return nil
}

// OnConnectAuthenticate checks the CONNECT's identity and secret.
func (h *authHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	b := h.b
	id := cl.ID
	fail := func(reason string, err error) bool {
		b.metrics.authFailures.WithLabelValues(reason).Inc()
		args := []any{"reason", reason, "client", logSafe(id), "username", logSafe(string(pk.Connect.Username)), "remote", cl.Net.Remote}
		if err != nil {
			args = append(args, "error", err)
		}
		b.log.Warn("MQTT authentication failed", args...)
		return false
	}
	switch {
	case id == mochi.InlineClientId:
		// A client with the inline client's id would take over its session.
		return fail(authClientID, nil)
	case string(pk.Connect.Username) != id:
		return fail(authClientID, nil)
	case protocol.ValidRouterID(id) != nil:
		return fail(authRouterID, nil)
	case len(pk.Connect.Password) == 0:
		return fail(authNoPassword, nil)
	case pk.Connect.WillFlag && pk.Connect.WillTopic != protocol.StatusTopic(id):
		// mochi publishes wills without an ACL check, so a will elsewhere
		// would let a router speak on another router's topic.
		b.denyACL(cl, aclWill, pk.Connect.WillTopic)
		return fail(authWillTopic, nil)
	}

	secret := string(pk.Connect.Password)
	if b.cache.valid(id, secret) {
		return true
	}
	// A credential change (Invalidate) during the check would otherwise let
	// a stale "valid" into the cache; check again against the new state.
	for range 2 {
		gen := b.cache.generation()
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.AuthTimeout)
		_, err := b.opts.Verifier.VerifyRouterSecret(ctx, id, secret)
		cancel()
		switch controlplane.ErrorCode(err) {
		case "":
		case controlplane.EUNAUTHORIZED, controlplane.ENOTFOUND, controlplane.EINVALID:
			return fail(authCredentials, nil)
		default:
			return fail(authVerifierError, err)
		}
		if b.cache.put(id, secret, gen) {
			return true
		}
	}
	return fail(authInvalidated, nil)
}

// OnSessionEstablished runs after mochi has registered the client. An
// Invalidate between the check above and that registration could not find
// the client to disconnect it; it did remove the cache entry, though, so
// its absence here means the secret just used is no longer current.
func (h *authHook) OnSessionEstablished(cl *mochi.Client, pk packets.Packet) {
	if cl.Net.Inline || h.b.cache.present(cl.ID, string(pk.Connect.Password)) {
		return
	}
	h.b.metrics.authFailures.WithLabelValues(authInvalidated).Inc()
	h.b.log.Warn("MQTT session closed: credentials changed while connecting", "client", cl.ID)
	h.b.disconnect(cl, packets.ErrNotAuthorized)
}

// deniedTopic replaces the topic of an MQTT 5 publish whose topic name
// mochi would drop without an answer ($SYS, wildcards), so that it reaches
// the ACL check and gets its PUBACK "not authorized". It is never a router's
// topic; OnPacketRead has counted and logged the original.
const deniedTopic = "sitepulse/denied"

// OnPacketRead answers the QoS 1 and 2 publishes the ACL denies before mochi
// sees them. MQTT 3.1.1 has no negative PUBACK: the server must acknowledge
// a publish it does not authorize or close the connection (MQTT-3.3.5-2).
// mochi closes, but only after writing a DISCONNECT, which 3.1.1 clients
// never receive from a server, and it drops publishes to $SYS or wildcard
// topics with no answer at all, leaving the client waiting for a PUBACK.
// Stopping the client and rejecting the packet here closes the connection
// at once, no DISCONNECT written (mochi's read loop ends with the error and
// sends the will, as for any lost connection). QoS 0
// needs no answer; mochi drops it after OnACLCheck.
func (h *authHook) OnPacketRead(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Qos == 0 {
		return pk, nil
	}
	if cl.Properties.ProtocolVersion == 5 {
		// An empty name (a topic alias alone) reaches mochi's ACL check
		// as is, before mochi resolves the alias, and is denied there.
		if pk.TopicName != "" && !mochi.IsValidFilter(pk.TopicName, true) {
			h.b.denyACL(cl, aclPublish, pk.TopicName)
			pk.TopicName = deniedTopic
		}
		return pk, nil
	}
	if h.allowedPublish(cl.ID, pk.TopicName) {
		return pk, nil
	}
	b := h.b
	b.metrics.aclDenied.WithLabelValues(aclPublish).Inc()
	b.metrics.aclDisconnects.Inc()
	b.log.Warn("MQTT ACL denied a QoS 1/2 publish of an MQTT 3.1.1 client; closing its connection (MQTT-3.3.5-2)",
		"client", logSafe(cl.ID), "topic", logSafe(pk.TopicName), "qos", pk.FixedHeader.Qos, "remote", cl.Net.Remote)
	cl.Stop(packets.ErrNotAuthorized)
	// The only error mochi's OnPacketRead passes on; it ends the read loop.
	return pk, packets.ErrRejectPacket
}

func (h *authHook) allowedPublish(r, topic string) bool {
	return topic == protocol.EventsTopic(r) || topic == protocol.StatusTopic(r) || topic == protocol.CmdResultTopic(r) ||
		topic == protocol.RadiusStateTopic(r) || topic == protocol.RadiusAskTopic(r)
}

// OnACLCheck allows a router only its own topics. mochi calls it for
// publishes (write) and for subscription filters and deliveries (read); the
// inline client never reaches it.
func (h *authHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	r := cl.ID
	if write {
		switch {
		case h.allowedPublish(r, topic):
			return true
		case topic != deniedTopic: // else counted by OnPacketRead
			h.b.denyACL(cl, aclPublish, topic)
		}
		return false
	}
	if topic == protocol.CmdTopic(r) || topic == protocol.RadiusSyncTopic(r) {
		return true
	}
	h.b.denyACL(cl, aclSubscribe, topic)
	return false
}

func (b *Broker) denyACL(cl *mochi.Client, action, topic string) {
	b.metrics.aclDenied.WithLabelValues(action).Inc()
	b.log.Warn("MQTT ACL denied", "action", action, "client", logSafe(cl.ID), "topic", logSafe(topic), "remote", cl.Net.Remote)
}

// logSafe bounds and quotes client-supplied text before it is logged.
func logSafe(s string) string {
	const limit = 128
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return strconv.Quote(s)
}

// authCache remembers successful verifications per router: the SHA-256 of
// the secret that passed and until when it may be reused. Only verified
// credentials enter it, so its size is bounded by the number of routers.
type authCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	gen     uint64 // incremented by every invalidate
	entries map[string]authEntry
}

type authEntry struct {
	hash    [sha256.Size]byte
	expires time.Time
}

func newAuthCache(ttl time.Duration, now func() time.Time) *authCache {
	return &authCache{ttl: ttl, now: now, entries: make(map[string]authEntry)}
}

// valid reports whether secret was verified for id less than ttl ago.
func (c *authCache) valid(id, secret string) bool {
	h := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	return ok && subtle.ConstantTimeCompare(e.hash[:], h[:]) == 1 && c.now().Before(e.expires)
}

// present reports whether secret is the one last verified for id and not
// invalidated since, however old that verification is.
func (c *authCache) present(id, secret string) bool {
	h := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	return ok && bytes.Equal(e.hash[:], h[:])
}

func (c *authCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put records a verification that started at generation gen, unless an
// invalidate happened since; it reports whether it did.
func (c *authCache) put(id, secret string, gen uint64) bool {
	h := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return false
	}
	c.entries[id] = authEntry{hash: h, expires: c.now().Add(c.ttl)}
	return true
}

func (c *authCache) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, id)
}
