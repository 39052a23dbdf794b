// Pure formatting and masking helpers. No DOM, no Vue: `npm test` runs them
// under node --test.

const PHONE_RE = /^\+?[0-9][0-9 ()-]{5,}[0-9]$/

/**
 * Masks a phone number the way the control plane's broadcasts do:
 * "+254712345678" → "+2547****678", "0712345678" → "0712****678".
 * The country code and operator prefix stay readable for support, the
 * subscriber's own digits do not. Returns null when s is not a phone number.
 */
export function maskPhone(s) {
  if (typeof s !== 'string' || !PHONE_RE.test(s.trim())) return null
  const plus = s.trim().startsWith('+')
  const digits = s.replace(/[^0-9]/g, '')
  if (digits.length < 7) return null
  // Keep up to four leading digits and the last three, but always hide at
  // least three digits of a short number.
  const lead = Math.max(1, Math.min(4, digits.length - 6))
  return (plus ? '+' : '') + digits.slice(0, lead) + '****' + digits.slice(-3)
}

/**
 * Masks an e-mail address: "john@example.com" → "j***@example.com".
 * Returns null when s is not an address.
 */
export function maskEmail(s) {
  if (typeof s !== 'string') return null
  const at = s.lastIndexOf('@')
  if (at < 1 || at === s.length - 1 || s.includes(' ')) return null
  return s[0] + '***' + s.slice(at)
}

/**
 * Returns what the dashboard shows for a subscriber identity (a hotspot
 * user name, a PPP secret name, a caller id): phone numbers and e-mail
 * addresses masked, anything else as is. Values that are already masked
 * (they contain "*", as broadcasts do) are left alone, so masking twice is
 * harmless.
 */
export function maskIdentity(s) {
  if (s === null || s === undefined) return ''
  const v = String(s)
  if (v.includes('*')) return v
  return maskPhone(v) ?? maskEmail(v) ?? v
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** Formats a byte count with binary units: 1536 → "1.5 KiB". */
export function formatBytes(n) {
  const v = Number(n)
  if (!Number.isFinite(v) || v < 0) return '—'
  if (v < 1024) return `${Math.round(v)} B`
  let i = 0
  let x = v
  while (x >= 1024 && i < BYTE_UNITS.length - 1) {
    x /= 1024
    i++
  }
  return `${x < 100 ? x.toFixed(1) : Math.round(x)} ${BYTE_UNITS[i]}`
}

const RATE_UNITS = ['bps', 'kbps', 'Mbps', 'Gbps', 'Tbps']

/**
 * Formats a rate in bits per second with decimal units, as network
 * equipment does: 1500000 → "1.5 Mbps". null/undefined → "—".
 */
export function formatBitRate(bps) {
  if (bps === null || bps === undefined) return '—'
  const v = Number(bps)
  if (!Number.isFinite(v) || v < 0) return '—'
  if (v < 1000) return `${Math.round(v)} bps`
  let i = 0
  let x = v
  while (x >= 1000 && i < RATE_UNITS.length - 1) {
    x /= 1000
    i++
  }
  return `${x < 100 ? x.toFixed(1) : Math.round(x)} ${RATE_UNITS[i]}`
}

/** Formats seconds as a compact duration: 3725 → "1h 2m", 90061 → "1d 1h". */
export function formatDuration(seconds) {
  const s = Math.floor(Number(seconds))
  if (!Number.isFinite(s) || s < 0) return '—'
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  if (d > 0) return `${d}d ${h}h`
  if (h > 0) return `${h}h ${m}m`
  if (m > 0) return `${m}m ${sec}s`
  return `${sec}s`
}

/** Parses an RFC 3339 time (or ms number) to epoch ms; NaN when absent. */
export function toMillis(t) {
  if (t === null || t === undefined || t === '') return NaN
  if (typeof t === 'number') return t
  const ms = Date.parse(t)
  // Go encodes an unset time.Time as year 1: treat it as absent.
  return ms < 0 ? NaN : ms
}

/** Formats how long ago t was, relative to now (both epoch ms or RFC 3339). */
export function formatAgo(t, now) {
  const ms = toMillis(t)
  if (Number.isNaN(ms)) return 'never'
  const s = Math.round((now - ms) / 1000)
  if (s < 5) return 'just now'
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}

/** Formats a count with thousands separators. */
export function formatCount(n) {
  const v = Number(n)
  if (n === null || n === undefined || !Number.isFinite(v)) return '—'
  return v.toLocaleString('en-US')
}

/** Formats a time of day (local) for tables. */
export function formatTime(t) {
  const ms = toMillis(t)
  if (Number.isNaN(ms)) return '—'
  const d = new Date(ms)
  const pad = (x) => String(x).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}
