package main

import (
	"context"
	"fmt"

	"github.com/sitepulse/sitepulse/controlplane/provisioning"
)

// newProvisioning builds the provisioning service (commands, managed
// accounts, River jobs) on the open store. From here on, every new tenant's
// activation job commits with the tenant.
func (m *Main) newProvisioning() error {
	o := m.Config.Provisioning
	o.Store, o.Bus = m.store, m.bus
	o.Logger, o.Registerer = m.log, m.registry
	var err error
	if m.prov, err = provisioning.New(o); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	return nil
}

// startProvisioning starts River and command delivery through the broker
// that agents reach: the embedded one, or the external one in scale-out
// mode.
func (m *Main) startProvisioning(ctx context.Context) error {
	var pub provisioning.Publisher = m.broker
	if m.cluster != nil {
		pub = m.cluster
	}
	if err := m.prov.Start(ctx, pub); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	return nil
}
