package main

import (
	"context"
	"fmt"

	"github.com/sitepulse/sitepulse/controlplane/radiussync"
)

// newRadius builds the RADIUS sync (pages of the routers' RADIUS copies,
// asks, voucher.used reconciliation); ingest hands it the agents' radius
// states and asks.
func (m *Main) newRadius() error {
	var err error
	m.radius, err = radiussync.New(radiussync.Options{Store: m.store, Bus: m.bus, Redeemer: m.billing,
		Logger: m.log, Registerer: m.registry})
	if err != nil {
		return fmt.Errorf("radius sync: %w", err)
	}
	return nil
}

// startRadius publishes pages through the broker agents reach: the
// embedded one, or the external one in scale-out mode.
func (m *Main) startRadius(ctx context.Context) error {
	var pub radiussync.Publisher = m.broker
	if m.cluster != nil {
		pub = m.cluster
	}
	if err := m.radius.Start(ctx, pub); err != nil {
		return fmt.Errorf("radius sync: %w", err)
	}
	return nil
}
