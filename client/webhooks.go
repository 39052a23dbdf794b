package client

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
)

// WebhookEventTypes lists the subscribable event names.
func (c *Client) WebhookEventTypes(ctx context.Context) ([]string, error) {
	var res struct {
		EventTypes []string `json:"event_types"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/webhooks/event-types", nil, &res)
	return res.EventTypes, err
}

// Webhooks lists a tenant's webhook endpoints; tenant 0 means the
// caller's.
func (c *Client) Webhooks(ctx context.Context, tenantID int64) ([]controlplane.WebhookEndpoint, error) {
	var res struct {
		Webhooks []controlplane.WebhookEndpoint `json:"webhooks"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/v1/webhooks"+query("tenant_id", id(tenantID)), nil, &res)
	return res.Webhooks, err
}

// CreateWebhook registers an endpoint; the answer holds its signing
// secret, which the API shows only this once.
func (c *Client) CreateWebhook(ctx context.Context, req controlplane.WebhookEndpointRequest) (controlplane.WebhookEndpointCreated, error) {
	var res controlplane.WebhookEndpointCreated
	err := c.Do(ctx, http.MethodPost, "/api/v1/webhooks", req, &res)
	return res, err
}

// Webhook reads one endpoint.
func (c *Client) Webhook(ctx context.Context, endpointID int64) (controlplane.WebhookEndpoint, error) {
	var res controlplane.WebhookEndpoint
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/webhooks/%d", endpointID), nil, &res)
	return res, err
}

// UpdateWebhook changes, enables or disables an endpoint.
func (c *Client) UpdateWebhook(ctx context.Context, endpointID int64, patch controlplane.WebhookEndpointPatch) (controlplane.WebhookEndpoint, error) {
	var res controlplane.WebhookEndpoint
	err := c.Do(ctx, http.MethodPatch, fmt.Sprintf("/api/v1/webhooks/%d", endpointID), patch, &res)
	return res, err
}

// DeleteWebhook deletes an endpoint and its deliveries.
func (c *Client) DeleteWebhook(ctx context.Context, endpointID int64) error {
	return c.Do(ctx, http.MethodDelete, fmt.Sprintf("/api/v1/webhooks/%d", endpointID), nil, nil)
}

// RotateWebhookSecret replaces an endpoint's secret and returns the new
// one, shown only now.
func (c *Client) RotateWebhookSecret(ctx context.Context, endpointID int64) (string, error) {
	var res controlplane.WebhookSecret
	err := c.Do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/rotate-secret", endpointID), nil, &res)
	return res.Secret, err
}

// TestWebhook queues a ping delivery to an endpoint.
func (c *Client) TestWebhook(ctx context.Context, endpointID int64) (controlplane.WebhookDelivery, error) {
	var res controlplane.WebhookDelivery
	err := c.Do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", endpointID), nil, &res)
	return res, err
}

// WebhookDeliveries reads a page of an endpoint's deliveries, newest
// first, with their attempts: those with ids below before (0: the newest).
func (c *Client) WebhookDeliveries(ctx context.Context, endpointID, before int64, limit int) (controlplane.WebhookDeliveryPage, error) {
	var res controlplane.WebhookDeliveryPage
	q := query("before", id(before), "limit", id(int64(limit)))
	err := c.Do(ctx, http.MethodGet, "/api/v1/webhooks/"+strconv.FormatInt(endpointID, 10)+"/deliveries"+q, nil, &res)
	return res, err
}

// ReplayWebhookDelivery queues a new attempt of a delivery.
func (c *Client) ReplayWebhookDelivery(ctx context.Context, endpointID, deliveryID int64) (controlplane.WebhookDelivery, error) {
	var res controlplane.WebhookDelivery
	err := c.Do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d/replay", endpointID, deliveryID), nil, &res)
	return res, err
}
