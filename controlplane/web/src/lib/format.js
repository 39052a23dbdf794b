// Pure formatting and masking helpers. No DOM, no Vue: `npm test` runs them
// under node --test.

// Masking mirrors the control plane's broadcast masking
// (controlplane/fanout/mask.go, maskIdentity included) byte for byte,
// so that a value from a REST answer, masked here, equals the same value in a
// broadcast, masked there. Session keys depend on it: broadcasts carry
// masked keys, and a session must be the same row whichever source it came
// from. One deliberate difference: "*" counts as part of a token here, which
// makes masking idempotent (a broadcast value passes through unchanged)
// without changing the result for any value that has no "*".

/**
 * Masks a phone number: "+254712345678" → "+2547****678". Keeps a leading
 * "+", the first four and the last three digits; separators are dropped.
 * Fewer than eight digits keep only their last two; anything with letters
 * is masked entirely.
 */
export function maskPhone(s) {
  s = String(s ?? '').trim()
  if (s === '') return ''
  const plus = s.startsWith('+')
  let digits = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c >= '0' && c <= '9') digits += c
    else if ((c === '+' && i === 0) || c === ' ' || c === '-' || c === '(' || c === ')' || c === '.') continue
    else return '****'
  }
  const prefix = plus ? '+' : ''
  if (digits.length === 0) return '****'
  if (digits.length < 8) return digits.length <= 2 ? `${prefix}****` : `${prefix}****${digits.slice(-2)}`
  return `${prefix}${digits.slice(0, 4)}****${digits.slice(-3)}`
}

/**
 * Masks an e-mail address: "john@example.com" → "j***@example.com". A value
 * without exactly one "@" and a non-empty domain is masked entirely.
 */
export function maskEmail(s) {
  s = String(s ?? '').trim()
  if (s === '') return ''
  const at = s.indexOf('@')
  if (at < 0) return '***'
  const local = s.slice(0, at)
  const domain = s.slice(at + 1)
  if (domain === '' || domain.includes('@')) return '***'
  // Already masked (only possible with "*", which raw values lack).
  if (/^.?\*\*\*$/u.test(local)) return s
  if (local === '') return `***@${domain}`
  return `${Array.from(local)[0]}***@${domain}`
}

const isTokenChar = (c) => /[A-Za-z0-9._%+@*-]/.test(c)

function isPhoneToken(tok) {
  const digits = tok.startsWith('+') ? tok.slice(1) : tok
  return digits.length >= 9 && /^[0-9]+$/.test(digits)
}

function maskContactsIn(s) {
  let out = ''
  for (let i = 0; i < s.length; ) {
    if (!isTokenChar(s[i])) {
      out += s[i++]
      continue
    }
    let j = i
    while (j < s.length && isTokenChar(s[j])) j++
    let tok = s.slice(i, j)
    if (tok.includes('@')) tok = maskEmail(tok)
    else if (isPhoneToken(tok)) tok = maskPhone(tok)
    out += tok
    i = j
  }
  return out
}

/**
 * Returns what the dashboard shows for a subscriber identity (a hotspot
 * user, a PPP name, a caller id, a session key): the whole value masked when
 * it is a phone number of nine or more digits, else every embedded e-mail
 * address or such phone number masked. Idempotent.
 */
export function maskIdentity(v) {
  if (v === null || v === undefined) return ''
  const s = String(v)
  let digits = 0
  for (const c of s) {
    if (c >= '0' && c <= '9') digits++
    else if (c !== '+' && c !== ' ' && c !== '-') return maskContactsIn(s)
  }
  return digits >= 9 ? maskPhone(s) : s
}

/** Masks the subscriber parts of a session key, as broadcasts do. */
export function maskKey(key) {
  return maskIdentity(key)
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
