// Takes the README's dashboard screenshot (docs/dashboard.png) from a
// running demo, in Debian's headless Chromium:
//
//   make demo                      # in one terminal
//   node e2e/browser/screenshot.mjs [out.png]   # in another, after ~30 s
//
// SITEPULSE_URL (default http://127.0.0.1:8080), SITEPULSE_EMAIL and
// SITEPULSE_PASSWORD (default: the demo's tenant admin) and
// SITEPULSE_E2E_CHROMIUM (default /usr/bin/chromium) change the defaults.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium } from 'playwright-core'

const base = process.env.SITEPULSE_URL || 'http://127.0.0.1:8080'
const email = process.env.SITEPULSE_EMAIL || 'owner@demo-isp.example'
const password = process.env.SITEPULSE_PASSWORD || 'demo-owner-pass'
const out = resolve(process.argv[2] || join(import.meta.dirname, '..', '..', 'docs', 'dashboard.png'))

const profile = mkdtempSync(join(tmpdir(), 'sitepulse-chromium-'))
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.SITEPULSE_E2E_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1440, height: 900 },
  deviceScaleFactor: 1,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
try {
  const page = await context.newPage()
  await page.goto(base + '/login')
  await page.getByTestId('login-email').fill(email)
  await page.getByTestId('login-password').fill(password)
  await page.getByTestId('login-submit').click()
  await page.waitForURL((u) => u.pathname === '/')
  await page.getByTestId('connection-status').and(page.locator('[data-state="connected"]')).waitFor()
  // Let the throughput chart collect some live points.
  await page.waitForTimeout(Number(process.env.SITEPULSE_SCREENSHOT_WAIT || 20) * 1000)
  await page.screenshot({ path: out })
  console.log(out)
} finally {
  await context.close()
  rmSync(profile, { recursive: true, force: true })
}
