// The aggregate throughput series behind the overview chart. It is fed by
// DashboardStatsUpdated events for as long as the tenant is viewed, not only
// while the overview is open, so the chart has history when the page is
// opened again. Points are stamped with the browser's clock on arrival,
// matching the chart's time axis.

import { reactive, watch } from 'vue'
import { normalizeStats } from './api.js'
import * as realtime from './realtime.js'

/** How much history the chart shows. */
export const WINDOW_MS = 10 * 60 * 1000
const MAX_POINTS = 1200

export const series = reactive({ points: [] })

/**
 * Adds a reading {rxBps, txBps} (bits per second). Readings without
 * either value are skipped; readings closer than 250 ms replace the last.
 */
export function addPoint(stats, at = Date.now()) {
  if (stats.rxBps === null && stats.txBps === null) return
  const p = { t: at, rx: stats.rxBps ?? 0, tx: stats.txBps ?? 0 }
  const pts = series.points
  const last = pts[pts.length - 1]
  if (last && at - last.t < 250) pts[pts.length - 1] = p
  else pts.push(p)
  const cutoff = at - 2 * WINDOW_MS
  let drop = 0
  while (drop < pts.length && (pts[drop].t < cutoff || pts.length - drop > MAX_POINTS)) drop++
  if (drop) pts.splice(0, drop)
}

realtime.on('dashboard-stats', (event, data) => {
  if (event === 'DashboardStatsUpdated') addPoint(normalizeStats(data))
})

watch(
  () => realtime.live.tenantId,
  () => {
    series.points = []
  },
)
