package controlplane

import "time"

// Webhook delivery statuses.
const (
	DeliveryPending   = "pending"   // waiting for its first or next attempt
	DeliverySucceeded = "succeeded" // a 2xx answer was received; never sent again
	DeliveryFailed    = "failed"    // the last attempt failed; another is scheduled
	DeliveryDead      = "dead"      // retried for the whole retry window; given up
)

// WebhookEndpoint is a tenant's HTTPS receiver of outgoing webhooks. Its
// signing secret is never part of it: it is stored sealed and shown once.
type WebhookEndpoint struct {
	ID          int64    `json:"id"`
	TenantID    int64    `json:"tenant_id"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"` // Pusher event names subscribed; see webhooks.EventTypes
	Enabled     bool     `json:"enabled"`
	// DisabledReason says why an endpoint is disabled ("" when enabled or
	// disabled by a user without a reason).
	DisabledReason string `json:"disabled_reason"`
	// FailingSince is when the endpoint's deliveries started failing in a
	// row (nil while the last one succeeded).
	FailingSince *time.Time `json:"failing_since"`
	// ConsecutiveDead counts dead deliveries since the last success.
	ConsecutiveDead int       `json:"consecutive_dead"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Subscribes reports whether e receives events named event.
func (e WebhookEndpoint) Subscribes(event string) bool {
	for _, t := range e.EventTypes {
		if t == event || t == "*" {
			return true
		}
	}
	return false
}

// WebhookDelivery is one event to send to one endpoint. (EndpointID,
// EventID) is unique: the same event never makes two deliveries.
type WebhookDelivery struct {
	ID          int64      `json:"id"`
	TenantID    int64      `json:"tenant_id"`
	EndpointID  int64      `json:"endpoint_id"`
	Event       string     `json:"event"`    // Pusher event name, e.g. "PaymentCompleted"
	EventID     string     `json:"event_id"` // deterministic where the change allows
	Payload     string     `json:"payload"`  // the JSON body sent, {id, type, created_at, tenant_id, data}
	Status      string     `json:"status"`   // Delivery…
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"next_attempt_at"`
	LastStatus  int        `json:"last_status_code"` // 0: no HTTP answer
	LastError   string     `json:"last_error"`
	// LastDurationMS is the response time of the last attempt.
	LastDurationMS int64                    `json:"last_duration_ms"`
	CreatedAt      time.Time                `json:"created_at"`
	UpdatedAt      time.Time                `json:"updated_at"`
	AttemptLog     []WebhookDeliveryAttempt `json:"attempt_log,omitempty"`
}

// WebhookDeliveryAttempt is one logged HTTP attempt of a delivery.
type WebhookDeliveryAttempt struct {
	ID         int64     `json:"id"`
	DeliveryID int64     `json:"delivery_id"`
	StatusCode int       `json:"status_code"` // 0: no HTTP answer
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error"`
	Response   string    `json:"response"` // the body's first 1 KiB
	At         time.Time `json:"at"`
}

// WebhookEndpointChanged announces an endpoint created, updated, disabled
// (by a user or for failing) or deleted.
type WebhookEndpointChanged struct {
	Endpoint WebhookEndpoint
	Deleted  bool
}

// ChangeTenant implements Change.
func (c WebhookEndpointChanged) ChangeTenant() int64 { return c.Endpoint.TenantID }

// WebhookEndpointRequest registers an endpoint (POST /api/v1/webhooks).
type WebhookEndpointRequest struct {
	TenantID    int64    `json:"tenant_id,omitempty"` // system admins name the tenant
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"` // "*" subscribes to every event
}

// WebhookEndpointPatch changes an endpoint (PATCH /api/v1/webhooks/{id});
// nil fields stay. Enabling clears the failure counters and the reason.
type WebhookEndpointPatch struct {
	URL            *string   `json:"url,omitempty"`
	Description    *string   `json:"description,omitempty"`
	EventTypes     *[]string `json:"event_types,omitempty"`
	Enabled        *bool     `json:"enabled,omitempty"`
	DisabledReason *string   `json:"disabled_reason,omitempty"`
}

// WebhookEndpointCreated answers a registration: the endpoint and its
// signing secret, shown only here and on rotation.
type WebhookEndpointCreated struct {
	Endpoint WebhookEndpoint `json:"endpoint"`
	Secret   string          `json:"secret"`
}

// WebhookSecret is a rotated signing secret, shown once.
type WebhookSecret struct {
	Secret string `json:"secret"`
}

// WebhookDeliveryPage is a page of an endpoint's deliveries, newest
// first, each with its attempts.
type WebhookDeliveryPage struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
	Total      int               `json:"total"`
}
