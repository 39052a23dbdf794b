// The system admin's overview: GET /system/stats ({tenants, stats,
// revenue}) then SystemStatsUpdated on private-system-admin ({stats,
// tenants, routers_total, revenue, connections}). One reducer for both.

import { normalizeBillingStats } from './billing.js'

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

/** An empty overview: every figure unknown. */
export function emptySystemStats() {
  return { tenants: null, routersOnline: null, routersOffline: null, routersTotal: null, hotspot: null, pppoe: null, connections: null, revenue: null }
}

/**
 * Merges a REST body or a SystemStatsUpdated event into prev and returns
 * the new overview. Figures absent from raw keep their previous value;
 * revenue is replaced only when raw carries it (null clears nothing).
 */
export function applySystemStats(prev, raw) {
  const s = (raw && raw.stats) || {}
  const next = { ...prev }
  const set = (key, v) => {
    if (num(v) !== null) next[key] = v
  }
  set('tenants', raw?.tenants)
  set('routersOnline', s.routers_online)
  set('routersOffline', s.routers_offline)
  set('routersTotal', raw?.routers_total ?? s.routers_total)
  set('hotspot', s.online_hotspot)
  set('pppoe', s.online_pppoe)
  set('connections', raw?.connections)
  if (raw?.revenue) next.revenue = normalizeBillingStats(raw.revenue)
  return next
}
