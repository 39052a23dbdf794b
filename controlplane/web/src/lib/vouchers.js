// Vouchers' and the portal's pure helpers: the reducers that merge REST
// rows and Pusher events of private-tenant.{t}.vouchers and .portal, code
// and MAC masking as the control plane masks broadcasts, the portal's
// addresses and its colours. No DOM, no Vue: `npm test` runs them.

import { upsert as upsertRow } from './billing.js'

/** Voucher states, in the order the dashboard lists them. */
export const VOUCHER_STATUSES = ['unused', 'active', 'used', 'expired', 'revoked']

/**
 * Masks a voucher code as controlplane/fanout.MaskCode does: four stars and
 * the last three characters ("KDX74HNQ9T" → "****Q9T"); three characters or
 * fewer → "****".
 */
export function maskCode(code) {
  const c = String(code ?? '').trim()
  if (!c) return ''
  const r = [...c]
  return r.length <= 3 ? '****' : '****' + r.slice(-3).join('')
}

/**
 * Masks a MAC as controlplane/fanout.MaskMAC does: the last two octets
 * ("AA:BB:CC:DD:EE:FF" → "**:**:**:**:EE:FF"); anything not a MAC of six
 * octets is masked entirely.
 */
export function maskMAC(mac) {
  const s = String(mac ?? '').trim()
  if (!s) return ''
  const all = '**:**:**:**:**:**'
  if (/[^0-9a-fA-F:.-]/.test(s)) return all
  const hex = s.replace(/[:.-]/g, '').toUpperCase()
  if (hex.length !== 12) return all
  return `**:**:**:**:${hex.slice(8, 10)}:${hex.slice(10, 12)}`
}

function pick(data, key) {
  if (!data || typeof data !== 'object') return null
  const v = data[key] && typeof data[key] === 'object' ? data[key] : data
  return v && v.id !== undefined && v.id !== null ? v : null
}

/** The batch of a VoucherBatchCreated event ({seq, batch}) or a REST row. */
export function batchFromEvent(data) {
  return pick(data, 'batch')
}

/** The voucher of a VoucherUpdated event ({seq, voucher}) or a REST row. */
export function voucherFromEvent(data) {
  return pick(data, 'voucher')
}

/**
 * Merges an incoming voucher (REST or broadcast) into the one held: a
 * broadcast's masked code and MAC that are the held ones masked keep the
 * full values REST gave staff, so a live update never blanks a code out.
 */
export function mergeVoucher(held, incoming) {
  if (!held) return { ...incoming }
  const out = { ...held, ...incoming }
  for (const [field, mask] of [
    ['code', maskCode],
    ['redeemed_by', maskMAC],
  ]) {
    const h = held[field]
    const v = incoming[field]
    if (typeof h === 'string' && typeof v === 'string' && v.includes('*') && !h.includes('*') && mask(h) === v) out[field] = h
  }
  return out
}

/**
 * The status a voucher had before the change an event announces, as far as
 * the lifecycle tells (unused → active → used; unused → expired; unused or
 * active → revoked, told apart by redeemed_at); null for a new voucher.
 */
export function previousStatus(v) {
  switch (v && v.status) {
    case 'active':
    case 'expired':
      return 'unused'
    case 'used':
      return 'active'
    case 'revoked':
      return v.redeemed_at ? 'active' : 'unused'
    default:
      return null
  }
}

/**
 * Live state of the Vouchers page: batches by id (with their per-status
 * counts), the listed vouchers by id, and the last status seen of every
 * voucher an event or a load told of, so that an event counted once is
 * never counted again (events that arrive during a load are replayed
 * after it).
 */
export function newVoucherState() {
  return { batches: {}, vouchers: {}, seen: {} }
}

/** Replaces the batches with a REST list. */
export function loadBatches(state, rows) {
  for (const k of Object.keys(state.batches)) delete state.batches[k]
  for (const b of rows || []) state.batches[String(b.id)] = { ...b }
}

/** Replaces the listed vouchers with a REST list. */
export function loadVouchers(state, rows) {
  for (const k of Object.keys(state.vouchers)) delete state.vouchers[k]
  for (const v of rows || []) {
    state.vouchers[String(v.id)] = { ...v }
    state.seen[String(v.id)] = v.status
  }
}

/**
 * Applies a vouchers-channel event. accept(v) says whether a voucher
 * belongs in the list as the page filters it (batch, status). Returns
 * {kind: 'batch'|'voucher', id, added} or null for another event.
 */
export function applyVoucherEvent(state, event, data, accept = null) {
  if (event === 'VoucherBatchCreated') {
    const b = batchFromEvent(data)
    if (!b) return null
    const key = String(b.id)
    const added = !state.batches[key]
    // A batch is announced once, when generated, all unused: the counts
    // of a batch already held (loaded, or moved by VoucherUpdated since)
    // are as new or newer, so a replayed announcement keeps them.
    const row = added ? b : Object.fromEntries(Object.entries(b).filter(([k]) => !VOUCHER_STATUSES.includes(k)))
    upsertRow(state.batches, row)
    return { kind: 'batch', id: key, added }
  }
  if (event !== 'VoucherUpdated') return null
  const v = voucherFromEvent(data)
  if (!v) return null
  const key = String(v.id)
  const before = key in state.seen ? state.seen[key] : previousStatus(v)
  state.seen[key] = v.status
  const batch = state.batches[String(v.batch_id)]
  if (batch && before !== v.status) {
    if (before && VOUCHER_STATUSES.includes(before)) batch[before] = Math.max(0, (batch[before] || 0) - 1)
    if (VOUCHER_STATUSES.includes(v.status)) batch[v.status] = (batch[v.status] || 0) + 1
  }
  const held = state.vouchers[key]
  if (accept && !accept(v)) {
    delete state.vouchers[key]
    return { kind: 'voucher', id: key, added: false }
  }
  state.vouchers[key] = mergeVoucher(held, v)
  return { kind: 'voucher', id: key, added: !held }
}

/** Counts of a batch per status, for its chips: [[status, n], …] with n > 0. */
export function batchCounts(b) {
  return VOUCHER_STATUSES.map((s) => [s, (b && b[s]) || 0]).filter(([, n]) => n > 0)
}

/** Newest first by creation, then by id. */
export function byNewestBatch(a, b) {
  const ta = Date.parse(a.created_at) || 0
  const tb = Date.parse(b.created_at) || 0
  return tb - ta || Number(b.id) - Number(a.id)
}

/**
 * Reads the Generate form into a VoucherBatchRequest, or a message saying
 * what is wrong. price is minor units already parsed (null: the plan's).
 */
export function batchRequest({ plan_id, count, length, prefix, price, valid_days, note }) {
  const int = (s, dflt) => {
    const t = String(s ?? '').trim()
    if (t === '') return dflt
    return /^\d{1,6}$/.test(t) ? Number(t) : NaN
  }
  const plan = Number(plan_id)
  if (!Number.isSafeInteger(plan) || plan <= 0) return 'Pick a plan.'
  const n = int(count, NaN)
  if (!(n >= 1 && n <= 5000)) return 'Count: a whole number from 1 to 5000.'
  const len = int(length, 8)
  if (!(len >= 6 && len <= 16)) return 'Code length: 6 to 16 characters.'
  const days = int(valid_days, 0)
  if (!(days >= 0 && days <= 3660)) return 'Redeemable for: whole days up to 3660, or empty for no expiry.'
  const pre = String(prefix ?? '').trim().toUpperCase()
  if (!/^[A-Z0-9]{0,8}$/.test(pre)) return 'Prefix: up to 8 letters and digits.'
  const out = { plan_id: plan, count: n, length: len }
  if (pre) out.prefix = pre
  if (price !== null && price !== undefined) out.price = price
  if (days) out.valid_days = days
  const nt = String(note ?? '').trim()
  if (nt) out.note = nt
  return out
}

// ----------------------------------------------------------------- portal

/** Purchase states the live view shows, with how each is coloured. */
export function purchaseBadge(p) {
  switch (p && p.status) {
    case 'completed':
      return { status: 'succeeded', label: 'paid' }
    case 'redeemed':
      return { status: 'succeeded', label: 'voucher redeemed' }
    case 'pending':
      return { status: 'pending', label: 'waiting for M-Pesa' }
    case 'failed':
      return { status: 'failed', label: 'failed' }
    case 'flagged':
      return { status: 'failed', label: 'flagged' }
    default:
      return { status: '', label: (p && p.status) || 'unknown' }
  }
}

/** The purchase of a PortalPurchase event ({seq, purchase}), or null. */
export function purchaseFromEvent(data) {
  if (!data || typeof data !== 'object') return null
  const p = data.purchase && typeof data.purchase === 'object' ? data.purchase : data
  if (!p.status || (!p.payment_id && !p.voucher_id)) return null
  return p
}

/** A purchase's identity: its payment, or its voucher for a redemption. */
export function purchaseKey(p) {
  return p.payment_id ? `p${p.payment_id}` : `v${p.voucher_id}`
}

/**
 * Applies a PortalPurchase event to rows (newest first, at most max): a
 * purchase already listed is updated in place (pending → completed), a
 * new one goes on top. Returns the purchase's key, or '' for another event.
 */
export function applyPurchaseEvent(rows, event, data, max = 200) {
  if (event !== 'PortalPurchase') return ''
  const p = purchaseFromEvent(data)
  if (!p) return ''
  const key = purchaseKey(p)
  const i = rows.findIndex((r) => r.key === key)
  if (i >= 0) {
    rows[i] = { ...rows[i], ...p, key, first_at: rows[i].first_at }
  } else {
    rows.unshift({ ...p, key, first_at: p.at })
    if (rows.length > max) rows.length = max
  }
  return key
}

/**
 * The tenant-wide portal address /portal/{slug}; '' without a slug (the
 * portal then answers only on each router's /portal/{tenant}/{router}).
 */
export function portalURL(origin, settings) {
  const slug = settings && settings.slug
  if (!slug) return ''
  return `${String(origin || '').replace(/\/+$/, '')}/portal/${encodeURIComponent(slug)}`
}

/** A router's own portal address: /portal/{tenant}/{router}. */
export function routerPortalURL(origin, tenantId, routerId) {
  const base = String(origin || '').replace(/\/+$/, '')
  return `${base}/portal/${encodeURIComponent(String(tenantId))}/${encodeURIComponent(String(routerId))}`
}

/** Reports whether s is a portal slug: lower-case letters, digits, dashes. */
export function validSlug(s) {
  return s === '' || /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/.test(s)
}

/** Reports whether s is a #rrggbb colour. */
export function validColor(s) {
  return /^#[0-9a-fA-F]{6}$/.test(String(s ?? ''))
}

/**
 * Black or white, whichever reads better on a #rrggbb background (the
 * preview's button text), by the colour's relative luminance in integer
 * math (weights 299/587/114 per mille, YIQ).
 */
export function textOn(color) {
  if (!validColor(color)) return '#ffffff'
  const n = parseInt(color.slice(1), 16)
  const r = (n >> 16) & 255
  const g = (n >> 8) & 255
  const b = n & 255
  return r * 299 + g * 587 + b * 114 >= 128000 ? '#111827' : '#ffffff'
}

/**
 * The fields of the form that differ from the saved settings: a PUT
 * leaves the rest alone. plan_ids compare in order.
 */
export function settingsPatch(saved, form) {
  const out = {}
  for (const k of ['slug', 'name', 'logo_url', 'primary_color', 'accent_color', 'support_phone', 'terms']) {
    const was = (saved && saved[k]) || ''
    const now = String(form[k] ?? '').trim()
    if (was !== now) out[k] = now
  }
  const was = (saved && saved.plan_ids) || []
  const now = form.plan_ids || []
  if (was.length !== now.length || was.some((id, i) => Number(id) !== Number(now[i]))) out.plan_ids = now.map(Number)
  return out
}
