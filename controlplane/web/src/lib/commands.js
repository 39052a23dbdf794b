// Command list state: REST load plus CommandUpdated events. Pure
// JavaScript over a plain object keyed by command id.

import { commandDone, normalizeCommand } from '../api.js'
import { toMillis } from './format.js'

/** Replaces the commands in byId with a REST list (already normalized). */
export function loadCommands(byId, list) {
  for (const k of Object.keys(byId)) delete byId[k]
  for (const c of list || []) byId[c.id] = c
}

/**
 * Applies a CommandUpdated event. A final status is never overwritten by a
 * late non-final one (events of one command may cross a REST answer).
 * Returns the command, or null when it was dropped or not accepted.
 */
export function applyCommandEvent(byId, event, data, accept = null) {
  if (event !== 'CommandUpdated') return null
  const c = normalizeCommand(data)
  if (!c.id || (accept && !accept(c))) return null
  const prev = byId[c.id]
  if (prev && commandDone(prev.status) && !commandDone(c.status)) return null
  const next = { ...(prev || {}), ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== '' && v !== null)) }
  byId[c.id] = next
  return next
}

/** Commands newest first. */
export function sortedCommands(byId) {
  return Object.values(byId).sort((a, b) => (toMillis(b.created_at) || 0) - (toMillis(a.created_at) || 0) || b.id.localeCompare(a.id))
}

/**
 * Progress of bulk operations: [{bulk_id, kind, total, succeeded, failed,
 * active}] for commands that carry a bulk_id, newest first.
 */
export function bulkProgress(commands) {
  const groups = new Map()
  for (const c of commands) {
    if (!c.bulk_id) continue
    let g = groups.get(c.bulk_id)
    if (!g) {
      g = { bulk_id: c.bulk_id, kind: c.kind, total: 0, succeeded: 0, failed: 0, active: 0, created_at: c.created_at }
      groups.set(c.bulk_id, g)
    }
    g.total++
    if (c.status === 'succeeded') g.succeeded++
    else if (commandDone(c.status)) g.failed++
    else g.active++
    if ((toMillis(c.created_at) || 0) < (toMillis(g.created_at) || Infinity)) g.created_at = c.created_at
  }
  return Array.from(groups.values()).sort((a, b) => (toMillis(b.created_at) || 0) - (toMillis(a.created_at) || 0))
}

// Typed command kinds (protocol/command.go) and the form fields each takes.
// `param` is the JSON object the fields go into; `required` fields must be
// non-empty. Numbers are sent as numbers, "args" as a list of lines.
const USER_FIELDS = ['name', 'password', 'profile', 'server', 'mac', 'email', 'comment', 'limit_uptime', 'limit_bytes_total']
const SECRET_FIELDS = ['name', 'password', 'service', 'profile', 'local_address', 'remote_address', 'caller_id', 'comment']

export const COMMAND_SPECS = {
  'hotspot.user.add': { param: 'hotspot_user', fields: USER_FIELDS, required: ['name', 'password'], label: 'Add hotspot user' },
  'hotspot.user.set': { param: 'hotspot_user', fields: USER_FIELDS, required: ['name'], label: 'Change hotspot user' },
  'hotspot.user.enable': { param: 'hotspot_user', fields: ['name'], required: ['name'], label: 'Enable hotspot user' },
  'hotspot.user.disable': { param: 'hotspot_user', fields: ['name'], required: ['name'], label: 'Disable hotspot user' },
  'hotspot.user.remove': { param: 'hotspot_user', fields: ['name'], required: ['name'], label: 'Remove hotspot user' },
  'hotspot.active.kick': { param: 'kick', fields: ['user', 'key', 'ros_id'], required: [], anyOf: ['user', 'key', 'ros_id'], label: 'Kick hotspot session(s)' },
  'ppp.secret.add': { param: 'ppp_secret', fields: SECRET_FIELDS, required: ['name', 'password'], label: 'Add PPP secret' },
  'ppp.secret.set': { param: 'ppp_secret', fields: SECRET_FIELDS, required: ['name'], label: 'Change PPP secret' },
  'ppp.secret.enable': { param: 'ppp_secret', fields: ['name'], required: ['name'], label: 'Enable PPP secret' },
  'ppp.secret.disable': { param: 'ppp_secret', fields: ['name'], required: ['name'], label: 'Disable PPP secret' },
  'ppp.secret.remove': { param: 'ppp_secret', fields: ['name'], required: ['name'], label: 'Remove PPP secret' },
  'ppp.active.kick': { param: 'kick', fields: ['user', 'key', 'ros_id'], required: [], anyOf: ['user', 'key', 'ros_id'], label: 'Kick PPP session(s)' },
  'hotspot.profile.rate_limit': { param: 'profile', fields: ['name', 'rate_limit'], required: ['name', 'rate_limit'], label: 'Hotspot profile rate limit' },
  'ppp.profile.rate_limit': { param: 'profile', fields: ['name', 'rate_limit'], required: ['name', 'rate_limit'], label: 'PPP profile rate limit' },
  resync: { param: '', fields: [], required: [], label: 'Resync sessions' },
  raw: { param: 'raw', fields: ['path', 'args'], required: ['path'], label: 'Raw RouterOS command (allow-listed paths only)' },
}

const NUMERIC = new Set(['limit_bytes_total'])

/**
 * Builds the typed command JSON for a kind from form values. Throws an Error
 * naming the first missing field.
 */
export function buildCommand(kind, values) {
  const spec = COMMAND_SPECS[kind]
  if (!spec) throw new Error(`unknown command kind ${kind}`)
  const p = {}
  for (const f of spec.fields) {
    let v = values[f]
    if (typeof v === 'string') v = v.trim()
    if (v === undefined || v === null || v === '') continue
    if (f === 'args') {
      const lines = String(v)
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
      if (lines.length) p.args = lines
      continue
    }
    if (NUMERIC.has(f)) {
      const n = Number(v)
      if (!Number.isFinite(n) || n < 0) throw new Error(`${f} must be a non-negative number`)
      p[f] = n
      continue
    }
    p[f] = v
  }
  for (const f of spec.required) if (p[f] === undefined) throw new Error(`${f} is required`)
  if (spec.anyOf && !spec.anyOf.some((f) => p[f] !== undefined)) throw new Error(`one of ${spec.anyOf.join(', ')} is required`)
  if (values.disabled !== undefined && (spec.param === 'hotspot_user' || spec.param === 'ppp_secret') && spec.fields.length > 1) {
    p.disabled = !!values.disabled
  }
  return spec.param ? { kind, [spec.param]: p } : { kind }
}
