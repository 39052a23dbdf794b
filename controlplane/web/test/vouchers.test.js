import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  applyPurchaseEvent,
  applyVoucherEvent,
  batchCounts,
  batchRequest,
  loadBatches,
  loadVouchers,
  maskCode,
  maskMAC,
  mergeVoucher,
  newVoucherState,
  portalURL,
  previousStatus,
  purchaseBadge,
  routerPortalURL,
  settingsPatch,
  textOn,
  validColor,
  validSlug,
} from '../src/lib/vouchers.js'

// The same vectors controlplane/fanout's TestVoucherMaskVectors checks
// MaskCode and MaskMAC with.
const vectors = JSON.parse(readFileSync(new URL('./voucher_mask_vectors.json', import.meta.url), 'utf8'))

test('maskCode and maskMAC mask as the control plane does', () => {
  assert.ok(vectors.code.length > 3 && vectors.mac.length > 3)
  for (const [input, want] of vectors.code) assert.equal(maskCode(input), want, `maskCode(${JSON.stringify(input)})`)
  for (const [input, want] of vectors.mac) assert.equal(maskMAC(input), want, `maskMAC(${JSON.stringify(input)})`)
})

test('mergeVoucher keeps the full code and MAC a masked broadcast stands for', () => {
  const held = { id: 1, code: 'KDX74HNQ9T', status: 'unused', redeemed_by: '' }
  const ev = { id: 1, code: '****Q9T', status: 'active', redeemed_by: '**:**:**:**:EE:FF' }
  assert.deepEqual(mergeVoucher(held, ev), { id: 1, code: 'KDX74HNQ9T', status: 'active', redeemed_by: '**:**:**:**:EE:FF' })
  // Held full MAC is kept when the mask matches; another code is not.
  assert.equal(mergeVoucher({ id: 1, code: 'X', redeemed_by: 'aa:bb:cc:dd:ee:ff' }, { id: 1, redeemed_by: '**:**:**:**:EE:FF' }).redeemed_by, 'aa:bb:cc:dd:ee:ff')
  assert.equal(mergeVoucher({ id: 1, code: 'KDX74HNQ9A' }, { id: 1, code: '****Q9T' }).code, '****Q9T')
  assert.deepEqual(mergeVoucher(null, ev), ev)
})

test('previousStatus follows the voucher lifecycle', () => {
  assert.equal(previousStatus({ status: 'active' }), 'unused')
  assert.equal(previousStatus({ status: 'expired' }), 'unused')
  assert.equal(previousStatus({ status: 'used' }), 'active')
  assert.equal(previousStatus({ status: 'revoked' }), 'unused')
  assert.equal(previousStatus({ status: 'revoked', redeemed_at: '2026-12-07T10:00:00Z' }), 'active')
  assert.equal(previousStatus({ status: 'unused' }), null)
})

test('applyVoucherEvent moves batch counts once per change and keeps the list filtered', () => {
  const st = newVoucherState()
  loadBatches(st, [{ id: 9, count: 3, unused: 3, active: 0, used: 0, expired: 0, revoked: 0, created_at: '2026-12-07T10:00:00Z' }])
  loadVouchers(st, [
    { id: 1, batch_id: 9, code: 'ACDEFGHJ', status: 'unused' },
    { id: 2, batch_id: 9, code: 'KMNPQRTU', status: 'unused' },
  ])
  const unusedOf9 = (v) => String(v.batch_id) === '9' && v.status === 'unused'

  // Redeemed: counts move, it leaves the "unused" list.
  const r = applyVoucherEvent(st, 'VoucherUpdated', { seq: 1, voucher: { id: 1, batch_id: 9, code: '****GHJ', status: 'active', redeemed_at: 'x' } }, unusedOf9)
  assert.deepEqual(r, { kind: 'voucher', id: '1', added: false })
  assert.equal(st.batches['9'].unused, 2)
  assert.equal(st.batches['9'].active, 1)
  assert.deepEqual(Object.keys(st.vouchers), ['2'])

  // The same event replayed (queued during a load) counts nothing.
  applyVoucherEvent(st, 'VoucherUpdated', { seq: 1, voucher: { id: 1, batch_id: 9, code: '****GHJ', status: 'active' } }, unusedOf9)
  assert.equal(st.batches['9'].active, 1)
  assert.equal(st.batches['9'].unused, 2)

  // A voucher never listed (the third) is counted by its lifecycle.
  applyVoucherEvent(st, 'VoucherUpdated', { voucher: { id: 3, batch_id: 9, code: '****XYZ', status: 'active' } }, unusedOf9)
  assert.equal(st.batches['9'].unused, 1)
  assert.equal(st.batches['9'].active, 2)

  // Revoking an active one, as seen: active → revoked.
  applyVoucherEvent(st, 'VoucherUpdated', { voucher: { id: 3, batch_id: 9, code: '****XYZ', status: 'revoked', redeemed_at: 'x' } }, null)
  assert.equal(st.batches['9'].active, 1)
  assert.equal(st.batches['9'].revoked, 1)
  // Without a filter the row is listed, masked as broadcast.
  assert.equal(st.vouchers['3'].code, '****XYZ')

  // An update to a listed voucher keeps its full code.
  applyVoucherEvent(st, 'VoucherUpdated', { voucher: { id: 2, batch_id: 9, code: '****RTU', status: 'expired' } }, null)
  assert.equal(st.vouchers['2'].code, 'KMNPQRTU')
  assert.equal(st.vouchers['2'].status, 'expired')
  assert.deepEqual(batchCounts(st.batches['9']), [
    ['active', 1],
    ['expired', 1],
    ['revoked', 1],
  ])

  // A new batch is added with its own absolute counts; other events are not ours.
  const b = applyVoucherEvent(st, 'VoucherBatchCreated', { seq: 2, batch: { id: 10, count: 50, unused: 50 } })
  assert.deepEqual(b, { kind: 'batch', id: '10', added: true })
  assert.equal(st.batches['10'].unused, 50)
  // Its announcement replayed after a redemption moved the counts keeps them.
  applyVoucherEvent(st, 'VoucherUpdated', { voucher: { id: 60, batch_id: 10, code: '****AAA', status: 'active' } })
  applyVoucherEvent(st, 'VoucherBatchCreated', { seq: 2, batch: { id: 10, count: 50, unused: 50, active: 0, note: 'kiosk' } })
  assert.equal(st.batches['10'].unused, 49)
  assert.equal(st.batches['10'].active, 1)
  assert.equal(st.batches['10'].note, 'kiosk')
  assert.equal(applyVoucherEvent(st, 'PaymentCompleted', { payment: { id: 1 } }), null)
  assert.equal(applyVoucherEvent(st, 'VoucherUpdated', { seq: 3 }), null)
})

test('batchRequest reads the Generate form', () => {
  assert.deepEqual(batchRequest({ plan_id: '7', count: '20', length: '', prefix: ' kdx ', price: null, valid_days: '30', note: '' }), {
    plan_id: 7,
    count: 20,
    length: 8,
    prefix: 'KDX',
    valid_days: 30,
  })
  assert.deepEqual(batchRequest({ plan_id: '7', count: '1', length: '10', prefix: '', price: 2500, valid_days: '', note: 'kiosk' }), {
    plan_id: 7,
    count: 1,
    length: 10,
    price: 2500,
    note: 'kiosk',
  })
  assert.match(batchRequest({ plan_id: '', count: '1' }), /plan/)
  assert.match(batchRequest({ plan_id: '7', count: '0' }), /Count/)
  assert.match(batchRequest({ plan_id: '7', count: '5001' }), /Count/)
  assert.match(batchRequest({ plan_id: '7', count: '2.5' }), /Count/)
  assert.match(batchRequest({ plan_id: '7', count: '5', length: '5' }), /length/)
  assert.match(batchRequest({ plan_id: '7', count: '5', length: '17' }), /length/)
  assert.match(batchRequest({ plan_id: '7', count: '5', prefix: 'A B' }), /Prefix/)
  assert.match(batchRequest({ plan_id: '7', count: '5', prefix: 'A-B' }), /Prefix/)
  assert.match(batchRequest({ plan_id: '7', count: '5', valid_days: '3661' }), /days/)
  assert.match(batchRequest({ plan_id: '7', count: '5', valid_days: '-1' }), /days/)
})

test('applyPurchaseEvent lists purchases newest first and updates them in place', () => {
  const rows = []
  assert.equal(applyPurchaseEvent(rows, 'PortalPurchase', { seq: 1, purchase: { payment_id: 41, plan_id: 7, status: 'pending', at: 't1', phone: '0712****678' } }), 'p41')
  assert.equal(applyPurchaseEvent(rows, 'PortalPurchase', { seq: 2, purchase: { voucher_id: 8, plan_id: 7, status: 'redeemed', at: 't2' } }), 'v8')
  assert.deepEqual(
    rows.map((r) => [r.key, r.status]),
    [
      ['v8', 'redeemed'],
      ['p41', 'pending'],
    ],
  )
  applyPurchaseEvent(rows, 'PortalPurchase', { seq: 3, purchase: { payment_id: 41, plan_id: 7, status: 'completed', at: 't3' } })
  assert.deepEqual(
    rows.map((r) => [r.key, r.status, r.first_at]),
    [
      ['v8', 'redeemed', 't2'],
      ['p41', 'completed', 't1'],
    ],
  )
  assert.equal(applyPurchaseEvent(rows, 'PortalPurchase', { seq: 4, purchase: { status: 'pending' } }), '')
  assert.equal(applyPurchaseEvent(rows, 'Other', { purchase: { payment_id: 1, status: 'x' } }), '')
  for (let i = 0; i < 10; i++) applyPurchaseEvent(rows, 'PortalPurchase', { purchase: { payment_id: 100 + i, status: 'pending' } }, 5)
  assert.equal(rows.length, 5)
  assert.equal(rows[0].key, 'p109')
  assert.equal(purchaseBadge({ status: 'completed' }).status, 'succeeded')
  assert.equal(purchaseBadge({ status: 'redeemed' }).label, 'voucher redeemed')
})

test('portal addresses, slugs and colours', () => {
  assert.equal(portalURL('https://cp.example.com/', { slug: 'mama-wifi' }), 'https://cp.example.com/portal/mama-wifi')
  assert.equal(portalURL('https://cp.example.com', { slug: '' }), '')
  assert.equal(portalURL('https://cp.example.com', null), '')
  assert.equal(routerPortalURL('http://127.0.0.1:8080', 3, 'rt 1'), 'http://127.0.0.1:8080/portal/3/rt%201')
  for (const ok of ['', 'a', 'mama-wifi', 'wifi2']) assert.ok(validSlug(ok), ok)
  for (const bad of ['-a', 'a-', 'Mama', 'a b', 'a_b', 'x'.repeat(41)]) assert.ok(!validSlug(bad), bad)
  assert.ok(validColor('#1d4ed8') && !validColor('1d4ed8') && !validColor('#1d4ed') && !validColor('red'))
  assert.equal(textOn('#ffffff'), '#111827')
  assert.equal(textOn('#f59e0b'), '#111827')
  assert.equal(textOn('#1d4ed8'), '#ffffff')
  assert.equal(textOn('nope'), '#ffffff')
})

test('settingsPatch sends only what changed', () => {
  const saved = { slug: 'a', name: 'A', logo_url: '', primary_color: '#000000', accent_color: '#ffffff', support_phone: '', terms: '', plan_ids: [1, 2] }
  assert.deepEqual(settingsPatch(saved, { ...saved, plan_ids: [1, 2] }), {})
  assert.deepEqual(settingsPatch(saved, { ...saved, name: ' B ', plan_ids: [2, 1] }), { name: 'B', plan_ids: [2, 1] })
  assert.deepEqual(settingsPatch(saved, { ...saved, slug: '', plan_ids: [] }), { slug: '', plan_ids: [] })
  assert.deepEqual(settingsPatch(null, { slug: 'x', name: 'X', plan_ids: [] }), { slug: 'x', name: 'X' })
})
