// Browser test of the SitePulse dashboard in Debian's headless Chromium,
// driven by playwright-core (never a downloaded browser).
//
// e2e/browser_test.go starts the real control plane, a simulator with churn
// and the real agent, creates the tenant, user and router through REST and
// runs this file with:
//
//   SITEPULSE_E2E_URL          control plane base URL (http://127.0.0.1:PORT)
//   SITEPULSE_E2E_EMAIL        a tenant_admin's e-mail
//   SITEPULSE_E2E_PASSWORD     and password
//   SITEPULSE_E2E_SIM_CONTROL  the simulator's control API (http://127.0.0.1:PORT)
//   SITEPULSE_E2E_ROUTER_ID    the simulated router's SitePulse id
//   SITEPULSE_E2E_GUEST        hotspot user the test logs in and kicks
//   SITEPULSE_E2E_WATCH        seconds to watch for HTTP requests (default 60)
//   SITEPULSE_E2E_ARTIFACTS    directory for screenshots (default ./artifacts)
//   SITEPULSE_E2E_CHROMIUM     browser binary (default /usr/bin/chromium)
//
// What it checks (issue 7), in this order: a login on the router shows
// as a session row within one second of the trigger; the row's kick button
// sends the kick command (202) and the row disappears (browser_test.go then
// checks through REST that the command succeeded and the session ended);
// after a fresh load, while sessions change live for the watch window, the
// page makes no HTTP request at all (REST only for the initial load, then
// WebSocket events).
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import test from 'node:test'
import { chromium } from 'playwright-core'

function env(name, fallback) {
  const v = process.env[name]
  if (v === undefined || v === '') {
    if (fallback === undefined) throw new Error(`${name} is not set (run through e2e/browser_test.go: go test ./e2e/)`)
    return fallback
  }
  return v
}

const base = env('SITEPULSE_E2E_URL')
const email = env('SITEPULSE_E2E_EMAIL')
const password = env('SITEPULSE_E2E_PASSWORD')
const simControl = env('SITEPULSE_E2E_SIM_CONTROL')
const routerId = env('SITEPULSE_E2E_ROUTER_ID')
const watchSeconds = Number(env('SITEPULSE_E2E_WATCH', '60'))
const artifacts = resolve(env('SITEPULSE_E2E_ARTIFACTS', 'artifacts'))
const executablePath = env('SITEPULSE_E2E_CHROMIUM', '/usr/bin/chromium')

// The test subscriber: a name the dashboard shows unmasked (no phone
// number, no e-mail), so the row is found by data-user.
const guest = env('SITEPULSE_E2E_GUEST', `e2e-guest-${process.pid}`)

/** Calls the simulator's control API (from Node: not a page request). */
async function sim(path) {
  const res = await fetch(simControl + path, { method: 'POST' })
  const body = await res.text()
  if (!res.ok) throw new Error(`simulator ${path}: ${res.status} ${body}`)
  return JSON.parse(body)
}

async function shot(page, name) {
  const file = join(artifacts, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  console.log(`# screenshot: ${file}`)
  return file
}

test('dashboard: live sessions over WebSocket, one-second logins, no polling, kick', { timeout: (watchSeconds + 120) * 1000 }, async (t) => {
  assert.ok(Number.isFinite(watchSeconds) && watchSeconds > 0, `SITEPULSE_E2E_WATCH=${watchSeconds}: want seconds > 0`)
  mkdirSync(artifacts, { recursive: true })
  const profile = mkdtempSync(join(tmpdir(), 'sitepulse-chromium-'))
  // A fresh profile per run: launchPersistentContext passes it to
  // Chromium as --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  t.after(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  const page = await context.newPage()

  // Every HTTP request the page makes; WebSocket frames are not requests
  // and the upgrade is left out by type.
  const requests = []
  page.on('request', (r) => {
    if (r.resourceType() === 'websocket' || r.url().startsWith('ws')) return
    requests.push({ at: Date.now(), method: r.method(), url: r.url(), type: r.resourceType() })
  })
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`# browser ${m.type()}: ${m.text()}`)
  })
  page.on('pageerror', (e) => console.log(`# page error: ${e.message}`))
  page.on('requestfailed', (r) => console.log(`# request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`))

  // --- log in -----------------------------------------------------------
  await page.goto(base + '/login')
  await page.getByTestId('login-email').fill(email)
  await page.getByTestId('login-password').fill(password)
  await page.getByTestId('login-submit').click()
  await page.waitForURL((u) => u.pathname === '/', { timeout: 10_000 })
  await page.getByTestId('stat-routers-online').and(page.locator('[data-value="1"]')).waitFor({ timeout: 10_000 })
  await page.getByTestId('connection-status').and(page.locator('[data-state="connected"]')).waitFor({ timeout: 10_000 })
  await shot(page, '1-overview')

  // --- the hotspot sessions page: its one REST load ------------------------
  await page.getByTestId('nav-hotspot').click()
  await page.waitForURL((u) => u.pathname === '/sessions/hotspot')
  await page.locator(`[data-testid="session-row"][data-router-id="${routerId}"]`).first().waitFor({ timeout: 10_000 })
  await quiet(page, requests)
  t.diagnostic(`initial load: ${requests.length} requests`)
  await observe(page, guest)

  // --- a login on the router is a row within one second -------------------
  await sim(`/hotspot-user?name=${encodeURIComponent(guest)}&password=e2e`)
  const triggeredAt = Date.now()
  const login = await sim(`/login/hotspot?user=${encodeURIComponent(guest)}&mac=02:E2:E0:00:00:01&address=10.5.99.9`)
  const row = page.locator(`[data-testid="session-row"][data-user="${guest}"]`)
  await row.waitFor({ timeout: 5_000 })
  const appearedAt = await page.evaluate(() => window.__e2e.guestAt)
  const latency = Math.round(appearedAt - triggeredAt)
  console.log(`# login → row: ${latency} ms (simulator .id ${login.id})`)
  await shot(page, '2-session-appeared')
  assert.ok(appearedAt > 0, 'the observer saw no row for the guest')
  assert.ok(latency <= 1000, `the guest's row appeared ${latency} ms after the login, want ≤ 1000 ms`)

  // --- kick from the UI -----------------------------------------------------
  // Right after the login, so that the simulator's churn (it logs out
  // random sessions) has little time to take the guest first. As churn
  // could, the row going away proves nothing alone: the kick command must
  // be accepted (202), and e2e/browser_test.go then checks through REST
  // that it succeeded and that the session ended.
  const kickFrom = requests.length
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && /\/routers\/[^/]+\/commands$/.test(new URL(r.url()).pathname), {
      timeout: 10_000,
    }),
    row.getByTestId('kick-button').click({ timeout: 5_000 }),
  ]).catch(async (err) => {
    // Say what the page did instead: its requests and its toasts.
    const toasts = await page.getByTestId('toast').allInnerTexts()
    await shot(page, '3-kick-failed')
    throw new Error(`kick: ${err.message}\nrequests since the click: ${JSON.stringify(requests.slice(kickFrom))}\ntoasts: ${JSON.stringify(toasts)}`)
  })
  assert.equal(resp.status(), 202, `POST ${resp.url()}: ${resp.status()} ${await resp.text()}`)
  const command = await resp.json()
  await row.waitFor({ state: 'detached', timeout: 15_000 })
  console.log(`# kicked ${guest} from the UI: command ${command.id} accepted, the row is gone`)
  await shot(page, '3-after-kick')
  const simState = await fetch(simControl + '/state').then((r) => r.json())
  assert.ok(!(simState.hotspot || []).some((s) => s.user === guest), `the simulator still has ${guest} active after the kick`)

  // --- no HTTP request while sessions change live -------------------------
  // A fresh page load, then nothing but WebSocket events for the window.
  await page.reload()
  await page.locator(`[data-testid="session-row"][data-router-id="${routerId}"]`).first().waitFor({ timeout: 10_000 })
  await page.getByTestId('connection-status').and(page.locator('[data-state="connected"]')).waitFor({ timeout: 10_000 })
  await quiet(page, requests)
  await observe(page, guest)
  const watchFrom = requests.length
  t.diagnostic(`watching ${watchSeconds} s for HTTP requests`)
  await page.waitForTimeout(watchSeconds * 1000)
  const live = await page.evaluate(() => window.__e2e)
  const during = requests.slice(watchFrom)
  const gaps = await page.getByTestId('connection-status').getAttribute('data-gaps')
  const state = await page.getByTestId('connection-status').getAttribute('data-state')
  console.log(
    `# ${watchSeconds} s window after a fresh load: ${during.length} HTTP requests; rows added ${live.added}, removed ${live.removed}, counter changes ${live.counters}; connection ${state}, gaps ${gaps}`,
  )
  await shot(page, '4-after-watch')
  assert.deepEqual(
    during.map((r) => `${r.method} ${r.url}`),
    [],
    `the page made HTTP requests during the ${watchSeconds} s window after its initial load`,
  )
  assert.ok(live.counters > 0, 'no traffic counter changed during the window: the test saw no live update')
  if (watchSeconds >= 30) assert.ok(live.added + live.removed > 0, 'no session came or went during the window: churn did not reach the page')
  assert.equal(state, 'connected')
})

/** Waits until the page has made no request for a second (at most 15 s). */
async function quiet(page, requests) {
  const start = Date.now()
  for (let quietSince = Date.now(), seen = requests.length; Date.now() - quietSince < 1000; ) {
    if (Date.now() - start > 15_000) throw new Error(`the page kept making requests for 15 s: ${requests.slice(-5).map((r) => r.url).join(', ')}`)
    await page.waitForTimeout(100)
    if (requests.length !== seen) {
      seen = requests.length
      quietSince = Date.now()
    }
  }
}

/**
 * Counts, in the page, session rows coming and going and counter changes,
 * and notes with the browser's clock when the guest's row appears.
 */
async function observe(page, user) {
  await page.evaluate((user) => {
    const w = window
    w.__e2e = { added: 0, removed: 0, counters: 0, guestAt: 0 }
    const isRow = (n) => n.nodeType === 1 && n.getAttribute('data-testid') === 'session-row'
    new MutationObserver((list) => {
      for (const m of list) {
        if (m.type === 'attributes') {
          if (m.attributeName === 'data-bytes') w.__e2e.counters++
          continue
        }
        for (const n of m.addedNodes) {
          if (!isRow(n)) continue
          w.__e2e.added++
          if (!w.__e2e.guestAt && n.getAttribute('data-user') === user) w.__e2e.guestAt = performance.timeOrigin + performance.now()
        }
        for (const n of m.removedNodes) if (isRow(n)) w.__e2e.removed++
      }
    }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-bytes'] })
  }, user)
}
