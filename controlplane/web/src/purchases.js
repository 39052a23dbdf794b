// The live view of portal purchases: PortalPurchase events of the viewed
// tenant's private-tenant.{t}.portal channel, newest first, kept for the
// whole login (from the moment the dashboard subscribed) so that opening
// the Portal page later still shows what happened since. There is no REST
// list behind it: what the portal sells is in Payments and Vouchers.

import { reactive } from 'vue'
import { applyPurchaseEvent } from './lib/vouchers.js'
import * as realtime from './realtime.js'

export const purchases = reactive({
  tenantId: null,
  rows: [], // newest first: {key, router_id, payment_id?, voucher_id?, plan_id, phone, mac, status, at, first_at}
  since: null, // when the view started listening (ms)
})

let off = null

/** Starts following the portal channel (idempotent). */
export function followPurchases() {
  if (off) return
  purchases.since = Date.now()
  off = realtime.on('portal', (event, data) => {
    if (purchases.tenantId !== realtime.live.tenantId) {
      purchases.tenantId = realtime.live.tenantId
      purchases.rows.length = 0
    }
    applyPurchaseEvent(purchases.rows, event, data)
  })
}

/** Forgets the rows (logout, tenant switch) and stops following. */
export function resetPurchases() {
  off?.()
  off = null
  purchases.rows.length = 0
  purchases.tenantId = null
  purchases.since = null
}
