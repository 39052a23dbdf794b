import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SEQ_FIRST, SEQ_GAP, SEQ_NONE, SEQ_OK, SEQ_RESET, SeqTracker, needsReload, seqOf } from '../src/lib/seq.js'

test('seqOf', () => {
  assert.equal(seqOf({ seq: 7 }), 7)
  assert.equal(seqOf({ seq: '8' }), 8)
  assert.equal(seqOf({}), null)
  assert.equal(seqOf({ seq: 'x' }), null)
  assert.equal(seqOf(null), null)
  assert.equal(seqOf('{"seq":1}'), null)
})

test('SeqTracker classifies per channel', () => {
  const t = new SeqTracker()
  const steps = [
    ['private-tenant.1.sessions', 10, SEQ_FIRST],
    ['private-tenant.1.sessions', 11, SEQ_OK],
    ['private-tenant.1.routers', 3, SEQ_FIRST], // channels are independent
    ['private-tenant.1.sessions', 12, SEQ_OK],
    ['private-tenant.1.sessions', 15, SEQ_GAP], // 13 and 14 were missed
    ['private-tenant.1.sessions', 16, SEQ_OK], // the baseline moved to 15
    ['private-tenant.1.routers', 4, SEQ_OK],
    ['private-tenant.1.sessions', 1, SEQ_RESET], // the server restarted
    ['private-tenant.1.sessions', 2, SEQ_OK],
    ['private-tenant.1.sessions', 2, SEQ_RESET], // a repeat is not trusted either
  ]
  for (const [ch, seq, want] of steps) assert.equal(t.observe(ch, { seq }), want, `${ch} seq ${seq}`)
  assert.equal(t.observe('private-tenant.1.sessions', { no: 'seq' }), SEQ_NONE)
  // An event without seq does not move the baseline.
  assert.equal(t.observe('private-tenant.1.sessions', { seq: 3 }), SEQ_OK)
  t.forget('private-tenant.1.sessions')
  assert.equal(t.observe('private-tenant.1.sessions', { seq: 99 }), SEQ_FIRST)
})

test('needsReload', () => {
  assert.deepEqual(
    [SEQ_FIRST, SEQ_OK, SEQ_GAP, SEQ_RESET, SEQ_NONE].map(needsReload),
    [false, false, true, true, false],
  )
})

test('an epoch change is a reset whatever the seq says', () => {
  const t = new SeqTracker()
  const ch = 'private-tenant.1.sessions'
  assert.equal(t.observe(ch, { seq: 5, epoch: 'a' }), SEQ_FIRST)
  assert.equal(t.observe(ch, { seq: 6, epoch: 'a' }), SEQ_OK)
  // Another replica whose counter happens to be at 7.
  assert.equal(t.observe(ch, { seq: 7, epoch: 'b' }), SEQ_RESET)
  assert.ok(needsReload(SEQ_RESET))
  assert.equal(t.observe(ch, { seq: 8, epoch: 'b' }), SEQ_OK)
  // An old server without epochs is tracked by seq alone.
  const old = new SeqTracker()
  assert.equal(old.observe(ch, { seq: 1 }), SEQ_FIRST)
  assert.equal(old.observe(ch, { seq: 2 }), SEQ_OK)
})
