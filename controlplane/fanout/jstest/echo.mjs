// Laravel Echo 2 with pusher-js: Echo.private('tenant.N.sessions')
// .listen('.SessionStarted') receives the session the Go side started (phone
// masked); a user of another tenant gets .error() for that channel and no
// event. node_test.go drives it with a change on the bus (tenant 1, seq 1);
// cmd/sitepulse's TestEchoSeesSimulatorLogin with a login on the simulated
// router behind the real agent and server (SP_TENANT, SP_EXPECT_SEQ=any).
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

const tenant = process.env.SP_TENANT ?? '1';
const wantUser = process.env.SP_EXPECT_USER ?? '+2547****678';
const wantSeq = process.env.SP_EXPECT_SEQ ?? '1';
const sessions = echo.private(`tenant.${tenant}.sessions`);
const received = within(15000, 'SessionStarted', (done) => sessions.listen('.SessionStarted', done));
const subscribed = within(10000, 'subscribed', (done) => sessions.subscribed(done));

let leaked = null;
const refusedChannel = other.private(`tenant.${tenant}.sessions`);
refusedChannel.listen('.SessionStarted', (e) => { leaked = e; });
const refused = within(10000, 'error', (done) => refusedChannel.error(done));

await subscribed;
const err = await refused;
if (err.status !== 403) fail(`tenant 2 error ${JSON.stringify(err)}`);
if (!/^\d+\.\d+$/.test(echo.socketId())) fail(`socketId ${echo.socketId()}`);
say('READY');

const event = await received;
const seqOK = wantSeq === 'any' ? Number.isInteger(event.seq) && event.seq > 0 : event.seq === Number(wantSeq);
if (event.session?.user !== wantUser || event.session?.kind !== 'hotspot' || !seqOK) {
  fail(`SessionStarted payload ${JSON.stringify(event)}`);
}
if (leaked) fail(`tenant 2 received ${JSON.stringify(leaked)}`);
if (echo.connectionStatus() !== 'connected') fail(`status ${echo.connectionStatus()}`);
echo.disconnect();
other.disconnect();
pass('laravel-echo private channel listen and refusal');
