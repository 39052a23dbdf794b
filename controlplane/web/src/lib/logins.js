// Hotspot/PPPoE logins per hour for the overview chart: loaded from GET
// /stats/logins (the last 24 h, zeros filled by the server), then kept
// current from SessionStarted events. Pure functions over a plain array
// of { t: hour start in ms, n: logins }, oldest first.

export const HOUR_MS = 60 * 60 * 1000

/** Buckets from a GET /stats/logins body ({ data: [{ hour, logins }] }). */
export function loginBuckets(raw) {
  const data = (raw && Array.isArray(raw.data) && raw.data) || []
  return data
    .map((b) => ({ t: Date.parse(b.hour), n: Number(b.logins) || 0 }))
    .filter((b) => Number.isFinite(b.t))
    .sort((a, b) => a.t - b.t)
}

/**
 * Counts one login at time `at` (ms): into its hour's bucket, adding
 * empty hours up to it, and keeping at most `hours` buckets. A login
 * older than the first bucket is ignored. Returns a new array.
 */
export function addLogin(buckets, at, hours = 24) {
  const hour = Math.floor(at / HOUR_MS) * HOUR_MS
  const out = buckets.map((b) => ({ ...b }))
  if (out.length && hour < out[0].t) return out
  let last = out.length ? out[out.length - 1].t : hour
  if (!out.length) out.push({ t: hour, n: 0 })
  while (last < hour) {
    last += HOUR_MS
    out.push({ t: last, n: 0 })
  }
  const b = out.find((x) => x.t === hour)
  if (b) b.n++
  return out.slice(Math.max(0, out.length - hours))
}

/** The start time (ms) of a SessionStarted event's session, or null. */
export function loginTime(data) {
  const t = Date.parse(data?.session?.started_at ?? '')
  return Number.isFinite(t) ? t : null
}
