package client

import (
	"context"
	"net/http"

	"github.com/sitepulse/sitepulse/controlplane"
)

// PortalSettings reads a tenant's captive portal settings (0: the
// caller's; tenant admins).
func (c *Client) PortalSettings(ctx context.Context, tenantID int64) (controlplane.PortalSettings, error) {
	var res controlplane.PortalSettings
	err := c.Do(ctx, http.MethodGet, "/api/v1/portal/settings"+query("tenant_id", id(tenantID)), nil, &res)
	return res, err
}

// UpdatePortalSettings changes the fields patch sets (tenant admins);
// patch.TenantID names another tenant for system admins.
func (c *Client) UpdatePortalSettings(ctx context.Context, patch controlplane.PortalSettingsPatch) (controlplane.PortalSettings, error) {
	var res controlplane.PortalSettings
	err := c.Do(ctx, http.MethodPut, "/api/v1/portal/settings", patch, &res)
	return res, err
}
