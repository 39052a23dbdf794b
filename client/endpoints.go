package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// maxPage is the largest limit the API accepts; the All* methods read
// pages of it.
const maxPage = 500

// Login exchanges an email and password for a bearer token. It does not
// change c: use c.WithToken(res.Token) for the calls that follow.
// EUNAUTHORIZED for wrong credentials, ERATELIMIT after too many.
func (c *Client) Login(ctx context.Context, email, password string) (controlplane.LoginResponse, error) {
	var res controlplane.LoginResponse
	err := c.Do(ctx, http.MethodPost, "/api/v1/auth/login", controlplane.LoginRequest{Email: email, Password: password}, &res)
	return res, err
}

// Logout revokes the client's token.
func (c *Client) Logout(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, "/api/v1/auth/logout", nil, nil)
}

// Me describes the caller.
func (c *Client) Me(ctx context.Context) (controlplane.MeResponse, error) {
	var res controlplane.MeResponse
	err := c.Do(ctx, http.MethodGet, "/api/v1/me", nil, &res)
	return res, err
}

// Config is what a dashboard needs to reach the realtime hub.
func (c *Client) Config(ctx context.Context) (controlplane.ClientConfig, error) {
	var res controlplane.ClientConfig
	err := c.Do(ctx, http.MethodGet, "/api/v1/config", nil, &res)
	return res, err
}

// Stats are the dashboard's figures; tenant 0 means the caller's scope.
func (c *Client) Stats(ctx context.Context, tenant int64) (controlplane.Stats, error) {
	var res controlplane.Stats
	err := c.Do(ctx, http.MethodGet, "/api/v1/stats"+query("tenant_id", id(tenant)), nil, &res)
	return res, err
}

// CreateTenant starts creating a tenant (system admins); it is active
// once Tenant reports so.
func (c *Client) CreateTenant(ctx context.Context, name string) (controlplane.Accepted, error) {
	var res controlplane.Accepted
	err := c.Do(ctx, http.MethodPost, "/api/v1/tenants", controlplane.CreateTenantRequest{Name: name}, &res)
	return res, err
}

// Tenant reads one tenant. ENOTFOUND for another tenant's.
func (c *Client) Tenant(ctx context.Context, tenant int64) (controlplane.Tenant, error) {
	var res controlplane.Tenant
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/tenants/%d", tenant), nil, &res)
	return res, err
}

// Tenants lists the tenants the caller sees.
func (c *Client) Tenants(ctx context.Context) ([]controlplane.Tenant, error) {
	var res controlplane.List[controlplane.Tenant]
	err := c.Do(ctx, http.MethodGet, "/api/v1/tenants", nil, &res)
	return res.Data, err
}

// CreateUser adds a user to tenant. ECONFLICT for a taken email.
func (c *Client) CreateUser(ctx context.Context, tenant int64, req controlplane.CreateUserRequest) (controlplane.User, error) {
	var res controlplane.User
	err := c.Do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/tenants/%d/users", tenant), req, &res)
	return res, err
}

// Users lists tenant's users.
func (c *Client) Users(ctx context.Context, tenant int64) ([]controlplane.User, error) {
	var res controlplane.List[controlplane.User]
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/tenants/%d/users", tenant), nil, &res)
	return res.Data, err
}

// CreateRouter enrolls a router; the answer holds its agent's secret,
// shown only here.
func (c *Client) CreateRouter(ctx context.Context, req controlplane.CreateRouterRequest) (controlplane.RouterSecret, error) {
	var res controlplane.RouterSecret
	err := c.Do(ctx, http.MethodPost, "/api/v1/routers", req, &res)
	return res, err
}

// Routers lists the routers the caller sees.
func (c *Client) Routers(ctx context.Context) ([]controlplane.Router, error) {
	var res controlplane.List[controlplane.Router]
	err := c.Do(ctx, http.MethodGet, "/api/v1/routers", nil, &res)
	return res.Data, err
}

// Router reads one router. ENOTFOUND for another tenant's.
func (c *Client) Router(ctx context.Context, routerID string) (controlplane.Router, error) {
	var res controlplane.Router
	err := c.Do(ctx, http.MethodGet, "/api/v1/routers/"+url.PathEscape(routerID), nil, &res)
	return res, err
}

// The list methods take the tenant to list (0: the caller's own, or every
// tenant for a system admin) and the domain's filter of that endpoint;
// zero fields select everything, and Limit 0 means the server's default
// page.

// Sessions reads one page of live sessions.
func (c *Client) Sessions(ctx context.Context, tenantID int64, f controlplane.SessionFilter) (controlplane.Page[controlplane.Session], error) {
	var res controlplane.Page[controlplane.Session]
	path := "/api/v1/sessions" + query("tenant_id", id(tenantID), "router_id", f.RouterID, "user", f.User,
		"kind", string(f.Kind), "limit", num(f.Limit), "offset", num(f.Offset))
	err := c.Do(ctx, http.MethodGet, path, nil, &res)
	return res, err
}

// AllSessions reads every live session f selects, page by page (Limit
// and Offset are ignored).
func (c *Client) AllSessions(ctx context.Context, tenantID int64, f controlplane.SessionFilter) ([]controlplane.Session, error) {
	return all(func(offset int) (controlplane.Page[controlplane.Session], error) {
		f.Limit, f.Offset = maxPage, offset
		return c.Sessions(ctx, tenantID, f)
	})
}

// History reads one page of ended sessions.
func (c *Client) History(ctx context.Context, tenantID int64, f controlplane.HistoryFilter) (controlplane.Page[controlplane.SessionRecord], error) {
	var res controlplane.Page[controlplane.SessionRecord]
	path := "/api/v1/sessions/history" + query("tenant_id", id(tenantID), "router_id", f.RouterID, "user", f.User,
		"from", rfc3339(f.From), "to", rfc3339(f.To), "limit", num(f.Limit), "offset", num(f.Offset))
	err := c.Do(ctx, http.MethodGet, path, nil, &res)
	return res, err
}

// AllHistory reads every ended session f selects, page by page (Limit
// and Offset are ignored).
func (c *Client) AllHistory(ctx context.Context, tenantID int64, f controlplane.HistoryFilter) ([]controlplane.SessionRecord, error) {
	return all(func(offset int) (controlplane.Page[controlplane.SessionRecord], error) {
		f.Limit, f.Offset = maxPage, offset
		return c.History(ctx, tenantID, f)
	})
}

// Commands reads one page of commands, newest first.
func (c *Client) Commands(ctx context.Context, tenantID int64, f controlplane.CommandFilter) (controlplane.Page[controlplane.Command], error) {
	var res controlplane.Page[controlplane.Command]
	path := "/api/v1/commands" + query("tenant_id", id(tenantID), "router_id", f.RouterID, "bulk_id", f.BulkID,
		"status", string(f.Status), "kind", string(f.Kind), "account_id", id(f.AccountID),
		"limit", num(f.Limit), "offset", num(f.Offset))
	err := c.Do(ctx, http.MethodGet, path, nil, &res)
	return res, err
}

// AllCommands reads every command f selects, page by page (Limit and
// Offset are ignored).
func (c *Client) AllCommands(ctx context.Context, tenantID int64, f controlplane.CommandFilter) ([]controlplane.Command, error) {
	return all(func(offset int) (controlplane.Page[controlplane.Command], error) {
		f.Limit, f.Offset = maxPage, offset
		return c.Commands(ctx, tenantID, f)
	})
}

// Command reads one command.
func (c *Client) Command(ctx context.Context, commandID string) (controlplane.Command, error) {
	var res controlplane.Command
	err := c.Do(ctx, http.MethodGet, "/api/v1/commands/"+url.PathEscape(commandID), nil, &res)
	return res, err
}

// SendCommand queues req for routerID. EINVALID names a bad field,
// EFORBIDDEN for viewers.
func (c *Client) SendCommand(ctx context.Context, routerID string, req controlplane.CommandRequest) (controlplane.Command, error) {
	var res controlplane.Command
	err := c.Do(ctx, http.MethodPost, "/api/v1/routers/"+url.PathEscape(routerID)+"/commands", req, &res)
	return res, err
}

// SendBulk queues one command per router under a common bulk id.
func (c *Client) SendBulk(ctx context.Context, req controlplane.BulkRequest) (controlplane.BulkResult, error) {
	var res controlplane.BulkResult
	err := c.Do(ctx, http.MethodPost, "/api/v1/commands/bulk", req, &res)
	return res, err
}

// Accounts lists the hotspot users and PPP secrets the caller sees.
func (c *Client) Accounts(ctx context.Context) (controlplane.Page[controlplane.Account], error) {
	var res controlplane.Page[controlplane.Account]
	err := c.Do(ctx, http.MethodGet, "/api/v1/accounts", nil, &res)
	return res, err
}

// AuthorizeChannel asks the control plane to sign a private channel
// subscription for socketID (POST /api/broadcasting/auth, what pusher-js
// does). It is an Authorizer.
func (c *Client) AuthorizeChannel(ctx context.Context, socketID, channel string) (string, error) {
	form := url.Values{"socket_id": {socketID}, "channel_name": {channel}}
	var res struct {
		Auth string `json:"auth"`
	}
	_, err := c.send(ctx, http.MethodPost, "/api/broadcasting/auth", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), &res)
	if err != nil {
		return "", err
	}
	if res.Auth == "" {
		return "", fmt.Errorf("authorize %s: the answer holds no auth", channel)
	}
	return res.Auth, nil
}

// DialRealtime connects to the realtime hub the control plane's
// /api/v1/config names, authorizing private channels through
// AuthorizeChannel unless opts.Authorize is set. EUNAVAILABLE when the
// control plane runs without realtime.
func (c *Client) DialRealtime(ctx context.Context, opts RealtimeOptions) (*Realtime, error) {
	cfg, err := c.Config(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Pusher == nil {
		return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "the control plane runs without realtime")
	}
	u, err := url.Parse(c.base)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	if p := cfg.Pusher; p.Host != "" {
		u.Host = p.Host
		if p.Port != 0 {
			u.Host = fmt.Sprintf("%s:%d", p.Host, p.Port)
		}
		if p.TLS != nil {
			u.Scheme = map[bool]string{true: "https", false: "http"}[*p.TLS]
		}
	}
	u.Path, u.RawQuery = "", ""
	if opts.Authorize == nil {
		opts.Authorize = c.AuthorizeChannel
	}
	return DialRealtime(ctx, u.String(), cfg.Pusher.Key, opts)
}

// all reads pages from offset 0 until one is short or Total is reached.
func all[T any](page func(offset int) (controlplane.Page[T], error)) ([]T, error) {
	var out []T
	for offset := 0; ; {
		p, err := page(offset)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Data...)
		offset += len(p.Data)
		if len(p.Data) == 0 || offset >= p.Total {
			return out, nil
		}
	}
}

func id(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// rfc3339 formats a filter's time bound; the zero time is no bound.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func num(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
