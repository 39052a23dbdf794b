package fanout

import (
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// EventNotificationUpdated is a notification queued, being sent, sent or
// failed, on private-tenant.{t}.notifications (recipient masked).
const EventNotificationUpdated = "NotificationUpdated"

// TopicNotifications is the notifications channel topic.
const TopicNotifications = "notifications"

// notificationView is a notification as broadcast: its recipient masked
// (an email, a phone, or a Telegram chat id, masked as a phone is).
type notificationView struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	Channel   string     `json:"channel"`
	Recipient string     `json:"recipient"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
	Resends   int        `json:"resends"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

func newNotificationView(n controlplane.Notification) notificationView {
	r := MaskPhone(n.Recipient)
	if strings.Contains(n.Recipient, "@") {
		r = MaskEmail(n.Recipient)
	}
	return notificationView{ID: n.ID, Kind: string(n.Kind), Channel: string(n.Channel), Recipient: r, Status: string(n.Status),
		Attempts: n.Attempts, LastError: n.LastError, Resends: n.Resends, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, SentAt: n.SentAt}
}

// applyNotifications publishes a notification change; false for a change
// that is not one. The system's own (tenant 0) are not broadcast.
func (f *Fanout) applyNotifications(c controlplane.Change) bool {
	nc, ok := c.(controlplane.NotificationChanged)
	if !ok {
		return false
	}
	if n := nc.Notification; n.TenantID != 0 {
		f.publish(TenantChannel(n.TenantID, TopicNotifications), EventNotificationUpdated,
			map[string]any{"notification": newNotificationView(n)})
	}
	return true
}
