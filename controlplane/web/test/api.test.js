import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  accountCommand,
  kickCommand,
  liveDataFromEvent,
  normalizeAccount,
  normalizeCommand,
  normalizeStats,
  routerFromEvent,
  sessionsFromEvent,
} from '../src/api.js'

test('normalizeStats reads GET /stats and the event', () => {
  const rest = {
    online_hotspot: 12,
    online_pppoe: 3,
    routers_online: 2,
    routers_offline: 1,
    routers_total: 4,
    rx_bps: 1500000,
    tx_bps: null,
    at: '2026-03-01T10:00:00Z',
  }
  assert.deepEqual(normalizeStats(rest), {
    hotspot: 12,
    pppoe: 3,
    routersOnline: 2,
    routersOffline: 1,
    routersTotal: 4,
    rxBps: 1500000,
    txBps: null,
    at: '2026-03-01T10:00:00Z',
  })
  assert.equal(normalizeStats({ seq: 4, stats: rest }).hotspot, 12)
  assert.equal(normalizeStats({}).hotspot, null)
})

test('sessionsFromEvent accepts each payload shape', () => {
  const s = { router_id: 'r-1', key: 'k' }
  assert.deepEqual(sessionsFromEvent({ seq: 1, sessions: [s, s] }), [s, s])
  assert.deepEqual(sessionsFromEvent({ seq: 1, session: s }), [s])
  assert.deepEqual(sessionsFromEvent({ seq: 1, record: s }), [s])
  assert.deepEqual(sessionsFromEvent({ seq: 1, ...s }), [{ seq: 1, ...s }])
  assert.deepEqual(sessionsFromEvent({ seq: 1 }), [])
  assert.deepEqual(sessionsFromEvent(null), [])
})

test('router event payloads', () => {
  assert.equal(routerFromEvent({ seq: 1, router: { id: 'r-1', status: 'online' } }).status, 'online')
  assert.equal(routerFromEvent({ seq: 1, id: 'r-1', status: 'offline' }).status, 'offline')
  assert.equal(routerFromEvent({ seq: 1 }), null)
  const d = liveDataFromEvent({ seq: 2, router_id: 'r-1', resources: { cpu_load: 7 }, at: 'T' })
  assert.deepEqual([d.router_id, d.resources.cpu_load, d.at], ['r-1', 7, 'T'])
})

test('kickCommand names the session by key and RouterOS id, never by user', () => {
  assert.deepEqual(kickCommand({ kind: 'hotspot', key: 'hotspot:a|m|1', ros_id: '*1', user: '+2547****678' }), {
    kind: 'hotspot.active.kick',
    kick: { key: 'hotspot:a|m|1', ros_id: '*1' },
  })
  assert.deepEqual(kickCommand({ kind: 'pppoe', key: 'pppoe:b|81', ros_id: '' }), {
    kind: 'ppp.active.kick',
    kick: { key: 'pppoe:b|81' },
  })
})

test('accountCommand', () => {
  assert.deepEqual(accountCommand({ kind: 'hotspot', name: 'alice' }, 'disable'), { kind: 'hotspot.user.disable', hotspot_user: { name: 'alice' } })
  assert.deepEqual(accountCommand({ kind: 'ppp', name: 'bob' }, 'enable'), { kind: 'ppp.secret.enable', ppp_secret: { name: 'bob' } })
})

test('normalizeCommand', () => {
  const c = normalizeCommand({ seq: 3, command: { id: 'c-1', router_id: 'r-1', kind: 'hotspot.user.add', status: 'failed', code: 'router_error', message: 'already have user', hotspot_user: { name: 'alice' } } })
  assert.deepEqual([c.id, c.status, c.code, c.message, c.target], ['c-1', 'failed', 'router_error', 'already have user', 'alice'])
  assert.equal(normalizeCommand({ id: 7 }).status, 'queued')
  assert.equal(normalizeCommand({ id: 7 }).id, '7')
})

test('normalizeAccount reads a sync list or a sync map', () => {
  const a = normalizeAccount({ id: 5, kind: 'hotspot', name: 'alice', routers: [{ router_id: 'r-1', state: 'synced' }] })
  assert.deepEqual(a.routers, [{ router_id: 'r-1', state: 'synced', message: '', updated_at: null }])
  const b = normalizeAccount({ seq: 1, account: { id: 6, kind: 'ppp_secret', name: 'bob', sync_state: { 'r-1': 'pending', 'r-2': { state: 'failed', message: 'timeout' } } } })
  assert.equal(b.kind, 'ppp')
  assert.deepEqual(
    b.routers.map((r) => [r.router_id, r.state, r.message]),
    [
      ['r-1', 'pending', ''],
      ['r-2', 'failed', 'timeout'],
    ],
  )
})

test('normalizeCommand names a plan profile command by its profile', () => {
  const c = normalizeCommand({ command: { id: 'c3', kind: 'ppp.profile.add', status: 'queued', params: { profile_spec: { name: 'sp-plan-7', rate_limit: '2M/5M' } } } })
  assert.equal(c.target, 'sp-plan-7')
})
