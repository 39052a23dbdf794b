import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kickCommand } from '../src/api.js'
import { SessionTable, applySessionEvent, querySessions, sessionId } from '../src/lib/sessions.js'

const T0 = Date.UTC(2026, 2, 1, 10, 0, 0)
const iso = (ms) => new Date(ms).toISOString()

function session(over = {}) {
  return {
    tenant_id: 1,
    router_id: 'r-1',
    kind: 'hotspot',
    key: 'hotspot:alice|AA:BB:CC:00:00:01|1772359200',
    ros_id: '*1A',
    user: 'alice',
    address: '10.5.50.11',
    mac: 'AA:BB:CC:00:00:01',
    started_at: iso(T0),
    updated_at: iso(T0),
    bytes_in: 1000,
    bytes_out: 5000,
    ...over,
  }
}

test('load replaces the table and honours the filter', () => {
  const t = new SessionTable((s) => s.kind === 'hotspot')
  t.load([session(), session({ kind: 'pppoe', key: 'pppoe:bob|81' })])
  assert.equal(t.size, 1)
  t.load([])
  assert.equal(t.size, 0)
})

test('sessions are keyed by router and key', () => {
  const t = new SessionTable()
  t.load([session(), session({ router_id: 'r-2' })])
  assert.equal(t.size, 2, 'the same key on two routers is two sessions')
  assert.equal(sessionId(t.get("r-2", session().key)), "r-2\u0000hotspot:alice|AA:BB:CC:00:00:01|1772****200", "the id uses the masked key")
})

test('started, batched updated, ended', () => {
  const t = new SessionTable()
  t.load([session()])

  const b = session({ key: 'hotspot:+254712345678|AA:BB:CC:00:00:02|1772359260', user: '+254712345678', bytes_in: 0, bytes_out: 0 })
  let r = applySessionEvent(t, 'SessionStarted', { seq: 1, session: b })
  assert.equal(r.changed, 1)
  assert.equal(t.size, 2)
  assert.equal(t.get('r-1', b.key).user, '+2547****678', 'raw numbers from any source are masked')

  // SessionUpdated is batched: {seq, sessions:[…]} with absolute counters.
  r = applySessionEvent(t, 'SessionUpdated', {
    seq: 2,
    sessions: [
      session({ updated_at: iso(T0 + 2000), bytes_in: 1000 + 250000, bytes_out: 5000 + 1000000 }),
      { ...b, updated_at: iso(T0 + 2000), bytes_in: 10, bytes_out: 20 },
    ],
  })
  assert.equal(r.changed, 2)
  const a = t.get('r-1', session().key)
  assert.equal(a.bytes_out, 1005000)
  assert.equal(a.rate_out, 4_000_000, '1 MB in 2 s is 4 Mbit/s')
  assert.equal(a.rate_in, 1_000_000)
  assert.equal(t.get('r-1', b.key).rate_in, 40, '10 bytes in 2 s since the start event')

  r = applySessionEvent(t, 'SessionEnded', { seq: 3, session: { ...b, ended_at: iso(T0 + 3000), end_reason: 'kicked' } })
  assert.equal(r.changed, 1)
  assert.equal(r.ended[0].end_reason, 'kicked')
  assert.equal(t.size, 1)

  // Ending an unknown session changes nothing.
  assert.equal(applySessionEvent(t, 'SessionEnded', { seq: 4, record: { router_id: 'r-9', key: 'x' } }).changed, 0)
  // Unknown event names are ignored.
  assert.equal(applySessionEvent(t, 'SomethingElse', { seq: 5, session: session({ key: 'new' }) }).changed, 0)
})

test('a single SessionUpdated and a bare session are accepted too', () => {
  const t = new SessionTable()
  t.load([session()])
  applySessionEvent(t, 'SessionUpdated', { seq: 1, session: session({ updated_at: iso(T0 + 1000), bytes_in: 2000 }) })
  assert.equal(t.get('r-1', session().key).bytes_in, 2000)
  applySessionEvent(t, 'SessionUpdated', { seq: 2, ...session({ updated_at: iso(T0 + 2000), bytes_in: 3000 }) })
  assert.equal(t.get('r-1', session().key).bytes_in, 3000)
})

test('an older update (queued during the REST load) does not roll counters back', () => {
  const t = new SessionTable()
  t.load([session({ updated_at: iso(T0 + 5000), bytes_in: 9000 })])
  const r = applySessionEvent(t, 'SessionUpdated', { seq: 1, sessions: [session({ updated_at: iso(T0 + 1000), bytes_in: 2000 })] })
  assert.equal(r.changed, 0)
  assert.equal(t.get('r-1', session().key).bytes_in, 9000)
})

test('an update for an unknown session adds it; a counter reset gives no rate', () => {
  const t = new SessionTable()
  t.load([])
  applySessionEvent(t, 'SessionUpdated', { seq: 1, sessions: [session()] })
  assert.equal(t.size, 1)
  applySessionEvent(t, 'SessionUpdated', { seq: 2, sessions: [session({ updated_at: iso(T0 + 1000), bytes_in: 10 })] })
  assert.equal(t.get('r-1', session().key).rate_in, null)
})

test('a redelivered reading keeps the rate already shown', () => {
  const t = new SessionTable()
  t.load([session()])
  const next = session({ updated_at: iso(T0 + 1000), bytes_out: 5000 + 125000 })
  applySessionEvent(t, 'SessionUpdated', { seq: 1, sessions: [next] })
  applySessionEvent(t, 'SessionUpdated', { seq: 2, sessions: [next] })
  assert.equal(t.get('r-1', session().key).rate_out, 1_000_000)
})

test('the filter applies to events as well', () => {
  const t = new SessionTable((s) => s.router_id === 'r-1')
  t.load([])
  applySessionEvent(t, 'SessionStarted', { seq: 1, sessions: [session(), session({ router_id: 'r-2' })] })
  assert.equal(t.size, 1)
})

test('querySessions searches, filters and sorts', () => {
  const t = new SessionTable()
  t.load([
    session({ key: 'k1', user: 'alice', address: '10.0.0.1', bytes_out: 10, started_at: iso(T0) }),
    session({ key: 'k2', user: 'bob', address: '10.0.0.2', bytes_out: 30, started_at: iso(T0 + 1000) }),
    session({ key: 'k3', user: 'carol', address: '10.0.0.3', bytes_out: 20, started_at: iso(T0 + 2000), router_id: 'r-2' }),
  ])
  const users = (rows) => rows.map((s) => s.user)
  assert.deepEqual(users(querySessions(t.rows())), ['carol', 'bob', 'alice'], 'newest first by default')
  assert.deepEqual(users(querySessions(t.rows(), { sort: 'bytes_out', desc: true })), ['bob', 'carol', 'alice'])
  assert.deepEqual(users(querySessions(t.rows(), { sort: 'user', desc: false })), ['alice', 'bob', 'carol'])
  assert.deepEqual(users(querySessions(t.rows(), { search: '10.0.0.2' })), ['bob'])
  assert.deepEqual(users(querySessions(t.rows(), { search: 'ALI' })), ['alice'])
  assert.deepEqual(users(querySessions(t.rows(), { routerId: 'r-2' })), ['carol'])
})

test('a REST row (raw key) and broadcasts (masked key) are the same session', () => {
  const raw = session({ key: 'hotspot:+254712345678|AA:BB:CC:00:00:09|1772359200', user: '+254712345678', ros_id: '*2B' })
  const masked = 'hotspot:+2547****678|AA:BB:CC:00:00:09|1772****200' // as controlplane/fanout broadcasts it
  const t = new SessionTable()
  t.load([raw])
  const row = t.get('r-1', masked)
  assert.ok(row, 'found by the masked key')
  assert.equal(row.key, masked)
  assert.equal(row.raw_key, raw.key)
  assert.equal(t.get('r-1', raw.key), row, 'found by the raw key too')

  // The broadcast update has the masked key and no ros_id.
  const { ros_id, ...rest } = raw
  applySessionEvent(t, 'SessionUpdated', { seq: 1, sessions: [{ ...rest, key: masked, user: '+2547****678', updated_at: iso(T0 + 1000), bytes_in: 5000 }] })
  assert.equal(t.size, 1, 'no duplicate row')
  const upd = t.get('r-1', masked)
  assert.equal(upd.bytes_in, 5000)
  assert.deepEqual([upd.raw_key, upd.ros_id], [raw.key, '*2B'], 'raw key and .id survive for kicking')
  assert.deepEqual(kickCommand(upd), { kind: 'hotspot.active.kick', kick: { key: raw.key, ros_id: '*2B' } })

  // A session only ever seen in broadcasts is kicked by its masked key.
  applySessionEvent(t, 'SessionStarted', { seq: 2, session: { ...rest, key: 'hotspot:bob|m|1', user: 'bob' } })
  assert.deepEqual(kickCommand(t.get('r-1', 'hotspot:bob|m|1')), { kind: 'hotspot.active.kick', kick: { key: 'hotspot:bob|m|1' } })

  const r = applySessionEvent(t, 'SessionEnded', { seq: 3, session: { router_id: 'r-1', key: masked, end_reason: 'kicked' } })
  assert.equal(r.changed, 1)
  assert.equal(t.size, 1)
})

test('SessionUpdated deltas merge into the row', () => {
  const t = new SessionTable((s) => s.kind === 'hotspot')
  t.load([session()])
  const base = session()
  // A delta: identity, updated_at and the one counter that moved.
  let r = applySessionEvent(t, 'SessionUpdated', {
    seq: 2,
    epoch: 'e1',
    sessions: [{ id: 'x', router_id: base.router_id, kind: 'hotspot', key: base.key, updated_at: iso(T0 + 1000), bytes_in: 1000 + 125000 }],
  })
  assert.equal(r.changed, 1)
  const row = t.get(base.router_id, base.key)
  assert.equal(row.bytes_in, 126000)
  assert.equal(row.bytes_out, 5000, 'an omitted counter keeps its value')
  assert.equal(row.user, 'alice', 'omitted fields keep theirs')
  assert.equal(row.address, '10.5.50.11')
  assert.equal(row.ros_id, '*1A')
  assert.equal(row.started_ms, T0)
  assert.equal(row.updated_ms, T0 + 1000)
  assert.equal(row.rate_in, 1_000_000, '125000 bytes in 1 s')
  assert.equal(row.rate_out, 0, 'the omitted counter did not move')

  // A delta for a session the table does not hold cannot make a row; one
  // of another kind is filtered, not counted.
  r = applySessionEvent(t, 'SessionUpdated', {
    sessions: [
      { router_id: 'r-1', kind: 'hotspot', key: 'hotspot:zed|AA:BB:CC:00:00:09|1', updated_at: iso(T0 + 1000), bytes_in: 5 },
      { router_id: 'r-1', kind: 'pppoe', key: 'pppoe:bob|81', updated_at: iso(T0 + 1000), bytes_in: 5 },
    ],
  })
  assert.equal(r.changed, 0)
  assert.equal(r.incomplete, 1)
  assert.equal(t.size, 1)

  // Today's full shape still works for an old server.
  r = applySessionEvent(t, 'SessionUpdated', { seq: 3, sessions: [session({ updated_at: iso(T0 + 2000), bytes_in: 200000, bytes_out: 6000 })] })
  assert.equal(r.changed, 1)
  assert.equal(t.get(base.router_id, base.key).bytes_out, 6000)
})
