package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// NotificationRow is an outbox row as stored: the notification and its
// sealed template data.
type NotificationRow struct {
	controlplane.Notification
	DataSealed string
}

const notificationColumns = `id, tenant_id, kind, channel, recipient, language, event, data_sealed, status, attempts,
	last_error, provider_id, resends, created_at, updated_at, sent_at`

func scanNotification(sc interface{ Scan(...any) error }) (NotificationRow, error) {
	var n NotificationRow
	var sent sql.NullTime
	err := sc.Scan(&n.ID, &n.TenantID, &n.Kind, &n.Channel, &n.Recipient, &n.Language, &n.Event, &n.DataSealed,
		&n.Status, &n.Attempts, &n.LastError, &n.ProviderID, &n.Resends, &n.CreatedAt, &n.UpdatedAt, &sent)
	n.CreatedAt, n.UpdatedAt, n.SentAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC(), timePtr(sent)
	return n, err
}

// QueueNotification inserts n (status, attempts and times are set here)
// unless its (tenant, event, recipient, channel) is already queued, in
// which case inserted is false and nothing changes: a cause that runs
// twice notifies once.
func (tx *Tx) QueueNotification(ctx context.Context, n NotificationRow) (out NotificationRow, inserted bool, err error) {
	if n.Status == "" {
		n.Status = controlplane.NotificationQueued
	}
	out, err = scanNotification(tx.t.queryRow(ctx, `INSERT INTO notifications (tenant_id, kind, channel, recipient, language,
		event, data_sealed, status, last_error, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
		ON CONFLICT (tenant_id, event, recipient, channel) DO NOTHING RETURNING `+notificationColumns,
		n.TenantID, string(n.Kind), string(n.Channel), n.Recipient, n.Language, n.Event, n.DataSealed, string(n.Status),
		n.LastError, tx.t.now))
	if errors.Is(err, sql.ErrNoRows) {
		return NotificationRow{}, false, nil
	}
	if err != nil {
		return NotificationRow{}, false, fmt.Errorf("queue notification: %w", err)
	}
	return out, true, nil
}

// Notification returns notification id within scope (0: any), locked
// for update when lock is set. ENOTFOUND otherwise.
func (tx *Tx) Notification(ctx context.Context, scope, id int64, lock bool) (NotificationRow, error) {
	var w where
	w.add("id = ?", id)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	q := `SELECT ` + notificationColumns + ` FROM notifications` + w.sql()
	if lock {
		q += tx.t.forUpdate()
	}
	n, err := scanNotification(tx.t.queryRow(ctx, q, w.args...))
	return n, noRows(err, "notification", id)
}

// NotificationByProvider returns, locked, the notification the gateway
// knows as providerID on channel. ENOTFOUND otherwise.
func (tx *Tx) NotificationByProvider(ctx context.Context, tenant int64, channel controlplane.NotificationChannel, providerID string) (NotificationRow, error) {
	n, err := scanNotification(tx.t.queryRow(ctx, `SELECT `+notificationColumns+` FROM notifications
		WHERE channel = $1 AND provider_id = $2 AND tenant_id = $3`+tx.t.forUpdate(), string(channel), providerID, tenant))
	return n, noRows(err, "notification", providerID)
}

// UpdateNotification stores n's status, attempts, error, provider id,
// resends and sent time, stamping updated_at.
func (tx *Tx) UpdateNotification(ctx context.Context, n NotificationRow) (NotificationRow, error) {
	out, err := scanNotification(tx.t.queryRow(ctx, `UPDATE notifications SET status = $2, attempts = $3, last_error = $4,
		provider_id = $5, resends = $6, sent_at = $7, updated_at = $8 WHERE id = $1 RETURNING `+notificationColumns,
		n.ID, string(n.Status), n.Attempts, truncate(n.LastError, 500), n.ProviderID, n.Resends, nullTime(n.SentAt), tx.t.now))
	return out, noRows(err, "notification", n.ID)
}

// ListNotifications returns scope's notifications (0: every tenant's)
// matching f, newest first, and whether more are older.
func (s *Store) ListNotifications(ctx context.Context, scope int64, f controlplane.NotificationFilter) ([]controlplane.Notification, bool, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if f.Channel != "" {
		w.add("channel = ?", string(f.Channel))
	}
	if f.Kind != "" {
		w.add("kind = ?", string(f.Kind))
	}
	if f.Before > 0 {
		w.add("id < ?", f.Before)
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := read(ctx, s, func(t *dbtx) ([]NotificationRow, error) {
		return queryAll(ctx, t, scanNotification, `SELECT `+notificationColumns+` FROM notifications`+w.sql()+
			` ORDER BY id DESC LIMIT `+strconv.Itoa(limit+1), w.args...)
	})
	if err != nil {
		return nil, false, fmt.Errorf("list notifications: %w", err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]controlplane.Notification, len(rows))
	for i, r := range rows {
		out[i] = r.Notification
	}
	return out, more, nil
}

// NotificationSettingsRow is a tenant's notification settings as stored,
// secrets sealed.
type NotificationSettingsRow struct {
	TenantID             int64
	Language             string
	Disabled             []controlplane.NotificationKind
	ReminderOffsets      []int64
	RouterOfflineAfter   int64
	RouterRecoveredAfter int64
	SealedSMTP, MailFrom string
	SMSUsername          string
	SealedSMSKey         string
	SMSSenderID          string
	SealedTelegram       string
	TelegramChats        []string
	UpdatedAt            time.Time
}

// DefaultNotificationSettings are a tenant's before it saved any: every
// kind on, in English, reminders a day and an hour before the end, a
// router alert after 5 minutes down and its end after a minute back.
func DefaultNotificationSettings(tenant int64) NotificationSettingsRow {
	return NotificationSettingsRow{TenantID: tenant, Language: "en", ReminderOffsets: []int64{86400, 3600},
		RouterOfflineAfter: 300, RouterRecoveredAfter: 60}
}

// Enabled reports whether kind is on.
func (r NotificationSettingsRow) Enabled(kind controlplane.NotificationKind) bool {
	for _, k := range r.Disabled {
		if k == kind {
			return false
		}
	}
	return true
}

const notificationSettingsColumns = `tenant_id, language, disabled, reminder_offsets, router_offline_after,
	router_recovered_after, smtp_sealed, mail_from, sms_username, sms_key_sealed, sms_sender_id, telegram_sealed,
	telegram_chats, updated_at`

func scanNotificationSettings(sc interface{ Scan(...any) error }) (NotificationSettingsRow, error) {
	var r NotificationSettingsRow
	var disabled, offsets, chats string
	err := sc.Scan(&r.TenantID, &r.Language, &disabled, &offsets, &r.RouterOfflineAfter, &r.RouterRecoveredAfter,
		&r.SealedSMTP, &r.MailFrom, &r.SMSUsername, &r.SealedSMSKey, &r.SMSSenderID, &r.SealedTelegram, &chats, &r.UpdatedAt)
	for _, k := range splitList(disabled) {
		r.Disabled = append(r.Disabled, controlplane.NotificationKind(k))
	}
	r.ReminderOffsets = []int64{}
	for _, o := range splitList(offsets) {
		if v, err := strconv.ParseInt(o, 10, 64); err == nil {
			r.ReminderOffsets = append(r.ReminderOffsets, v)
		}
	}
	r.TelegramChats = splitList(chats)
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r, err
}

func splitList(s string) []string {
	out := []string{}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// NotificationSettings returns tenant's settings, the defaults when it
// saved none.
func (tx *Tx) NotificationSettings(ctx context.Context, tenant int64) (NotificationSettingsRow, error) {
	r, err := scanNotificationSettings(tx.t.queryRow(ctx, `SELECT `+notificationSettingsColumns+
		` FROM notification_settings WHERE tenant_id = $1`, tenant))
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultNotificationSettings(tenant), nil
	}
	return r, err
}

// GetNotificationSettings is NotificationSettings outside a transaction.
func (s *Store) GetNotificationSettings(ctx context.Context, tenant int64) (NotificationSettingsRow, error) {
	return read(ctx, s, func(t *dbtx) (NotificationSettingsRow, error) {
		return (&Tx{t: t}).NotificationSettings(ctx, tenant)
	})
}

// PutNotificationSettings stores r (already validated). ENOTFOUND for an
// unknown tenant.
func (tx *Tx) PutNotificationSettings(ctx context.Context, r NotificationSettingsRow) (NotificationSettingsRow, error) {
	kinds := make([]string, len(r.Disabled))
	for i, k := range r.Disabled {
		kinds[i] = string(k)
	}
	offs := make([]string, len(r.ReminderOffsets))
	for i, o := range r.ReminderOffsets {
		offs[i] = strconv.FormatInt(o, 10)
	}
	_, err := tx.t.exec(ctx, `INSERT INTO notification_settings (`+notificationSettingsColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (tenant_id) DO UPDATE SET language = $2, disabled = $3, reminder_offsets = $4,
		router_offline_after = $5, router_recovered_after = $6, smtp_sealed = $7, mail_from = $8, sms_username = $9,
		sms_key_sealed = $10, sms_sender_id = $11, telegram_sealed = $12, telegram_chats = $13, updated_at = $14`,
		r.TenantID, r.Language, strings.Join(kinds, ","), strings.Join(offs, ","), r.RouterOfflineAfter,
		r.RouterRecoveredAfter, r.SealedSMTP, r.MailFrom, r.SMSUsername, r.SealedSMSKey, r.SMSSenderID,
		r.SealedTelegram, strings.Join(r.TelegramChats, ","), tx.t.now)
	if isForeignKeyViolation(err) {
		return NotificationSettingsRow{}, notFound("tenant", r.TenantID)
	}
	if err != nil {
		return NotificationSettingsRow{}, fmt.Errorf("put notification settings: %w", err)
	}
	return tx.NotificationSettings(ctx, r.TenantID)
}

// Admins returns the active admins of tenant (the system admins for 0),
// who get the tenant's alerts.
func (tx *Tx) Admins(ctx context.Context, tenant int64) ([]controlplane.User, error) {
	var w where
	if tenant == 0 {
		w.add("role = ?", string(controlplane.RoleSystemAdmin))
	} else {
		w.add("tenant_id = ?", tenant)
		w.add("role = ?", string(controlplane.RoleTenantAdmin))
	}
	w.add("disabled = ?", false)
	return queryAll(ctx, tx.t, scanUser, `SELECT `+userColumns+` FROM users`+w.sql()+` ORDER BY id`, w.args...)
}

// RouterOutage is a router the offline alerts watch while it is down.
type RouterOutage struct {
	RouterID  string
	TenantID  int64
	DownSince time.Time
	AlertedAt *time.Time // once the alert went
	UpSince   *time.Time // back up since, while the recovery hold runs
}

// LockRouterOutages serializes router sweeps until tx ends, so two sweeps
// (two replicas, or one overlapping the next) never both decide from what
// each read before the other's commit: a stale "still down" after the
// recovery ended the outage would open a new one and alert again.
func (tx *Tx) LockRouterOutages(ctx context.Context) error {
	return tx.t.xactLock(ctx, lockRouterSweeps)
}

// RouterOutages returns every outage being watched.
func (tx *Tx) RouterOutages(ctx context.Context) ([]RouterOutage, error) {
	return queryAll(ctx, tx.t, func(sc interface{ Scan(...any) error }) (RouterOutage, error) {
		var o RouterOutage
		var alerted, up sql.NullTime
		err := sc.Scan(&o.RouterID, &o.TenantID, &o.DownSince, &alerted, &up)
		o.DownSince, o.AlertedAt, o.UpSince = o.DownSince.UTC(), timePtr(alerted), timePtr(up)
		return o, err
	}, `SELECT router_id, tenant_id, down_since, alerted_at, up_since FROM router_outages ORDER BY router_id`)
}

// PutRouterOutage inserts or updates o.
func (tx *Tx) PutRouterOutage(ctx context.Context, o RouterOutage) error {
	_, err := tx.t.exec(ctx, `INSERT INTO router_outages (router_id, tenant_id, down_since, alerted_at, up_since)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (router_id) DO UPDATE SET down_since = $3, alerted_at = $4, up_since = $5`,
		o.RouterID, o.TenantID, o.DownSince.UTC(), nullTime(o.AlertedAt), nullTime(o.UpSince))
	return err
}

// EndRouterOutage forgets router id's outage.
func (tx *Tx) EndRouterOutage(ctx context.Context, id string) error {
	_, err := tx.t.exec(ctx, `DELETE FROM router_outages WHERE router_id = $1`, id)
	return err
}

// MarkReminder records the reminder of subscription id's period ending at
// end, offset seconds before; false when it was already recorded.
func (tx *Tx) MarkReminder(ctx context.Context, id int64, end time.Time, offset int64) (bool, error) {
	res, err := tx.t.exec(ctx, `INSERT INTO subscription_reminders (subscription_id, ends_at, offset_s) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, id, end.UTC(), offset)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SubscriptionCursor is where a page of EndingSubscriptions ended; the
// zero value starts at the beginning.
type SubscriptionCursor struct {
	EndsAt time.Time
	ID     int64
}

// EndingSubscriptions returns the active subscriptions whose period ends
// after from and no later than to, soonest first (then by id), after the
// cursor.
func (s *Store) EndingSubscriptions(ctx context.Context, from, to time.Time, after SubscriptionCursor, limit int) ([]controlplane.Subscription, error) {
	if after.EndsAt.After(from) {
		from = after.EndsAt
	} else {
		after.ID = 0
	}
	return read(ctx, s, func(t *dbtx) ([]controlplane.Subscription, error) {
		return queryAll(ctx, t, scanSubscription, `SELECT `+subscriptionColumns+subscriptionFrom+`
			WHERE s.status = $1 AND (s.ends_at > $2 OR (s.ends_at = $2 AND s.id > $3)) AND s.ends_at <= $4
			ORDER BY s.ends_at, s.id LIMIT $5`,
			string(controlplane.SubscriptionActive), from.UTC(), after.ID, to.UTC(), limit)
	})
}

// MaxReminderOffset returns the largest reminder offset any tenant uses,
// in seconds (the default's when none saved settings).
func (s *Store) MaxReminderOffset(ctx context.Context) (int64, error) {
	return read(ctx, s, func(t *dbtx) (int64, error) {
		lists, err := queryAll(ctx, t, func(sc interface{ Scan(...any) error }) (string, error) {
			var v string
			return v, sc.Scan(&v)
		}, `SELECT DISTINCT reminder_offsets FROM notification_settings`)
		if err != nil {
			return 0, err
		}
		m := slices.Max(DefaultNotificationSettings(0).ReminderOffsets)
		for _, l := range lists {
			for _, v := range splitList(l) {
				if o, err := strconv.ParseInt(v, 10, 64); err == nil && o > m {
					m = o
				}
			}
		}
		return m, nil
	})
}

// HashPassword hashes a new user's password outside any transaction (it
// is slow on purpose), for Tx.CreateUser.
func (s *Store) HashPassword(password string) (string, error) {
	if password == "" {
		return "", controlplane.Errorf(controlplane.EINVALID, "password is required")
	}
	return hashPassword(password, s.iterations)
}

// Tenant returns tenant id. ENOTFOUND otherwise.
func (tx *Tx) Tenant(ctx context.Context, id int64) (controlplane.Tenant, error) {
	t, err := scanTenant(tx.t.queryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	return t, noRows(err, "tenant", id)
}
