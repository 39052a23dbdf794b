package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

func smtpAAD(tenant int64) string     { return fmt.Sprintf("notify-smtp:%d", tenant) }
func smsAAD(tenant int64) string      { return fmt.Sprintf("notify-sms:%d", tenant) }
func telegramAAD(tenant int64) string { return fmt.Sprintf("notify-telegram:%d", tenant) }

// ReportToken is the path secret of a tenant's SMS delivery report URL.
func ReportToken(key []byte, tenant int64) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "sms-report:%d", tenant)
	return hex.EncodeToString(mac.Sum(nil)[:24])
}

// reportURL is where the tenant points its gateway's delivery reports.
func (s *Service) reportURL(tenant int64) string {
	if s.publicURL() == "" {
		return ""
	}
	return s.publicURL() + "/api/v1/hooks/sms/" + strconv.FormatInt(tenant, 10) + "/" + ReportToken(s.o.ReportKey, tenant)
}

func (s *Service) view(r store.NotificationSettingsRow) controlplane.NotificationSettings {
	v := controlplane.NotificationSettings{TenantID: r.TenantID, Language: r.Language, Disabled: r.Disabled,
		ReminderOffsets: r.ReminderOffsets, RouterOfflineAfter: r.RouterOfflineAfter,
		RouterRecoveredAfter: r.RouterRecoveredAfter, SMTPSet: r.SealedSMTP != "", MailFrom: r.MailFrom,
		SMSUsername: r.SMSUsername, SMSAPIKeySet: r.SealedSMSKey != "", SMSSenderID: r.SMSSenderID,
		TelegramTokenSet: r.SealedTelegram != "", TelegramChats: r.TelegramChats, UpdatedAt: r.UpdatedAt}
	if v.Disabled == nil {
		v.Disabled = []controlplane.NotificationKind{}
	}
	if v.TelegramChats == nil {
		v.TelegramChats = []string{}
	}
	if v.ReminderOffsets == nil {
		v.ReminderOffsets = []int64{}
	}
	if r.SMSUsername != "" {
		v.SMSReportURL = s.reportURL(r.TenantID)
	}
	return v
}

// tenantOf resolves the tenant a settings request acts on.
func tenantOf(p controlplane.Principal, named int64) (int64, error) {
	if !p.CanManage() {
		return 0, controlplane.Errorf(controlplane.EFORBIDDEN, "role %s may not manage notification settings", p.Role)
	}
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

// Settings returns a tenant's notification settings. Tenant admins.
func (s *Service) Settings(ctx context.Context, p controlplane.Principal, tenant int64) (controlplane.NotificationSettings, error) {
	t, err := tenantOf(p, tenant)
	if err != nil {
		return controlplane.NotificationSettings{}, err
	}
	if _, err := s.st.GetTenant(ctx, 0, t); err != nil {
		return controlplane.NotificationSettings{}, err
	}
	r, err := s.st.GetNotificationSettings(ctx, t)
	if err != nil {
		return controlplane.NotificationSettings{}, err
	}
	return s.view(r), nil
}

// Limits on settings.
const (
	maxReminders   = 4
	maxChats       = 10
	maxOfflineWait = 7 * 24 * 3600
)

// UpdateSettings applies patch; secrets are sealed and never returned.
// EINVALID naming the field.
func (s *Service) UpdateSettings(ctx context.Context, p controlplane.Principal, patch controlplane.NotificationSettingsPatch) (controlplane.NotificationSettings, error) {
	t, err := tenantOf(p, patch.TenantID)
	if err != nil {
		return controlplane.NotificationSettings{}, err
	}
	var out store.NotificationSettingsRow
	var changed []string
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		r, err := tx.NotificationSettings(ctx, t)
		if err != nil {
			return err
		}
		if patch.Language != nil {
			if !slices.Contains(Languages, *patch.Language) {
				return controlplane.Errorf(controlplane.EINVALID, "language: one of %s", strings.Join(Languages, ", "))
			}
			r.Language = *patch.Language
			changed = append(changed, "language")
		}
		if patch.Disabled != nil {
			r.Disabled = nil
			for _, k := range *patch.Disabled {
				if !slices.Contains(controlplane.NotificationKinds, k) {
					return controlplane.Errorf(controlplane.EINVALID, "disabled: unknown kind %q", k)
				}
				if !slices.Contains(r.Disabled, k) {
					r.Disabled = append(r.Disabled, k)
				}
			}
			changed = append(changed, "disabled")
		}
		if patch.ReminderOffsets != nil {
			offs := slices.Clone(*patch.ReminderOffsets)
			slices.Sort(offs)
			offs = slices.Compact(offs)
			if len(offs) > maxReminders {
				return controlplane.Errorf(controlplane.EINVALID, "reminder_offsets: at most %d", maxReminders)
			}
			for _, o := range offs {
				if o < 60 || o > 30*24*3600 {
					return controlplane.Errorf(controlplane.EINVALID, "reminder_offsets: each between 60 s and 30 days")
				}
			}
			r.ReminderOffsets = offs
			changed = append(changed, "reminder_offsets")
		}
		secs := func(name string, dst *int64, v *int64, lo int64) error {
			if v == nil {
				return nil
			}
			if *v < lo || *v > maxOfflineWait {
				return controlplane.Errorf(controlplane.EINVALID, "%s: between %d and %d seconds", name, lo, maxOfflineWait)
			}
			*dst = *v
			changed = append(changed, name)
			return nil
		}
		if err := secs("router_offline_after", &r.RouterOfflineAfter, patch.RouterOfflineAfter, 30); err != nil {
			return err
		}
		if err := secs("router_recovered_after", &r.RouterRecoveredAfter, patch.RouterRecoveredAfter, 0); err != nil {
			return err
		}
		secret := func(name string, dst *string, v *string, aad string, check func(string) error) error {
			if v == nil {
				return nil
			}
			changed = append(changed, name)
			val := strings.TrimSpace(*v)
			if val == "" {
				*dst = ""
				return nil
			}
			if check != nil {
				if err := check(val); err != nil {
					return err
				}
			}
			sealed, err := s.o.Sealer.Seal([]byte(val), aad)
			if err != nil {
				return fmt.Errorf("seal %s: %w", name, err)
			}
			*dst = sealed
			return nil
		}
		if err := secret("smtp_url", &r.SealedSMTP, patch.SMTPURL, smtpAAD(t), checkSMTPURL); err != nil {
			return err
		}
		if err := secret("sms_api_key", &r.SealedSMSKey, patch.SMSAPIKey, smsAAD(t), nil); err != nil {
			return err
		}
		if err := secret("telegram_token", &r.SealedTelegram, patch.TelegramToken, telegramAAD(t), checkBotToken); err != nil {
			return err
		}
		plain := func(name string, dst *string, v *string, max int) error {
			if v == nil {
				return nil
			}
			val := strings.TrimSpace(*v)
			if len(val) > max || strings.ContainsAny(val, "\r\n") {
				return controlplane.Errorf(controlplane.EINVALID, "%s: at most %d characters on one line", name, max)
			}
			*dst = val
			changed = append(changed, name)
			return nil
		}
		for _, f := range []struct {
			name string
			dst  *string
			v    *string
			max  int
		}{{"mail_from", &r.MailFrom, patch.MailFrom, 200}, {"sms_username", &r.SMSUsername, patch.SMSUsername, 100},
			{"sms_sender_id", &r.SMSSenderID, patch.SMSSenderID, 11}} {
			if err := plain(f.name, f.dst, f.v, f.max); err != nil {
				return err
			}
		}
		if patch.TelegramChats != nil {
			chats := []string{}
			for _, c := range *patch.TelegramChats {
				c = strings.TrimSpace(c)
				if !validChat(c) {
					return controlplane.Errorf(controlplane.EINVALID, "telegram_chats: %q is not a chat id (a number or @channel)", c)
				}
				if !slices.Contains(chats, c) {
					chats = append(chats, c)
				}
			}
			if len(chats) > maxChats {
				return controlplane.Errorf(controlplane.EINVALID, "telegram_chats: at most %d", maxChats)
			}
			r.TelegramChats = chats
			changed = append(changed, "telegram_chats")
		}
		if out, err = tx.PutNotificationSettings(ctx, r); err != nil {
			return err
		}
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: t, ActorID: p.UserID, Actor: p.Email,
			Action: "notification_settings.update", Target: "tenant:" + strconv.FormatInt(t, 10), Result: "ok",
			Detail: "changed " + strings.Join(changed, ", ")})
	})
	if err != nil {
		return controlplane.NotificationSettings{}, err
	}
	return s.view(out), nil
}

// checkSMTPURL accepts smtp:// and smtps:// URLs with a host; the error
// never repeats the URL (it holds a password).
func checkSMTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return controlplane.Errorf(controlplane.EINVALID, "smtp_url: an smtp:// or smtps:// URL with a host (smtp://user:pass@mail.example.com:587?tls=starttls)")
	}
	return nil
}

// checkBotToken accepts Telegram's "123456:ABC…" token shape.
func checkBotToken(v string) error {
	id, rest, ok := strings.Cut(v, ":")
	if _, err := strconv.ParseInt(id, 10, 64); !ok || err != nil || len(rest) < 20 || strings.ContainsAny(rest, "/?# ") {
		return controlplane.Errorf(controlplane.EINVALID, "telegram_token: a bot token from @BotFather (123456:ABC…)")
	}
	return nil
}

func validChat(c string) bool {
	if strings.HasPrefix(c, "@") {
		return len(c) > 5 && len(c) <= 33 && !strings.ContainsAny(c, " /?#")
	}
	_, err := strconv.ParseInt(c, 10, 64)
	return err == nil
}
