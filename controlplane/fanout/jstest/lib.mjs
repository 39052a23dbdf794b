// Shared setup for the compatibility scripts. The Go test (node_test.go)
// starts the hub, the auth endpoint and the HTTP API on 127.0.0.1 and passes
// their coordinates in SP_* environment variables.
import Pusher from 'pusher-js';

export const env = {
  host: required('SP_WS_HOST'),
  port: Number(required('SP_WS_PORT')),
  httpURL: required('SP_HTTP_URL'),
  appId: required('SP_APP_ID'),
  key: required('SP_KEY'),
  secret: process.env.SP_SECRET ?? '',
  token: process.env.SP_TOKEN ?? '',
};

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v;
}

// A whole script must finish within this time or it fails.
const deadline = setTimeout(() => fail('timed out'), Number(process.env.SP_TIMEOUT_MS ?? 20000));
deadline.unref();

// Options that point pusher-js at the local hub over plain ws.
export function clientOptions(token = env.token, extra = {}) {
  return {
    wsHost: env.host,
    wsPort: env.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    cluster: 'mt1',
    channelAuthorization: {
      endpoint: `${env.httpURL}/api/broadcasting/auth`,
      transport: 'ajax',
      headers: { Authorization: `Bearer ${token}` },
    },
    ...extra,
  };
}

export function newClient(token = env.token, extra = {}) {
  return new Pusher(env.key, clientOptions(token, extra));
}

// say prints one line the Go test reads (e.g. READY).
export function say(line) {
  process.stdout.write(line + '\n');
}

export function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exit(1);
}

export function pass(msg = 'ok') {
  say('PASS ' + msg);
  process.exit(0);
}

// once resolves with the data of the first `event` on a pusher-js channel
// or connection, or rejects after ms.
export function once(target, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    target.bind(event, function handler(data) {
      clearTimeout(timer);
      target.unbind(event, handler);
      resolve(data);
    });
  });
}

// connected resolves with the socket id once the client is connected.
export function connected(client, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not connected within ${ms} ms (state ${client.connection.state})`)), ms);
    client.connection.bind('connected', () => {
      clearTimeout(timer);
      resolve(client.connection.socket_id);
    });
    client.connection.bind('failed', () => reject(new Error('connection failed')));
  });
}
