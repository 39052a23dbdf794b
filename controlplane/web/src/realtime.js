// One Laravel Echo connection to SitePulse's own Pusher-protocol endpoint
// (/app/{key} on the same origin), the channel subscriptions of the tenant
// being viewed, and per-channel seq tracking.
//
// Channels are subscribed for the whole session, not per page, so that the
// seq baseline of each channel is continuous: a page that mounts later still
// detects a gap. Pages register handlers with on() and gap listeners with
// onGap(); see composables.js.

import { reactive } from 'vue'
import Echo from 'laravel-echo'
import Pusher from 'pusher-js'
import { AUTH_ENDPOINT } from './api.js'
import { SeqTracker, needsReload } from './lib/seq.js'
import { reconnected } from './lib/live.js'

/** Channel suffixes of a tenant: private-tenant.{t}.{suffix}. */
export const TENANT_CHANNELS = ['sessions', 'routers', 'dashboard-stats', 'commands', 'users', 'payments', 'subscriptions', 'plans', 'customers', 'vouchers', 'portal', 'notifications']

/** The system admins' channel (its Echo name, without "private-"). */
export const SYSTEM_CHANNEL = 'system-admin'

/**
 * Connection and subscription state for the UI. state is pusher-js's
 * connection state: initialized, connecting, connected, unavailable, failed,
 * disconnected; plus 'disabled' when there is no app key.
 */
export const live = reactive({
  state: 'initialized',
  detail: '',
  tenantId: null,
  // by channel suffix: 'pending' | 'subscribed' | 'error'
  channels: {},
  gaps: 0,
  reconnects: 0,
})

let echo = null
let wasConnected = false // the connection was up before (so 'connected' again is a reconnect)
let tracker = new SeqTracker()
const handlers = new Map() // suffix → Set(fn(event, data))
const gapHandlers = new Map() // suffix → Set(fn())
const subscribedHandlers = new Map() // suffix → Set(fn())
const waiters = new Set() // {suffixes, resolve}

function set(map, key) {
  if (!map.has(key)) map.set(key, new Set())
  return map.get(key)
}

/** Registers fn(event, data) for events of a channel; returns an unsubscriber. */
export function on(suffix, fn) {
  set(handlers, suffix).add(fn)
  return () => handlers.get(suffix)?.delete(fn)
}

/** Registers fn() called when a channel shows a seq gap; returns an unsubscriber. */
export function onGap(suffix, fn) {
  set(gapHandlers, suffix).add(fn)
  return () => gapHandlers.get(suffix)?.delete(fn)
}

/**
 * Registers fn() called each time a channel's subscription succeeds: the
 * first time, after a late answer, and again after every reconnect
 * (pusher-js resubscribes). Returns an unsubscriber.
 */
export function onSubscribed(suffix, fn) {
  set(subscribedHandlers, suffix).add(fn)
  return () => subscribedHandlers.get(suffix)?.delete(fn)
}

function settleWaiters() {
  for (const w of waiters) {
    if (w.suffixes.every((s) => live.channels[s] && live.channels[s] !== 'pending')) {
      waiters.delete(w)
      w.resolve()
    }
  }
}

/**
 * Resolves when every named channel has answered its subscription (or
 * failed), or after timeoutMs: a page subscribes before its REST load so that
 * no event falls between the two, but a dead WebSocket must not hold the
 * page back.
 */
export function whenSubscribed(suffixes, timeoutMs = 3000) {
  if (!echo) return Promise.resolve()
  return new Promise((resolve) => {
    const w = { suffixes, resolve }
    waiters.add(w)
    settleWaiters()
    setTimeout(() => {
      if (waiters.delete(w)) resolve()
    }, timeoutMs)
  })
}

function dispatch(suffix, fullName, event, data) {
  const name = event.startsWith('.') ? event.slice(1) : event
  if (needsReload(tracker.observe(fullName, data))) {
    live.gaps++
    for (const fn of gapHandlers.get(suffix) || []) fn()
  }
  for (const fn of handlers.get(suffix) || []) {
    try {
      fn(name, data)
    } catch (err) {
      console.error(`sitepulse: handler for ${fullName} ${name}`, err)
    }
  }
}

function subscribe(suffix, echoName) {
  live.channels[suffix] = 'pending'
  const full = `private-${echoName}`
  echo
    .private(echoName)
    .subscribed(() => {
      live.channels[suffix] = 'subscribed'
      settleWaiters()
      for (const fn of subscribedHandlers.get(suffix) || []) fn()
    })
    .error((err) => {
      live.channels[suffix] = 'error'
      live.detail = `subscription to ${full} refused${err && err.status ? ` (${err.status})` : ''}`
      settleWaiters()
    })
    // listenToAll sees every event of the channel, so the seq check counts
    // events this dashboard has no handler for as well.
    .listenToAll((event, data) => dispatch(suffix, full, event, data))
}

/**
 * Opens the connection. cfg is GET /config's pusher object: {key, host?,
 * port?, tls?}; without a key the dashboard runs on REST alone.
 */
export function connect(cfg, token) {
  disconnect()
  if (!cfg || !cfg.key) {
    live.state = 'disabled'
    live.detail = 'no realtime app key configured'
    return
  }
  const tls = cfg.tls ?? location.protocol === 'https:'
  const port = Number(cfg.port || location.port || (tls ? 443 : 80))
  const headers = { Authorization: `Bearer ${token}` }
  echo = new Echo({
    broadcaster: 'pusher',
    Pusher,
    key: cfg.key,
    cluster: 'mt1', // required by pusher-js, unused with wsHost
    wsHost: cfg.host || location.hostname,
    wsPort: port,
    wssPort: port,
    forceTLS: tls,
    enabledTransports: ['ws', 'wss'],
    disableStats: true,
    // Echo's own option names and pusher-js 8's; the latter wins in pusher-js.
    authEndpoint: AUTH_ENDPOINT,
    auth: { headers },
    channelAuthorization: { endpoint: AUTH_ENDPOINT, transport: 'ajax', headers },
  })
  wasConnected = false
  const conn = echo.connector.pusher.connection
  live.state = conn.state
  conn.bind('state_change', ({ previous, current }) => {
    live.state = current
    if (current === 'connected') live.detail = ''
    const again = wasConnected && reconnected(previous, current)
    if (current === 'connected') wasConnected = true
    if (again) {
      // pusher-js resubscribes every channel now; each subscription_succeeded
      // makes the pages on it reload (onSubscribed). Until then the channels
      // are pending again.
      live.reconnects++
      for (const s of Object.keys(live.channels)) if (live.channels[s] === 'subscribed') live.channels[s] = 'pending'
    }
  })
  conn.bind('error', (err) => {
    const e = err && err.error && err.error.data
    if (e && e.message) live.detail = e.message
  })
}

/** Subscribes the channels of a tenant, leaving the previous tenant's. */
export function useTenant(tenantId) {
  if (!echo) {
    live.tenantId = tenantId
    return
  }
  if (live.tenantId !== null && live.tenantId !== tenantId) {
    for (const s of TENANT_CHANNELS) {
      echo.leave(`tenant.${live.tenantId}.${s}`)
      tracker.forget(`private-tenant.${live.tenantId}.${s}`)
      delete live.channels[s]
    }
  }
  live.tenantId = tenantId
  if (tenantId === null || tenantId === undefined) return
  for (const s of TENANT_CHANNELS) subscribe(s, `tenant.${tenantId}.${s}`)
}

/** Subscribes private-system-admin (system admins only). */
export function useSystemChannel() {
  if (echo) subscribe(SYSTEM_CHANNEL, SYSTEM_CHANNEL)
}

/** Closes the connection and forgets every subscription. */
export function disconnect() {
  if (echo) {
    // Closing the socket ends every subscription on the server; sending
    // pusher:unsubscribe for each first would only race the close.
    echo.disconnect()
    echo = null
  }
  tracker = new SeqTracker()
  live.channels = {}
  live.tenantId = null
  live.state = 'initialized'
  for (const w of waiters) w.resolve()
  waiters.clear()
}
