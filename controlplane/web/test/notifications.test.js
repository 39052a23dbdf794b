import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  appendPage,
  applyNotificationEvent,
  canResend,
  formatOffsets,
  KINDS,
  kindLabel,
  matchesFilters,
  mergeNotification,
  minutesToSeconds,
  notificationBadge,
  parseOffsets,
  settingsForm,
  settingsPatch,
  UNKNOWN_HINT,
} from '../src/lib/notifications.js'

const row = (id, over = {}) => ({
  id,
  tenant_id: 3,
  kind: 'payment_receipt',
  channel: 'sms',
  recipient: '+254712345678',
  status: 'sending',
  attempts: 1,
  last_error: '',
  resends: 0,
  created_at: '2026-12-07T10:00:00Z',
  updated_at: '2026-12-07T10:00:00Z',
  ...over,
})

test('kind labels and badges', () => {
  for (const k of KINDS) assert.notEqual(kindLabel(k), k, `${k} has a label`)
  assert.equal(kindLabel('payment_receipt'), 'Payment receipt')
  assert.equal(kindLabel('new_kind'), 'new kind')
  assert.deepEqual(notificationBadge({ status: 'unknown' }), { status: 'pending', label: 'unknown', title: UNKNOWN_HINT })
  assert.match(UNKNOWN_HINT, /resend to send again/)
  assert.equal(notificationBadge({ status: 'delivered' }).status, 'succeeded')
  assert.equal(notificationBadge({ status: 'failed' }).status, 'failed')
  assert.equal(canResend({ status: 'queued' }), false)
  assert.equal(canResend({ status: 'sending' }), false)
  for (const s of ['sent', 'failed', 'unknown', 'skipped', 'delivered']) assert.equal(canResend({ status: s }), true, s)
})

test('a broadcast updates the row in place and keeps the full recipient', () => {
  const rows = [row(12), row(11)]
  const masked = row(12, { recipient: '+2547*****678', status: 'failed', attempts: 3, last_error: 'gateway 500', updated_at: '2026-12-07T10:01:00Z' })
  assert.equal(applyNotificationEvent(rows, 'NotificationUpdated', { notification: masked }), 'updated')
  assert.equal(rows.length, 2)
  assert.equal(rows[0].recipient, '+254712345678')
  assert.equal(rows[0].status, 'failed')
  assert.equal(rows[0].attempts, 3)
  assert.equal(rows[0].last_error, 'gateway 500')
  assert.equal(rows[0].updated_at, '2026-12-07T10:01:00Z')

  // A resend clears last_error (omitted on the wire).
  const { last_error: _, ...queued } = row(12, { recipient: '+2547*****678', status: 'queued', attempts: 0, resends: 1, updated_at: '2026-12-07T10:02:00Z' })
  mergeNotification(rows, queued)
  assert.equal(rows[0].last_error, '')
  assert.equal(rows[0].resends, 1)

  // An older update replayed after the REST load changes nothing.
  assert.equal(mergeNotification(rows, masked), '')
  assert.equal(rows[0].status, 'queued')

  assert.equal(applyNotificationEvent(rows, 'SomethingElse', { notification: masked }), '')
  assert.equal(applyNotificationEvent(rows, 'NotificationUpdated', {}), '')
})

test('an unknown id is inserted newest first when the filters take it', () => {
  const rows = [row(12), row(10)]
  const accept = (n) => matchesFilters(n, { status: '', channel: 'sms', kind: '' })
  assert.equal(mergeNotification(rows, row(13, { recipient: 'a***@x.com', channel: 'email' }), accept), '')
  assert.equal(mergeNotification(rows, row(13, { recipient: '+2547*****678' }), accept), 'added')
  assert.equal(mergeNotification(rows, row(11), accept), 'added')
  assert.deepEqual(
    rows.map((r) => r.id),
    [13, 12, 11, 10],
  )
  assert.equal(rows[0].recipient, '+2547*****678')
  // Load more: held ids are not duplicated; a masked one takes REST's full recipient.
  appendPage(rows, [row(13), row(9)])
  assert.deepEqual(
    rows.map((r) => r.id),
    [13, 12, 11, 10, 9],
  )
  assert.equal(rows[0].recipient, '+254712345678')
})

test('reminder offsets and minutes', () => {
  assert.deepEqual(parseOffsets('24h, 1h'), { value: [86400, 3600] })
  assert.deepEqual(parseOffsets('30m,2 hours, 48'), { value: [1800, 7200, 172800] })
  assert.deepEqual(parseOffsets(''), { value: [] })
  assert.ok(parseOffsets('soon').error)
  assert.ok(parseOffsets('30s').error) // under a minute
  assert.ok(parseOffsets('31d').error)
  assert.ok(parseOffsets('1h,2h,3h,4h,5h').error)
  assert.equal(formatOffsets([86400, 3600, 1800, 90]), '24h, 1h, 30m, 90s')
  for (const l of [[86400, 3600], [1800], [90, 7260]]) assert.deepEqual(parseOffsets(formatOffsets(l)).value, l)
  assert.equal(minutesToSeconds('5'), 300)
  assert.equal(minutesToSeconds('1.5'), 90)
  assert.equal(minutesToSeconds('-1'), null)
  assert.equal(minutesToSeconds('x'), null)
})

const saved = {
  tenant_id: 3,
  language: 'en',
  disabled: ['welcome'],
  reminder_offsets: [86400, 3600],
  router_offline_after: 300,
  router_recovered_after: 60,
  smtp_set: true,
  mail_from: 'wifi@example.com',
  sms_username: 'mama',
  sms_api_key_set: false,
  sms_sender_id: '',
  sms_report_url: 'https://cp.example.com/api/v1/hooks/sms/3/tok',
  telegram_token_set: true,
  telegram_chats: ['-100123'],
  updated_at: '2026-12-07T10:00:00Z',
}

test('an untouched form patches nothing', () => {
  const f = settingsForm(saved)
  assert.equal(f.smtp_url, '')
  assert.equal(f.enabled.welcome, false)
  assert.equal(f.enabled.payment_receipt, true)
  assert.equal(f.reminders, '24h, 1h')
  assert.equal(f.offline_minutes, '5')
  assert.equal(f.recovered_minutes, '1')
  assert.deepEqual(settingsPatch(saved, f), { patch: {} })
})

test('the patch holds only changed fields, secrets write-only', () => {
  const f = settingsForm(saved)
  f.language = 'sw'
  f.enabled.welcome = true
  f.enabled.router_offline = false
  f.reminders = '48h, 24h, 30m'
  f.offline_minutes = '10'
  f.sms_api_key = ' atsk_secret '
  f.telegram_chats = '-100123, 4567'
  assert.deepEqual(settingsPatch(saved, f), {
    patch: {
      language: 'sw',
      disabled: ['router_offline'],
      reminder_offsets: [172800, 86400, 1800],
      router_offline_after: 600,
      sms_api_key: 'atsk_secret',
      telegram_chats: ['-100123', '4567'],
    },
  })
})

test('Clear sends "" for a secret; empty leaves it', () => {
  const f = settingsForm(saved)
  f.smtp_clear = true
  f.telegram_token = ''
  assert.deepEqual(settingsPatch(saved, f), { patch: { smtp_url: '' } })
  f.smtp_url = 'smtps://u:p@mail.example.com:465'
  assert.deepEqual(settingsPatch(saved, f), { patch: { smtp_url: 'smtps://u:p@mail.example.com:465' } })
  f.smtp_url = 'mail.example.com'
  assert.match(settingsPatch(saved, f).error, /SMTP URL/)
})

test('invalid fields answer an error, not a patch', () => {
  for (const [k, v] of [
    ['reminders', '1 week'],
    ['offline_minutes', '0.1'],
    ['offline_minutes', ''],
    ['recovered_minutes', '20000'],
    ['sms_sender_id', 'MUCH-TOO-LONG'],
  ]) {
    const f = settingsForm(saved)
    f[k] = v
    const out = settingsPatch(saved, f)
    assert.ok(out.error, `${k}=${v}`)
    assert.equal(out.patch, undefined)
  }
})

test('disabled kinds the page does not know are kept', () => {
  const s = { ...saved, disabled: ['welcome', 'future_kind'] }
  const f = settingsForm(s)
  assert.deepEqual(settingsPatch(s, f), { patch: {} })
  f.enabled.expired = false
  assert.deepEqual(settingsPatch(s, f).patch.disabled, ['welcome', 'expired', 'future_kind'])
})
