package billing

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// Provisioning is what billing needs of provisioning (*provisioning.Service):
// router commands and accounts composed into billing's transactions.
type Provisioning interface {
	QueueCommandTx(ctx context.Context, tx *store.Tx, p controlplane.Principal, r controlplane.Router,
		req controlplane.CommandRequest, detail string) (controlplane.Command, error)
	ApplyAccountTx(ctx context.Context, tx *store.Tx, p controlplane.Principal, want controlplane.Account,
		routers []controlplane.Router) (controlplane.AccountResult, string, error)
	ExpireAccountTx(ctx context.Context, tx *store.Tx, id int64, reason string) (controlplane.AccountResult, bool, error)
	InsertJobsTx(ctx context.Context, tx *store.Tx, args ...river.JobArgs) error
	Announce(op string, res controlplane.AccountResult)
	AnnounceCommands(cmds []controlplane.Command)
}

// Sealer encrypts third-party credentials at rest (*seal.Keyring).
type Sealer interface {
	Seal(plaintext []byte, aad string) (string, error)
	Open(sealed, aad string) ([]byte, error)
}

// Defaults applied by New to zero Options fields.
const (
	DefaultQueryAfter     = 60 * time.Second
	DefaultGiveUpAfter    = 5 * time.Minute
	DefaultQueryInterval  = 20 * time.Second
	DefaultExpiryInterval = 30 * time.Second
	DefaultSyncInterval   = 5 * time.Minute
	DefaultWebhookSkew    = 5 * time.Minute
	DefaultMpesaBaseURL   = "https://sandbox.safaricom.co.ke"
)

// Options configure a Service.
type Options struct {
	Store  *store.Store      // required
	Bus    *controlplane.Bus // receives the billing changes; required
	Daraja Daraja            // M-Pesa; nil refuses STK purchases and C2B with EUNAVAILABLE
	Sealer Sealer            // required: credentials are never stored in plain text
	// Notifier queues receipts, credentials, expiry and flagged-payment
	// notices in billing's transactions; nil sends none.
	Notifier Notifier
	Logger   *slog.Logger     // nil discards
	Now      func() time.Time // nil means time.Now
	// Registerer receives the metrics; nil means unregistered.
	Registerer prometheus.Registerer
	// PublicURL is the control plane's address as providers reach it
	// (https://cp.example.com): callback URLs are built on it. Required for
	// STK push and C2B.
	PublicURL string
	// CallbackKey signs the per-payment tokens of STK callback URLs; at
	// least 32 random bytes, stable across restarts (derive it from the
	// secret key). Required.
	CallbackKey []byte
	// QueryAfter is how long an STK push may wait for its callback before
	// the sweep asks Daraja (STK query); GiveUpAfter, after which a payment
	// still unanswered is failed (a later callback still completes it).
	QueryAfter, GiveUpAfter time.Duration
	// QueryInterval, ExpiryInterval and SyncInterval are the periods of the
	// STK query sweep, the expiry sweep and the plan profile sync.
	QueryInterval, ExpiryInterval, SyncInterval time.Duration
	// WebhookSkew is the signed webhook's timestamp tolerance.
	WebhookSkew time.Duration
	// Workers bounds concurrent jobs per billing queue; 0 means 4.
	Workers int
}

// Service is the billing service. Build it with New, hand it to
// provisioning as a JobSet, then call SetProvisioning before River starts.
type Service struct {
	o    Options
	st   *store.Store
	bus  *controlplane.Bus
	log  *slog.Logger
	now  func() time.Time
	m    *metrics
	prov Provisioning
	pub  atomic.Pointer[string] // PublicURL, or the HTTP listener's (SetPublicURL)
}

// New builds the service.
func New(o Options) (*Service, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("billing: Options.Store is required")
	case o.Bus == nil:
		return nil, errors.New("billing: Options.Bus is required")
	case o.Sealer == nil:
		return nil, errors.New("billing: Options.Sealer is required")
	case len(o.CallbackKey) < 32:
		return nil, errors.New("billing: Options.CallbackKey needs at least 32 bytes")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.QueryAfter, DefaultQueryAfter)
	def(&o.GiveUpAfter, DefaultGiveUpAfter)
	def(&o.QueryInterval, DefaultQueryInterval)
	def(&o.ExpiryInterval, DefaultExpiryInterval)
	def(&o.SyncInterval, DefaultSyncInterval)
	def(&o.WebhookSkew, DefaultWebhookSkew)
	if o.Workers <= 0 {
		o.Workers = 4
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("billing: %w", err)
	}
	s := &Service{o: o, st: o.Store, bus: o.Bus, log: o.Logger.With("component", "billing"), now: o.Now, m: m}
	s.SetPublicURL(o.PublicURL)
	return s, nil
}

// SetPublicURL changes the address callback URLs are built on: serve sets
// its HTTP listener's when no --public-url was given (a laptop with the
// Daraja simulator).
func (s *Service) SetPublicURL(u string) {
	u = strings.TrimRight(u, "/")
	s.pub.Store(&u)
}

func (s *Service) publicURL() string { return *s.pub.Load() }

// SetProvisioning hands the service provisioning, which runs its jobs;
// call it before provisioning starts.
func (s *Service) SetProvisioning(p Provisioning) { s.prov = p }

// system is the actor of what billing does on its own.
var system = controlplane.Principal{Role: controlplane.RoleSystemAdmin, Email: "billing"}

// callbackToken is the unguessable path secret of payment id's STK
// callback URL.
func (s *Service) callbackToken(tenantID, paymentID int64) string {
	return CallbackToken(s.o.CallbackKey, tenantID, paymentID)
}

// CallbackToken is the path secret of a payment's STK callback URL: an
// HMAC of tenant and payment under key (Options.CallbackKey), so nothing
// secret is stored or put in job arguments. Hex, since Daraja refuses
// URLs that spell words such as "exe" or "sql".
func CallbackToken(key []byte, tenantID, paymentID int64) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "stk:%d:%d", tenantID, paymentID)
	return hex.EncodeToString(mac.Sum(nil)[:24])
}

func (s *Service) stkCallbackURL(tenantID, paymentID int64) string {
	return s.publicURL() + "/api/v1/hooks/stk/" + strconv.FormatInt(tenantID, 10) + "/" +
		strconv.FormatInt(paymentID, 10) + "/" + s.callbackToken(tenantID, paymentID)
}

// tenantOf resolves the tenant a request acts on: a system admin names
// it, everyone else acts on their own.
func tenantOf(p controlplane.Principal, named int64) (int64, error) {
	if p.IsSystemAdmin() {
		if named == 0 {
			return 0, controlplane.Errorf(controlplane.EINVALID, "tenant_id: required for system admins")
		}
		return named, nil
	}
	if named != 0 && named != p.TenantID {
		return 0, controlplane.Errorf(controlplane.ENOTFOUND, "tenant %d not found", named)
	}
	return p.TenantID, nil
}

func needManage(p controlplane.Principal, what string) error {
	if !p.CanManage() {
		return controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not %s", p.Role, what)
	}
	return nil
}

func needMutate(p controlplane.Principal, what string) error {
	if !p.CanMutate() {
		return controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not %s", p.Role, what)
	}
	return nil
}

// publish announces committed changes.
func (s *Service) publish(changes ...controlplane.Change) {
	if len(changes) > 0 {
		s.bus.Publish(changes...)
	}
}
