package main

import (
	"fmt"
	"net/http"

	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/controlplane/portal"
	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

// newPortal builds the captive portal on billing, provisioning and the
// store; its tokens are keyed from the sealing key, so replicas agree.
func (m *Main) newPortal() error {
	var vouchers portal.Vouchers
	if v, ok := any(m.billing).(portal.Vouchers); ok {
		vouchers = v
	}
	var err error
	m.portal, err = portal.New(portal.Options{
		Store: m.store, Billing: m.billing, Vouchers: vouchers, Accounts: m.prov, Bus: m.bus,
		TokenKey: m.portKey, PusherKey: m.hub.Key(), Logger: m.log, Registerer: m.registry, Now: m.Config.Now,
	})
	if err != nil {
		return fmt.Errorf("portal: %w", err)
	}
	return nil
}

// mountPortal serves /portal/ and the portal's channel authorization
// POST /portal/auth (a purchase's token as the bearer, for its
// private-purchase.{payment} channel only).
func (m *Main) mountPortal(mux *http.ServeMux) {
	mux.Handle("POST /portal/auth", pusher.NewAuthHandler(m.hub, fanout.PurchaseChannelAuth(m.portal.Tokens())))
	mux.Handle("/portal/", m.portal)
}
