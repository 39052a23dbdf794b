package notify

import (
	"context"
	"fmt"

	"github.com/sitepulse/sitepulse/controlplane"
)

// EndpointDisabled tells the tenant's admins that a webhook endpoint was
// disabled for failing (webhooks' Notifier), once per disabling.
func (s *Service) EndpointDisabled(ctx context.Context, tenantID int64, e controlplane.WebhookEndpoint) error {
	reason := e.DisabledReason
	if reason == "" {
		reason = "deliveries kept failing"
	}
	return s.Notify(ctx, controlplane.NotificationEvent{TenantID: tenantID, Kind: controlplane.NotifyWebhookDisabled,
		Event: fmt.Sprintf("webhook:%d:disabled:%d", e.ID, e.UpdatedAt.UnixNano()), To: controlplane.Audience{Admins: true},
		Data: map[string]string{"url": e.URL, "reason": reason}})
}
