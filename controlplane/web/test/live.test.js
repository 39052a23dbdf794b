import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LiveLoader, reconnected } from '../src/lib/live.js'

// deferred is a promise the test resolves by hand: a REST answer in flight.
function deferred() {
  let resolve
  const p = new Promise((r) => (resolve = r))
  return { p, resolve }
}

function harness() {
  const applied = []
  const loads = []
  const l = new LiveLoader({
    load: () => {
      const d = deferred()
      loads.push(d)
      return d.p
    },
    handle: (c, e, d) => applied.push(`${e}:${d.seq}`),
  })
  return { l, applied, loads }
}

test('events during the REST load are buffered and applied after it', async () => {
  const { l, applied, loads } = harness()
  l.event('sessions', 'Early', { seq: 1 }) // before the load was sent: its answer reflects it
  const run = l.run()
  l.event('sessions', 'SessionUpdated', { seq: 2 })
  assert.deepEqual(applied, [], 'nothing applied while the load runs')
  loads[0].resolve()
  await run
  assert.deepEqual(applied, ['SessionUpdated:2'])
  l.event('sessions', 'SessionEnded', { seq: 3 })
  assert.deepEqual(applied.at(-1), 'SessionEnded:3', 'applied at once after the load')
})

test('a subscription that answers after the load began reloads', async () => {
  const { l, loads } = harness()
  l.subscribed() // before the first load: that load will see everything
  assert.equal(loads.length, 0)
  const run = l.run() // whenSubscribed gave up waiting
  loads[0].resolve()
  await run
  const late = l.subscribed()
  assert.equal(loads.length, 2, 'the late subscription loads again')
  loads[1].resolve()
  await late
  assert.equal(l.reloads, 1)
})

test('a reconnect (resubscription) reloads, once however many channels come back', async () => {
  const { l, loads } = harness()
  const first = l.run()
  loads[0].resolve()
  await first
  const a = l.subscribed()
  l.subscribed()
  l.gap()
  assert.equal(loads.length, 2, 'one load running')
  loads[1].resolve()
  await Promise.resolve()
  await Promise.resolve()
  assert.equal(loads.length, 3, 'one more for everything that came during it')
  loads[2].resolve()
  await a
  assert.equal(loads.length, 3)
})

test('a stopped loader applies nothing', async () => {
  const { l, applied, loads } = harness()
  const run = l.run()
  l.event('sessions', 'E', { seq: 1 })
  l.stop()
  loads[0].resolve()
  await run
  l.event('sessions', 'E', { seq: 2 })
  assert.deepEqual(applied, [])
})

test('reconnected', () => {
  assert.equal(reconnected('connecting', 'connected'), true)
  assert.equal(reconnected('unavailable', 'connected'), true)
  assert.equal(reconnected('connected', 'connected'), false)
  assert.equal(reconnected('connected', 'unavailable'), false)
})
