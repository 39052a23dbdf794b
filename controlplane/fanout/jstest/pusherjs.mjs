// pusher-js connects, authorizes through the real /api/broadcasting/auth
// endpoint, joins a presence channel, and is refused another tenant's
// channel without receiving any of its data.
import { connected, fail, newClient, once, pass, say } from './lib.mjs';

const client = newClient(); // SP_TOKEN: a tenant-1 user
const socketId = await connected(client);
if (!/^\d+\.\d+$/.test(socketId)) fail(`socket_id ${socketId}`);

const own = client.subscribe('private-tenant.1.sessions');
await once(own, 'pusher:subscription_succeeded');

const room = client.subscribe('presence-tenant.1.room');
const members = await once(room, 'pusher:subscription_succeeded');
if (members.count !== 1 || members.me.id !== '11') fail(`presence members ${JSON.stringify(members)}`);
if (members.me.info.email !== 'a***@isp.example') fail(`email not masked: ${JSON.stringify(members.me.info)}`);

const foreign = client.subscribe('private-tenant.2.sessions');
let leaked = null;
foreign.bind_global((event, data) => {
  if (!event.startsWith('pusher:')) leaked = { event, data };
});
const err = await once(foreign, 'pusher:subscription_error');
if (err.type !== 'AuthError' || err.status !== 403) fail(`subscription error ${JSON.stringify(err)}`);

say('READY');
// The Go side now publishes "Secret" on tenant 2's channel, then "Marker"
// on tenant 1's: when Marker arrives, Secret would have arrived first.
const marker = await once(own, 'Marker');
if (marker.n !== 1) fail(`marker ${JSON.stringify(marker)}`);
if (leaked) fail(`tenant 2 data reached tenant 1: ${JSON.stringify(leaked)}`);
if (client.connection.state !== 'connected') fail(`state ${client.connection.state}`);
client.disconnect();
pass('pusher-js auth, presence and tenant isolation');
