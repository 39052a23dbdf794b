package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

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

func audit(tx *store.Tx, ctx context.Context, p controlplane.Principal, tenant int64, action string, id int64, detail string) error {
	return tx.Audit(ctx, controlplane.AuditEntry{TenantID: tenant, ActorID: p.UserID, Actor: p.Email, Action: action,
		Target: "webhook:" + strconv.FormatInt(id, 10), Result: "ok", Detail: detail})
}

// CreateEndpoint registers an endpoint and returns it with its signing
// secret, which is shown only now (and on RotateSecret). EINVALID for a
// refused URL (not https, or not a public address) or unknown event types;
// EFORBIDDEN below tenant admin.
func (s *Service) CreateEndpoint(ctx context.Context, p controlplane.Principal, in controlplane.WebhookEndpointRequest) (controlplane.WebhookEndpoint, string, error) {
	if err := needManage(p, "manage webhooks"); err != nil {
		return controlplane.WebhookEndpoint{}, "", err
	}
	tenant, err := tenantOf(p, in.TenantID)
	if err != nil {
		return controlplane.WebhookEndpoint{}, "", err
	}
	in.URL = strings.TrimSpace(in.URL)
	if err := checkURL(ctx, in.URL, s.o.AllowPrivate, s.o.Resolver); err != nil {
		return controlplane.WebhookEndpoint{}, "", err
	}
	types, err := validTypes(in.EventTypes)
	if err != nil {
		return controlplane.WebhookEndpoint{}, "", err
	}
	if len(in.Description) > 500 {
		return controlplane.WebhookEndpoint{}, "", controlplane.Errorf(controlplane.EINVALID, "description: at most 500 characters")
	}
	secret := newSecret()
	sealed, err := s.o.Sealer.Seal([]byte(secret), secretAAD(tenant))
	if err != nil {
		return controlplane.WebhookEndpoint{}, "", err
	}
	var ep controlplane.WebhookEndpoint
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		ep, err = tx.InsertWebhookEndpoint(ctx, controlplane.WebhookEndpoint{TenantID: tenant, URL: in.URL,
			Description: in.Description, EventTypes: types, Enabled: true}, sealed)
		if err != nil {
			return err
		}
		return audit(tx, ctx, p, tenant, "webhook.create", ep.ID, ep.URL)
	})
	if err != nil {
		return controlplane.WebhookEndpoint{}, "", err
	}
	s.bus.Publish(controlplane.WebhookEndpointChanged{Endpoint: ep})
	return ep, secret, nil
}

// Endpoints lists the tenant's endpoints (never their secrets).
func (s *Service) Endpoints(ctx context.Context, p controlplane.Principal, tenant int64) ([]controlplane.WebhookEndpoint, error) {
	tenant, err := tenantOf(p, tenant)
	if err != nil {
		return nil, err
	}
	var out []controlplane.WebhookEndpoint
	err = s.st.ReadTx(ctx, func(tx *store.Tx) error {
		out, err = tx.WebhookEndpoints(ctx, tenant)
		return err
	})
	return out, err
}

// scope is the tenant a principal's lookups are limited to (0: all).
func scope(p controlplane.Principal) int64 {
	if p.IsSystemAdmin() {
		return 0
	}
	return p.TenantID
}

// Endpoint returns one endpoint. ENOTFOUND outside the principal's tenant.
func (s *Service) Endpoint(ctx context.Context, p controlplane.Principal, id int64) (controlplane.WebhookEndpoint, error) {
	var ep controlplane.WebhookEndpoint
	err := s.st.ReadTx(ctx, func(tx *store.Tx) error {
		var err error
		ep, _, err = tx.WebhookEndpoint(ctx, scope(p), id)
		return err
	})
	return ep, err
}

// UpdateEndpoint applies patch. EINVALID for a refused URL or event type.
func (s *Service) UpdateEndpoint(ctx context.Context, p controlplane.Principal, id int64, patch controlplane.WebhookEndpointPatch) (controlplane.WebhookEndpoint, error) {
	if err := needManage(p, "manage webhooks"); err != nil {
		return controlplane.WebhookEndpoint{}, err
	}
	if patch.URL != nil {
		u := strings.TrimSpace(*patch.URL)
		if err := checkURL(ctx, u, s.o.AllowPrivate, s.o.Resolver); err != nil {
			return controlplane.WebhookEndpoint{}, err
		}
		patch.URL = &u
	}
	var ep controlplane.WebhookEndpoint
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if ep, _, err = tx.WebhookEndpoint(ctx, scope(p), id); err != nil {
			return err
		}
		if patch.URL != nil {
			ep.URL = *patch.URL
		}
		if patch.Description != nil {
			ep.Description = *patch.Description
		}
		if patch.EventTypes != nil {
			if ep.EventTypes, err = validTypes(*patch.EventTypes); err != nil {
				return err
			}
		}
		if patch.Enabled != nil {
			if *patch.Enabled && !ep.Enabled {
				ep.FailingSince, ep.ConsecutiveDead, ep.DisabledReason = nil, 0, ""
			}
			ep.Enabled = *patch.Enabled
			if !ep.Enabled {
				ep.DisabledReason = "disabled by " + p.Email
			}
		}
		if patch.DisabledReason != nil && !ep.Enabled {
			ep.DisabledReason = *patch.DisabledReason
		}
		if ep, err = tx.UpdateWebhookEndpoint(ctx, ep); err != nil {
			return err
		}
		return audit(tx, ctx, p, ep.TenantID, "webhook.update", ep.ID, "enabled="+strconv.FormatBool(ep.Enabled))
	})
	if err != nil {
		return controlplane.WebhookEndpoint{}, err
	}
	s.bus.Publish(controlplane.WebhookEndpointChanged{Endpoint: ep})
	return ep, nil
}

// DeleteEndpoint deletes an endpoint and its deliveries.
func (s *Service) DeleteEndpoint(ctx context.Context, p controlplane.Principal, id int64) error {
	if err := needManage(p, "manage webhooks"); err != nil {
		return err
	}
	var ep controlplane.WebhookEndpoint
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if ep, _, err = tx.WebhookEndpoint(ctx, scope(p), id); err != nil {
			return err
		}
		if err := tx.DeleteWebhookEndpoint(ctx, 0, id); err != nil {
			return err
		}
		return audit(tx, ctx, p, ep.TenantID, "webhook.delete", id, ep.URL)
	})
	if err != nil {
		return err
	}
	s.bus.Publish(controlplane.WebhookEndpointChanged{Endpoint: ep, Deleted: true})
	return nil
}

// RotateSecret replaces an endpoint's secret and returns the new one,
// shown only now.
func (s *Service) RotateSecret(ctx context.Context, p controlplane.Principal, id int64) (string, error) {
	if err := needManage(p, "manage webhooks"); err != nil {
		return "", err
	}
	secret := newSecret()
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		ep, _, err := tx.WebhookEndpoint(ctx, scope(p), id)
		if err != nil {
			return err
		}
		sealed, err := s.o.Sealer.Seal([]byte(secret), secretAAD(ep.TenantID))
		if err != nil {
			return err
		}
		if err := tx.SetWebhookSecret(ctx, id, sealed); err != nil {
			return err
		}
		return audit(tx, ctx, p, ep.TenantID, "webhook.rotate_secret", id, "")
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Test queues a ping delivery to an endpoint (enabled or not) and returns
// it; it is sent like any other.
func (s *Service) Test(ctx context.Context, p controlplane.Principal, id int64) (controlplane.WebhookDelivery, error) {
	if err := needManage(p, "test webhooks"); err != nil {
		return controlplane.WebhookDelivery{}, err
	}
	ep, err := s.Endpoint(ctx, p, id)
	if err != nil {
		return controlplane.WebhookDelivery{}, err
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	eid := "evt_ping_" + hex.EncodeToString(b)
	if _, err := s.insertDeliveries(ctx, ep.TenantID, []controlplane.WebhookEndpoint{ep}, EventPing, eid,
		map[string]any{"endpoint_id": ep.ID, "message": "SitePulse webhook test"}); err != nil {
		return controlplane.WebhookDelivery{}, err
	}
	var d controlplane.WebhookDelivery
	err = s.st.ReadTx(ctx, func(tx *store.Tx) error {
		list, _, err := tx.WebhookDeliveries(ctx, ep.TenantID, ep.ID, 0, 1)
		if err == nil && len(list) > 0 {
			d = list[0]
		}
		return err
	})
	return d, err
}

// Deliveries returns a page of an endpoint's deliveries, newest first,
// each with its attempts: those with ids below before (0: the newest).
func (s *Service) Deliveries(ctx context.Context, p controlplane.Principal, id, before int64, limit int) ([]controlplane.WebhookDelivery, int, error) {
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	var out []controlplane.WebhookDelivery
	var total int
	err := s.st.ReadTx(ctx, func(tx *store.Tx) error {
		ep, _, err := tx.WebhookEndpoint(ctx, scope(p), id)
		if err != nil {
			return err
		}
		out, total, err = tx.WebhookDeliveries(ctx, ep.TenantID, ep.ID, before, limit)
		return err
	})
	return out, total, err
}

// Replay queues a new attempt of a delivery, whatever its status, and
// returns it as it is now (pending).
func (s *Service) Replay(ctx context.Context, p controlplane.Principal, endpoint, id int64) (controlplane.WebhookDelivery, error) {
	if err := needManage(p, "replay webhooks"); err != nil {
		return controlplane.WebhookDelivery{}, err
	}
	var d controlplane.WebhookDelivery
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if d, err = tx.WebhookDelivery(ctx, scope(p), id); err != nil {
			return err
		}
		if d.EndpointID != endpoint {
			return controlplane.Errorf(controlplane.ENOTFOUND, "webhook delivery %d not found", id)
		}
		now := tx.Now()
		d.Status, d.NextAttempt = controlplane.DeliveryPending, &now
		if err := tx.UpdateWebhookDelivery(ctx, d); err != nil {
			return err
		}
		if err := s.jobs.InsertJobsTx(ctx, tx, deliverArgs{DeliveryID: d.ID, Attempt: d.Attempts}); err != nil {
			return err
		}
		return audit(tx, ctx, p, d.TenantID, "webhook.replay", endpoint, "delivery "+strconv.FormatInt(id, 10))
	})
	return d, err
}

// Body decodes a delivery's payload.
func Body(d controlplane.WebhookDelivery) (Event, error) {
	var e Event
	err := json.Unmarshal([]byte(d.Payload), &e)
	return e, err
}
