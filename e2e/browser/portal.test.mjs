// Browser test of the SitePulse captive portal on a phone-sized headless
// Chromium (Debian's, through playwright-core).
//
// e2e/portal_browser_test.go starts the real control plane, the simulated
// router with its hotspot (login.html installed by hotspot-portal.rsc,
// sending devices to the portal), the real agent and the Daraja simulator,
// and runs this file with:
//
//   SITEPULSE_E2E_URL           control plane base URL
//   SITEPULSE_E2E_PORTAL_URL    the router's portal (…/portal/{tenant}/{router})
//   SITEPULSE_E2E_HOTSPOT       the simulated hotspot's HTTP side
//   SITEPULSE_E2E_SIM_CONTROL   the simulator's control API
//   SITEPULSE_E2E_PAY_PHONE     a phone whose STK push the customer pays
//   SITEPULSE_E2E_CANCEL_PHONE  a phone whose push the customer cancels (1032)
//   SITEPULSE_E2E_VOUCHERS      comma-separated unused voucher codes ("" = no vouchers)
//   SITEPULSE_E2E_ARTIFACTS     directory for screenshots
//   SITEPULSE_E2E_CHROMIUM      browser binary (default /usr/bin/chromium)
//
// Each device is its own browser context (360×740, touch) with the
// simulator's sim-client-mac / sim-client-ip cookies naming its MAC and
// address; it opens some URL on the hotspot and must end up on the portal.
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import test from 'node:test'
import { chromium } from 'playwright-core'

function env(name, fallback) {
  const v = process.env[name]
  if (v === undefined || v === '') {
    if (fallback === undefined) throw new Error(`${name} is not set (run through e2e/portal_browser_test.go: go test ./e2e/ -run Portal)`)
    return fallback
  }
  return v
}

const portalURL = env('SITEPULSE_E2E_PORTAL_URL')
const hotspot = env('SITEPULSE_E2E_HOTSPOT')
const simControl = env('SITEPULSE_E2E_SIM_CONTROL')
const payPhone = env('SITEPULSE_E2E_PAY_PHONE')
const cancelPhone = env('SITEPULSE_E2E_CANCEL_PHONE')
const vouchers = env('SITEPULSE_E2E_VOUCHERS', '').split(',').filter(Boolean)
const artifacts = resolve(env('SITEPULSE_E2E_ARTIFACTS', 'artifacts'))
const executablePath = env('SITEPULSE_E2E_CHROMIUM', '/usr/bin/chromium')
const hotspotHost = new URL(hotspot).host

mkdirSync(artifacts, { recursive: true })
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
test.after(() => browser.close())

/** The simulator's active hotspot sessions. */
async function activeSessions() {
  const res = await fetch(simControl + '/state')
  assert.equal(res.status, 200)
  const state = await res.json()
  return state.hotspot ?? []
}

async function sessionOf(mac) {
  return (await activeSessions()).find((s) => (s['mac-address'] ?? '').toUpperCase() === mac)
}

async function shot(page, name) {
  const file = join(artifacts, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  console.log(`# screenshot: ${file}`)
}

/** A new phone on the hotspot: its own cookies, a 360 px screen. */
async function device(t, mac, ip, { javaScript = true } = {}) {
  const context = await browser.newContext({
    viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
    javaScriptEnabled: javaScript,
  })
  t.after(() => context.close())
  await context.addCookies([
    { name: 'sim-client-mac', value: mac, url: hotspot },
    { name: 'sim-client-ip', value: ip, url: hotspot },
  ])
  const page = await context.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`# browser ${m.type()}: ${m.text()}`)
  })
  page.on('pageerror', (e) => console.log(`# page error: ${e.message}`))
  return page
}

/** Opens any site on the hotspot and follows it to the portal. */
async function openPortal(page, { javaScript = true } = {}) {
  await page.goto(hotspot + '/news/today?from=phone')
  if (!javaScript) {
    // login.html's form submits itself with JavaScript; without, the
    // customer presses Continue.
    await page.getByRole('button', { name: 'Continue' }).click()
  }
  await page.waitForURL((u) => u.href.startsWith(portalURL), { timeout: 15_000 })
  const url = new URL(page.url())
  for (const v of ['mac', 'ip', 'link-login-only', 'link-orig']) assert.ok(url.searchParams.get(v), `portal URL lacks ${v}: ${url}`)
  if (javaScript) assert.match(url.searchParams.get('chap-id'), /^\\[0-7]{3}$/, 'chap-id arrives octal-escaped')
  // Readable on 360 px: nothing wider than the screen.
  const width = await page.evaluate(() => document.documentElement.scrollWidth)
  assert.ok(width <= 360, `page is ${width} px wide on a 360 px screen`)
  return url
}

async function waitOnline(page) {
  await page.waitForURL((u) => u.host === hotspotHost, { timeout: 30_000 })
  await page.getByText('You are online').waitFor({ timeout: 10_000 })
}

test('a plan paid with M-Pesa logs the phone in with CHAP', async (t) => {
  const mac = 'AA:BB:CC:14:00:01'
  const page = await device(t, mac, '10.5.50.11')
  await openPortal(page)
  await page.getByText('KES 50.00').waitFor()
  await page.getByText('Kilimani WiFi').first().waitFor()
  await shot(page, 'portal-first-view')
  const asks = []
  page.on('request', (r) => { if (r.url().includes('/purchase/')) asks.push(r.url()) })
  let frames = 0
  page.on('websocket', (ws) => ws.on('framereceived', () => frames++))
  await page.locator('#phone').fill(payPhone)
  await page.locator('#paybtn').click()
  await page.getByText('Check your phone').waitFor({ timeout: 10_000 })
  await shot(page, 'portal-waiting-for-pin')
  await waitOnline(page)
  // The customer took seconds to enter the PIN: the page waited on its
  // channel and asked for the outcome once after subscribing and once on
  // PaymentCompleted, never polling.
  assert.ok(asks.length >= 1 && asks.length <= 2, `page asked for the purchase ${asks.length} times: ${asks}`)
  assert.ok(frames >= 3, `only ${frames} WebSocket frames: no live channel`)
  await shot(page, 'portal-paid-online')
  const s = await sessionOf(mac)
  assert.ok(s, 'no active session on the router for the paid phone')
  assert.equal(s.user, '254' + payPhone.slice(1))
  assert.equal(s['login-by'], 'http-chap')
})

test('a cancelled STK push shows a retry and logs nothing in', async (t) => {
  const mac = 'AA:BB:CC:14:00:04'
  const page = await device(t, mac, '10.5.50.14')
  await openPortal(page)
  await page.locator('#phone').fill(cancelPhone)
  await page.locator('#paybtn').click()
  await page.locator('#paymsg.err').getByText('cancelled').waitFor({ timeout: 30_000 })
  assert.equal(await page.locator('#paybtn').textContent(), 'Try again')
  assert.equal(await page.locator('#paybtn').isEnabled(), true)
  await shot(page, 'portal-cancelled')
  assert.equal(await sessionOf(mac), undefined, 'a cancelled payment logged the phone in')
})

test('a voucher logs the phone in with CHAP', { skip: vouchers.length === 0 && 'no vouchers on this build' }, async (t) => {
  const mac = 'AA:BB:CC:14:00:02'
  const page = await device(t, mac, '10.5.50.12')
  await openPortal(page)
  // Typed as a customer might: lower case, with a space.
  await page.locator('#code').fill(vouchers[0].toLowerCase().replace(/^(....)/, '$1 '))
  await page.getByRole('button', { name: 'Use voucher' }).click()
  await waitOnline(page)
  await shot(page, 'voucher-online')
  const s = await sessionOf(mac)
  assert.ok(s, 'no active session for the voucher')
  assert.equal(s.user, vouchers[0])
  assert.equal(s['login-by'], 'http-chap')
})

test('a wrong voucher shows a plain error and logs nothing in', { skip: vouchers.length === 0 && 'no vouchers on this build' }, async (t) => {
  const mac = 'AA:BB:CC:14:00:03'
  const page = await device(t, mac, '10.5.50.13')
  await openPortal(page)
  await page.locator('#code').fill('WRONG777')
  await page.getByRole('button', { name: 'Use voucher' }).click()
  const err = page.locator('#vouchererr')
  await err.waitFor({ timeout: 10_000 })
  assert.match(await err.textContent(), /not valid/)
  await shot(page, 'voucher-wrong')
  assert.equal(await sessionOf(mac), undefined, 'a wrong voucher logged the phone in')
})

test('without JavaScript a voucher logs in with PAP', { skip: vouchers.length < 2 && 'no vouchers on this build' }, async (t) => {
  const mac = 'AA:BB:CC:14:00:05'
  const page = await device(t, mac, '10.5.50.15', { javaScript: false })
  await openPortal(page, { javaScript: false })
  await page.locator('#code').fill(vouchers[1])
  await page.getByRole('button', { name: 'Use voucher' }).click()
  await page.getByRole('button', { name: 'Connect' }).click()
  await waitOnline(page)
  const s = await sessionOf(mac)
  assert.ok(s, 'no active session for the voucher without JavaScript')
  assert.equal(s['login-by'], 'http-pap')
})

test('the login form shows the router\'s refusals in plain words', async (t) => {
  const page = await device(t, 'AA:BB:CC:14:00:06', '10.5.50.16')
  await openPortal(page)
  await page.locator('#username').fill('nobody')
  await page.locator('#password').fill('nothing')
  await page.getByRole('button', { name: 'Log in' }).click()
  // The router answers with login.html again, $(error) set: back at the
  // portal with RouterOS's words turned into the customer's.
  await page.locator('#routererr').getByText('Wrong code or password').waitFor({ timeout: 15_000 })
  assert.equal(new URL(page.url()).searchParams.get('error'), 'invalid username or password')
  await shot(page, 'login-wrong')
})

test('a login already in use elsewhere is refused in plain words', { skip: vouchers.length === 0 && 'no vouchers on this build' }, async (t) => {
  // vouchers[0] is online on another phone and its plan allows one.
  const page = await device(t, 'AA:BB:CC:14:00:07', '10.5.50.17')
  await openPortal(page)
  await page.locator('#username').fill(vouchers[0])
  await page.locator('#password').fill(vouchers[0])
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.locator('#routererr').getByText('already in use on another device').waitFor({ timeout: 15_000 })
  assert.equal(await sessionOf('AA:BB:CC:14:00:07'), undefined)
})
