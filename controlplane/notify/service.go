package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// Sealer encrypts template data and credentials at rest (*seal.Keyring).
type Sealer interface {
	Seal(plaintext []byte, aad string) (string, error)
	Open(sealed, aad string) ([]byte, error)
}

// Inserter enqueues River jobs in a store transaction
// (*provisioning.Service, which runs this package's JobSet).
type Inserter interface {
	InsertJobsTx(ctx context.Context, tx *store.Tx, args ...river.JobArgs) error
}

// Email is one email to send.
type Email struct {
	From, To, Subject, Text, HTML string
	// MessageID is stable per notification, so a resend carries the same.
	MessageID string
	Headers   map[string]string
}

// Mailer sends email through the tenant's SMTP server (smtpURL, an
// smtp:// or smtps:// URL) or the system's ("" ). Errors may implement
// Classified.
type Mailer interface {
	SendMail(ctx context.Context, smtpURL string, m Email) error
	// SystemConfigured reports whether there is a system server.
	SystemConfigured() bool
}

// SMSCredentials are a tenant's SMS gateway account.
type SMSCredentials struct{ Username, APIKey, SenderID string }

// Texter sends an SMS and returns the gateway's message id. Errors may
// implement Classified.
type Texter interface {
	SendSMS(ctx context.Context, cr SMSCredentials, to, text string) (string, error)
}

// Messenger sends a Telegram message as bot token to chat and returns
// its id. Errors may implement Classified.
type Messenger interface {
	SendTelegram(ctx context.Context, token, chat, text string) (string, error)
}

// Classified is a send error that knows what it means: Permanent ones are
// not retried (a rejected address), MaybeSent ones leave the notification
// unknown (the provider may have it). Other errors are retried.
type Classified interface {
	error
	Permanent() bool
	MaybeSent() bool
}

// Defaults applied by New to zero Options fields.
const (
	DefaultWorkers       = 32
	DefaultMaxAttempts   = 8
	DefaultRouterSweep   = 15 * time.Second
	DefaultReminderSweep = time.Minute
)

// Options configure a Service.
type Options struct {
	Store  *store.Store      // required
	Bus    *controlplane.Bus // gets NotificationChanged; required
	Sealer Sealer            // required
	// Channels; nil ones make their notifications "skipped".
	Mail     Mailer
	SMS      Texter
	Telegram Messenger
	// MailFrom is the system server's sender ("SitePulse <noreply@…>").
	MailFrom string
	// PublicURL is the dashboard's address in messages and the base of
	// the SMS delivery report URL.
	PublicURL string
	// ReportKey signs the tenants' SMS delivery report URLs; at least 32
	// bytes (derive it from the secret key). Required.
	ReportKey []byte
	Logger    *slog.Logger     // nil discards
	Now       func() time.Time // nil means time.Now
	// Registerer receives the metrics; nil means unregistered.
	Registerer prometheus.Registerer
	// Workers is the notifications queue's concurrency (default 8);
	// MaxAttempts a notification's automatic attempts (default 8).
	Workers, MaxAttempts int
	// RouterSweep and ReminderSweep are the periods of the router alert
	// and expiry reminder sweeps.
	RouterSweep, ReminderSweep time.Duration
}

// Service is the notification outbox and its senders.
type Service struct {
	o    Options
	st   *store.Store
	log  *slog.Logger
	now  func() time.Time
	m    *metrics
	jobs Inserter
	tpl  *templates
	pub  atomic.Pointer[string] // PublicURL, or the HTTP listener's (SetPublicURL)
	// afterSend, for tests, runs between a send and the commit of its
	// result; an error there acts as a crash at that point.
	afterSend func(controlplane.Notification) error
}

// New builds the service; call SetJobs before anything is notified.
func New(o Options) (*Service, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("notify: Options.Store is required")
	case o.Bus == nil:
		return nil, errors.New("notify: Options.Bus is required")
	case o.Sealer == nil:
		return nil, errors.New("notify: Options.Sealer is required")
	case len(o.ReportKey) < 32:
		return nil, errors.New("notify: Options.ReportKey needs at least 32 bytes")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.RouterSweep <= 0 {
		o.RouterSweep = DefaultRouterSweep
	}
	if o.ReminderSweep <= 0 {
		o.ReminderSweep = DefaultReminderSweep
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	tpl, err := loadTemplates()
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	s := &Service{o: o, st: o.Store, log: o.Logger.With("component", "notify"), now: o.Now, m: m, tpl: tpl}
	s.SetPublicURL(o.PublicURL)
	return s, nil
}

// SetJobs hands the service the River client that inserts its jobs.
func (s *Service) SetJobs(j Inserter) { s.jobs = j }

// SetPublicURL changes the dashboard address used in messages (serve sets
// its listener's when no --public-url was given).
func (s *Service) SetPublicURL(u string) {
	u = strings.TrimRight(u, "/")
	s.pub.Store(&u)
}

func (s *Service) publicURL() string { return *s.pub.Load() }

// dataAAD binds sealed data to its row's cause.
func dataAAD(tenant int64, event string) string {
	return fmt.Sprintf("notification:%d:%s", tenant, event)
}

// recipient is one row to queue.
type recipient struct {
	channel controlplane.NotificationChannel
	to      string
	skip    string // why it cannot be sent, or ""
}

// NotifyTx queues the notifications of each event in tx, with their send
// jobs: nothing for a kind the tenant turned off, one row per recipient
// and channel, and nothing again for an occurrence (Event) already queued.
// It returns how many rows it queued.
func (s *Service) NotifyTx(ctx context.Context, tx *store.Tx, events ...controlplane.NotificationEvent) (int, error) {
	if s.jobs == nil {
		return 0, errors.New("notify: SetJobs was not called")
	}
	n := 0
	var args []river.JobArgs
	for _, ev := range events {
		if ev.Event == "" || ev.Kind == "" {
			return n, fmt.Errorf("notify: event %q of kind %q: both are required", ev.Event, ev.Kind)
		}
		set := store.DefaultNotificationSettings(0)
		if ev.TenantID != 0 {
			var err error
			if set, err = tx.NotificationSettings(ctx, ev.TenantID); err != nil {
				return n, err
			}
		}
		if !set.Enabled(ev.Kind) {
			s.m.disabled.WithLabelValues(string(ev.Kind)).Inc()
			continue
		}
		rcpts, err := s.recipients(ctx, tx, set, ev)
		if err != nil {
			return n, err
		}
		if len(rcpts) == 0 {
			continue
		}
		data := map[string]string{}
		for k, v := range ev.Data {
			data[k] = v
		}
		raw, err := json.Marshal(data)
		if err != nil {
			return n, err
		}
		sealed, err := s.o.Sealer.Seal(raw, dataAAD(ev.TenantID, ev.Event))
		if err != nil {
			return n, fmt.Errorf("notify: seal: %w", err)
		}
		for _, r := range rcpts {
			row := store.NotificationRow{DataSealed: sealed, Notification: controlplane.Notification{
				TenantID: ev.TenantID, Kind: ev.Kind, Channel: r.channel, Recipient: r.to, Language: set.Language,
				Event: ev.Event}}
			if r.skip != "" {
				row.Status, row.LastError = controlplane.NotificationSkipped, r.skip
			}
			out, inserted, err := tx.QueueNotification(ctx, row)
			if err != nil {
				return n, err
			}
			if !inserted {
				continue
			}
			n++
			s.m.queued.WithLabelValues(string(r.channel), string(out.Status)).Inc()
			if out.Status == controlplane.NotificationQueued {
				args = append(args, sendArgs{ID: out.ID})
			}
		}
	}
	if len(args) > 0 {
		if err := s.jobs.InsertJobsTx(ctx, tx, args...); err != nil {
			return n, err
		}
	}
	return n, nil
}

// recipients turns ev's audience into rows by the tenant's settings.
func (s *Service) recipients(ctx context.Context, tx *store.Tx, set store.NotificationSettingsRow, ev controlplane.NotificationEvent) ([]recipient, error) {
	var out []recipient
	mail := func(to string) {
		r := recipient{channel: controlplane.ChannelEmail, to: strings.ToLower(strings.TrimSpace(to))}
		if set.SealedSMTP == "" && (s.o.Mail == nil || !s.o.Mail.SystemConfigured()) {
			r.skip = "no SMTP server is configured"
		}
		out = append(out, r)
	}
	if ev.To.Phone != "" {
		r := recipient{channel: controlplane.ChannelSMS, to: ev.To.Phone}
		switch {
		case s.o.SMS == nil:
			r.skip = "this control plane has no SMS gateway"
		case set.SMSUsername == "" || set.SealedSMSKey == "":
			r.skip = "the tenant has no SMS gateway account"
		}
		out = append(out, r)
	}
	if ev.To.Email != "" {
		mail(ev.To.Email)
	}
	if ev.To.Admins {
		admins, err := tx.Admins(ctx, ev.TenantID)
		if err != nil {
			return nil, err
		}
		for _, a := range admins {
			mail(a.Email)
		}
		if set.SealedTelegram != "" && s.o.Telegram != nil {
			for _, c := range set.TelegramChats {
				out = append(out, recipient{channel: controlplane.ChannelTelegram, to: c})
			}
		}
	}
	return out, nil
}

// Notify is NotifyTx in a transaction of its own, for causes that have
// none (a webhook endpoint disabled after its deliveries failed).
func (s *Service) Notify(ctx context.Context, events ...controlplane.NotificationEvent) error {
	return s.st.Write(ctx, func(tx *store.Tx) error {
		_, err := s.NotifyTx(ctx, tx, events...)
		return err
	})
}

func (s *Service) publish(n controlplane.Notification) {
	s.o.Bus.Publish(controlplane.NotificationChanged{Notification: n})
}
