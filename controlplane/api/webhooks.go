package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Webhooks keeps a tenant's outgoing webhook endpoints and their
// deliveries; *webhooks.Service implements it. Mutations check the
// principal's role (EFORBIDDEN below tenant admin); every method answers
// ENOTFOUND for another tenant's ids and EINVALID naming the field (a
// refused URL: not https, or not a public address).
type Webhooks interface {
	EventTypes() []string
	CreateEndpoint(ctx context.Context, p controlplane.Principal, in controlplane.WebhookEndpointRequest) (controlplane.WebhookEndpoint, string, error)
	Endpoints(ctx context.Context, p controlplane.Principal, tenant int64) ([]controlplane.WebhookEndpoint, error)
	Endpoint(ctx context.Context, p controlplane.Principal, id int64) (controlplane.WebhookEndpoint, error)
	UpdateEndpoint(ctx context.Context, p controlplane.Principal, id int64, patch controlplane.WebhookEndpointPatch) (controlplane.WebhookEndpoint, error)
	DeleteEndpoint(ctx context.Context, p controlplane.Principal, id int64) error
	RotateSecret(ctx context.Context, p controlplane.Principal, id int64) (string, error)
	Test(ctx context.Context, p controlplane.Principal, id int64) (controlplane.WebhookDelivery, error)
	Deliveries(ctx context.Context, p controlplane.Principal, id, before int64, limit int) ([]controlplane.WebhookDelivery, int, error)
	Replay(ctx context.Context, p controlplane.Principal, endpoint, id int64) (controlplane.WebhookDelivery, error)
}

// webhookRoutes registers the webhook endpoints.
func (s *Server) webhookRoutes(authed func(method, path string, h authedFunc)) {
	authed("GET", "/api/v1/webhooks/event-types", s.handleWebhookEventTypes)
	authed("GET", "/api/v1/webhooks", s.handleListWebhooks)
	authed("POST", "/api/v1/webhooks", s.handleCreateWebhook)
	authed("GET", "/api/v1/webhooks/{id}", s.handleGetWebhook)
	authed("PATCH", "/api/v1/webhooks/{id}", s.handleUpdateWebhook)
	authed("DELETE", "/api/v1/webhooks/{id}", s.handleDeleteWebhook)
	authed("POST", "/api/v1/webhooks/{id}/rotate-secret", s.handleRotateWebhookSecret)
	authed("POST", "/api/v1/webhooks/{id}/test", s.handleTestWebhook)
	authed("GET", "/api/v1/webhooks/{id}/deliveries", s.handleListWebhookDeliveries)
	authed("POST", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay", s.handleReplayWebhookDelivery)
}

// hooks returns Options.Webhooks, or EUNAVAILABLE without one.
func (s *Server) hooks() (Webhooks, error) {
	if s.opts.Webhooks == nil {
		return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "webhooks are not running on this server")
	}
	return s.opts.Webhooks, nil
}

// hookPath returns the service and the {id} of a path.
func (s *Server) hookPath(r *http.Request) (Webhooks, int64, error) {
	h, err := s.hooks()
	if err != nil {
		return nil, 0, err
	}
	id, err := pathInt(r, "id")
	return h, id, err
}

// requireWebhookAdmin answers 403 unless p manages the tenant (like
// billing settings: viewers and technicians read).
func requireWebhookAdmin(p controlplane.Principal) error {
	if !p.CanManage() {
		return forbidden("role %s may not manage webhooks", p.Role)
	}
	return nil
}

func (s *Server) handleWebhookEventTypes(w http.ResponseWriter, _ *http.Request, _ controlplane.Principal) error {
	h, err := s.hooks()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string][]string{"event_types": h.EventTypes()})
	return nil
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	h, err := s.hooks()
	if err != nil {
		return err
	}
	tenant, err := listScope(r, p)
	if err != nil {
		return err
	}
	list, err := h.Endpoints(r.Context(), p, tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": list})
	return nil
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	h, err := s.hooks()
	if err != nil {
		return err
	}
	if err := requireWebhookAdmin(p); err != nil {
		return err
	}
	var in controlplane.WebhookEndpointRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	ep, secret, err := h.CreateEndpoint(r.Context(), p, in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/api/v1/webhooks/"+strconv.FormatInt(ep.ID, 10))
	writeJSON(w, http.StatusCreated, controlplane.WebhookEndpointCreated{Endpoint: ep, Secret: secret})
	return nil
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	h, id, err := s.hookPath(r)
	if err != nil {
		return err
	}
	ep, err := h.Endpoint(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ep)
	return nil
}

func (s *Server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	h, id, err := s.hookPath(r)
	if err != nil {
		return err
	}
	if err := requireWebhookAdmin(p); err != nil {
		return err
	}
	var patch controlplane.WebhookEndpointPatch
	if err := s.decodeJSON(w, r, &patch); err != nil {
		return err
	}
	ep, err := h.UpdateEndpoint(r.Context(), p, id, patch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ep)
	return nil
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	h, id, err := s.hookPath(r)
	if err != nil {
		return err
	}
	if err := requireWebhookAdmin(p); err != nil {
		return err
	}
	if err := h.DeleteEndpoint(r.Context(), p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleRotateWebhookSecret(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	h, id, err := s.hookPath(r)
	if err != nil {
		return err
	}
	if err := requireWebhookAdmin(p); err != nil {
		return err
	}
	secret, err := h.RotateSecret(r.Context(), p, id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, controlplane.WebhookSecret{Secret: secret})
	return nil
}

func (s *Server) handleTestWebhook(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	h, id, err := s.hookPath(r)
	if err != nil {
		return err
	}
	if err := requireWebhookAdmin(p); err != nil {
		return err
	}
	d, err := h.Test(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, d)
	return nil
}

func (s *Server) handleListWebhookDeliveries(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	h, id, err := s.hookPath(r)
	if err != nil {
		return err
	}
	limit, _, err := pageParams(r.URL.Query())
	if err != nil {
		return err
	}
	before, err := optionalID(r.URL.Query(), "before")
	if err != nil {
		return err
	}
	list, total, err := h.Deliveries(r.Context(), p, id, before, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, controlplane.WebhookDeliveryPage{Deliveries: list, Total: total})
	return nil
}

func (s *Server) handleReplayWebhookDelivery(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	h, id, err := s.hookPath(r)
	if err != nil {
		return err
	}
	if err := requireWebhookAdmin(p); err != nil {
		return err
	}
	did, err := pathInt(r, "delivery_id")
	if err != nil {
		return err
	}
	d, err := h.Replay(r.Context(), p, id, did)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, d)
	return nil
}
