package controlplane

import (
	"strconv"
	"time"
)

// NotificationKind names what a notification says; each has a template
// per language and can be turned off per tenant.
type NotificationKind string

// Notification kinds.
const (
	NotifyWelcome         NotificationKind = "welcome"          // a new tenant's first admin
	NotifyUserInvited     NotificationKind = "user_invited"     // a dashboard user added to a tenant
	NotifyPaymentReceipt  NotificationKind = "payment_receipt"  // the customer, with the M-Pesa receipt
	NotifyCredentials     NotificationKind = "credentials"      // the customer's login, on first purchase
	NotifyExpiryReminder  NotificationKind = "expiry_reminder"  // before a subscription ends
	NotifyExpired         NotificationKind = "expired"          // a subscription ended
	NotifyReconnected     NotificationKind = "reconnected"      // an expired subscription is back
	NotifyRouterOffline   NotificationKind = "router_offline"   // tenant admins, once per outage
	NotifyRouterRecovered NotificationKind = "router_recovered" // tenant admins, when an alerted outage ends
	NotifyPaymentFlagged  NotificationKind = "payment_flagged"  // tenant admins: money that activated nothing
	NotifyLockout         NotificationKind = "login_lockout"    // a dashboard user whose account was locked
	NotifyWebhookDisabled NotificationKind = "webhook_disabled" // tenant admins: an endpoint kept failing
)

// NotificationKinds lists every kind, in the order settings show them.
var NotificationKinds = []NotificationKind{NotifyWelcome, NotifyUserInvited, NotifyPaymentReceipt, NotifyCredentials,
	NotifyExpiryReminder, NotifyExpired, NotifyReconnected, NotifyRouterOffline, NotifyRouterRecovered,
	NotifyPaymentFlagged, NotifyLockout, NotifyWebhookDisabled}

// NotificationChannel is how a notification travels.
type NotificationChannel string

// Channels.
const (
	ChannelEmail    NotificationChannel = "email"
	ChannelSMS      NotificationChannel = "sms"
	ChannelTelegram NotificationChannel = "telegram"
)

// NotificationStatus is where a notification is.
type NotificationStatus string

// Statuses. A notification is queued, then sending while one attempt holds
// it, then sent (delivered or undelivered once the SMS gateway reports),
// failed after its last attempt, skipped when nothing could carry it (no
// SMS gateway configured, say), or unknown when an attempt ended without
// knowing whether the provider took it (a crash between send and commit, a
// timeout after the request went out): it is not retried on its own, so a
// customer never gets two receipts; the dashboard's resend sends it again.
const (
	NotificationQueued      NotificationStatus = "queued"
	NotificationSending     NotificationStatus = "sending"
	NotificationSent        NotificationStatus = "sent"
	NotificationDelivered   NotificationStatus = "delivered"
	NotificationUndelivered NotificationStatus = "undelivered"
	NotificationFailed      NotificationStatus = "failed"
	NotificationSkipped     NotificationStatus = "skipped"
	NotificationUnknown     NotificationStatus = "unknown"
)

// Notification is one message to one recipient over one channel: an
// outbox row written in the transaction of the change that caused it,
// unique per (Event, Recipient, Channel).
type Notification struct {
	ID       int64               `json:"id"`
	TenantID int64               `json:"tenant_id"` // 0: the system's (a system admin's lockout)
	Kind     NotificationKind    `json:"kind"`
	Channel  NotificationChannel `json:"channel"`
	// Recipient is an email address, an E.164 phone or a Telegram chat id;
	// masked in broadcasts.
	Recipient string `json:"recipient"`
	Language  string `json:"language"`
	// Event names the occurrence that caused it ("payment:42"), so the
	// same occurrence never notifies the same recipient twice.
	Event      string             `json:"event"`
	Status     NotificationStatus `json:"status"`
	Attempts   int                `json:"attempts"`
	LastError  string             `json:"last_error,omitempty"`
	ProviderID string             `json:"provider_id,omitempty"` // the gateway's message id
	Resends    int                `json:"resends"`
	CreatedAt  time.Time          `json:"created_at"`
	UpdatedAt  time.Time          `json:"updated_at"`
	SentAt     *time.Time         `json:"sent_at,omitempty"`
}

// Audience is who a notification event is for; the notification service
// turns it into recipients and channels from the tenant's settings.
type Audience struct {
	Phone  string // a customer's phone: SMS
	Email  string // a user's or customer's address: email
	Admins bool   // the tenant's admins: email, and Telegram when set up
}

// NotificationEvent asks for the notifications of one occurrence.
type NotificationEvent struct {
	TenantID int64
	Kind     NotificationKind
	// Event names the occurrence, unique per kind of cause
	// ("payment:42", "subscription:7:remind:3600:1765000000").
	Event string
	To    Audience
	// Data fills the templates; it is sealed at rest (it may hold a
	// customer's password).
	Data map[string]string
}

// NotificationFilter selects notifications (GET /api/v1/notifications).
type NotificationFilter struct {
	Status  NotificationStatus
	Channel NotificationChannel
	Kind    NotificationKind
	Before  int64 // id cursor; 0 = newest
	Limit   int
}

// NotificationSettings are a tenant's notification settings as the API
// shows them: secrets only as whether they are set.
type NotificationSettings struct {
	TenantID int64  `json:"tenant_id"`
	Language string `json:"language"` // en or sw
	// Disabled lists the kinds the tenant turned off.
	Disabled []NotificationKind `json:"disabled"`
	// ReminderOffsets are how long before a subscription ends reminders
	// go, in seconds (default 24 h and 1 h).
	ReminderOffsets []int64 `json:"reminder_offsets"`
	// RouterOfflineAfter is how long a router is down before its alert,
	// in seconds; RouterRecoveredAfter how long it must stay up before
	// the outage ends (a flapping site sends one alert, not one per flap).
	RouterOfflineAfter   int64 `json:"router_offline_after"`
	RouterRecoveredAfter int64 `json:"router_recovered_after"`
	// Email: the tenant's own SMTP server (smtp:// or smtps:// URL, write
	// only) and From; without one, the system's server sends.
	SMTPSet  bool   `json:"smtp_set"`
	MailFrom string `json:"mail_from,omitempty"`
	// SMS through Africa's Talking.
	SMSUsername  string `json:"sms_username,omitempty"`
	SMSAPIKeySet bool   `json:"sms_api_key_set"`
	SMSSenderID  string `json:"sms_sender_id,omitempty"`
	// SMSReportURL is where to point the gateway's delivery reports.
	SMSReportURL string `json:"sms_report_url,omitempty"`
	// Telegram: a bot token (write only) and the admins' chat ids.
	TelegramTokenSet bool      `json:"telegram_token_set"`
	TelegramChats    []string  `json:"telegram_chats"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// NotificationSettingsPatch changes them (PUT
// /api/v1/notifications/settings); nil fields stay, a secret set to ""
// is cleared.
type NotificationSettingsPatch struct {
	TenantID             int64               `json:"tenant_id,omitempty"` // system admins only
	Language             *string             `json:"language,omitempty"`
	Disabled             *[]NotificationKind `json:"disabled,omitempty"`
	ReminderOffsets      *[]int64            `json:"reminder_offsets,omitempty"`
	RouterOfflineAfter   *int64              `json:"router_offline_after,omitempty"`
	RouterRecoveredAfter *int64              `json:"router_recovered_after,omitempty"`
	SMTPURL              *string             `json:"smtp_url,omitempty"`
	MailFrom             *string             `json:"mail_from,omitempty"`
	SMSUsername          *string             `json:"sms_username,omitempty"`
	SMSAPIKey            *string             `json:"sms_api_key,omitempty"`
	SMSSenderID          *string             `json:"sms_sender_id,omitempty"`
	TelegramToken        *string             `json:"telegram_token,omitempty"`
	TelegramChats        *[]string           `json:"telegram_chats,omitempty"`
}

// NotificationChanged is a notification that was queued or changed
// status.
type NotificationChanged struct{ Notification Notification }

// ChangeTenant implements Change.
func (c NotificationChanged) ChangeTenant() int64 { return c.Notification.TenantID }

// LocalTime formats t for a message in the IANA zone tz (UTC when tz is
// unknown): "2026-12-07 18:30 EAT".
func LocalTime(t time.Time, tz string) string {
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// HumanDuration says d for a message: "45 minutes", "2 hours", "3 days".
func HumanDuration(d time.Duration) string {
	unit := func(n int64, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + many
	}
	switch {
	case d >= 48*time.Hour:
		return unit(int64(d/(24*time.Hour)), "day", "days")
	case d >= 2*time.Hour:
		return unit(int64(d/time.Hour), "hour", "hours")
	case d >= time.Hour:
		return "1 hour"
	case d >= time.Minute:
		return unit(int64(d/time.Minute), "minute", "minutes")
	}
	return unit(int64(d/time.Second), "second", "seconds")
}

// NotificationPage is a page of GET /api/v1/notifications, newest first;
// NextBefore, when set, is the before= of the next (older) page.
type NotificationPage struct {
	Data       []Notification `json:"data"`
	NextBefore int64          `json:"next_before,omitempty"`
}
