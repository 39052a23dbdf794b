import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  formatAgo,
  formatBitRate,
  formatBytes,
  formatDuration,
  maskEmail,
  maskIdentity,
  maskKey,
  maskPhone,
  toMillis,
} from '../src/lib/format.js'

test('maskPhone (controlplane/fanout MaskPhone)', () => {
  const cases = [
    ['+254712345678', '+2547****678'], // the form ARCHITECTURE.md shows
    ['0712345678', '0712****678'],
    ['+1 (415) 555-0199', '+1415****199'],
    ['0712345', '****45'], // fewer than eight digits keep the last two
    ['12', '****'],
    ['07x', '****'], // letters: masked entirely
    ['', ''],
  ]
  for (const [input, want] of cases) assert.equal(maskPhone(input), want, `maskPhone(${input})`)
})

test('maskEmail (controlplane/fanout MaskEmail)', () => {
  const cases = [
    ['john@example.com', 'j***@example.com'],
    ['j@example.com', 'j***@example.com'],
    ['@example.com', '***@example.com'],
    ['john@', '***'],
    ['john', '***'],
    ['a@b@c', '***'],
  ]
  for (const [input, want] of cases) assert.equal(maskEmail(input), want, `maskEmail(${input})`)
})

test('maskIdentity equals the control plane broadcast masking', () => {
  // Vectors produced by controlplane/fanout's maskIdentity (Go). A session
  // key masked here must equal the key a broadcast carries.
  const vectors = JSON.parse(readFileSync(new URL('./mask_vectors.json', import.meta.url), 'utf8'))
  assert.ok(vectors.length >= 20)
  for (const [input, want] of vectors) {
    assert.equal(maskIdentity(input), want, `maskIdentity(${JSON.stringify(input)})`)
    assert.equal(maskIdentity(want), want, `idempotent on ${JSON.stringify(want)}`)
  }
  assert.equal(maskIdentity(null), '')
  assert.equal(maskIdentity(254712345678), '2547****678')
})

test('formatBytes', () => {
  const cases = [
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [10 * 1024 * 1024, '10.0 MiB'],
    [150 * 1024 * 1024, '150 MiB'],
    [5.5 * 1024 ** 3, '5.5 GiB'],
    [2 * 1024 ** 4, '2.0 TiB'],
    [-1, '—'],
    ['x', '—'],
  ]
  for (const [input, want] of cases) assert.equal(formatBytes(input), want, `formatBytes(${input})`)
})

test('formatBitRate', () => {
  const cases = [
    [0, '0 bps'],
    [999, '999 bps'],
    [1000, '1.0 kbps'],
    [1500000, '1.5 Mbps'],
    [250e6, '250 Mbps'],
    [1.25e9, '1.3 Gbps'],
    [null, '—'],
    [undefined, '—'],
    [NaN, '—'],
  ]
  for (const [input, want] of cases) assert.equal(formatBitRate(input), want, `formatBitRate(${input})`)
})

test('formatDuration', () => {
  const cases = [
    [0, '0s'],
    [59, '59s'],
    [61, '1m 1s'],
    [3725, '1h 2m'],
    [90061, '1d 1h'],
    [-5, '—'],
  ]
  for (const [input, want] of cases) assert.equal(formatDuration(input), want, `formatDuration(${input})`)
})

test('toMillis and formatAgo', () => {
  assert.equal(toMillis('2026-01-02T03:04:05Z'), Date.UTC(2026, 0, 2, 3, 4, 5))
  assert.ok(Number.isNaN(toMillis('0001-01-01T00:00:00Z')), 'Go zero time is absent')
  assert.ok(Number.isNaN(toMillis(null)))
  const now = Date.UTC(2026, 0, 2, 12, 0, 0)
  const cases = [
    [now - 2000, 'just now'],
    [now - 30000, '30s ago'],
    [now - 5 * 60000, '5m ago'],
    [now - 3 * 3600000, '3h ago'],
    [now - 2 * 86400000, '2d ago'],
    [null, 'never'],
  ]
  for (const [t, want] of cases) assert.equal(formatAgo(t, now), want)
})

test('maskKey masks the user inside a session key', () => {
  const cases = [
    ['hotspot:+254712345678|AA:BB:CC:00:00:01|1772359200', 'hotspot:+2547****678|AA:BB:CC:00:00:01|1772****200'],
    ['pppoe:john@example.com|81a2', 'pppoe:j***@example.com|81a2'],
    ['pppoe:client-7|81', 'pppoe:client-7|81'],
    ['', ''],
  ]
  for (const [input, want] of cases) assert.equal(maskKey(input), want, `maskKey(${input})`)
})
