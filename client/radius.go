package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/sitepulse/sitepulse/controlplane"
)

// SetRouterAuthMode switches a router between local users
// (protocol.AuthLocal) and its agent's RADIUS (protocol.AuthRadius); the
// answer holds the router and the commands that remove or re-add its local
// users. Tenant admins only (EFORBIDDEN otherwise).
func (c *Client) SetRouterAuthMode(ctx context.Context, routerID, mode string) (controlplane.RouterChange, error) {
	var res controlplane.RouterChange
	err := c.Do(ctx, http.MethodPatch, "/api/v1/routers/"+url.PathEscape(routerID), controlplane.RouterPatch{AuthMode: &mode}, &res)
	return res, err
}

// RouterRadius reads a router's authentication mode and RADIUS sync
// status.
func (c *Client) RouterRadius(ctx context.Context, routerID string) (controlplane.RouterRadius, error) {
	var res controlplane.RouterRadius
	err := c.Do(ctx, http.MethodGet, "/api/v1/routers/"+url.PathEscape(routerID)+"/radius", nil, &res)
	return res, err
}
