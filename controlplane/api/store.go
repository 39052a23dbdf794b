package api

import (
	"context"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Store is every store method the API calls, grouped by resource. The
// production implementation is *store.Store; errors are *controlplane.Error
// where a caller can act on them (ENOTFOUND, ECONFLICT, EINVALID,
// EUNAUTHORIZED) and anything else is an internal error.
type Store interface {
	AuthStore
	TenantStore
	UserStore
	RouterStore
	SessionStore
	AuditStore
	LoginSeriesStore
}

// LoginSeriesStore reads the hourly hotspot/PPPoE login series.
type LoginSeriesStore interface {
	// LoginSeries returns one bucket per hour from from's hour to to's,
	// zeros included, within scope (0: every tenant) and of routerID
	// unless "".
	LoginSeries(ctx context.Context, scope int64, routerID string, from, to time.Time) ([]controlplane.LoginBucket, error)
}

// AuthStore checks credentials and manages bearer tokens.
type AuthStore interface {
	// CheckPassword returns the user or EUNAUTHORIZED.
	CheckPassword(ctx context.Context, email, password string) (controlplane.User, error)
	// CreateToken returns the plaintext token, shown once; ttl 0 never expires.
	CreateToken(ctx context.Context, userID int64, name string, ttl time.Duration) (string, controlplane.Token, error)
	// Authenticate returns the token's principal or EUNAUTHORIZED.
	Authenticate(ctx context.Context, plaintext string) (controlplane.Principal, error)
	// ListTokens lists a user's tokens, never their plaintext.
	ListTokens(ctx context.Context, userID int64) ([]controlplane.Token, error)
	// RevokeToken revokes one of the user's tokens or returns ENOTFOUND.
	RevokeToken(ctx context.Context, userID, tokenID int64) error
}

// TenantStore reads tenants (TenantCreator creates them).
type TenantStore interface {
	// GetTenant returns ENOTFOUND for a missing tenant or one outside scope.
	GetTenant(ctx context.Context, scope, id int64) (controlplane.Tenant, error)
	// ListTenants lists every tenant.
	ListTenants(ctx context.Context) ([]controlplane.Tenant, error)
}

// UserStore manages dashboard users.
type UserStore interface {
	// CreateUser returns ECONFLICT on a duplicate email.
	CreateUser(ctx context.Context, u controlplane.User, password string) (controlplane.User, error)
	// GetUser returns ENOTFOUND for a missing user or one outside scope.
	GetUser(ctx context.Context, scope, id int64) (controlplane.User, error)
	// ListUsers lists the users in scope.
	ListUsers(ctx context.Context, scope int64) ([]controlplane.User, error)
	// UpdateUser stores name, role and disabled; ENOTFOUND outside scope.
	UpdateUser(ctx context.Context, scope int64, u controlplane.User) (controlplane.User, error)
}

// RouterStore enrolls routers and manages their agent credentials.
type RouterStore interface {
	// CreateRouter returns the router and its agent secret, shown once.
	CreateRouter(ctx context.Context, tenantID int64, name, site string) (controlplane.Router, string, error)
	// CreateRouterMode is CreateRouter with the authentication mode
	// (protocol.AuthLocal or protocol.AuthRadius; EINVALID otherwise).
	CreateRouterMode(ctx context.Context, tenantID int64, name, site, mode string) (controlplane.Router, string, error)
	// GetRouter returns ENOTFOUND for a missing router or one outside scope.
	GetRouter(ctx context.Context, scope int64, id string) (controlplane.Router, error)
	// ListRouters lists the routers in scope.
	ListRouters(ctx context.Context, scope int64) ([]controlplane.Router, error)
	// RotateRouterSecret returns the new secret; ENOTFOUND outside scope.
	RotateRouterSecret(ctx context.Context, scope int64, id string) (string, error)
	// RevokeRouter clears the secret and marks the router revoked.
	RevokeRouter(ctx context.Context, scope int64, id string) (controlplane.Router, error)
}

// SessionStore reads live sessions and history.
type SessionStore interface {
	// ListSessions returns one page of live sessions and the total matching.
	ListSessions(ctx context.Context, scope int64, f controlplane.SessionFilter) ([]controlplane.Session, int, error)
	// ListHistory returns one page of ended sessions and the total matching.
	ListHistory(ctx context.Context, scope int64, f controlplane.HistoryFilter) ([]controlplane.SessionRecord, int, error)
}

// AuditStore writes and reads the audit log.
type AuditStore interface {
	// Audit appends an entry.
	Audit(ctx context.Context, e controlplane.AuditEntry) error
	// ListAudit lists entries in scope, newest first.
	ListAudit(ctx context.Context, scope int64, limit, offset int) ([]controlplane.AuditEntry, error)
}
