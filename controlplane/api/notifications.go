package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Notifications is the notification outbox (*notify.Service): the API
// creates users through it (their welcome or invitation email), lists
// and resends notifications, edits their settings and takes the SMS
// gateway's delivery reports.
type Notifications interface {
	// CreateUser creates u as Store.CreateUser does and queues its
	// welcome or invitation email with it.
	CreateUser(ctx context.Context, by controlplane.Principal, u controlplane.User, password string) (controlplane.User, error)
	List(ctx context.Context, p controlplane.Principal, tenant int64, f controlplane.NotificationFilter) ([]controlplane.Notification, bool, error)
	Resend(ctx context.Context, p controlplane.Principal, id int64) (controlplane.Notification, error)
	Settings(ctx context.Context, p controlplane.Principal, tenant int64) (controlplane.NotificationSettings, error)
	UpdateSettings(ctx context.Context, p controlplane.Principal, patch controlplane.NotificationSettingsPatch) (controlplane.NotificationSettings, error)
	SMSReport(ctx context.Context, h controlplane.ProviderHook) (controlplane.HookReply, error)
}

func (s *Server) notifier() (Notifications, error) {
	if s.opts.Notifications == nil {
		return nil, controlplane.Errorf(controlplane.EUNAVAILABLE, "notifications are not running on this server")
	}
	return s.opts.Notifications, nil
}

func (s *Server) handleListNotifications(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	tenant, err := listScope(r, p)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := controlplane.NotificationFilter{Status: controlplane.NotificationStatus(q.Get("status")),
		Channel: controlplane.NotificationChannel(q.Get("channel")), Kind: controlplane.NotificationKind(q.Get("kind"))}
	if v := q.Get("before"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil || f.Before <= 0 {
			return invalid("before", "must be a positive integer")
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 500 {
			return invalid("limit", "must be 1 to 500")
		}
	}
	list, more, err := n.List(r.Context(), p, tenant, f)
	if err != nil {
		return err
	}
	page := controlplane.NotificationPage{Data: nonNil(list)}
	if more && len(list) > 0 {
		page.NextBefore = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) handleResendNotification(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	if err := requireManage(p); err != nil {
		return err
	}
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	out, err := n.Resend(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

func (s *Server) handleGetNotificationSettings(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	tenant, err := listScope(r, p)
	if err != nil {
		return err
	}
	st, err := n.Settings(r.Context(), p, tenant)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) handleUpdateNotificationSettings(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	if err := requireManage(p); err != nil {
		return err
	}
	var patch controlplane.NotificationSettingsPatch
	if err := s.decodeJSON(w, r, &patch); err != nil {
		return err
	}
	st, err := n.UpdateSettings(r.Context(), p, patch)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
	return nil
}

// handleSMSReport takes the SMS gateway's delivery reports at
// /api/v1/hooks/sms/{tenant}/{token}.
func (s *Server) handleSMSReport(w http.ResponseWriter, r *http.Request) error {
	n, err := s.notifier()
	if err != nil {
		return err
	}
	h := controlplane.ProviderHook{Token: r.PathValue("token"), RemoteAddr: peerIP(r.RemoteAddr)}
	if h.TenantID, err = pathInt(r, "tenant"); err != nil {
		return err
	}
	if h.Body, err = readHookBody(w, r); err != nil {
		return err
	}
	reply, err := n.SMSReport(r.Context(), h)
	if err != nil {
		return err
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(reply.Body)
	return nil
}

// createUser creates u with password: through the notification service
// when it runs, which queues the welcome email (a tenant's first admin) or
// the invitation (anyone else) in the same transaction.
func (s *Server) createUser(ctx context.Context, by controlplane.Principal, u controlplane.User, password string) (controlplane.User, error) {
	if s.opts.Notifications == nil {
		return s.store.CreateUser(ctx, u, password)
	}
	return s.opts.Notifications.CreateUser(ctx, by, u, password)
}
