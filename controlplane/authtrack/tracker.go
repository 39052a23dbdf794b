package authtrack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// LockoutNotifier tells a user that their account was locked. It is called
// in the transaction that writes the lockout, once per lockout, so that a
// notification outbox row commits with it. An error rolls the lockout back
// and fails the login with that error.
type LockoutNotifier interface {
	UserLockedOut(ctx context.Context, tx *store.Tx, u controlplane.User, until time.Time, ip string) error
}

// Inserter enqueues River jobs in a store transaction
// (*provisioning.Service).
type Inserter interface {
	InsertJobsTx(ctx context.Context, tx *store.Tx, args ...river.JobArgs) error
}

// Options configure a Tracker. Zero values mean the defaults given. The
// clock is the store's.
type Options struct {
	Store *store.Store // required
	// Notifier is told of each account lockout; nil means nobody is.
	Notifier LockoutNotifier
	// AccountLimit failures for one email within Window lock it for
	// LockFor (5 in 15 min, for 15 min).
	AccountLimit int
	// IPLimit failures from one client address within Window lock the
	// address for LockFor (50).
	IPLimit int
	Window  time.Duration
	LockFor time.Duration
	// SeriesRetention is how long the login series keeps hours (90 days);
	// SweepInterval how often the sweeps run (1 h).
	SeriesRetention time.Duration
	SweepInterval   time.Duration
	Logger          *slog.Logger          // nil: discard
	Registerer      prometheus.Registerer // nil: no metrics
}

// Tracker is the dashboard login tracking. Create it with New; give it
// provisioning with SetInserter before River starts.
type Tracker struct {
	o    Options
	st   *store.Store
	log  *slog.Logger
	ins  Inserter
	lock *prometheus.CounterVec
}

// New returns a Tracker.
func New(o Options) (*Tracker, error) {
	if o.Store == nil {
		return nil, errors.New("authtrack: Store is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.AccountLimit <= 0 {
		o.AccountLimit = 5
	}
	if o.IPLimit <= 0 {
		o.IPLimit = 50
	}
	def(&o.Window, 15*time.Minute)
	def(&o.LockFor, 15*time.Minute)
	def(&o.SeriesRetention, 90*24*time.Hour)
	def(&o.SweepInterval, time.Hour)
	t := &Tracker{o: o, st: o.Store, log: o.Logger}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.lock = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "sitepulse", Subsystem: "auth", Name: "lockouts_total",
		Help: "Dashboard login lockouts, by what was locked (account or ip).",
	}, []string{"kind"})
	if o.Registerer != nil {
		if err := o.Registerer.Register(t.lock); err != nil {
			return nil, fmt.Errorf("authtrack: register metrics: %w", err)
		}
	}
	return t, nil
}

// SetInserter hands the tracker provisioning, which runs its jobs; nil
// (the default) records last logins in the login request instead.
func (t *Tracker) SetInserter(i Inserter) { t.ins = i }

func emailKey(email string) string { return "email:" + strings.ToLower(strings.TrimSpace(email)) }
func ipKey(ip string) string       { return "ip:" + ip }

// Locked returns until when a login for email from ip is refused, zero
// when it is not. It does not say which of the two is locked.
func (t *Tracker) Locked(ctx context.Context, email, ip string) (time.Time, error) {
	return t.st.LoginLockedUntil(ctx, emailKey(email), ipKey(ip))
}

// Failed counts a failed login for email from ip and returns until when
// further logins are refused (zero: not locked). Every email is counted,
// known or not, so that a lockout does not tell which accounts exist; the
// audit entry ("user.lockout") and the notifier are for real users only.
func (t *Tracker) Failed(ctx context.Context, email, ip string) (time.Time, error) {
	var until time.Time
	err := t.st.Write(ctx, func(tx *store.Tx) error {
		until = time.Time{}
		lockAt := tx.Now().Add(t.o.LockFor)
		n, err := tx.AddLoginFailure(ctx, ipKey(ip), t.o.Window)
		if err != nil {
			return err
		}
		if n >= t.o.IPLimit {
			if err := tx.LockLogin(ctx, ipKey(ip), lockAt); err != nil {
				return err
			}
			if err := tx.Audit(ctx, controlplane.AuditEntry{Actor: "authtrack", Action: "ip.lockout", Target: "ip:" + ip,
				Result: "ok", Detail: fmt.Sprintf("%d failed logins within %s; locked until %s", n, t.o.Window, lockAt.Format(time.RFC3339))}); err != nil {
				return err
			}
			t.lock.WithLabelValues("ip").Inc()
			until = lockAt
		}
		n, err = tx.AddLoginFailure(ctx, emailKey(email), t.o.Window)
		if err != nil {
			return err
		}
		if n < t.o.AccountLimit {
			return nil
		}
		if err := tx.LockLogin(ctx, emailKey(email), lockAt); err != nil {
			return err
		}
		t.lock.WithLabelValues("account").Inc()
		until = lockAt
		u, err := tx.UserByEmail(ctx, email)
		if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: u.TenantID, Actor: "authtrack", Action: "user.lockout",
			Target: "user:" + strconv.FormatInt(u.ID, 10), Result: "ok",
			Detail: fmt.Sprintf("%d failed logins within %s, last from %s; locked until %s", n, t.o.Window, ip, lockAt.Format(time.RFC3339))}); err != nil {
			return err
		}
		if t.o.Notifier != nil {
			return t.o.Notifier.UserLockedOut(ctx, tx, u, lockAt, ip)
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("login failure: %w", err)
	}
	if !until.IsZero() {
		t.log.Info("login locked", "ip", ip, "until", until)
	}
	return until, nil
}

// Succeeded forgets u's failures and records the login, as a job on the
// auth-tracking queue when the tracker has an Inserter.
func (t *Tracker) Succeeded(ctx context.Context, u controlplane.User, ip string) error {
	err := t.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.ClearLoginFailures(ctx, emailKey(u.Email)); err != nil {
			return err
		}
		if t.ins == nil {
			return tx.RecordLogin(ctx, u.ID, ip, tx.Now())
		}
		return t.ins.InsertJobsTx(ctx, tx, loginArgs{UserID: u.ID, IP: ip, At: tx.Now()})
	})
	if err != nil {
		return fmt.Errorf("login success: %w", err)
	}
	return nil
}

// FailedLogins returns the failed logins of each email (lower-cased) in
// the current window; emails without any are absent.
func (t *Tracker) FailedLogins(ctx context.Context, emails []string) (map[string]int, error) {
	out := make(map[string]int, len(emails))
	for _, e := range emails {
		n, _, err := t.st.LoginFailures(ctx, emailKey(e), t.o.Window)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out[strings.ToLower(strings.TrimSpace(e))] = n
		}
	}
	return out, nil
}

// Sweep deletes counters whose window is over and lock expired, and the
// login series' hours older than the retention.
func (t *Tracker) Sweep(ctx context.Context) error {
	return t.st.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.SweepLoginFailures(ctx, tx.Now().Add(-t.o.Window)); err != nil {
			return err
		}
		_, err := tx.DeleteLoginSeriesBefore(ctx, tx.Now().Add(-t.o.SeriesRetention))
		return err
	})
}
