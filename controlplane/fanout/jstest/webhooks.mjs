// Pusher webhooks from the hub, checked with the real pusher server SDK:
// two pusher-js clients join a presence channel, one sends a client event,
// both leave. The Go test's receiver keeps each webhook request's headers and
// raw body; this script reads them back from SP_HOOK_URL and checks every
// one with pusher.webhook(...).isValid() and getEvents().
import PusherServer from 'pusher';
import { connected, env, fail, newClient, once, pass } from './lib.mjs';

const hookURL = process.env.SP_HOOK_URL;
if (!hookURL) fail('missing SP_HOOK_URL');
const server = new PusherServer({ appId: env.appId, key: env.key, secret: env.secret });
const wrong = new PusherServer({ appId: env.appId, key: env.key, secret: env.secret + 'x' });
const room = 'presence-tenant.1.room';

const alice = newClient('t1-admin');
const aliceSocket = await connected(alice);
const aRoom = alice.subscribe(room);
await once(aRoom, 'pusher:subscription_succeeded');

const bobAdded = once(aRoom, 'pusher:member_added');
const bob = newClient('t1-viewer');
await connected(bob);
const bRoom = bob.subscribe(room);
await once(bRoom, 'pusher:subscription_succeeded');
await bobAdded;

const typing = once(bRoom, 'client-typing');
if (!aRoom.trigger('client-typing', { x: 1 })) fail('trigger refused');
await typing;

const bobRemoved = once(aRoom, 'pusher:member_removed');
bob.unsubscribe(room);
await bobRemoved;
alice.unsubscribe(room);

const want = [
  { name: 'channel_occupied', channel: room },
  { name: 'member_added', channel: room, user_id: '11' },
  { name: 'member_added', channel: room, user_id: '12' },
  { name: 'client_event', channel: room, event: 'client-typing', data: '{"x":1}', socket_id: aliceSocket, user_id: '11' },
  { name: 'member_removed', channel: room, user_id: '12' },
  { name: 'member_removed', channel: room, user_id: '11' },
  { name: 'channel_vacated', channel: room },
];

let events = [];
for (let i = 0; i < 100; i++) {
  const res = await fetch(hookURL);
  const received = await res.json();
  events = [];
  for (const r of received) {
    const hook = server.webhook({ headers: r.headers, rawBody: r.body });
    if (!hook.isValid()) fail(`webhook not valid for the SDK: ${JSON.stringify(r)}`);
    if (wrong.webhook({ headers: r.headers, rawBody: r.body }).isValid()) fail('webhook valid with a wrong secret');
    if (typeof hook.getTime().getTime() !== 'number') fail('no time');
    events.push(...hook.getEvents());
  }
  if (events.length >= want.length) break;
  await new Promise((r) => setTimeout(r, 100));
}
if (JSON.stringify(events) !== JSON.stringify(want)) {
  fail(`events:\n got ${JSON.stringify(events)}\nwant ${JSON.stringify(want)}`);
}
alice.disconnect();
bob.disconnect();
pass(`${events.length} webhook events valid for the pusher SDK, in order`);
