import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  applyPaymentEvent,
  applyPlanEvent,
  byNewest,
  capToMiB,
  formatMinor,
  formatMoney,
  loadRows,
  mergeRow,
  minorToInput,
  normalizeBillingStats,
  parseCapMiB,
  parseMinor,
  paymentBadge,
  subscriptionFromEvent,
  syncSummary,
} from '../src/lib/billing.js'

test('formatMinor splits minor units with integer math', () => {
  assert.equal(formatMinor(5000), '50.00')
  assert.equal(formatMinor(5), '0.05')
  assert.equal(formatMinor(0), '0.00')
  assert.equal(formatMinor(123456789), '1,234,567.89')
  assert.equal(formatMinor(-150), '-1.50')
  // 2^53 - 1: a float division would round the cents away.
  assert.equal(formatMinor(9007199254740991), '90,071,992,547,409.91')
  assert.equal(formatMinor(10.5), '—')
  assert.equal(formatMinor('5000'), '—')
  assert.equal(formatMinor(null), '—')
  assert.equal(formatMoney({ amount: 5000, currency: 'KES' }), 'KES 50.00')
  assert.equal(formatMoney(250, 'KES'), 'KES 2.50')
  assert.equal(formatMoney({ amount: null, currency: 'KES' }), '—')
})

test('parseMinor reads digits, never a float', () => {
  assert.equal(parseMinor('50'), 5000)
  assert.equal(parseMinor('50.5'), 5050)
  assert.equal(parseMinor('50.05'), 5005)
  assert.equal(parseMinor(' 1,250.00 '), 125000)
  assert.equal(parseMinor('0.1'), 10)
  // 0.1 + 0.2 style inputs stay exact.
  assert.equal(parseMinor('0.29'), 29)
  assert.equal(parseMinor('1.005'), null)
  assert.equal(parseMinor('-5'), null)
  assert.equal(parseMinor('1e3'), null)
  assert.equal(parseMinor(''), null)
  assert.equal(parseMinor('12.'), null)
  assert.equal(parseMinor('99999999999999'), null)
  assert.equal(minorToInput(125050), '1250.50')
  for (const v of [0, 1, 99, 100, 5050, 123456789]) assert.equal(parseMinor(minorToInput(v)), v)
})

test('normalizeBillingStats reads REST and the event, integers only', () => {
  const rest = {
    tenant_id: 3,
    currency: 'KES',
    revenue_today: 15000,
    revenue_7d: 70000,
    revenue_30d: 300000,
    payments_today: 3,
    active_subscriptions: 12,
    arpu: 25000,
    at: '2026-12-07T10:00:00Z',
  }
  const want = {
    tenantId: 3,
    currency: 'KES',
    revenueToday: 15000,
    revenue7d: 70000,
    revenue30d: 300000,
    paymentsToday: 3,
    activeSubscriptions: 12,
    arpu: 25000,
    byCurrency: {},
    at: '2026-12-07T10:00:00Z',
  }
  assert.deepEqual(normalizeBillingStats(rest), want)
  assert.deepEqual(normalizeBillingStats({ seq: 9, stats: rest }), want)
  assert.equal(normalizeBillingStats({ revenue_today: 1.5 }).revenueToday, null)
  assert.equal(normalizeBillingStats(null).arpu, null)
  assert.deepEqual(normalizeBillingStats({ tenant_id: 0, currency: '', by_currency: { KES: 800000, UGX: 1.5 } }).byCurrency, { KES: 800000 })
})

test('mergeRow keeps the full phone a masked broadcast stands for', () => {
  const rest = { id: 5, phone: '+254712345678', email: 'jane@example.com', name: 'Jane', active_subscriptions: 0 }
  const event = { id: 5, phone: '+2547****678', email: 'j***@example.com', name: 'Jane W', active_subscriptions: 1 }
  assert.deepEqual(mergeRow(rest, event), { id: 5, phone: '+254712345678', email: 'jane@example.com', name: 'Jane W', active_subscriptions: 1 })
  // A different number (masked differently) replaces it.
  assert.equal(mergeRow(rest, { id: 5, phone: '+2547****999' }).phone, '+2547****999')
  // A new row from a broadcast alone stays masked.
  assert.equal(mergeRow(undefined, event).phone, '+2547****678')
  // A REST reload with the full number wins over a masked one.
  assert.equal(mergeRow(event, rest).phone, '+254712345678')
})

test('applyPaymentEvent prepends and updates by id', () => {
  const byId = {}
  loadRows(byId, [{ id: 1, status: 'completed', phone: '+254712345678', created_at: '2026-12-07T10:00:00Z' }])
  assert.equal(applyPaymentEvent(byId, 'PaymentCompleted', { seq: 1, payment: { id: 2, status: 'completed', phone: '+2547****111', created_at: '2026-12-07T11:00:00Z' } }), '2')
  assert.equal(applyPaymentEvent(byId, 'PaymentUpdated', { seq: 2, payment: { id: 1, status: 'refunded', phone: '+2547****678' } }), '1')
  assert.equal(byId['1'].status, 'refunded')
  assert.equal(byId['1'].phone, '+254712345678')
  assert.deepEqual(Object.values(byId).sort(byNewest).map((p) => p.id), [2, 1])
  assert.equal(applyPaymentEvent(byId, 'SomethingElse', { payment: { id: 3 } }), '')
  assert.equal(applyPaymentEvent(byId, 'PaymentFailed', { seq: 3 }), '')
  // A filtered page drops what no longer matches.
  applyPaymentEvent(byId, 'PaymentFailed', { payment: { id: 2, status: 'failed' } }, (p) => p.status === 'completed')
  assert.equal(byId['2'], undefined)
})

test('applyPlanEvent creates, updates and deletes', () => {
  const byId = {}
  applyPlanEvent(byId, 'PlanCreated', { plan: { id: 7, name: 'Daily', routers: [{ router_id: 'r1', state: 'pending' }] } })
  applyPlanEvent(byId, 'PlanUpdated', { plan: { id: 7, name: 'Daily', routers: [{ router_id: 'r1', state: 'synced' }] } })
  assert.deepEqual(syncSummary(byId['7']), { synced: 1, pending: 0, failed: 0 })
  applyPlanEvent(byId, 'PlanDeleted', { plan: { id: 7 } })
  assert.deepEqual(byId, {})
})

test('paymentBadge names the flag reason', () => {
  assert.deepEqual(paymentBadge({ status: 'flagged', reason: 'amount_short' }), { status: 'failed', label: 'flagged: amount short' })
  assert.deepEqual(paymentBadge({ status: 'completed' }), { status: 'succeeded', label: 'completed' })
  assert.equal(paymentBadge({ status: 'refunded' }).label, 'refunded')
})

test('subscriptionFromEvent and the data cap helpers', () => {
  assert.deepEqual(subscriptionFromEvent({ seq: 1, renewed: true, subscription: { id: 6 } }), { subscription: { id: 6 }, renewed: true })
  assert.equal(subscriptionFromEvent({ seq: 1 }), null)
  assert.equal(parseCapMiB(''), 0)
  assert.equal(parseCapMiB('1024'), 1073741824)
  assert.equal(parseCapMiB('1.5'), null)
  assert.equal(capToMiB(1073741824), '1024')
  assert.equal(capToMiB(0), '')
})
