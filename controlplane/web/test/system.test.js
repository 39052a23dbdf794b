import { test } from 'node:test'
import assert from 'node:assert/strict'
import { applySystemStats, emptySystemStats } from '../src/lib/system.js'

test('REST load then live events', () => {
  let s = applySystemStats(emptySystemStats(), {
    tenants: 2,
    stats: { online_hotspot: 3, online_pppoe: 1, routers_online: 1, routers_offline: 1, routers_total: 2 },
    revenue: null,
  })
  assert.equal(s.tenants, 2)
  assert.equal(s.routersTotal, 2)
  assert.equal(s.hotspot, 3)
  assert.equal(s.revenue, null)
  // SystemStatsUpdated: routers_total at the top level, revenue once billing announced it.
  s = applySystemStats(s, {
    seq: 4,
    stats: { online_hotspot: 4, online_pppoe: 1, routers_online: 2, routers_offline: 0 },
    tenants: 3,
    routers_total: 2,
    connections: 5,
    revenue: { revenue_30d: 125000, currency: 'KES' },
  })
  assert.equal(s.tenants, 3)
  assert.equal(s.routersOnline, 2)
  assert.equal(s.connections, 5)
  assert.equal(s.revenue.revenue30d, 125000)
  // An event without revenue keeps the last known.
  s = applySystemStats(s, { stats: { online_hotspot: 0 }, revenue: null })
  assert.equal(s.hotspot, 0)
  assert.equal(s.revenue.revenue30d, 125000)
})
