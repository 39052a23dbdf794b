// Laravel Echo 2 with pusher-js on billing's channel:
// Echo.private('tenant.1.payments').listen('.PaymentCompleted') receives the
// payment the Go side announced on the bus, its phone masked and its amount
// in integer minor units; tenant 2's user is refused the channel and hears
// nothing. node_test.go drives it (SP_EXPECT_PHONE, SP_EXPECT_AMOUNT).
import Echo from 'laravel-echo';
import { env, fail, newClient, pass, say } from './lib.mjs';

function within(ms, what, register) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

const echo = new Echo({ broadcaster: 'pusher', client: newClient(env.token) });
const other = new Echo({ broadcaster: 'pusher', client: newClient(process.env.SP_OTHER_TOKEN) });

const payments = echo.private('tenant.1.payments');
const received = within(15000, 'PaymentCompleted', (done) => payments.listen('.PaymentCompleted', done));
const subscribed = within(10000, 'subscribed', (done) => payments.subscribed(done));

let leaked = null;
const refusedChannel = other.private('tenant.1.payments');
refusedChannel.listen('.PaymentCompleted', (e) => { leaked = e; });
const refused = within(10000, 'error', (done) => refusedChannel.error(done));

await subscribed;
const err = await refused;
if (err.status !== 403) fail(`tenant 2 error ${JSON.stringify(err)}`);
say('READY');

const event = await received;
const p = event.payment;
if (!p || p.phone !== process.env.SP_EXPECT_PHONE || p.status !== 'completed' || event.seq !== 1) {
  fail(`PaymentCompleted payload ${JSON.stringify(event)}`);
}
if (p.amount?.amount !== Number(process.env.SP_EXPECT_AMOUNT) || !Number.isInteger(p.amount.amount) || p.amount.currency !== 'KES') {
  fail(`amount ${JSON.stringify(p.amount)}`);
}
if (JSON.stringify(event).includes(process.env.SP_RAW_PHONE.slice(1))) fail(`raw phone in ${JSON.stringify(event)}`);
if (leaked) fail(`tenant 2 received ${JSON.stringify(leaked)}`);
echo.disconnect();
other.disconnect();
pass('laravel-echo listens to PaymentCompleted with the phone masked');
