// Notifications page logic (the outbox and the tenant's settings), kept free
// of Vue and browser globals so node --test checks it.
//
//  - kind and status labels for the outbox table;
//  - mergeNotification: a NotificationUpdated broadcast merged by id into the
//    rows REST gave (broadcasts mask the recipient; a row keeps the full one);
//  - settingsForm / settingsPatch: NotificationSettings to an editable form
//    and back to a NotificationSettingsPatch holding only what changed.

/** Notification kinds in the order the settings form lists them. */
export const KINDS = [
  'welcome',
  'user_invited',
  'payment_receipt',
  'credentials',
  'expiry_reminder',
  'expired',
  'reconnected',
  'router_offline',
  'router_recovered',
  'payment_flagged',
  'login_lockout',
  'webhook_disabled',
]

/** A human label per kind. */
export const KIND_LABELS = {
  welcome: 'Welcome',
  user_invited: 'Team invitation',
  payment_receipt: 'Payment receipt',
  credentials: 'Login details',
  expiry_reminder: 'Expiry reminder',
  expired: 'Plan expired',
  reconnected: 'Reconnected',
  router_offline: 'Router offline',
  router_recovered: 'Router back online',
  payment_flagged: 'Payment flagged',
  login_lockout: 'Login lockout',
  webhook_disabled: 'Webhook disabled',
}

/** Returns the label of a kind (the raw kind for one this page does not know). */
export function kindLabel(kind) {
  return KIND_LABELS[kind] || String(kind || '—').replace(/_/g, ' ')
}

/** Outbox statuses, for the filter. */
export const STATUSES = ['queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'skipped', 'unknown']

/** Delivery channels, for the filter. */
export const CHANNELS = ['email', 'sms', 'telegram']

/** A human label per channel. */
export const CHANNEL_LABELS = { email: 'Email', sms: 'SMS', telegram: 'Telegram' }

/** What an unknown status means, shown as its tooltip. */
export const UNKNOWN_HINT = 'the provider may have it; resend to send again'

/**
 * StatusPill props ({status, label, title}) for a notification: status
 * picks the pill's tone among StatusPill's known states.
 */
export function notificationBadge(n) {
  const s = (n && n.status) || ''
  switch (s) {
    case 'queued':
      return { status: 'queued', label: 'queued', title: '' }
    case 'sending':
      return { status: 'running', label: 'sending', title: '' }
    case 'sent':
      return { status: 'sent', label: 'sent', title: '' }
    case 'delivered':
      return { status: 'succeeded', label: 'delivered', title: '' }
    case 'undelivered':
      return { status: 'failed', label: 'undelivered', title: '' }
    case 'failed':
      return { status: 'failed', label: 'failed', title: '' }
    case 'skipped':
      return { status: 'cancelled', label: 'skipped', title: '' }
    case 'unknown':
      return { status: 'pending', label: 'unknown', title: UNKNOWN_HINT }
    default:
      return { status: '', label: s || 'unknown', title: '' }
  }
}

/** Reports whether a notification may be sent again (not while queued or sending). */
export function canResend(n) {
  return !!n && n.status !== 'queued' && n.status !== 'sending'
}

/** The notification in a NotificationUpdated event's data ({notification}), or null. */
export function notificationFromEvent(data) {
  const n = data && typeof data === 'object' ? data.notification || data : null
  if (!n || n.id === undefined || n.id === null || n.id === '') return null
  return n
}

function time(v) {
  const t = Date.parse(v || '')
  return Number.isFinite(t) ? t : null
}

/**
 * Merges notification n into rows (newest id first), in place. A known id
 * takes the broadcast's delivery state (status, attempts, last_error,
 * updated_at, resends, provider_id, sent_at) and keeps its own recipient,
 * which REST gave unmasked; an update older than the row (a replay after
 * the REST load) is ignored. An unknown id is inserted at its place by id
 * if accept(n) says the page's filters take it. Returns 'updated',
 * 'added' or '' (nothing changed).
 */
export function mergeNotification(rows, n, accept = null) {
  if (!n) return ''
  const id = Number(n.id)
  const i = rows.findIndex((r) => Number(r.id) === id)
  if (i >= 0) {
    const held = rows[i]
    const was = time(held.updated_at)
    const at = time(n.updated_at)
    if (was !== null && at !== null && at < was) return ''
    const next = {
      ...held,
      status: n.status ?? held.status,
      attempts: n.attempts ?? held.attempts,
      last_error: n.last_error || '',
      updated_at: n.updated_at ?? held.updated_at,
    }
    for (const k of ['resends', 'provider_id', 'sent_at']) if (n[k] !== undefined) next[k] = n[k]
    rows.splice(i, 1, next)
    return 'updated'
  }
  if (accept && !accept(n)) return ''
  let at = rows.findIndex((r) => Number(r.id) < id)
  if (at < 0) at = rows.length
  rows.splice(at, 0, { ...n })
  return 'added'
}

/** Applies one notifications-channel event to rows; see mergeNotification. */
export function applyNotificationEvent(rows, event, data, accept = null) {
  if (event !== 'NotificationUpdated') return ''
  return mergeNotification(rows, notificationFromEvent(data), accept)
}

/**
 * Appends a REST page (older rows) to rows, skipping ids already held (a
 * live event may have inserted one). REST rows are full: a row that is held
 * takes the page's recipient if its own is masked.
 */
export function appendPage(rows, page) {
  const held = new Map(rows.map((r, i) => [Number(r.id), i]))
  for (const r of page || []) {
    const i = held.get(Number(r.id))
    if (i === undefined) rows.push({ ...r })
    else if (String(rows[i].recipient || '').includes('*')) rows.splice(i, 1, { ...rows[i], recipient: r.recipient })
  }
  return rows
}

/** Reports whether n matches the page's filters {status, channel, kind} ('' takes all). */
export function matchesFilters(n, f) {
  return (!f.status || n.status === f.status) && (!f.channel || n.channel === f.channel) && (!f.kind || n.kind === f.kind)
}

// ---------------------------------------------------------------- settings

/** Formats seconds as a reminder offset: "24h", "30m", or "90s". */
export function formatOffset(sec) {
  const s = Number(sec)
  if (!Number.isInteger(s) || s < 0) return ''
  if (s > 0 && s % 3600 === 0) return `${s / 3600}h`
  if (s % 60 === 0) return `${s / 60}m`
  return `${s}s`
}

/** Formats reminder offsets (seconds) for the form: "24h, 1h". */
export function formatOffsets(list) {
  return (list || []).map(formatOffset).join(', ')
}

const UNITS = { h: 3600, hr: 3600, hrs: 3600, hour: 3600, hours: 3600, m: 60, min: 60, mins: 60, minute: 60, minutes: 60, s: 1, sec: 1, secs: 1, seconds: 1 }

/**
 * Parses "24h, 1h, 30m" into seconds ([86400, 3600, 1800]). A bare number
 * is hours. Returns {value} or {error}.
 */
export function parseOffsets(text) {
  const out = []
  const parts = String(text || '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
  for (const p of parts) {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(p)
    const unit = m ? (m[2] ? UNITS[m[2].toLowerCase()] : 3600) : undefined
    if (!m || !unit) return { error: `Reminders: "${p}" is not a number of hours or minutes, e.g. 24h or 30m.` }
    const sec = Math.round(Number(m[1]) * unit)
    if (sec < 60 || sec > 2592000) return { error: `Reminders: "${p}" must be between 1 minute and 30 days.` }
    out.push(sec)
  }
  if (out.length > 4) return { error: 'Reminders: at most 4.' }
  return { value: out }
}

/** Formats seconds as minutes for the form (5, 1.5). */
export function secondsToMinutes(sec) {
  const s = Number(sec)
  if (!Number.isFinite(s)) return ''
  return String(Math.round((s / 60) * 100) / 100)
}

/** Parses minutes typed in the form into whole seconds, or null. */
export function minutesToSeconds(text) {
  const t = String(text ?? '').trim()
  if (!/^\d+(?:\.\d+)?$/.test(t)) return null
  return Math.round(Number(t) * 60)
}

/** Splits chat ids typed separated by commas, spaces or new lines. */
export function parseList(text) {
  return String(text || '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean)
}

/**
 * The editable form for NotificationSettings s. Write-only secrets start
 * empty (empty leaves them unchanged); their *_clear flags ask to clear them.
 */
export function settingsForm(s) {
  const v = s || {}
  const disabled = new Set(v.disabled || [])
  return {
    language: v.language || 'en',
    enabled: Object.fromEntries(KINDS.map((k) => [k, !disabled.has(k)])),
    reminders: formatOffsets(v.reminder_offsets),
    offline_minutes: secondsToMinutes(v.router_offline_after ?? 300),
    recovered_minutes: secondsToMinutes(v.router_recovered_after ?? 60),
    smtp_url: '',
    smtp_clear: false,
    mail_from: v.mail_from || '',
    sms_username: v.sms_username || '',
    sms_api_key: '',
    sms_api_key_clear: false,
    sms_sender_id: v.sms_sender_id || '',
    telegram_token: '',
    telegram_token_clear: false,
    telegram_chats: (v.telegram_chats || []).join(', '),
  }
}

function sameList(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function sameSet(a, b) {
  const s = new Set(a)
  return a.length === b.length && b.every((x) => s.has(x))
}

/**
 * Builds the NotificationSettingsPatch from saved settings and the form:
 * only changed fields. Returns {patch} or {error} (a message for the form).
 */
export function settingsPatch(saved, form) {
  const s = saved || {}
  const patch = {}
  if (form.language !== (s.language || 'en')) patch.language = form.language

  const disabled = KINDS.filter((k) => !form.enabled[k])
  const was = (s.disabled || []).filter((k) => KINDS.includes(k))
  // Kinds this page does not know stay as the server has them.
  const unknown = (s.disabled || []).filter((k) => !KINDS.includes(k))
  if (!sameSet(was, disabled)) patch.disabled = [...disabled, ...unknown]

  const offsets = parseOffsets(form.reminders)
  if (offsets.error) return { error: offsets.error }
  if (!sameList(offsets.value, s.reminder_offsets || [])) patch.reminder_offsets = offsets.value

  const off = minutesToSeconds(form.offline_minutes)
  if (off === null || off < 30 || off > 604800) return { error: 'Router offline after: minutes between 0.5 and 10080 (a week).' }
  if (off !== s.router_offline_after) patch.router_offline_after = off
  const rec = minutesToSeconds(form.recovered_minutes)
  if (rec === null || rec > 604800) return { error: 'Router recovered after: minutes between 0 and 10080 (a week).' }
  if (rec !== s.router_recovered_after) patch.router_recovered_after = rec

  for (const [field, clear] of [
    ['smtp_url', 'smtp_clear'],
    ['sms_api_key', 'sms_api_key_clear'],
    ['telegram_token', 'telegram_token_clear'],
  ]) {
    const v = String(form[field] || '').trim()
    if (v) patch[field] = v
    else if (form[clear]) patch[field] = ''
  }
  if (patch.smtp_url && !/^smtps?:\/\//i.test(patch.smtp_url)) return { error: 'SMTP URL: smtp://user:pass@host:587 or smtps://user:pass@host:465.' }

  for (const [field, max, label] of [
    ['mail_from', 200, 'Mail from'],
    ['sms_username', 100, 'SMS username'],
    ['sms_sender_id', 11, 'SMS sender id'],
  ]) {
    const v = String(form[field] || '').trim()
    if (v.length > max) return { error: `${label}: at most ${max} characters.` }
    if (v !== (s[field] || '')) patch[field] = v
  }

  const chats = parseList(form.telegram_chats)
  if (chats.length > 10) return { error: 'Telegram chats: at most 10.' }
  if (!sameList(chats, s.telegram_chats || [])) patch.telegram_chats = chats
  return { patch }
}
