// The live session table: the state behind the hotspot, PPPoE and router
// pages. A REST load fills it; events from private-tenant.{t}.sessions keep
// it current. Sessions are keyed by router_id + key (a key is unique only
// within its router), with the key masked: broadcasts carry keys masked by
// the control plane (they embed user names, often phone numbers), REST
// answers carry them raw, and both must land on the same row. The raw key,
// when a REST answer gave it, is kept for kicking. Pure JavaScript: `npm
// test` exercises it.

import { sessionsFromEvent } from '../api.js'
import { maskIdentity, toMillis } from './format.js'

/** The identity of a session across routers. */
export function sessionId(s) {
  return `${s.router_id}\u0000${maskIdentity(s.key)}`
}

/**
 * Prepares a session from the API or an event for display: masked user,
 * parsed times, numeric counters. Rates (bits per second) are filled in by
 * SessionTable from consecutive counters.
 */
export function normalizeSession(s) {
  const started = toMillis(s.started_at)
  const updated = toMillis(s.updated_at)
  const given = String(s.key ?? '')
  const key = maskIdentity(given)
  return {
    tenant_id: s.tenant_id ?? null,
    router_id: String(s.router_id ?? ''),
    kind: s.kind || 'hotspot',
    key,
    raw_key: given !== key ? given : '',
    ros_id: s.ros_id || '',
    user: maskIdentity(s.user),
    address: s.address || '',
    mac: maskIdentity(s.mac || ''),
    service: s.service || '',
    login_by: s.login_by || '',
    session_id: s.session_id || '',
    started_ms: started,
    updated_ms: Number.isNaN(updated) ? started : updated,
    bytes_in: Number(s.bytes_in) || 0,
    bytes_out: Number(s.bytes_out) || 0,
    packets_in: Number(s.packets_in) || 0,
    packets_out: Number(s.packets_out) || 0,
    rate_in: null,
    rate_out: null,
  }
}

// The fields of a broadcast session and the normalized fields each sets.
const MERGED_FIELDS = {
  tenant_id: ['tenant_id'],
  kind: ['kind'],
  ros_id: ['ros_id'],
  user: ['user'],
  address: ['address'],
  mac: ['mac'],
  service: ['service'],
  login_by: ['login_by'],
  session_id: ['session_id'],
  started_at: ['started_ms'],
  updated_at: ['updated_ms'],
  bytes_in: ['bytes_in'],
  bytes_out: ['bytes_out'],
  packets_in: ['packets_in'],
  packets_out: ['packets_out'],
}

/** Reports whether a broadcast session has every field a row needs. */
function isComplete(raw) {
  return ['user', 'started_at', 'bytes_in', 'bytes_out'].every((k) => raw[k] !== undefined)
}

/**
 * Merges a SessionUpdated delta into a normalized row: fields present in raw
 * replace the row's, absent ones are kept. Returns a new row.
 */
export function mergeSession(prev, raw) {
  const n = normalizeSession(raw)
  const out = { ...prev, rate_in: null, rate_out: null }
  for (const [field, targets] of Object.entries(MERGED_FIELDS)) {
    if (raw[field] === undefined) continue
    for (const t of targets) out[t] = n[t]
  }
  if (raw.updated_at === undefined) out.updated_ms = prev.updated_ms
  return out
}

// rate turns two absolute counter readings into bits per second; null when
// the readings cannot give one (same instant, or the counter went back
// because the router rebooted or RouterOS reset it).
function rate(prevBytes, nextBytes, dtMs) {
  if (!(dtMs > 0) || nextBytes < prevBytes) return null
  return ((nextBytes - prevBytes) * 8 * 1000) / dtMs
}

/**
 * SessionTable holds live sessions. `accept` narrows what it keeps (a kind, a
 * router, a tenant): events for other sessions are ignored, so one channel
 * can feed several tables.
 */
export class SessionTable {
  constructor(accept = null) {
    this.accept = accept
    this.map = new Map()
  }

  /** Number of live sessions held. */
  get size() {
    return this.map.size
  }

  /** Returns a session by router and key (raw or masked). */
  get(routerId, key) {
    return this.map.get(sessionId({ router_id: routerId, key }))
  }

  /** Live sessions, in no particular order. */
  rows() {
    return Array.from(this.map.values())
  }

  /** Replaces the whole table with a REST answer. */
  load(list) {
    this.map.clear()
    for (const raw of list || []) {
      const s = normalizeSession(raw)
      if (this.accept && !this.accept(s)) continue
      this.map.set(sessionId(s), s)
    }
  }

  /** Adds sessions, or replaces them if already known (a restarted session). */
  started(list) {
    let changed = 0
    for (const raw of list) {
      const s = normalizeSession(raw)
      if (this.accept && !this.accept(s)) continue
      this.map.set(sessionId(s), s)
      changed++
    }
    return changed
  }

  /**
   * Applies SessionUpdated entries. Each is a delta (see the README's
   * "SessionUpdated" contract): the identity fields and updated_at always,
   * other fields only when they changed, so fields it omits keep the values
   * the table holds; a full session (today's and older servers' shape) is
   * the delta that changes everything. Counters are absolute. An update
   * older than what the table holds (one queued during a REST load that
   * already reflected a newer state) is dropped; an update for an unknown
   * session adds it when it is complete (its SessionStarted was evidently
   * missed) and is otherwise skipped and counted in `incomplete` (a missed
   * event shows as a seq gap, which reloads; a REST answer truncated for a
   * huge tenant lacks sessions by design, so this is not a reload trigger).
   */
  updated(list) {
    let changed = 0
    this.incomplete = 0
    for (const raw of list) {
      const id = sessionId({ router_id: String(raw.router_id ?? ''), key: String(raw.key ?? '') })
      const prev = this.map.get(id)
      const s = prev ? mergeSession(prev, raw) : normalizeSession(raw)
      // Deltas always carry kind and router_id, so the filter works on them.
      if (this.accept && !this.accept(s)) continue
      if (!prev && !isComplete(raw)) {
        this.incomplete++
        continue
      }
      if (prev) {
        if (s.updated_ms < prev.updated_ms) continue
        const dt = s.updated_ms - prev.updated_ms
        if (dt > 0) {
          s.rate_in = rate(prev.bytes_in, s.bytes_in, dt)
          s.rate_out = rate(prev.bytes_out, s.bytes_out, dt)
        } else {
          // Same reading again (a redelivery): keep the rates already shown.
          s.rate_in = prev.rate_in
          s.rate_out = prev.rate_out
        }
        if (Number.isNaN(s.started_ms)) s.started_ms = prev.started_ms
        // Broadcasts carry neither the raw key nor the RouterOS .id: keep
        // what the REST load gave, for kicking.
        if (!s.raw_key) s.raw_key = prev.raw_key
        if (!s.ros_id) s.ros_id = prev.ros_id
        if (!s.session_id) s.session_id = prev.session_id
      }
      this.map.set(id, s)
      changed++
    }
    return changed
  }

  /** Removes ended sessions; returns the removed sessions. */
  ended(list) {
    const out = []
    for (const raw of list) {
      const id = sessionId({ router_id: String(raw.router_id ?? ''), key: String(raw.key ?? '') })
      const prev = this.map.get(id)
      if (!prev) continue
      this.map.delete(id)
      out.push({ ...prev, end_reason: raw.end_reason || '', ended_at: raw.ended_at || null })
    }
    return out
  }
}

/**
 * Applies one event of private-tenant.{t}.sessions to a table. Returns
 * {changed, ended, incomplete?}: how many rows changed, the sessions that
 * ended, and how many SessionUpdated deltas named a session the table does
 * not hold and could not be added.
 * Unknown event names change nothing.
 */
export function applySessionEvent(table, event, data) {
  const list = sessionsFromEvent(data)
  switch (event) {
    case 'SessionStarted':
      return { changed: table.started(list), ended: [] }
    case 'SessionUpdated': {
      const changed = table.updated(list)
      return { changed, ended: [], incomplete: table.incomplete }
    }
    case 'SessionEnded': {
      const ended = table.ended(list)
      return { changed: ended.length, ended }
    }
    default:
      return { changed: 0, ended: [] }
  }
}

/** Compares two sessions by a column, for sorting. */
export function compareSessions(a, b, column) {
  const va = a[column]
  const vb = b[column]
  if (typeof va === 'number' || typeof vb === 'number') {
    const na = va === null || Number.isNaN(va) ? -Infinity : va
    const nb = vb === null || Number.isNaN(vb) ? -Infinity : vb
    return na - nb
  }
  return String(va ?? '').localeCompare(String(vb ?? ''), undefined, { numeric: true, sensitivity: 'base' })
}

/**
 * Filters, searches and sorts sessions for a table. search matches user,
 * address, MAC and key case-insensitively; routerId "" keeps every router.
 */
export function querySessions(rows, { search = '', routerId = '', sort = 'started_ms', desc = true } = {}) {
  const q = search.trim().toLowerCase()
  let out = rows
  if (routerId) out = out.filter((s) => s.router_id === routerId)
  if (q) {
    out = out.filter(
      (s) =>
        s.user.toLowerCase().includes(q) ||
        s.address.toLowerCase().includes(q) ||
        s.mac.toLowerCase().includes(q) ||
        s.key.toLowerCase().includes(q),
    )
  }
  out = out.slice()
  out.sort((a, b) => {
    const c = compareSessions(a, b, sort)
    return desc ? -c : c
  })
  return out
}
