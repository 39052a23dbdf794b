// Router list state: REST load plus events of private-tenant.{t}.routers.
// Pure JavaScript over a plain object keyed by router id (the views wrap it
// in reactive()).

import { liveDataFromEvent, routerFromEvent } from '../api.js'
import { toMillis } from './format.js'

/** Replaces the routers in byId with a REST list. */
export function loadRouters(byId, list) {
  for (const k of Object.keys(byId)) delete byId[k]
  for (const r of list || []) byId[r.id] = { ...r }
}

/**
 * Applies RouterStatusUpdated (the whole router) and RouterLiveDataUpdated
 * (resources and a last-seen time) to byId. Returns the id of the router that
 * changed, or '' when the event changed nothing. A status event for an
 * unknown router adds it (a router enrolled elsewhere).
 */
export function applyRouterEvent(byId, event, data, accept = null) {
  if (event === 'RouterStatusUpdated' || event === 'RouterEnrolled') {
    const r = routerFromEvent(data)
    if (!r || (accept && !accept(r))) return ''
    byId[r.id] = { ...(byId[r.id] || {}), ...r }
    return r.id
  }
  if (event === 'RouterLiveDataUpdated') {
    const d = liveDataFromEvent(data)
    if (!d || !byId[d.router_id]) return ''
    const r = byId[d.router_id]
    const next = { ...r }
    if (d.resources) {
      next.resources = { ...(r.resources || {}), ...d.resources }
      if (d.resources.identity) next.identity = d.resources.identity
      if (d.resources.version) next.routeros_version = d.resources.version
      if (d.resources.board) next.board = d.resources.board
    }
    if (typeof d.router_connected === 'boolean') next.router_connected = d.router_connected
    if (d.at && !(toMillis(d.at) < toMillis(r.last_seen_at))) next.last_seen_at = d.at
    byId[d.router_id] = next
    return d.router_id
  }
  return ''
}

/** Counts routers by status: {online, offline, pending, revoked, total}. */
export function countRouters(byId) {
  const c = { online: 0, offline: 0, pending: 0, revoked: 0, total: 0 }
  for (const r of Object.values(byId)) {
    c.total++
    if (r.status in c) c[r.status]++
  }
  return c
}

/** Memory use of a router in percent, or null. */
export function memoryPercent(r) {
  const res = r && r.resources
  if (!res || !res.total_memory) return null
  return Math.round(((res.total_memory - res.free_memory) / res.total_memory) * 100)
}

/**
 * A router's displayed state: its status, refined for an online agent that
 * cannot reach its router.
 */
export function routerState(r) {
  if (r.status === 'online' && r.router_connected === false) return { status: 'unreachable', label: 'router unreachable' }
  return { status: r.status || 'pending', label: r.status || 'pending' }
}
