import { test } from 'node:test'
import assert from 'node:assert/strict'
import { COMMAND_SPECS, applyCommandEvent, buildCommand, bulkProgress, loadCommands, sortedCommands } from '../src/lib/commands.js'
import { applyRouterEvent, countRouters, loadRouters, routerState } from '../src/lib/routers.js'

test('buildCommand makes typed commands', () => {
  assert.deepEqual(buildCommand('hotspot.user.add', { name: ' alice ', password: 'pw', profile: '', limit_bytes_total: '1000' }), {
    kind: 'hotspot.user.add',
    hotspot_user: { name: 'alice', password: 'pw', limit_bytes_total: 1000 },
  })
  assert.deepEqual(buildCommand('resync', { name: 'ignored' }), { kind: 'resync' })
  assert.deepEqual(buildCommand('ppp.active.kick', { user: 'bob' }), { kind: 'ppp.active.kick', kick: { user: 'bob' } })
  assert.deepEqual(buildCommand('raw', { path: '/ip/hotspot/host/print', args: '=.proplist=address\n\n?mac-address=AA' }), {
    kind: 'raw',
    raw: { path: '/ip/hotspot/host/print', args: ['=.proplist=address', '?mac-address=AA'] },
  })
  assert.throws(() => buildCommand('hotspot.user.add', { name: 'alice' }), /password is required/)
  assert.throws(() => buildCommand('hotspot.active.kick', {}), /one of user, key, ros_id/)
  assert.throws(() => buildCommand('hotspot.user.add', { name: 'a', password: 'b', limit_bytes_total: 'lots' }), /non-negative/)
  assert.throws(() => buildCommand('nope', {}), /unknown command kind/)
})

test('every protocol command kind has a form', () => {
  // protocol/command.go CommandKinds, in order.
  const kinds = [
    'hotspot.user.add', 'hotspot.user.set', 'hotspot.user.remove', 'hotspot.user.enable', 'hotspot.user.disable',
    'hotspot.active.kick',
    'ppp.secret.add', 'ppp.secret.set', 'ppp.secret.remove', 'ppp.secret.enable', 'ppp.secret.disable',
    'ppp.active.kick',
    'hotspot.profile.rate_limit', 'ppp.profile.rate_limit',
    'resync', 'raw',
  ]
  assert.deepEqual(Object.keys(COMMAND_SPECS).sort(), kinds.slice().sort())
})

test('command events: upsert, never regress from a final status', () => {
  const byId = {}
  loadCommands(byId, [{ id: 'c-1', router_id: 'r-1', kind: 'resync', status: 'queued', created_at: '2026-03-01T10:00:00Z' }])
  applyCommandEvent(byId, 'CommandUpdated', { seq: 1, command: { id: 'c-1', status: 'running' } })
  assert.equal(byId['c-1'].status, 'running')
  assert.equal(byId['c-1'].kind, 'resync', 'fields absent from the event are kept')
  applyCommandEvent(byId, 'CommandUpdated', { seq: 2, command: { id: 'c-1', status: 'succeeded' } })
  assert.equal(applyCommandEvent(byId, 'CommandUpdated', { seq: 3, command: { id: 'c-1', status: 'sent' } }), null)
  assert.equal(byId['c-1'].status, 'succeeded')
  applyCommandEvent(byId, 'CommandUpdated', { seq: 4, id: 'c-2', status: 'queued', created_at: '2026-03-01T10:01:00Z' })
  assert.deepEqual(sortedCommands(byId).map((c) => c.id), ['c-2', 'c-1'])
  assert.equal(applyCommandEvent(byId, 'Other', { id: 'c-3' }), null)
})

test('bulkProgress', () => {
  const cs = [
    { id: '1', bulk_id: 'b', kind: 'k', status: 'succeeded' },
    { id: '2', bulk_id: 'b', kind: 'k', status: 'failed' },
    { id: '3', bulk_id: 'b', kind: 'k', status: 'running' },
    { id: '4', bulk_id: '', kind: 'k', status: 'queued' },
  ]
  const [g, ...rest] = bulkProgress(cs)
  assert.equal(rest.length, 0)
  assert.deepEqual([g.total, g.succeeded, g.failed, g.active], [3, 1, 1, 1])
})

test('router events', () => {
  const byId = {}
  loadRouters(byId, [{ id: 'r-1', status: 'online', router_connected: true, last_seen_at: '2026-03-01T10:00:00Z' }])
  applyRouterEvent(byId, 'RouterStatusUpdated', { seq: 1, router: { id: 'r-1', status: 'offline' } })
  assert.equal(byId['r-1'].status, 'offline')
  applyRouterEvent(byId, 'RouterStatusUpdated', { seq: 2, router: { id: 'r-2', status: 'pending' } })
  assert.deepEqual(countRouters(byId), { online: 0, offline: 1, pending: 1, revoked: 0, total: 2 })
  applyRouterEvent(byId, 'RouterLiveDataUpdated', { seq: 3, router_id: 'r-1', resources: { cpu_load: 40, version: '7.18.2' }, at: '2026-03-01T10:01:00Z' })
  assert.deepEqual([byId['r-1'].resources.cpu_load, byId['r-1'].routeros_version, byId['r-1'].last_seen_at], [40, '7.18.2', '2026-03-01T10:01:00Z'])
  // Live data for an unknown router is ignored (its status event adds it).
  assert.equal(applyRouterEvent(byId, 'RouterLiveDataUpdated', { seq: 4, router_id: 'r-9', resources: {} }), '')
  assert.deepEqual(routerState({ status: 'online', router_connected: false }), { status: 'unreachable', label: 'router unreachable' })
  // The accept filter keeps another tenant's enrolments out.
  assert.equal(applyRouterEvent(byId, 'RouterEnrolled', { router: { id: 'r-3', tenant_id: 2 } }, (r) => r.tenant_id === 1), '')
})
