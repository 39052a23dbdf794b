import { createRouter, createWebHistory } from 'vue-router'
import { auth, isSystemAdmin } from './state.js'

import LoginView from './views/LoginView.vue'
import OverviewView from './views/OverviewView.vue'
import SessionsView from './views/SessionsView.vue'
import RoutersView from './views/RoutersView.vue'
import RouterDetailView from './views/RouterDetailView.vue'
import AccountsView from './views/AccountsView.vue'
import CommandsView from './views/CommandsView.vue'
import TenantsView from './views/TenantsView.vue'
import AuditView from './views/AuditView.vue'
import TeamView from './views/TeamView.vue'
import PlansView from './views/PlansView.vue'
import CustomersView from './views/CustomersView.vue'
import PaymentsView from './views/PaymentsView.vue'
// Loaded on first visit: the main chunk stays under Vite's 300 kB mark.
const VouchersView = () => import('./views/VouchersView.vue')
const PortalView = () => import('./views/PortalView.vue')
const NotificationsView = () => import('./views/NotificationsView.vue')
const SystemView = () => import('./views/SystemView.vue')
const WebhooksView = () => import('./views/WebhooksView.vue')
import NotFoundView from './views/NotFoundView.vue'

// History mode: the Go handler (web.go) answers every extension-less path
// with index.html.
export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: LoginView, meta: { public: true, title: 'Log in' } },
    { path: '/', name: 'overview', component: OverviewView, meta: { title: 'Overview', tenant: true } },
    { path: '/sessions/hotspot', name: 'hotspot', component: SessionsView, props: { kind: 'hotspot' }, meta: { title: 'Hotspot sessions', tenant: true } },
    { path: '/sessions/pppoe', name: 'pppoe', component: SessionsView, props: { kind: 'pppoe' }, meta: { title: 'PPPoE sessions', tenant: true } },
    { path: '/routers', name: 'routers', component: RoutersView, meta: { title: 'Routers', tenant: true } },
    { path: '/routers/:id', name: 'router', component: RouterDetailView, props: true, meta: { title: 'Router', tenant: true } },
    { path: '/accounts', name: 'accounts', component: AccountsView, meta: { title: 'Accounts', tenant: true } },
    { path: '/commands', name: 'commands', component: CommandsView, meta: { title: 'Commands', tenant: true } },
    { path: '/plans', name: 'plans', component: PlansView, meta: { title: 'Plans', tenant: true } },
    { path: '/customers', name: 'customers', component: CustomersView, meta: { title: 'Customers', tenant: true } },
    { path: '/payments', name: 'payments', component: PaymentsView, meta: { title: 'Payments', tenant: true } },
    { path: '/vouchers', name: 'vouchers', component: VouchersView, meta: { title: 'Vouchers', tenant: true } },
    // Not /portal: the control plane serves the captive portal itself under /portal/.
    { path: '/captive-portal', name: 'portal', component: PortalView, meta: { title: 'Captive portal', tenant: true } },
    { path: '/webhooks', name: 'webhooks', component: WebhooksView, meta: { title: 'Webhooks', tenant: true } },
    { path: '/notifications', name: 'notifications', component: NotificationsView, meta: { title: 'Notifications', tenant: true } },
    { path: '/team', name: 'team', component: TeamView, meta: { title: 'Team', tenant: true } },
    { path: '/audit', name: 'audit', component: AuditView, meta: { title: 'Audit log' } },
    { path: '/tenants', name: 'tenants', component: TenantsView, meta: { title: 'Tenants', system: true } },
    { path: '/system', name: 'system', component: SystemView, meta: { title: 'System', system: true } },
    { path: '/:rest(.*)*', name: 'notfound', component: NotFoundView, meta: { title: 'Not found' } },
  ],
})

router.beforeEach((to) => {
  if (!to.meta.public && !auth.user) return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } }
  if (to.name === 'login' && auth.user) return { name: 'overview' }
  if (to.meta.system && !isSystemAdmin()) return { name: 'overview' }
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · SitePulse` : 'SitePulse'
})
