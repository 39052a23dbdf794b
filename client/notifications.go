package client

import (
	"context"
	"net/http"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Notifications lists the tenant's notifications, newest first (tenant 0:
// the caller's scope); f.Before pages back.
func (c *Client) Notifications(ctx context.Context, tenantID int64, f controlplane.NotificationFilter) (controlplane.NotificationPage, error) {
	var res controlplane.NotificationPage
	q := query("tenant_id", id(tenantID), "status", string(f.Status), "channel", string(f.Channel), "kind", string(f.Kind),
		"before", id(f.Before), "limit", id(int64(f.Limit)))
	err := c.Do(ctx, http.MethodGet, "/api/v1/notifications"+q, nil, &res)
	return res, err
}

// ResendNotification queues notification id again (tenant admins).
func (c *Client) ResendNotification(ctx context.Context, nid int64) (controlplane.Notification, error) {
	var res controlplane.Notification
	err := c.Do(ctx, http.MethodPost, "/api/v1/notifications/"+strconv.FormatInt(nid, 10)+"/resend", nil, &res)
	return res, err
}

// NotificationSettings reads the tenant's notification settings.
func (c *Client) NotificationSettings(ctx context.Context, tenantID int64) (controlplane.NotificationSettings, error) {
	var res controlplane.NotificationSettings
	err := c.Do(ctx, http.MethodGet, "/api/v1/notifications/settings"+query("tenant_id", id(tenantID)), nil, &res)
	return res, err
}

// UpdateNotificationSettings changes the fields patch sets (tenant
// admins); patch.TenantID names another tenant for system admins.
func (c *Client) UpdateNotificationSettings(ctx context.Context, patch controlplane.NotificationSettingsPatch) (controlplane.NotificationSettings, error) {
	var res controlplane.NotificationSettings
	err := c.Do(ctx, http.MethodPut, "/api/v1/notifications/settings", patch, &res)
	return res, err
}
