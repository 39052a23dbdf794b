// MQTT-3.3.5-2 with the real MQTT.js: a QoS 1 publish the broker's ACL
// denies must be acknowledged or answered by closing the connection. For
// MQTT 3.1.1 (VERSION=4) the broker closes, without a DISCONNECT packet
// (3.1.1 servers never send one); for MQTT 5 it answers PUBACK 0x87 and the
// connection stays. Prints PASS on success, FAIL and exits 1 otherwise.
import mqtt from "mqtt";

const { MQTT_URL, ROUTER, SECRET, DENIED_TOPIC, OWN_TOPIC, VERSION } = process.env;
const version = Number(VERSION);

function fail(msg) {
  console.log("FAIL " + msg);
  process.exit(1);
}
setTimeout(() => fail("timed out: the denied publish was neither acknowledged nor answered by a close"), 15000).unref();

const client = mqtt.connect(MQTT_URL, {
  clientId: ROUTER, username: ROUTER, password: SECRET,
  protocolVersion: version, clean: true, reconnectPeriod: 0, connectTimeout: 10000,
});
client.on("error", (err) => console.log("error event: " + err.message));

await new Promise((resolve) => client.once("connect", resolve));
console.log("connected with MQTT " + (version === 5 ? "5" : "3.1.1"));

const publish = (topic) =>
  new Promise((resolve) => client.publish(topic, '{"v":1}', { qos: 1 }, (err, pkt) => resolve({ err, pkt })));

if (version === 4) {
  let disconnectPacket = false;
  client.on("disconnect", () => { disconnectPacket = true; });
  const closed = new Promise((resolve) => client.once("close", () => resolve("closed")));
  const acked = publish(DENIED_TOPIC).then(({ err }) => (err ? "error " + err.message : "acked"));
  const first = await Promise.race([closed, acked]);
  if (first !== "closed") {
    // MQTT.js fails an in-flight publish when the connection closes; a
    // close that came first is what counts.
    if (first === "acked") fail("the denied publish was acknowledged as if applied");
  }
  await closed;
  if (disconnectPacket) fail("the broker sent a DISCONNECT packet to an MQTT 3.1.1 client");
  console.log("PASS connection closed after the denied publish");
  client.end(true);
  process.exit(0);
}

const denied = await publish(DENIED_TOPIC);
const code = denied.err ? denied.err.code : denied.pkt && denied.pkt.reasonCode;
if (code !== 0x87) fail("denied publish: reason code " + code + " (" + (denied.err && denied.err.message) + "), want 135 (0x87)");
if (!client.connected) fail("disconnected after the denied publish");
const own = await publish(OWN_TOPIC);
if (own.err) fail("own topic after the denied publish: " + own.err.message);
console.log("PASS PUBACK 0x87 and still connected");
client.end(true);
process.exit(0);
