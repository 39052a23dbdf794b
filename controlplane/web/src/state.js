// App-wide state: who is logged in, which tenant is being viewed, toasts,
// the commands this browser started (followed live until they finish), and
// a clock for "x seconds ago" labels. The clock only re-renders; nothing in
// the dashboard fetches on a timer.

import { reactive, ref } from 'vue'
import {
  api,
  commandDone,
  normalizeCommand,
  setTenantScope,
  setToken,
  setUnauthorizedHandler,
} from './api.js'
import * as realtime from './realtime.js'
import { followPurchases, resetPurchases } from './purchases.js'

const TOKEN_KEY = 'sitepulse.token'
const TENANT_KEY = 'sitepulse.tenant'

export const auth = reactive({
  token: null,
  user: null,
  tenant: null, // the user's own tenant; null for system admins
  ready: false, // boot finished (token checked)
})

/** Tenants a system admin can switch between, and the one selected. */
export const view = reactive({
  tenants: [],
  tenantId: null,
})

/** Reports whether the logged-in user is a system admin. */
export function isSystemAdmin() {
  return auth.user?.role === 'system_admin'
}

/** Reports whether the user may change anything (viewers may not). */
export function canMutate() {
  return !!auth.user && auth.user.role !== 'viewer'
}

/** Reports whether the user manages users and routers. */
export function canManage() {
  return auth.user?.role === 'system_admin' || auth.user?.role === 'tenant_admin'
}

// ------------------------------------------------------------------- clock

/** Epoch ms, advanced every second for relative times. */
export const now = ref(Date.now())
let clockTimer = null
function startClock() {
  if (clockTimer === null) clockTimer = setInterval(() => (now.value = Date.now()), 1000)
}

// ------------------------------------------------------------------ toasts

export const toasts = reactive([])
let toastSeq = 0

/**
 * Shows a toast. kind: 'info' | 'success' | 'error' | 'pending'. Returns
 * its id; a toast with timeoutMs 0 stays until closed or updated.
 */
export function toast(kind, title, detail = '', timeoutMs = 6000) {
  const id = ++toastSeq
  toasts.push({ id, kind, title, detail })
  if (timeoutMs > 0) setTimeout(() => closeToast(id), timeoutMs)
  return id
}

/** Changes a toast in place (a command moving from queued to succeeded). */
export function updateToast(id, kind, title, detail = '', timeoutMs = 6000) {
  const t = toasts.find((x) => x.id === id)
  if (!t) return toast(kind, title, detail, timeoutMs)
  Object.assign(t, { kind, title, detail })
  if (timeoutMs > 0) setTimeout(() => closeToast(id), timeoutMs)
  return id
}

export function closeToast(id) {
  const i = toasts.findIndex((x) => x.id === id)
  if (i >= 0) toasts.splice(i, 1)
}

// ---------------------------------------------------------------- commands

/**
 * Commands this browser issued, by id: {command, label, toastId}. Their
 * CommandUpdated events update the toast until a final status.
 */
export const tracked = reactive(new Map())

/** Follows a command just accepted by the API, with a toast. */
export function trackCommand(cmd, label) {
  const c = normalizeCommand(cmd)
  if (!c.id) {
    toast('success', `${label}: accepted`)
    return
  }
  const toastId = toast('pending', `${label}: ${c.status}`, `command ${c.id}`, 0)
  tracked.set(c.id, { command: c, label, toastId })
  applyCommandUpdate(c)
}

/** Applies a CommandUpdated to the tracked command it concerns, if any. */
export function applyCommandUpdate(c) {
  const t = tracked.get(c.id)
  if (!t) return
  t.command = { ...t.command, ...c }
  const st = t.command.status
  if (!commandDone(st)) {
    updateToast(t.toastId, 'pending', `${t.label}: ${st}`, `command ${c.id}`, 0)
    return
  }
  const ok = st === 'succeeded'
  const detail = ok ? `command ${c.id}` : [t.command.code, t.command.message].filter(Boolean).join(': ') || `command ${c.id}`
  updateToast(t.toastId, ok ? 'success' : 'error', `${t.label}: ${st}`, detail, ok ? 5000 : 12000)
}

/** The live status of a tracked command, or '' when not tracked. */
export function trackedStatus(id) {
  return tracked.get(id)?.command.status || ''
}

// -------------------------------------------------------------------- boot

let unCommands = null

async function startRealtime() {
  let cfg = null
  try {
    const c = await api.config()
    cfg = c && (c.pusher || c)
  } catch (err) {
    realtime.live.detail = `realtime config unavailable: ${err.message}`
  }
  realtime.connect(cfg, auth.token)
  if (isSystemAdmin()) realtime.useSystemChannel()
  realtime.useTenant(view.tenantId)
  unCommands?.()
  unCommands = realtime.on('commands', (event, data) => {
    if (event === 'CommandUpdated') applyCommandUpdate(normalizeCommand(data))
  })
  resetPurchases()
  followPurchases()
}

async function loadTenants() {
  if (!isSystemAdmin()) {
    view.tenants = auth.tenant ? [auth.tenant] : []
    view.tenantId = auth.user.tenant_id
    setTenantScope(null)
    return
  }
  try {
    view.tenants = await api.tenants()
  } catch {
    view.tenants = []
  }
  const saved = Number(localStorage.getItem(TENANT_KEY))
  const pick =
    view.tenants.find((t) => t.id === saved) || view.tenants.find((t) => t.status === 'active') || view.tenants[0]
  view.tenantId = pick ? pick.id : null
  setTenantScope(view.tenantId)
}

async function afterLogin() {
  const me = await api.me()
  auth.user = me.user || me
  auth.tenant = me.tenant || null
  await loadTenants()
  startClock()
  await startRealtime()
}

/** Restores a saved login; resolves when the app may route. */
export async function boot() {
  setUnauthorizedHandler(() => logout(true))
  const saved = localStorage.getItem(TOKEN_KEY)
  if (saved) {
    auth.token = saved
    setToken(saved)
    try {
      await afterLogin()
    } catch {
      clearLogin()
    }
  }
  auth.ready = true
}

/** Logs in; throws ApiError on bad credentials. */
export async function login(email, password) {
  const res = await api.login(email, password)
  auth.token = res.token
  setToken(res.token)
  localStorage.setItem(TOKEN_KEY, res.token)
  await afterLogin()
}

function clearLogin() {
  realtime.disconnect()
  unCommands?.()
  unCommands = null
  resetPurchases()
  auth.token = null
  auth.user = null
  auth.tenant = null
  view.tenants = []
  view.tenantId = null
  setToken(null)
  setTenantScope(null)
  localStorage.removeItem(TOKEN_KEY)
  tracked.clear()
}

let onLoggedOut = null
/** Registers navigation to the login page after logout or token expiry. */
export function setLoggedOutHandler(fn) {
  onLoggedOut = fn
}

/** Logs out (revoking the token unless it already expired). */
export async function logout(expired = false) {
  if (!auth.token) return
  if (!expired) {
    try {
      await api.logout()
    } catch {
      // The token is forgotten locally either way.
    }
  }
  clearLogin()
  if (expired) toast('info', 'Your session expired', 'Please log in again.')
  onLoggedOut?.()
}

/** Switches a system admin to another tenant's data and channels. */
export function selectTenant(id) {
  const tid = id === '' || id === null ? null : Number(id)
  if (tid === view.tenantId) return
  view.tenantId = tid
  setTenantScope(tid)
  if (tid !== null) localStorage.setItem(TENANT_KEY, String(tid))
  realtime.useTenant(tid)
  resetPurchases()
  followPurchases()
}

/** Adds or updates a tenant in the switcher (TenantCreated, POST answers). */
export function upsertTenant(t) {
  const i = view.tenants.findIndex((x) => x.id === t.id)
  if (i >= 0) view.tenants[i] = { ...view.tenants[i], ...t }
  else view.tenants.push(t)
  if (view.tenantId === null && t.status === 'active') selectTenant(t.id)
}
