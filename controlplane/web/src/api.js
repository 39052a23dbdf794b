// Every REST call and every wire field name the dashboard depends on lives in
// this module, so an API change is adjusted here and nowhere else. Two kinds
// of functions:
//
//   - api.*: HTTP calls under /api/v1 with the bearer token;
//   - normalize*/…FromEvent: turn REST answers and Pusher event data into the
//     shapes the views use. They accept a few spellings where the server side
//     was still being written when this was (see the report in the issue).
//
// The module touches no browser globals at import time, so node --test can
// import the pure functions.

export const API_BASE = '/api/v1'

/** The Pusher channel authorization endpoint (Laravel's convention). */
export const AUTH_ENDPOINT = '/api/broadcasting/auth'

/** An error answer: `{"error":{"code","message"}}` with its HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`)
    this.name = 'ApiError'
    this.status = status
    this.code = code || ''
  }
}

let token = null
let onUnauthorized = null
let tenantScope = null

/** Sets the bearer token sent with every request (null after logout). */
export function setToken(t) {
  token = t || null
}

/** Returns the current bearer token. */
export function getToken() {
  return token
}

/** Registers what to do when the API answers 401 (the token expired). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn
}

/**
 * Scopes list calls of a system admin to one tenant: they are sent with
 * `tenant_id=` and the results are filtered by tenant_id here as well, since
 * a system admin's unscoped list holds every tenant. null for tenant users.
 */
export function setTenantScope(id) {
  tenantScope = id === null || id === undefined || id === '' ? null : Number(id)
}

/** Returns the tenant a system admin is looking at, or null. */
export function getTenantScope() {
  return tenantScope
}

function query(params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue
    q.set(k, String(v))
  }
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** Adds the system admin's tenant scope to list query parameters. */
function scoped(params) {
  return tenantScope === null ? params : { tenant_id: tenantScope, ...params }
}

/** Keeps the rows of the scoped tenant (rows without tenant_id are kept). */
function inScope(rows) {
  if (tenantScope === null) return rows
  return rows.filter((r) => r.tenant_id === undefined || r.tenant_id === null || Number(r.tenant_id) === tenantScope)
}

async function request(method, path, { params, body, signal } = {}) {
  const headers = { Accept: 'application/json' }
  if (token) headers.Authorization = `Bearer ${token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let res
  try {
    res = await fetch(API_BASE + path + query(params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    })
  } catch (err) {
    if (err && err.name === 'AbortError') throw err
    throw new ApiError(0, 'network', 'The control plane cannot be reached. Check your connection and that SitePulse is running.')
  }
  const text = await res.text()
  let data = null
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = null
    }
  }
  if (!res.ok) {
    const e = data && data.error
    const err = new ApiError(res.status, e && e.code, (e && e.message) || `${method} ${path}: HTTP ${res.status}`)
    if (res.status === 401 && onUnauthorized && path !== '/auth/login') onUnauthorized(err)
    throw err
  }
  return data
}

/**
 * GETs a file with the bearer token (a plain link cannot send it) and
 * returns it as a Blob; errors answer as JSON like every call.
 */
async function requestBlob(path, accept) {
  const headers = { Accept: `${accept}, application/json` }
  if (token) headers.Authorization = `Bearer ${token}`
  let res
  try {
    res = await fetch(API_BASE + path + query(scoped({})), { headers })
  } catch {
    throw new ApiError(0, 'network', 'The control plane cannot be reached. Check your connection and that SitePulse is running.')
  }
  if (!res.ok) {
    let e = null
    try {
      e = (await res.json()).error
    } catch {
      e = null
    }
    const err = new ApiError(res.status, e && e.code, (e && e.message) || `GET ${path}: HTTP ${res.status}`)
    if (res.status === 401 && onUnauthorized) onUnauthorized(err)
    throw err
  }
  return res.blob()
}

/** Reads the rows of `{data:[…]}` (or a bare array). */
function rowsOf(v) {
  if (Array.isArray(v)) return v
  if (v && Array.isArray(v.data)) return v.data
  return []
}

// ---------------------------------------------------------------- normalize

function num(...vs) {
  for (const v of vs) {
    if (v === null || v === undefined || v === '') continue
    const n = Number(v)
    if (Number.isFinite(n)) return n
  }
  return null
}

/**
 * Dashboard figures from GET /stats or a DashboardStatsUpdated event:
 * {online_hotspot, online_pppoe, routers_online, routers_offline,
 * routers_total, rx_bps, tx_bps, at}. rx/tx are bits per second, null when
 * no router reports them.
 */
export function normalizeStats(raw) {
  const s = (raw && (raw.stats || raw)) || {}
  const tp = s.throughput || {}
  return {
    hotspot: num(s.online_hotspot, s.hotspot_online, s.hotspot),
    pppoe: num(s.online_pppoe, s.pppoe_online, s.pppoe),
    routersOnline: num(s.routers_online),
    routersOffline: num(s.routers_offline),
    routersTotal: num(s.routers_total),
    rxBps: num(s.rx_bps, tp.rx_bps),
    txBps: num(s.tx_bps, tp.tx_bps),
    at: s.at || null,
  }
}

/** Command states; the last five are final. */
export const COMMAND_FINAL = ['succeeded', 'failed', 'expired', 'cancelled']

/**
 * A provisioning command from GET /commands, POST …/commands or a
 * CommandUpdated event: {id, router_id, tenant_id, kind, status, code,
 * message, bulk_id, actor, created_at, updated_at}.
 */
export function normalizeCommand(raw) {
  const c = (raw && (raw.command || raw)) || {}
  const result = c.result || {}
  return {
    id: c.id != null ? String(c.id) : '',
    router_id: c.router_id || c.router || '',
    tenant_id: c.tenant_id ?? null,
    kind: c.kind || '',
    status: c.status || 'queued',
    code: c.code || result.code || '',
    message: c.message || c.error || result.message || '',
    bulk_id: c.bulk_id != null && c.bulk_id !== '' ? String(c.bulk_id) : '',
    actor: c.actor || c.created_by || '',
    target: commandTarget(c),
    created_at: c.created_at || c.issued_at || null,
    updated_at: c.updated_at || c.finished_at || c.created_at || null,
  }
}

/** What a command acts on, for display: the user, secret or profile name. */
function commandTarget(c) {
  const p = c.params || c
  if (p.hotspot_user && p.hotspot_user.name) return p.hotspot_user.name
  if (p.ppp_secret && p.ppp_secret.name) return p.ppp_secret.name
  if (p.kick) return p.kick.user || p.kick.key || p.kick.ros_id || ''
  if (p.profile && p.profile.name) return p.profile.name
  if (p.profile_spec && p.profile_spec.name) return p.profile_spec.name
  if (p.raw && p.raw.path) return p.raw.path
  return c.target || ''
}

/** Reports whether a command status is final. */
export function commandDone(status) {
  return COMMAND_FINAL.includes(status)
}

/**
 * A hotspot user or PPP secret managed by SitePulse, from GET /accounts or a
 * User* event: {id, kind ('hotspot'|'ppp'), name, profile, disabled,
 * comment, routers:[{router_id, state, message, updated_at}]}. state is
 * 'synced', 'pending' or 'failed'.
 */
export function normalizeAccount(raw) {
  const a = (raw && (raw.account || raw.user || raw)) || {}
  let routers = a.routers || a.sync || a.sync_state || []
  if (!Array.isArray(routers)) {
    // {router_id: state} or {router_id: {state, message}}
    routers = Object.entries(routers).map(([router_id, v]) =>
      typeof v === 'string' ? { router_id, state: v } : { router_id, ...v },
    )
  }
  const kind = a.kind === 'pppoe' || a.kind === 'ppp' || a.kind === 'ppp_secret' ? 'ppp' : 'hotspot'
  return {
    id: a.id != null ? String(a.id) : `${kind}:${a.name}`,
    tenant_id: a.tenant_id ?? null,
    kind,
    name: a.name || '',
    profile: a.profile || '',
    disabled: !!a.disabled,
    comment: a.comment || '',
    routers: routers.map((r) => ({
      router_id: r.router_id || r.router || '',
      state: r.state || r.status || 'pending',
      message: r.message || r.error || '',
      updated_at: r.updated_at || r.synced_at || null,
    })),
  }
}

// ------------------------------------------------------------ event payloads

/**
 * The sessions an event on private-tenant.{t}.sessions carries. SessionUpdated
 * is batched as {seq, sessions:[…]}; single events may be {seq, session:{…}},
 * {seq, record:{…}} (SessionEnded) or the session's fields next to seq.
 */
export function sessionsFromEvent(data) {
  if (!data || typeof data !== 'object') return []
  if (Array.isArray(data)) return data
  if (Array.isArray(data.sessions)) return data.sessions
  if (Array.isArray(data.records)) return data.records
  if (data.session && typeof data.session === 'object') return [data.session]
  if (data.record && typeof data.record === 'object') return [data.record]
  if (data.key !== undefined) return [data]
  return []
}

/** The router of a RouterStatusUpdated or RouterEnrolled event. */
export function routerFromEvent(data) {
  if (!data || typeof data !== 'object') return null
  const r = data.router && typeof data.router === 'object' ? data.router : data
  if (!r.id) return null
  // RouterEnrolled puts tenant_id beside the router, not in it.
  if (r.tenant_id === undefined && data.tenant_id !== undefined) return { ...r, tenant_id: data.tenant_id }
  return r
}

/** {router_id, resources, at} of a RouterLiveDataUpdated event. */
export function liveDataFromEvent(data) {
  if (!data || typeof data !== 'object') return null
  const id = data.router_id || (data.router && data.router.id) || data.id
  if (!id) return null
  const resources = data.resources || (data.router && data.router.resources) || null
  return {
    router_id: id,
    resources,
    router_connected: data.router_connected,
    at: data.at || data.ts || (data.router && data.router.last_seen_at) || null,
  }
}

/** The tenant of a TenantCreated event. */
export function tenantFromEvent(data) {
  if (!data || typeof data !== 'object') return null
  const t = data.tenant && typeof data.tenant === 'object' ? data.tenant : data
  return t.id != null ? t : null
}

/** The account of a UserCreated/UserUpdated/UserDeleted event. */
export function accountFromEvent(data) {
  return normalizeAccount(data)
}

// ------------------------------------------------------------------ commands

/** The command kind that kicks a session of a kind. */
export function kickKind(sessionKind) {
  return sessionKind === 'pppoe' ? 'ppp.active.kick' : 'hotspot.active.kick'
}

/**
 * The typed command that kicks one session. It names the session by its
 * stable key (raw when a REST answer gave it, else the masked key of a
 * broadcast, which the API must resolve) and its RouterOS .id when known;
 * never by user, which may be masked and would kick every session of that
 * user.
 */
export function kickCommand(session) {
  const kick = { key: session.raw_key || session.key }
  if (session.ros_id) kick.ros_id = session.ros_id
  return { kind: kickKind(session.kind), kick }
}

/** Builds the typed command that enables/disables/removes an account. */
export function accountCommand(account, action) {
  const prefix = account.kind === 'ppp' ? 'ppp.secret.' : 'hotspot.user.'
  const field = account.kind === 'ppp' ? 'ppp_secret' : 'hotspot_user'
  return { kind: prefix + action, [field]: { name: account.name } }
}

// --------------------------------------------------------------------- calls

/** Upper bound of rows a live table loads; the API pages by at most 500. */
const PAGE = 500
const MAX_ROWS = 20000

export const api = {
  /** POST /auth/login {email,password} → {token, expires_at, user}. */
  login(email, password) {
    return request('POST', '/auth/login', { body: { email, password } })
  },
  /** POST /auth/logout: revokes the current token. */
  logout() {
    return request('POST', '/auth/logout')
  },
  /** GET /me → {user, tenant (null for system admins)}. */
  me() {
    return request('GET', '/me')
  },
  /** GET /config → {pusher:{key, app_id, host?, port?, tls?}}. */
  config() {
    return request('GET', '/config')
  },

  /** GET /stats → normalized figures. */
  async stats() {
    return normalizeStats(await request('GET', '/stats', { params: scoped({}) }))
  },

  /** GET /stats/logins?hours=N → {tenant_id, data:[{hour, logins}]}. */
  loginStats(hours = 24) {
    return request('GET', '/stats/logins', { params: scoped({ hours }) })
  },
  /** GET /system/stats (system admins) → {tenants, stats, revenue}. */
  systemStats() {
    return request('GET', '/system/stats')
  },

  /** GET /sessions: one page {data,total,limit,offset}. */
  sessions(params) {
    return request('GET', '/sessions', { params: scoped(params) })
  },
  /**
   * Every live session matching params, paging through /sessions (or
   * /routers/{id}/sessions). Returns {data, total, truncated}.
   */
  async allSessions({ kind, router_id } = {}) {
    const path = router_id ? `/routers/${encodeURIComponent(router_id)}/sessions` : '/sessions'
    const out = []
    let total = 0
    for (let offset = 0; offset < MAX_ROWS; offset += PAGE) {
      const page = await request('GET', path, { params: scoped({ kind, limit: PAGE, offset }) })
      const rows = rowsOf(page)
      total = page && typeof page.total === 'number' ? page.total : out.length + rows.length
      out.push(...rows)
      if (rows.length < PAGE || out.length >= total) break
    }
    return { data: inScope(out), total, truncated: out.length < total }
  },
  /** GET /sessions/history: one page of ended sessions. */
  history(params) {
    return request('GET', '/sessions/history', { params: scoped(params) })
  },

  /** GET /routers → Router[]. */
  async routers() {
    return inScope(rowsOf(await request('GET', '/routers', { params: scoped({}) })))
  },
  /** GET /routers/{id} → Router. */
  router(id) {
    return request('GET', `/routers/${encodeURIComponent(id)}`)
  },
  /** POST /routers {name, site, tenant_id?} → {router, secret, agent_command}. */
  createRouter({ name, site, tenant_id }) {
    const body = { name, site }
    if (tenant_id !== undefined && tenant_id !== null) body.tenant_id = Number(tenant_id)
    return request('POST', '/routers', { body })
  },
  /** POST /routers/{id}/rotate-secret → {router, secret, agent_command}. */
  rotateSecret(id) {
    return request('POST', `/routers/${encodeURIComponent(id)}/rotate-secret`)
  },
  /** POST /routers/{id}/revoke → Router. */
  revokeRouter(id) {
    return request('POST', `/routers/${encodeURIComponent(id)}/revoke`)
  },

  /** GET /tenants → Tenant[]. */
  async tenants() {
    return rowsOf(await request('GET', '/tenants'))
  },
  /** POST /tenants {name} → 202 {id, status}. */
  createTenant(name) {
    return request('POST', '/tenants', { body: { name } })
  },

  /** GET /tenants/{id}/users → User[]. */
  async users(tenantId) {
    return rowsOf(await request('GET', `/tenants/${tenantId}/users`))
  },
  /** POST /tenants/{id}/users {email, name, role, password} → User. */
  createUser(tenantId, user) {
    return request('POST', `/tenants/${tenantId}/users`, { body: user })
  },
  /** PATCH /tenants/{id}/users/{user_id} {name?, role?, disabled?} → User. */
  updateUser(tenantId, userId, patch) {
    return request('PATCH', `/tenants/${tenantId}/users/${userId}`, { body: patch })
  },

  /** GET /audit?limit&offset → {data, limit, offset}, newest first. */
  async audit({ limit = 100, offset = 0 } = {}) {
    return inScope(rowsOf(await request('GET', '/audit', { params: scoped({ limit, offset }) })))
  },

  /** GET /commands?router_id&status&limit → normalized commands, newest first. */
  async commands(params = {}) {
    const rows = rowsOf(await request('GET', '/commands', { params: scoped({ limit: 200, ...params }) }))
    return inScope(rows).map(normalizeCommand)
  },
  /** GET /commands/{id} → normalized command. */
  async command(id) {
    return normalizeCommand(await request('GET', `/commands/${encodeURIComponent(id)}`))
  },
  /** POST /routers/{id}/commands {kind, …params} → 202 {id, status}. */
  async createCommand(routerId, command) {
    const res = await request('POST', `/routers/${encodeURIComponent(routerId)}/commands`, { body: command })
    return normalizeCommand({ router_id: routerId, kind: command.kind, ...command, ...(res || {}) })
  },
  /** POST /commands/{id}/cancel → the command. */
  async cancelCommand(id) {
    return normalizeCommand(await request('POST', `/commands/${encodeURIComponent(id)}/cancel`))
  },
  /**
   * POST /commands/bulk {router_ids, command} → 202 {bulk_id, commands:[…]}.
   * Returns {bulk_id, commands} with normalized commands.
   */
  async bulkCommand(routerIds, command) {
    const res = (await request('POST', '/commands/bulk', { body: { router_ids: routerIds, command } })) || {}
    const cmds = rowsOf(res.commands || res.data || [])
    const bulk = res.bulk_id ?? res.id ?? ''
    return {
      bulk_id: String(bulk),
      commands: cmds.map((c) => normalizeCommand({ kind: command.kind, bulk_id: bulk, ...c })),
    }
  },

  /** GET /accounts?kind=hotspot|ppp → normalized accounts. */
  async accounts(kind) {
    return inScope(rowsOf(await request('GET', '/accounts', { params: scoped({ kind, limit: PAGE }) }))).map(normalizeAccount)
  },
  /**
   * POST /accounts {kind, name, password, profile, comment, router_ids} →
   * 202 {account, commands:[…]}. Returns {account, commands} normalized.
   */
  async createAccount(account) {
    const res = (await request('POST', '/accounts', { body: account })) || {}
    return {
      account: res.account || res.id ? normalizeAccount(res.account || { ...account, ...res }) : null,
      commands: rowsOf(res.commands || []).map((c) => normalizeCommand(c)),
    }
  },

  // ----------------------------------------------------------- billing
  // Money travels as integer minor units ({amount, currency} in answers,
  // a bare integer in requests); see lib/billing.js.

  /** GET /plans?kind&active → Plan[] (every page). */
  async plans(params = {}) {
    return inScope(await allPages('/plans', params))
  },
  /** POST /plans {name, kind, price, duration, …} → 201 Plan. */
  createPlan(plan) {
    const body = { ...plan }
    if (tenantScope !== null) body.tenant_id = tenantScope
    return request('POST', '/plans', { body })
  },
  /** PATCH /plans/{id} {name?, price?, active?, …} → Plan. */
  updatePlan(id, patch) {
    return request('PATCH', `/plans/${encodeURIComponent(id)}`, { body: patch })
  },
  /** GET /customers?q&limit&offset → one page {data, total}. */
  async customers({ q, limit = 200, offset = 0 } = {}) {
    const page = (await request('GET', '/customers', { params: scoped({ q, limit, offset }) })) || {}
    const rows = inScope(rowsOf(page))
    return { data: rows, total: typeof page.total === 'number' ? page.total : rows.length }
  },
  /** GET /payments?status&provider&phone&limit → one page {data, total}, newest first. */
  async payments(params = {}) {
    const page = (await request('GET', '/payments', { params: scoped({ limit: 200, ...params }) })) || {}
    const rows = inScope(rowsOf(page))
    return { data: rows, total: typeof page.total === 'number' ? page.total : rows.length }
  },
  /** POST /payments {plan_id?, subscription_id?, phone?, amount (minor), reference?, note?} → 201 Payment. */
  recordPayment(payment) {
    return request('POST', '/payments', { body: payment })
  },
  /** POST /payments/{id}/refund → Payment. */
  refundPayment(id) {
    return request('POST', `/payments/${encodeURIComponent(id)}/refund`)
  },
  /** GET /billing/stats → BillingStats (minor units). */
  billingStats() {
    return request('GET', '/billing/stats', { params: scoped({}) })
  },
  /** GET /billing/stats unscoped: a system admin's figures across tenants. */
  systemBillingStats() {
    return request('GET', '/billing/stats')
  },

  // ----------------------------------------------------------- webhooks

  /** GET /webhooks/event-types → string[] (the subscribable event names). */
  async webhookEventTypes() {
    const r = (await request('GET', '/webhooks/event-types')) || {}
    return r.event_types || []
  },
  /** GET /webhooks → WebhookEndpoint[] (never their secrets). */
  async webhooks() {
    const r = (await request('GET', '/webhooks', { params: scoped({}) })) || {}
    return r.webhooks || []
  },
  /** POST /webhooks {url, description, event_types} → 201 {endpoint, secret}: the secret is shown only now. */
  createWebhook(req) {
    const body = { ...req }
    if (tenantScope !== null) body.tenant_id = tenantScope
    return request('POST', '/webhooks', { body })
  },
  /** PATCH /webhooks/{id} WebhookEndpointPatch → WebhookEndpoint. */
  updateWebhook(id, patch) {
    return request('PATCH', `/webhooks/${encodeURIComponent(id)}`, { body: patch })
  },
  /** DELETE /webhooks/{id} → 204. */
  deleteWebhook(id) {
    return request('DELETE', `/webhooks/${encodeURIComponent(id)}`)
  },
  /** POST /webhooks/{id}/rotate-secret → {secret}, shown only now. */
  rotateWebhookSecret(id) {
    return request('POST', `/webhooks/${encodeURIComponent(id)}/rotate-secret`)
  },
  /** POST /webhooks/{id}/test → 202 WebhookDelivery (a ping). */
  testWebhook(id) {
    return request('POST', `/webhooks/${encodeURIComponent(id)}/test`)
  },
  /** GET /webhooks/{id}/deliveries?limit&before → {deliveries (with attempt_log), total}. */
  webhookDeliveries(id, { limit = 50, before } = {}) {
    return request('GET', `/webhooks/${encodeURIComponent(id)}/deliveries`, { params: { limit, before } })
  },
  /** POST /webhooks/{id}/deliveries/{delivery}/replay → 202 WebhookDelivery. */
  replayWebhookDelivery(id, delivery) {
    return request('POST', `/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(delivery)}/replay`)
  },

  // ---------------------------------------------------- vouchers, portal

  /** GET /vouchers/batches → VoucherBatch[] (every page), with counts per status. */
  async voucherBatches() {
    return inScope(await allPages('/vouchers/batches', {}))
  },
  /** POST /vouchers/batches {plan_id, count, length, prefix?, price?, valid_days?, note?} → 201 VoucherBatch. */
  createVoucherBatch(req) {
    const body = { ...req }
    if (tenantScope !== null) body.tenant_id = tenantScope
    return request('POST', '/vouchers/batches', { body })
  },
  /** GET /vouchers?batch_id&status&code&limit&offset → one page {data, total}. */
  async vouchers({ batch_id, plan_id, status, code, limit = 500, offset = 0 } = {}) {
    const page = (await request('GET', '/vouchers', { params: scoped({ batch_id, plan_id, status, code, limit, offset }) })) || {}
    const rows = inScope(rowsOf(page))
    return { data: rows, total: typeof page.total === 'number' ? page.total : rows.length }
  },
  /** POST /vouchers/{id}/revoke → Voucher. */
  revokeVoucher(id) {
    return request('POST', `/vouchers/${encodeURIComponent(id)}/revoke`)
  },
  /** GET /vouchers/batches/{id}/pdf with the bearer token → a Blob (application/pdf). */
  voucherBatchPdf(id) {
    return requestBlob(`/vouchers/batches/${encodeURIComponent(id)}/pdf`, 'application/pdf')
  },
  /** GET /portal/settings → PortalSettings. */
  portalSettings() {
    return request('GET', '/portal/settings', { params: scoped({}) })
  },
  /** PUT /portal/settings PortalSettingsPatch (changed fields only) → PortalSettings. */
  updatePortalSettings(patch) {
    const body = { ...patch }
    if (tenantScope !== null) body.tenant_id = tenantScope
    return request('PUT', '/portal/settings', { body })
  },

  // ------------------------------------------------------- notifications

  /**
   * GET /notifications?status&channel&kind&before&limit → one page
   * {data, next_before} newest first; next_before is null on the last page.
   */
  async notifications({ status, channel, kind, before, limit = 100 } = {}) {
    const page = (await request('GET', '/notifications', { params: scoped({ status, channel, kind, before, limit }) })) || {}
    const next = page.next_before
    return { data: inScope(rowsOf(page)), next_before: next === undefined || next === null ? null : Number(next) }
  },
  /** POST /notifications/{id}/resend → 202 Notification (queued again). */
  resendNotification(id) {
    return request('POST', `/notifications/${encodeURIComponent(id)}/resend`)
  },
  /** GET /notifications/settings → NotificationSettings (secrets only as *_set). */
  notificationSettings() {
    return request('GET', '/notifications/settings', { params: scoped({}) })
  },
  /** PUT /notifications/settings NotificationSettingsPatch (changed fields only) → NotificationSettings. */
  updateNotificationSettings(patch) {
    const body = { ...patch }
    if (tenantScope !== null) body.tenant_id = tenantScope
    return request('PUT', '/notifications/settings', { body })
  },
}

/** Every row of a paged list endpoint, up to MAX_ROWS. */
async function allPages(path, params) {
  const out = []
  for (let offset = 0; offset < MAX_ROWS; offset += PAGE) {
    const page = await request('GET', path, { params: scoped({ ...params, limit: PAGE, offset }) })
    const rows = rowsOf(page)
    out.push(...rows)
    const total = page && typeof page.total === 'number' ? page.total : out.length
    if (rows.length < PAGE || out.length >= total) break
  }
  return out
}
