import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HOUR_MS, addLogin, loginBuckets, loginTime } from '../src/lib/logins.js'

const h0 = Date.parse('2026-03-01T10:00:00Z')

test('loginBuckets reads the REST series in order', () => {
  const b = loginBuckets({
    data: [
      { hour: '2026-03-01T11:00:00Z', logins: 2 },
      { hour: '2026-03-01T10:00:00Z', logins: 0 },
      { hour: 'nonsense', logins: 9 },
    ],
  })
  assert.deepEqual(b, [{ t: h0, n: 0 }, { t: h0 + HOUR_MS, n: 2 }])
  assert.deepEqual(loginBuckets(null), [])
})

test('addLogin counts into the hour, adds empty hours, keeps the window', () => {
  let b = [{ t: h0, n: 1 }, { t: h0 + HOUR_MS, n: 0 }]
  b = addLogin(b, h0 + HOUR_MS + 5 * 60 * 1000)
  assert.deepEqual(b.map((x) => x.n), [1, 1])
  b = addLogin(b, h0 + 3 * HOUR_MS + 1, 3) // two hours later, window of 3
  assert.deepEqual(b, [{ t: h0 + HOUR_MS, n: 1 }, { t: h0 + 2 * HOUR_MS, n: 0 }, { t: h0 + 3 * HOUR_MS, n: 1 }])
  assert.deepEqual(addLogin(b, h0), b, 'older than the window: ignored')
  assert.deepEqual(addLogin([], h0 + 10), [{ t: h0, n: 1 }])
})

test('loginTime', () => {
  assert.equal(loginTime({ session: { started_at: '2026-03-01T10:00:00Z' } }), h0)
  assert.equal(loginTime({}), null)
})
