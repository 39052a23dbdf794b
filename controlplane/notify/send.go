package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// send is the notifications job: claim the row (queued → sending, in its
// own transaction), send outside any transaction, then record the result.
// A row found already "sending" is one whose attempt never recorded a
// result: it becomes unknown and is not sent again. An error returned
// makes River retry the job; last is the final attempt.
func (s *Service) send(ctx context.Context, id int64, last bool) error {
	var row store.NotificationRow
	var set store.NotificationSettingsRow
	var tenantName string
	claimed := false
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if row, err = tx.Notification(ctx, 0, id, true); err != nil {
			return err
		}
		switch row.Status {
		case controlplane.NotificationQueued:
		case controlplane.NotificationSending:
			row.Status, row.LastError = controlplane.NotificationUnknown,
				"an attempt ended without a result; it may have been sent (resend to send again)"
			row, err = tx.UpdateNotification(ctx, row)
			return err
		default:
			return nil // sent, failed, skipped or unknown: nothing to do
		}
		if set, err = s.settingsTx(ctx, tx, row.TenantID); err != nil {
			return err
		}
		if row.TenantID != 0 {
			t, err := tx.Tenant(ctx, row.TenantID)
			if err != nil {
				return err
			}
			tenantName = t.Name
		}
		row.Status = controlplane.NotificationSending
		row.Attempts++
		if row, err = tx.UpdateNotification(ctx, row); err != nil {
			return err
		}
		claimed = true
		return nil
	})
	if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
		return nil // its tenant is gone
	}
	if err != nil {
		return fmt.Errorf("claim notification %d: %w", id, err)
	}
	if !claimed {
		if row.Status == controlplane.NotificationUnknown {
			s.m.sent.WithLabelValues(string(row.Channel), "unknown").Inc()
			s.publish(row.Notification)
		}
		return nil
	}
	s.publish(row.Notification)

	start := time.Now()
	providerID, serr := s.deliver(ctx, row, set, tenantName)
	s.m.duration.WithLabelValues(string(row.Channel)).Observe(time.Since(start).Seconds())
	if s.afterSend != nil {
		if err := s.afterSend(row.Notification); err != nil {
			return err
		}
	}
	var c Classified
	switch {
	case serr == nil:
		now := s.now().UTC()
		row.Status, row.LastError, row.ProviderID, row.SentAt = controlplane.NotificationSent, "", providerID, &now
	case errors.As(serr, &c) && c.MaybeSent():
		row.Status, row.LastError = controlplane.NotificationUnknown, serr.Error()
	case errors.As(serr, &c) && c.Permanent(), last:
		row.Status, row.LastError = controlplane.NotificationFailed, serr.Error()
	default:
		row.Status, row.LastError = controlplane.NotificationQueued, serr.Error()
	}
	var out store.NotificationRow
	err = s.st.Write(ctx, func(tx *store.Tx) (err error) {
		out, err = tx.UpdateNotification(ctx, row)
		return err
	})
	if err != nil {
		return fmt.Errorf("record notification %d: %w", id, err)
	}
	s.m.sent.WithLabelValues(string(row.Channel), string(out.Status)).Inc()
	s.publish(out.Notification)
	if out.Status == controlplane.NotificationQueued {
		s.log.Warn("notification not sent; will retry", "id", id, "channel", row.Channel, "kind", row.Kind, "err", serr)
		return fmt.Errorf("send notification %d: %w", id, serr)
	}
	if serr != nil {
		s.log.Warn("notification not sent", "id", id, "channel", row.Channel, "kind", row.Kind, "status", out.Status, "err", serr)
	}
	return nil
}

// settingsTx returns the tenant's settings (the defaults for the system).
func (s *Service) settingsTx(ctx context.Context, tx *store.Tx, tenant int64) (store.NotificationSettingsRow, error) {
	if tenant == 0 {
		return store.DefaultNotificationSettings(0), nil
	}
	return tx.NotificationSettings(ctx, tenant)
}

// deliver renders row and hands it to its channel.
func (s *Service) deliver(ctx context.Context, row store.NotificationRow, set store.NotificationSettingsRow, tenantName string) (string, error) {
	raw, err := s.o.Sealer.Open(row.DataSealed, dataAAD(row.TenantID, row.Event))
	if err != nil {
		return "", permanent(fmt.Errorf("open notification data: %w", err))
	}
	data := map[string]string{}
	if err := json.Unmarshal(raw, &data); err != nil {
		return "", permanent(fmt.Errorf("notification data: %w", err))
	}
	msg, err := s.tpl.render(row.Kind, row.Language, view{Tenant: tenantName, URL: s.publicURL(), D: data})
	if err != nil {
		return "", permanent(err)
	}
	switch row.Channel {
	case controlplane.ChannelEmail:
		if s.o.Mail == nil {
			return "", permanent(errors.New("no mailer"))
		}
		smtpURL, from := "", s.o.MailFrom
		if set.SealedSMTP != "" {
			b, err := s.o.Sealer.Open(set.SealedSMTP, smtpAAD(row.TenantID))
			if err != nil {
				return "", permanent(fmt.Errorf("open SMTP settings: %w", err))
			}
			smtpURL = string(b)
			if set.MailFrom != "" {
				from = set.MailFrom
			}
		}
		return "", s.o.Mail.SendMail(ctx, smtpURL, Email{From: from, To: row.Recipient, Subject: msg.Subject, Text: msg.Text,
			HTML: msg.HTML, MessageID: messageID(row, s.publicURL()),
			Headers: map[string]string{"X-SitePulse-Notification": strconv.FormatInt(row.ID, 10)}})
	case controlplane.ChannelSMS:
		if s.o.SMS == nil || set.SealedSMSKey == "" {
			return "", permanent(errors.New("no SMS gateway account"))
		}
		key, err := s.o.Sealer.Open(set.SealedSMSKey, smsAAD(row.TenantID))
		if err != nil {
			return "", permanent(fmt.Errorf("open SMS settings: %w", err))
		}
		return s.o.SMS.SendSMS(ctx, SMSCredentials{Username: set.SMSUsername, APIKey: string(key), SenderID: set.SMSSenderID},
			row.Recipient, msg.SMS)
	case controlplane.ChannelTelegram:
		if s.o.Telegram == nil || set.SealedTelegram == "" {
			return "", permanent(errors.New("no Telegram bot"))
		}
		tok, err := s.o.Sealer.Open(set.SealedTelegram, telegramAAD(row.TenantID))
		if err != nil {
			return "", permanent(fmt.Errorf("open Telegram settings: %w", err))
		}
		return s.o.Telegram.SendTelegram(ctx, string(tok), row.Recipient, msg.SMS)
	}
	return "", permanent(fmt.Errorf("unknown channel %q", row.Channel))
}

// messageID is the stable Message-ID of a notification's email.
func messageID(row store.NotificationRow, public string) string {
	host := "sitepulse.invalid"
	if h := hostOf(public); h != "" {
		host = h
	}
	return fmt.Sprintf("<notification-%d-%d@%s>", row.ID, row.Resends, host)
}

// sendError is a Classified error of this package.
type sendError struct {
	err             error
	perm, maybeSent bool
}

func (e *sendError) Error() string   { return e.err.Error() }
func (e *sendError) Unwrap() error   { return e.err }
func (e *sendError) Permanent() bool { return e.perm }
func (e *sendError) MaybeSent() bool { return e.maybeSent }

func permanent(err error) error { return &sendError{err: err, perm: true} }

var errNoSMTP = errors.New("no SMTP server is configured")

// Resend queues notification id again (a failed, skipped or unknown one,
// or a sent one the recipient lost), with a new attempt count kept in
// Resends. Tenant managers; ECONFLICT while it is being sent or queued.
func (s *Service) Resend(ctx context.Context, p controlplane.Principal, id int64) (controlplane.Notification, error) {
	if !p.CanManage() {
		return controlplane.Notification{}, controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not resend notifications", p.Role)
	}
	var out store.NotificationRow
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		row, err := tx.Notification(ctx, p.Scope(), id, true)
		if err != nil {
			return err
		}
		if row.Status == controlplane.NotificationQueued || row.Status == controlplane.NotificationSending {
			return controlplane.Errorf(controlplane.ECONFLICT, "notification %d is %s", id, row.Status)
		}
		if row.Status == controlplane.NotificationSkipped {
			set, err := s.settingsTx(ctx, tx, row.TenantID)
			if err != nil {
				return err
			}
			if why := s.unsendable(row.Channel, set); why != "" {
				return controlplane.Errorf(controlplane.ECONFLICT, "notification %d cannot be sent: %s", id, why)
			}
		}
		row.Status, row.LastError, row.Resends, row.Attempts = controlplane.NotificationQueued, "", row.Resends+1, 0
		if out, err = tx.UpdateNotification(ctx, row); err != nil {
			return err
		}
		if err := s.jobs.InsertJobsTx(ctx, tx, sendArgs{ID: id}); err != nil {
			return err
		}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: row.TenantID, ActorID: p.UserID, Actor: p.Email,
			Action: "notification.resend", Target: "notification:" + strconv.FormatInt(id, 10), Result: "ok",
			Detail: string(row.Kind) + " by " + string(row.Channel)})
	})
	if err != nil {
		return controlplane.Notification{}, err
	}
	s.publish(out.Notification)
	return out.Notification, nil
}

// unsendable says why channel cannot carry a tenant's notifications now.
func (s *Service) unsendable(ch controlplane.NotificationChannel, set store.NotificationSettingsRow) string {
	switch ch {
	case controlplane.ChannelEmail:
		if set.SealedSMTP == "" && (s.o.Mail == nil || !s.o.Mail.SystemConfigured()) {
			return "no SMTP server is configured"
		}
	case controlplane.ChannelSMS:
		if s.o.SMS == nil || set.SealedSMSKey == "" {
			return "no SMS gateway account"
		}
	case controlplane.ChannelTelegram:
		if s.o.Telegram == nil || set.SealedTelegram == "" {
			return "no Telegram bot"
		}
	}
	return ""
}

// List returns notifications within p's scope.
func (s *Service) List(ctx context.Context, p controlplane.Principal, tenant int64, f controlplane.NotificationFilter) ([]controlplane.Notification, bool, error) {
	scope := p.Scope()
	if p.IsSystemAdmin() && tenant != 0 {
		scope = tenant
	}
	return s.st.ListNotifications(ctx, scope, f)
}
