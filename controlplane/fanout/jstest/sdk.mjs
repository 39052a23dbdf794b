// The pusher server SDK triggers through the hub's HTTP API and a pusher-js
// subscriber receives the events; the SDK's own channel signatures are
// accepted by the hub; a wrong secret is refused with 401.
import PusherServer from 'pusher';
import { connected, env, fail, newClient, once, pass } from './lib.mjs';

const url = new URL(env.httpURL);
const sdkOptions = { appId: env.appId, key: env.key, host: url.hostname, port: url.port, useTLS: false, timeout: 5000 };
const server = new PusherServer({ ...sdkOptions, secret: env.secret });

// Authorize with the SDK's signatures instead of the auth endpoint.
const client = newClient('', {
  channelAuthorization: {
    customHandler: (params, callback) => {
      const presence = params.channelName.startsWith('presence-')
        ? { user_id: 'sdk-user', user_info: { name: 'SDK' } }
        : undefined;
      callback(null, server.authorizeChannel(params.socketId, params.channelName, presence));
    },
  },
});
const socketId = await connected(client);

const news = client.subscribe('news');
const commands = client.subscribe('private-tenant.1.commands');
const room = client.subscribe('presence-tenant.1.room');
await Promise.all([news, commands, room].map((ch) => once(ch, 'pusher:subscription_succeeded')));

const got = once(commands, 'CommandUpdated');
let res = await server.trigger('private-tenant.1.commands', 'CommandUpdated', { id: 5, state: 'running' });
if (res.status !== 200) fail(`trigger status ${res.status}`);
const cmd = await got;
if (cmd.id !== 5 || cmd.state !== 'running') fail(`CommandUpdated ${JSON.stringify(cmd)}`);

// Several channels at once, and a batch.
const multi = Promise.all([once(news, 'Multi'), once(commands, 'Multi')]);
await server.trigger(['news', 'private-tenant.1.commands'], 'Multi', { m: 1 });
await multi;
const batch = Promise.all([once(news, 'B1'), once(room, 'B2')]);
await server.triggerBatch([
  { channel: 'news', name: 'B1', data: { b: 1 } },
  { channel: 'presence-tenant.1.room', name: 'B2', data: 'plain string' },
]);
const [b1, b2] = await batch;
if (b1.b !== 1 || b2 !== 'plain string') fail(`batch ${JSON.stringify([b1, b2])}`);

// socket_id excludes the sender.
let excluded = false;
news.bind('Excluded', () => { excluded = true; });
const after = once(news, 'After');
await server.trigger('news', 'Excluded', {}, { socket_id: socketId });
await server.trigger('news', 'After', {});
await after;
if (excluded) fail('socket_id exclusion ignored');

// Channel queries.
res = await server.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
const channels = await res.json();
if (channels.channels['presence-tenant.1.room']?.user_count !== 1) fail(`channels ${JSON.stringify(channels)}`);
res = await server.get({ path: '/channels/presence-tenant.1.room/users' });
const users = await res.json();
if (users.users?.[0]?.id !== 'sdk-user') fail(`users ${JSON.stringify(users)}`);

// A wrong secret is refused with 401.
const wrong = new PusherServer({ ...sdkOptions, secret: 'not-the-secret' });
try {
  await wrong.trigger('news', 'Forged', {});
  fail('trigger with a wrong secret succeeded');
} catch (e) {
  if (e.status !== 401) fail(`wrong secret: ${e.status} ${e.body}`);
}

client.disconnect();
pass('pusher SDK trigger, batch, exclusion, queries and 401');
