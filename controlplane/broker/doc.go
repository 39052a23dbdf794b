// Package broker embeds the MQTT broker (mochi-mqtt) that agents connect
// to, with SitePulse's authentication, ACL and ingest hooks.
//
// Authentication: the username must equal the client id and be a valid
// router id; the password is the router's secret, checked by a Verifier
// (the store) and cached for a short time. Invalidate drops the cache entry
// and disconnects the router's live session, so a rotated or revoked secret
// stops working at once.
//
// ACL: client R may publish only sp/v1/R/events, sp/v1/R/status and
// sp/v1/R/cmd/result, may subscribe only to sp/v1/R/cmd, and may set a will
// only on sp/v1/R/status. Everything else is denied, logged and counted.
// mochi answers a denied subscribe with a failure return code. A denied
// QoS 1 publish from an MQTT 3.1.1 client closes the connection at once,
// without a DISCONNECT (3.1.1 has no negative PUBACK, and MQTT-3.3.5-2
// requires an acknowledgement or a close; counted in
// sitepulse_broker_acl_disconnects_total); from an MQTT 5 client it is
// answered with a PUBACK "not authorized" (0x87) and the connection stays,
// also for $SYS and wildcard topic names, which mochi alone would leave
// unanswered. A denied QoS 0 publish needs no answer. Either way it is
// dropped: neither delivered nor handed to the Handler.
//
// Ingest and delivery guarantee: mochi calls the OnPublish hook on the
// publishing client's connection goroutine before it writes the PUBACK of a
// QoS 1 message. The broker calls the Handler there, synchronously, and acts
// on its result (see classify):
//
//   - success: the message is acknowledged (and retained, for status);
//   - a permanent error (a payload that will never become valid, an
//     unknown or revoked router): the message is acknowledged so the agent
//     drops it from its outbox, but it is neither retained nor delivered;
//   - any other error (the store is unavailable, a timeout): no PUBACK is
//     sent and the connection is closed, so the agent reconnects and
//     publishes the message again from its outbox.
//
// Together with the store's per-router last_seq this makes ingest exactly
// once in effect: a batch is committed before its PUBACK leaves, and a
// redelivered batch is skipped. The broker therefore does not consume agent
// messages through an inline subscription: mochi invokes inline
// subscriptions only after the PUBACK has been written, which would lose a
// batch whose commit failed.
//
// Wills never pass through OnPublish. The broker rewrites the timestamp of
// an agent's offline will so that it orders after the last status the
// agent published on that connection (the store ignores statuses older than
// the one it holds, and the will was stamped when the agent connected), and
// hands it to the Handler once mochi has sent it.
//
// The control plane publishes commands through mochi's inline client,
// which bypasses authentication and the ACL and needs no TCP connection.
package broker
