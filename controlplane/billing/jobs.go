package billing

import (
	"context"

	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane/jobs"
)

// River queues.
const (
	QueuePayments     = "payments"                  // STK push, STK query sweep and confirmation, C2B registration
	QueueReconnection = "subscription-reconnection" // activation and renewal → account on every router
	QueueBilling      = "billing"                   // expiry and voucher sweeps, plan profile sync
)

// Job kinds.
const (
	KindSTKPush      = "stk_push"
	KindSTKConfirm   = "stk_confirm"
	KindSTKQuery     = "stk_query_sweep"
	KindC2BRegister  = "c2b_register"
	KindReconnect    = "subscription_reconnect"
	KindExpirySweep  = "subscription_expiry"
	KindPlanSync     = "plan_profile_sync"
	KindVoucherSweep = "voucher_sweep"
	reconnectRetries = 25
)

type stkPushArgs struct {
	PaymentID int64 `json:"payment_id"`
}

func (stkPushArgs) Kind() string { return KindSTKPush }
func (stkPushArgs) InsertOpts() river.InsertOpts {
	// Few attempts: a customer waits on the phone; after that the purchase
	// fails and they try again.
	return river.InsertOpts{Queue: QueuePayments, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// stkConfirmArgs carries an untrusted callback's claim until an STK query
// confirms it. No phone or secret: ids, the receipt and the amount.
type stkConfirmArgs struct {
	PaymentID   int64  `json:"payment_id"`
	Receipt     string `json:"receipt"`
	AmountMinor int64  `json:"amount_minor"`
}

func (stkConfirmArgs) Kind() string { return KindSTKConfirm }
func (stkConfirmArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueuePayments, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type c2bRegisterArgs struct {
	TenantID int64 `json:"tenant_id"`
}

func (c2bRegisterArgs) Kind() string { return KindC2BRegister }
func (c2bRegisterArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueuePayments, MaxAttempts: 5}
}

// reconnectArgs puts a subscription's account on its routers as the
// subscription now is (activated, renewed, resumed). A payment inserts it
// once, in the transaction that applies the payment (under its row lock),
// so ten copies of a callback make one job.
type reconnectArgs struct {
	SubscriptionID int64 `json:"subscription_id"`
	PaymentID      int64 `json:"payment_id"`
	// Reconnected: the payment brought an expired subscription back,
	// which its customer is told once the account is back.
	Reconnected bool `json:"reconnected,omitempty"`
}

func (reconnectArgs) Kind() string { return KindReconnect }
func (reconnectArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueReconnection, MaxAttempts: reconnectRetries,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: jobs.WaitingStates}}
}

type onPayments struct{}

func (onPayments) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueuePayments, MaxAttempts: 3}
}

type onBilling struct{}

func (onBilling) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBilling, MaxAttempts: 3}
}

type (
	stkQueryArgs    struct{ onPayments }
	expirySweepArgs struct{ onBilling }
	planSyncArgs    struct{ onBilling }
	voucherSweep    struct{ onBilling }
)

func (stkQueryArgs) Kind() string    { return KindSTKQuery }
func (expirySweepArgs) Kind() string { return KindExpirySweep }
func (planSyncArgs) Kind() string    { return KindPlanSync }
func (voucherSweep) Kind() string    { return KindVoucherSweep }

// RegisterJobs implements provisioning.JobSet.
func (s *Service) RegisterJobs(ws *river.Workers) {
	jobs.Add(ws, func(ctx context.Context, j *river.Job[stkPushArgs]) error {
		return s.pushSTK(ctx, j.Args.PaymentID, j.Attempt >= j.MaxAttempts)
	})
	jobs.Add(ws, func(ctx context.Context, j *river.Job[stkConfirmArgs]) error {
		return s.confirmSTK(ctx, j.Args, j.Attempt >= j.MaxAttempts)
	})
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[stkQueryArgs]) error { return s.QueryPending(ctx) })
	jobs.Add(ws, func(ctx context.Context, j *river.Job[c2bRegisterArgs]) error {
		return s.registerC2B(ctx, j.Args.TenantID)
	})
	jobs.Add(ws, func(ctx context.Context, j *river.Job[reconnectArgs]) error {
		return s.reconnect(ctx, j.Args)
	})
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[expirySweepArgs]) error {
		_, err := s.ExpireDue(ctx)
		return err
	})
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[planSyncArgs]) error { return s.SyncPlans(ctx) })
	jobs.Add(ws, func(ctx context.Context, _ *river.Job[voucherSweep]) error {
		_, err := s.EndVouchers(ctx)
		return err
	})
}

// JobQueues implements provisioning.JobSet.
func (s *Service) JobQueues() map[string]int {
	return map[string]int{QueuePayments: s.o.Workers, QueueReconnection: s.o.Workers, QueueBilling: 1}
}

// PeriodicJobs implements provisioning.JobSet.
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		jobs.Every(s.o.QueryInterval, stkQueryArgs{}),
		jobs.Every(s.o.ExpiryInterval, expirySweepArgs{}),
		jobs.Every(s.o.SyncInterval, planSyncArgs{}),
		jobs.Every(s.o.ExpiryInterval, voucherSweep{}),
	}
}
