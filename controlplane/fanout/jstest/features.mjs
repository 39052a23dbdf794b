// The Pusher features beyond channels, with the real clients: user
// authentication (pusher-js signin and Laravel Echo's connector.signin()
// through /api/broadcasting/user-auth, the SDK's sendToUser and
// terminateUserConnections, watchlists), cache channels (pusher:cache_miss, the last
// event replayed to a late subscriber), pusher:subscription_count, and the
// SDK's channel queries (info attributes, presence users).
import Echo from 'laravel-echo';
import Pusher from 'pusher-js';
import PusherServer from 'pusher';
import { connected, env, fail, newClient, once, pass, say } from './lib.mjs';

const url = new URL(env.httpURL);
const server = new PusherServer({ appId: env.appId, key: env.key, secret: env.secret, host: url.hostname, port: url.port, useTLS: false, timeout: 5000 });

const userAuth = (token) => ({
  userAuthentication: {
    endpoint: `${env.httpURL}/api/broadcasting/user-auth`,
    transport: 'ajax',
    headers: { Authorization: `Bearer ${token}` },
  },
});

function state(client, want, ms = 10000) {
  return new Promise((resolve, reject) => {
    if (client.connection.state === want) return resolve();
    const timer = setTimeout(() => reject(new Error(`not ${want} within ${ms} ms (state ${client.connection.state})`)), ms);
    client.connection.bind('state_change', ({ current }) => {
      if (current === want) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

// ---- User authentication --------------------------------------------
// Alice (user 11) on two connections, Carol (user 21, another tenant) on one.
const alice1 = newClient('t1-admin', userAuth('t1-admin'));
const alice2 = newClient('t1-admin', userAuth('t1-admin'));
const carol = newClient('t2-admin', userAuth('t2-admin'));
await Promise.all([alice1, alice2, carol].map((c) => connected(c)));
for (const c of [alice1, alice2, carol]) c.signin();
await Promise.all([alice1, alice2, carol].map((c) => c.user.signinDonePromise));
if (alice1.user.user_data?.id !== '11' || alice2.user.user_data?.id !== '11') fail(`alice user_data ${JSON.stringify(alice1.user.user_data)}`);
if (alice1.user.user_data?.user_info?.email !== 'a***@isp.example') fail(`user_info not masked: ${JSON.stringify(alice1.user.user_data)}`);
if (carol.user.user_data?.id !== '21') fail(`carol user_data ${JSON.stringify(carol.user.user_data)}`);

// Laravel Echo: connector.signin() with the bearer token (Bob, user 12).
const echo = new Echo({
  broadcaster: 'pusher', Pusher, key: env.key, wsHost: env.host, wsPort: env.port, forceTLS: false,
  enabledTransports: ['ws'], disableStats: true, cluster: 'mt1', bearerToken: 't1-viewer',
  authEndpoint: `${env.httpURL}/api/broadcasting/auth`,
  userAuthentication: { endpoint: `${env.httpURL}/api/broadcasting/user-auth`, headers: {} },
});
echo.connector.signin();
await echo.connector.pusher.user.signinDonePromise;
if (echo.connector.pusher.user.user_data?.id !== '12') fail(`echo user_data ${JSON.stringify(echo.connector.pusher.user.user_data)}`);

// A user without a valid token is refused: pusher:signin_error, no signin.
const nobody = newClient('', userAuth('not-a-token'));
await connected(nobody);
const refused = once(nobody.user, 'pusher:signin_error');
nobody.signin();
const signinErr = await refused;
if (signinErr.status !== 401) fail(`signin_error ${JSON.stringify(signinErr)}`);
nobody.disconnect();

// sendToUser reaches every connection of that user and nobody else.
let carolGot = null;
carol.user.bind('Notice', (d) => { carolGot = d; });
const both = Promise.all([once(alice1.user, 'Notice'), once(alice2.user, 'Notice')]);
await server.sendToUser('11', 'Notice', { n: 1 });
const [n1, n2] = await both;
if (n1.n !== 1 || n2.n !== 1) fail(`Notice ${JSON.stringify([n1, n2])}`);
const bob = once(echo.connector.pusher.user, 'Notice');
await server.sendToUser('12', 'Notice', { n: 2 });
if ((await bob).n !== 2) fail('echo user event');
const carolMarker = once(carol.user, 'Marker');
await server.sendToUser('21', 'Marker', {});
await carolMarker;
if (carolGot) fail(`another user's event reached carol: ${JSON.stringify(carolGot)}`);

// terminateUserConnections closes both of Alice's connections with 4009;
// pusher-js does not reconnect on 40xx. Carol stays.
const terminated = [alice1, alice2].map((c) => new Promise((resolve) => {
  c.connection.bind('error', (e) => { if (e?.data?.code === 4009) resolve(e); });
}));
await server.terminateUserConnections('11');
await Promise.all(terminated);
await Promise.all([state(alice1, 'disconnected'), state(alice2, 'disconnected')]);
if (carol.connection.state !== 'connected') fail(`carol ${carol.connection.state}`);
say('users ok');

// Watchlist: user_data signed by the SDK's authenticateUser with a
// watchlist; pusher.user.watchlist gets online/offline events.
const sdkUser = (userData) => ({
  userAuthentication: {
    customHandler: (params, callback) => callback(null, server.authenticateUser(params.socketId, userData)),
  },
});
const watcher = newClient('', sdkUser({ id: 'w1', watchlist: ['21', '55'] }));
await connected(watcher);
const initial = once(watcher.user.watchlist, 'online');
watcher.signin();
const atSignin = await initial;
if (JSON.stringify(atSignin.user_ids) !== '["21"]') fail(`watchlist online at signin ${JSON.stringify(atSignin)}`);
const comesOnline = once(watcher.user.watchlist, 'online');
const u55 = newClient('', sdkUser({ id: '55' }));
await connected(u55);
u55.signin();
if (JSON.stringify((await comesOnline).user_ids) !== '["55"]') fail('watchlist online');
const goesOffline = once(watcher.user.watchlist, 'offline');
u55.disconnect();
if (JSON.stringify((await goesOffline).user_ids) !== '["55"]') fail('watchlist offline');
watcher.disconnect();
say('watchlist ok');

// ---- Cache channels -------------------------------------------------
const first = newClient('t1-admin');
await connected(first);
const stats = first.subscribe('private-cache-tenant.1.stats');
const order = [];
stats.bind_global((ev) => order.push(ev));
await once(stats, 'pusher:cache_miss');
if (order[0] !== 'pusher:subscription_succeeded') fail(`order before cache_miss ${order}`);
const live = once(stats, 'Stats');
await server.trigger('private-cache-tenant.1.stats', 'Stats', { v: 1 });
if ((await live).v !== 1) fail('live Stats');
// A late subscriber gets the last event right after subscription_succeeded.
const late = newClient('t1-viewer');
await connected(late);
const lateStats = late.subscribe('private-cache-tenant.1.stats');
const lateOrder = [];
lateStats.bind_global((ev, d) => lateOrder.push([ev, d]));
const replay = await once(lateStats, 'Stats');
if (replay.v !== 1) fail(`replayed ${JSON.stringify(replay)}`);
if (lateOrder[0]?.[0] !== 'pusher:subscription_succeeded' || lateOrder[1]?.[0] !== 'Stats') fail(`late order ${JSON.stringify(lateOrder)}`);
// Echo: .listen on a cache channel gets the replay too.
const echoStats = echo.private('cache-tenant.1.stats');
const echoReplay = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error('no Echo replay')), 10000);
  echoStats.listen('.Stats', (d) => { clearTimeout(t); resolve(d); });
});
if (echoReplay.v !== 1) fail(`echo replay ${JSON.stringify(echoReplay)}`);
say('cache ok');

// ---- subscription_count -------------------------------------------
const a = newClient('t1-admin');
const b = newClient('t1-viewer');
await Promise.all([connected(a), connected(b)]);
const roomA = a.subscribe('room');
const c1 = await once(roomA, 'pusher:subscription_count');
if (c1.subscription_count !== 1) fail(`count ${JSON.stringify(c1)}`);
const toTwo = once(roomA, 'pusher:subscription_count');
const roomB = b.subscribe('room');
const c2b = await once(roomB, 'pusher:subscription_count');
const c2a = await toTwo;
if (c2a.subscription_count !== 2 || c2b.subscription_count !== 2 || roomA.subscriptionCount !== 2) fail(`count 2: ${JSON.stringify([c2a, c2b])}`);
const back = once(roomA, 'pusher:subscription_count');
b.unsubscribe('room');
if ((await back).subscription_count !== 1) fail('count after unsubscribe');
say('subscription_count ok');

// ---- Channel queries ----------------------------------------------
const p1 = a.subscribe('presence-tenant.1.room');
const p2 = b.subscribe('presence-tenant.1.room');
await Promise.all([once(p1, 'pusher:subscription_succeeded'), once(p2, 'pusher:subscription_succeeded')]);
let res = await server.get({ path: '/channels/presence-tenant.1.room', params: { info: 'user_count,subscription_count' } });
let body = await res.json();
if (body.occupied !== true || body.user_count !== 2 || body.subscription_count !== 2) fail(`channel info ${JSON.stringify(body)}`);
res = await server.get({ path: '/channels/private-cache-tenant.1.stats', params: { info: 'subscription_count' } });
body = await res.json();
if (body.occupied !== true || body.subscription_count !== 3) fail(`cache channel info ${JSON.stringify(body)}`);
res = await server.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
body = await res.json();
if (body.channels['presence-tenant.1.room']?.user_count !== 2) fail(`channels ${JSON.stringify(body)}`);
res = await server.get({ path: '/channels/presence-tenant.1.room/users' });
body = await res.json();
const ids = (body.users ?? []).map((u) => u.id).sort();
if (JSON.stringify(ids) !== '["11","12"]') fail(`users ${JSON.stringify(body)}`);
res = await server.get({ path: '/channels/presence-tenant.1.empty' });
body = await res.json();
if (body.occupied !== false) fail(`empty channel ${JSON.stringify(body)}`);
try {
  await server.get({ path: '/channels/room/users' });
  fail('users of a public channel answered');
} catch (e) {
  if (e.status !== 400) fail(`users of a public channel: ${e.status}`);
}

for (const c of [carol, first, late, a, b]) c.disconnect();
echo.disconnect();
pass('signin, sendToUser, terminate, watchlist, cache channels, subscription_count and channel queries');
