package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// ProvisionerStore is what InProcessProvisioner needs from the store.
type ProvisionerStore interface {
	ActivateTenant(ctx context.Context, id int64) (controlplane.Tenant, error)
	Audit(ctx context.Context, e controlplane.AuditEntry) error
}

// ProvisionerOptions configure an InProcessProvisioner.
type ProvisionerOptions struct {
	// Store activates the tenant and records the audit entry. Required.
	Store ProvisionerStore
	// Bus receives TenantCreated. nil means it is not announced.
	Bus *controlplane.Bus
	// Logger receives failures. nil discards.
	Logger *slog.Logger
	// Timeout bounds one activation. 0 means 30 seconds.
	Timeout time.Duration
}

// InProcessProvisioner activates a pending tenant in a goroutine of this
// process. It is a stop-gap until tenant provisioning runs as a River job
// on the tenant-management queue: it does not retry, and a crash between
// the 202 answer and the activation leaves the tenant pending until an
// operator retries. Close waits for activations in flight.
type InProcessProvisioner struct {
	opts   ProvisionerOptions
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// NewInProcessProvisioner returns a provisioner ready to use.
func NewInProcessProvisioner(o ProvisionerOptions) *InProcessProvisioner {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &InProcessProvisioner{opts: o, log: o.Logger, ctx: ctx, cancel: cancel}
}

// ProvisionTenant starts activating t and returns at once. It returns
// EUNAVAILABLE after Close.
func (p *InProcessProvisioner) ProvisionTenant(_ context.Context, t controlplane.Tenant, actor controlplane.Principal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "shutting down; tenant %d stays pending", t.ID)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.activate(t, actor)
	}()
	return nil
}

// activate runs detached from the request that asked for it: the request
// has already been answered 202.
func (p *InProcessProvisioner) activate(t controlplane.Tenant, actor controlplane.Principal) {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.Timeout)
	defer cancel()
	active, err := p.opts.Store.ActivateTenant(ctx, t.ID)
	entry := controlplane.AuditEntry{
		TenantID: t.ID,
		ActorID:  0,
		Actor:    "system",
		Action:   "tenant.activate",
		Target:   "tenant:" + strconv.FormatInt(t.ID, 10),
		Result:   resultOf(err),
		Detail:   fmt.Sprintf("requested by %s", actor.Email),
	}
	if aerr := p.opts.Store.Audit(ctx, entry); aerr != nil {
		p.log.Error("audit tenant activation", slog.Int64("tenant_id", t.ID), slog.Any("err", aerr))
	}
	if err != nil {
		p.log.Error("activate tenant", slog.Int64("tenant_id", t.ID), slog.Any("err", err))
		return
	}
	p.log.Info("tenant activated", slog.Int64("tenant_id", t.ID))
	if p.opts.Bus != nil {
		p.opts.Bus.Publish(controlplane.TenantCreated{Tenant: active})
	}
}

// Close refuses new work and waits for activations in flight, cancelling
// them when ctx ends first.
func (p *InProcessProvisioner) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		p.cancel()
		return nil
	case <-ctx.Done():
		p.cancel()
		<-done
		return fmt.Errorf("provisioner close: %w", ctx.Err())
	}
}

// resultOf is the audit result of an operation: "ok" or its error code.
func resultOf(err error) string {
	if err == nil {
		return "ok"
	}
	return controlplane.ErrorCode(err)
}
