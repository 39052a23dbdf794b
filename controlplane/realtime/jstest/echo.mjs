// Laravel Echo 2 with pusher-js: Echo.private('tenant.1.sessions')
// .listen('.SessionStarted') receives what the Go fan-out publishes for a
// SessionStarted change on the control-plane bus (phone masked, seq 1); a tenant-2
// user's Echo gets .error() for tenant 1's channel and no event.
import Echo from 'laravel-echo';
import Pusher from 'pusher-js';
import { clientOptions, env, fail, newClient, pass, say } from './lib.mjs';

function within(ms, what, register) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

// Tenant 1's dashboard: Echo builds the pusher-js client itself from the
// options (the classic authEndpoint + auth.headers form).
const echo = new Echo({
  broadcaster: 'pusher',
  Pusher,
  key: env.key,
  wsHost: env.host,
  wsPort: env.port,
  forceTLS: false,
  enabledTransports: ['ws'],
  disableStats: true,
  cluster: 'mt1',
  authEndpoint: `${env.httpURL}/api/broadcasting/auth`,
  auth: { headers: { Authorization: `Bearer ${env.token}` } },
});

// Tenant 2's dashboard: Echo given a ready pusher-js client.
const other = new Echo({ broadcaster: 'pusher', client: newClient(process.env.SP_OTHER_TOKEN) });

const sessions = echo.private('tenant.1.sessions');
const received = within(15000, 'SessionStarted', (done) => sessions.listen('.SessionStarted', done));
const subscribed = within(10000, 'subscribed', (done) => sessions.subscribed(done));

let leaked = null;
const refusedChannel = other.private('tenant.1.sessions');
refusedChannel.listen('.SessionStarted', (e) => { leaked = e; });
const refused = within(10000, 'error', (done) => refusedChannel.error(done));

await subscribed;
const err = await refused;
if (err.status !== 403) fail(`tenant 2 error ${JSON.stringify(err)}`);
if (!/^\d+\.\d+$/.test(echo.socketId())) fail(`socketId ${echo.socketId()}`);
say('READY');

const event = await received;
if (event.session?.user !== '+2547****678' || event.session?.kind !== 'hotspot' || event.seq !== 1) {
  fail(`SessionStarted payload ${JSON.stringify(event)}`);
}
if (leaked) fail(`tenant 2 received ${JSON.stringify(leaked)}`);
if (echo.connectionStatus() !== 'connected') fail(`status ${echo.connectionStatus()}`);
echo.disconnect();
other.disconnect();
pass('laravel-echo private channel listen and refusal');
