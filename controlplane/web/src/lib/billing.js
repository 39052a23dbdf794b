// Billing's pure helpers: money in integer minor units, and the reducers
// that merge REST rows and Pusher events of private-tenant.{t}.payments,
// .plans, .customers, .subscriptions and BillingStatsUpdated. No DOM, no
// Vue: `npm test` runs them under node --test.
//
// Money is never a float here: amounts stay integers of minor units (5000
// is KES 50.00) from the wire to the screen. Formatting splits them with
// integer arithmetic and parsing reads the digits, so no value is ever
// divided into a fraction.

import { maskEmail, maskPhone } from './format.js'

/** Reports whether v is an integer amount of minor units. */
export function isMinor(v) {
  return typeof v === 'number' && Number.isSafeInteger(v)
}

/**
 * Formats minor units with two decimals and thousands separators:
 * formatMinor(123456) → "1,234.56", formatMinor(-5) → "-0.05".
 * Anything but a safe integer → "—".
 */
export function formatMinor(amount) {
  if (!isMinor(amount)) return '—'
  const neg = amount < 0
  const a = Math.abs(amount)
  const whole = Math.trunc(a / 100)
  const cents = String(a % 100).padStart(2, '0')
  const grouped = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${neg ? '-' : ''}${grouped}.${cents}`
}

/**
 * Formats a Money ({amount, currency}) or a bare amount with a currency:
 * formatMoney({amount: 5000, currency: 'KES'}) → "KES 50.00".
 */
export function formatMoney(m, currency = '') {
  const amount = m !== null && typeof m === 'object' ? m.amount : m
  const cur = (m !== null && typeof m === 'object' && m.currency) || currency
  const s = formatMinor(amount)
  return cur && s !== '—' ? `${cur} ${s}` : s
}

/**
 * Parses what a person types as an amount ("50", "50.5", "1,250.00") into
 * minor units, reading digits only (never through a float). Returns null
 * for anything else: signs, more than two decimals, letters, too large.
 */
export function parseMinor(text) {
  const s = String(text ?? '').trim().replace(/,/g, '')
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(s)
  if (!m) return null
  const whole = m[1].replace(/^0+(?=\d)/, '')
  const frac = ((m[2] || '') + '00').slice(0, 2)
  if (whole.length > 13) return null // beyond 10^13 major units: not a price
  const v = Number(whole) * 100 + Number(frac)
  return Number.isSafeInteger(v) ? v : null
}

/** The text an input shows for minor units: 5000 → "50.00" (no separators). */
export function minorToInput(amount) {
  return isMinor(amount) ? formatMinor(amount).replace(/,/g, '') : ''
}

// ------------------------------------------------------------- event data

function pick(data, key) {
  if (!data || typeof data !== 'object') return null
  const v = data[key] && typeof data[key] === 'object' ? data[key] : data
  return v && v.id !== undefined && v.id !== null ? v : null
}

/** The payment of a Payment* event ({seq, payment}) or a REST row. */
export function paymentFromEvent(data) {
  return pick(data, 'payment')
}

/** The plan of a Plan* event ({seq, plan}) or a REST row. */
export function planFromEvent(data) {
  return pick(data, 'plan')
}

/** The customer of a CustomerUpdated event ({seq, customer}) or a REST row. */
export function customerFromEvent(data) {
  return pick(data, 'customer')
}

/** The subscription and renewed flag of a Subscription* event. */
export function subscriptionFromEvent(data) {
  const s = pick(data, 'subscription')
  return s ? { subscription: s, renewed: !!(data && data.renewed) } : null
}

/**
 * Billing figures from GET /billing/stats or a BillingStatsUpdated event
 * ({seq, stats}): amounts in minor units, counts; null where absent.
 */
export function normalizeBillingStats(raw) {
  const s = (raw && (raw.stats || raw)) || {}
  const int = (v) => (isMinor(v) ? v : null)
  return {
    tenantId: int(s.tenant_id),
    currency: typeof s.currency === 'string' ? s.currency : '',
    revenueToday: int(s.revenue_today),
    revenue7d: int(s.revenue_7d),
    revenue30d: int(s.revenue_30d),
    paymentsToday: int(s.payments_today),
    activeSubscriptions: int(s.active_subscriptions),
    arpu: int(s.arpu),
    // 30-day revenue per currency: system-wide figures only.
    byCurrency: Object.fromEntries(
      Object.entries((s.by_currency && typeof s.by_currency === 'object' && s.by_currency) || {}).filter(([, v]) => isMinor(v)),
    ),
    at: s.at || null,
  }
}

// ------------------------------------------------------------------ merge

const CONTACTS = [
  ['phone', maskPhone],
  ['email', maskEmail],
]

/**
 * Merges an incoming row (REST or broadcast) into the row already held
 * for its id. Broadcasts carry masked phones and emails while the REST
 * API gives staff the full ones: a masked value that is the held value
 * masked keeps the held one, so a live update never blanks a number out.
 */
export function mergeRow(held, incoming) {
  if (!held) return { ...incoming }
  const out = { ...held, ...incoming }
  for (const [field, mask] of CONTACTS) {
    const h = held[field]
    const v = incoming[field]
    if (typeof h === 'string' && typeof v === 'string' && v.includes('*') && !h.includes('*') && mask(h) === v) out[field] = h
  }
  return out
}

/** Upserts row into byId (an object keyed by id); returns the merged row. */
export function upsert(byId, row) {
  const key = String(row.id)
  byId[key] = mergeRow(byId[key], row)
  return byId[key]
}

/** Replaces byId's rows with a REST list. */
export function loadRows(byId, rows) {
  for (const k of Object.keys(byId)) delete byId[k]
  for (const r of rows || []) byId[String(r.id)] = { ...r }
}

/** Payment events and the status each carries. */
export const PAYMENT_EVENTS = ['PaymentCompleted', 'PaymentFailed', 'PaymentUpdated']

/**
 * Applies a payments-channel event to byId. Returns the payment's id, or
 * '' when the event is not a payment's. A payment the page filters out
 * (accept returns false) is dropped, as the REST filter would have.
 */
export function applyPaymentEvent(byId, event, data, accept = null) {
  if (!PAYMENT_EVENTS.includes(event)) return ''
  const p = paymentFromEvent(data)
  if (!p) return ''
  const key = String(p.id)
  if (accept && !accept(p)) {
    delete byId[key]
    return key
  }
  upsert(byId, p)
  return key
}

/** Applies a plans-channel event to byId; returns the plan's id or ''. */
export function applyPlanEvent(byId, event, data) {
  const p = planFromEvent(data)
  if (!p) return ''
  const key = String(p.id)
  if (event === 'PlanDeleted') delete byId[key]
  else if (event === 'PlanCreated' || event === 'PlanUpdated') upsert(byId, p)
  else return ''
  return key
}

/** Newest first by creation, then by id: the order of the payments list. */
export function byNewest(a, b) {
  const ta = Date.parse(a.created_at) || 0
  const tb = Date.parse(b.created_at) || 0
  return tb - ta || Number(b.id) - Number(a.id)
}

/** What a payment's badge says and how it is coloured. */
export function paymentBadge(p) {
  switch (p && p.status) {
    case 'completed':
      return { status: 'succeeded', label: 'completed' }
    case 'failed':
      return { status: 'failed', label: 'failed' }
    case 'flagged':
      return { status: 'failed', label: `flagged: ${FLAG_LABELS[p.reason] || p.reason || 'check'}` }
    case 'refunded':
      return { status: 'cancelled', label: 'refunded' }
    case 'pending':
      return { status: 'pending', label: 'pending' }
    default:
      return { status: '', label: (p && p.status) || 'unknown' }
  }
}

/** Words for the flag codes of controlplane/payment.go. */
export const FLAG_LABELS = {
  amount_short: 'amount short',
  currency_mismatch: 'wrong currency',
  unknown_checkout: 'unknown checkout',
  duplicate_receipt: 'duplicate receipt',
  unknown_account: 'unknown account',
  not_confirmed: 'not confirmed',
}

/** Provider names for people. */
export const PROVIDER_LABELS = {
  mpesa_stk: 'M-Pesa STK',
  mpesa_c2b: 'M-Pesa paybill',
  manual: 'Cash / manual',
  webhook: 'Gateway',
}

/** Counts a plan's routers by profile sync state. */
export function syncSummary(plan) {
  const out = { synced: 0, pending: 0, failed: 0 }
  for (const r of (plan && plan.routers) || []) out[r.state] = (out[r.state] || 0) + 1
  return out
}

/**
 * Reads an optional data cap typed in MiB into bytes with integer math
 * ("" → 0: no cap); null when it is not a whole number.
 */
export function parseCapMiB(text) {
  const s = String(text ?? '').trim()
  if (s === '') return 0
  if (!/^\d{1,9}$/.test(s)) return null
  return Number(s) * 1048576
}

/** Formats a byte cap in whole MiB for the edit form (0 → ""). */
export function capToMiB(bytes) {
  return isMinor(bytes) && bytes > 0 ? String(Math.trunc(bytes / 1048576)) : ''
}
