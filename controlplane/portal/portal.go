package portal

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Billing is what the portal needs of billing; *billing.Service
// implements it.
type Billing interface {
	// Purchase starts an STK push for a plan (EINVALID, ENOTFOUND,
	// ECONFLICT for a push already waiting, EUNAVAILABLE without M-Pesa).
	Purchase(ctx context.Context, p controlplane.Principal, req controlplane.PurchaseRequest) (controlplane.PurchaseResult, error)
	// GetPayment returns a payment of tenant scope (ENOTFOUND).
	GetPayment(ctx context.Context, scope, id int64) (controlplane.Payment, error)
	// PaymentCredentials returns the login a completed payment gave
	// (ECONFLICT until its account exists).
	PaymentCredentials(ctx context.Context, tenant, paymentID int64) (controlplane.Credentials, error)
	// ListPlans lists tenant scope's plans.
	ListPlans(ctx context.Context, scope int64, f controlplane.PlanFilter) ([]controlplane.Plan, int, error)
}

// Vouchers redeems voucher codes; *billing.Service implements it.
type Vouchers interface {
	// RedeemVoucher creates the voucher's account (EINVALID for a
	// malformed code, ENOTFOUND for one that is not redeemable).
	RedeemVoucher(ctx context.Context, req controlplane.RedeemRequest) (controlplane.Redemption, error)
}

// Store holds portal settings and resolves routers; *store.Store
// implements it.
type Store interface {
	// PortalSettings returns a tenant's settings (zero branding if none).
	PortalSettings(ctx context.Context, tenantID int64) (controlplane.PortalSettings, error)
	// PortalSettingsBySlug returns the settings with slug (ENOTFOUND).
	PortalSettingsBySlug(ctx context.Context, slug string) (controlplane.PortalSettings, error)
	// PutPortalSettings stores settings (ECONFLICT for a taken slug).
	PutPortalSettings(ctx context.Context, p controlplane.PortalSettings) (controlplane.PortalSettings, error)
	// GetRouter returns a router of tenant scope (ENOTFOUND).
	GetRouter(ctx context.Context, scope int64, id string) (controlplane.Router, error)
	// GetTenant returns a tenant (ENOTFOUND).
	GetTenant(ctx context.Context, scope, id int64) (controlplane.Tenant, error)
}

// Accounts tells whether an account reached a router;
// *provisioning.Service implements it.
type Accounts interface {
	ListAccounts(ctx context.Context, scope int64, f controlplane.AccountFilter) ([]controlplane.Account, int, error)
}

// Publisher announces portal purchases; *controlplane.Bus implements it.
type Publisher interface {
	Publish(changes ...controlplane.Change)
}

// Options configure a Portal. Store, Billing and TokenKey are required.
type Options struct {
	Store   Store
	Billing Billing
	// Vouchers nil means the voucher form answers that vouchers are not
	// sold here.
	Vouchers Vouchers
	// Accounts nil means credentials are handed out as soon as they exist,
	// without waiting for the account to reach the device's router.
	Accounts Accounts
	// Bus nil means portal purchases are not announced.
	Bus Publisher
	// TokenKey signs portal tokens (at least 16 bytes); replicas share it.
	TokenKey []byte
	// TokenTTL is how long a purchase's token works; 0 means 30 minutes.
	TokenTTL time.Duration
	// PusherKey is the realtime hub's app key the page connects with.
	PusherKey string
	// ReadyWait bounds how long a login waits for its account to reach
	// the router; 0 means 20 s.
	ReadyWait time.Duration
	Limits    Limits
	// Logger nil discards; Registerer nil registers no metrics.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now nil means time.Now.
	Now func() time.Time
}

// Portal serves /portal/… (http.Handler) and the portal settings the
// API's /api/v1/portal/settings calls.
type Portal struct {
	o      Options
	log    *slog.Logger
	tokens *Tokens
	lim    *limiter
	mux    *http.ServeMux
	page   *pageRenderer

	voucherFailures prometheus.Counter
	rateLimited     prometheus.Counter

	// announced remembers the last status announced per payment, so a
	// status is announced once however often a page asks.
	mu        sync.Mutex
	announced map[int64]string
}

// New returns a portal.
func New(o Options) (*Portal, error) {
	if o.Store == nil || o.Billing == nil {
		return nil, errors.New("portal: Store and Billing are required")
	}
	if len(o.TokenKey) < 16 {
		return nil, errors.New("portal: TokenKey must be at least 16 bytes")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadyWait <= 0 {
		o.ReadyWait = 20 * time.Second
	}
	p := &Portal{o: o, log: o.Logger.With("component", "portal"), tokens: NewTokens(o.TokenKey, o.TokenTTL, o.Now),
		lim: newLimiter(o.Limits), announced: map[int64]string{},
		voucherFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "sitepulse_portal_voucher_failures_total",
			Help: "Wrong voucher codes entered at the captive portal."}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{Name: "sitepulse_portal_rate_limited_total",
			Help: "Portal requests refused by a rate limit (STK pushes and voucher attempts)."}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{p.voucherFailures, p.rateLimited} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	var err error
	if p.page, err = newPageRenderer(); err != nil {
		return nil, err
	}
	p.mux = http.NewServeMux()
	p.mux.HandleFunc("GET /portal/{slug}", p.handleSlug)
	p.mux.HandleFunc("GET /portal/{tenant}/{router}", p.handlePage)
	p.mux.HandleFunc("POST /portal/{tenant}/{router}/buy", p.handleBuy)
	p.mux.HandleFunc("GET /portal/{tenant}/{router}/purchase/{payment}", p.handlePurchase)
	p.mux.HandleFunc("POST /portal/{tenant}/{router}/voucher", p.handleVoucher)
	return p, nil
}

// Tokens returns the portal's token signer: channel authorization for
// private-purchase.{payment} checks tokens with it.
func (p *Portal) Tokens() *Tokens { return p.tokens }

// ServeHTTP implements http.Handler for /portal/ (not /portal/auth, which
// the realtime hub's authorization endpoint serves with Tokens).
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Frame-Options", "DENY")
	p.mux.ServeHTTP(w, r)
}

// site is the tenant and router a request is for.
type site struct {
	tenant   controlplane.Tenant
	settings controlplane.PortalSettings
	routerID string // "" when the device's router is not known (slug without ?router=)
}

// routerPath is the {router} path segment of site's forms.
func (s site) routerPath() string {
	if s.routerID == "" {
		return "-"
	}
	return s.routerID
}

// resolve finds the tenant and router of /portal/{tenant}/{router}.
// ENOTFOUND for either unknown (the same answer for both).
func (p *Portal) resolve(ctx context.Context, tenantText, routerID string) (site, error) {
	notFound := controlplane.Errorf(controlplane.ENOTFOUND, "no such portal")
	id, err := strconv.ParseInt(tenantText, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != tenantText {
		return site{}, notFound
	}
	return p.resolveTenant(ctx, id, routerID, notFound)
}

func (p *Portal) resolveTenant(ctx context.Context, id int64, routerID string, notFound error) (site, error) {
	t, err := p.o.Store.GetTenant(ctx, 0, id)
	if err != nil {
		if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
			return site{}, notFound
		}
		return site{}, err
	}
	if t.Status != "" && t.Status != controlplane.TenantActive {
		return site{}, notFound // suspended or not yet active: sells nothing
	}
	if routerID == "-" {
		routerID = ""
	}
	if routerID != "" {
		if len(routerID) > 128 {
			return site{}, notFound
		}
		if _, err := p.o.Store.GetRouter(ctx, id, routerID); err != nil {
			if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
				return site{}, notFound
			}
			return site{}, err
		}
	}
	set, err := p.o.Store.PortalSettings(ctx, id)
	if err != nil {
		return site{}, err
	}
	return site{tenant: t, settings: set, routerID: routerID}, nil
}

// plans returns the plans site sells, in the settings' order.
func (p *Portal) plans(ctx context.Context, s site) ([]controlplane.Plan, error) {
	all, _, err := p.o.Billing.ListPlans(ctx, s.tenant.ID, controlplane.PlanFilter{Kind: controlplane.PlanHotspot, ActiveOnly: true})
	if err != nil {
		return nil, err
	}
	onRouter := func(pl controlplane.Plan) bool {
		if s.routerID == "" || len(pl.Routers) == 0 {
			return true
		}
		for _, r := range pl.Routers {
			if r.RouterID == s.routerID {
				return true
			}
		}
		return false
	}
	var out []controlplane.Plan
	if len(s.settings.PlanIDs) == 0 {
		for _, pl := range all {
			if pl.Active && pl.Kind == controlplane.PlanHotspot && onRouter(pl) {
				out = append(out, pl)
			}
		}
		return out, nil
	}
	byID := map[int64]controlplane.Plan{}
	for _, pl := range all {
		byID[pl.ID] = pl
	}
	for _, id := range s.settings.PlanIDs {
		if pl, ok := byID[id]; ok && pl.Active && onRouter(pl) {
			out = append(out, pl)
		}
	}
	return out, nil
}

// remoteAddr is the address the request came from (the hotspot's public
// address, shared by its devices), without the port.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// cleanMAC returns mac in RouterOS's upper-case colon form, or "" when it
// is not a MAC address.
func cleanMAC(mac string) string {
	hw, err := net.ParseMAC(strings.TrimSpace(mac))
	if err != nil || len(hw) != 6 {
		return ""
	}
	return strings.ToUpper(hw.String())
}

// cleanIP returns ip if it is an IP address, else "".
func cleanIP(ip string) string {
	a := net.ParseIP(strings.TrimSpace(ip))
	if a == nil {
		return ""
	}
	return a.String()
}

// principal is who the portal acts as in billing.
func principal(tenant int64) controlplane.Principal {
	return controlplane.Principal{TenantID: tenant, Role: controlplane.RoleTechnician, Email: "portal"}
}

// announce publishes a portal purchase once per status.
func (p *Portal) announce(pp controlplane.PortalPurchase) {
	if p.o.Bus == nil {
		return
	}
	if pp.PaymentID != 0 {
		p.mu.Lock()
		if p.announced[pp.PaymentID] == pp.Status {
			p.mu.Unlock()
			return
		}
		if len(p.announced) > 10000 {
			clear(p.announced) // bounded; a repeat announcement is harmless
		}
		p.announced[pp.PaymentID] = pp.Status
		p.mu.Unlock()
	}
	pp.At = p.o.Now()
	p.o.Bus.Publish(controlplane.PortalPurchaseChanged{Purchase: pp})
}

// waitReady waits, up to ReadyWait, until the hotspot user name is on
// router (synced), so the login that follows finds it there.
func (p *Portal) waitReady(ctx context.Context, tenant int64, routerID, name string) {
	if p.o.Accounts == nil || routerID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.o.ReadyWait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		accs, _, err := p.o.Accounts.ListAccounts(ctx, tenant, controlplane.AccountFilter{Kind: controlplane.AccountHotspot,
			Name: name, RouterID: routerID})
		if err == nil {
			for _, a := range accs {
				if a.Name != name {
					continue
				}
				for _, r := range a.Routers {
					if r.RouterID == routerID && r.State == controlplane.SyncSynced {
						return
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			p.log.Warn("account not on the router in time; logging in anyway", "tenant", tenant, "router", routerID)
			return
		case <-tick.C:
		}
	}
}
