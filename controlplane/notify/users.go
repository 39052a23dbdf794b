package notify

import (
	"context"
	"strconv"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// CreateUser creates u with password (as store.CreateUser) and queues in
// the same transaction the welcome email when u is its tenant's first
// admin, or the invitation otherwise. by is who added them.
func (s *Service) CreateUser(ctx context.Context, by controlplane.Principal, u controlplane.User, password string) (controlplane.User, error) {
	hash, err := s.st.HashPassword(password)
	if err != nil {
		return controlplane.User{}, err
	}
	var out controlplane.User
	err = s.st.Write(ctx, func(tx *store.Tx) (err error) {
		out, err = s.CreateUserTx(ctx, tx, by, u, hash)
		return err
	})
	return out, err
}

// CreateUserTx is CreateUser in tx with a hash from store.HashPassword.
func (s *Service) CreateUserTx(ctx context.Context, tx *store.Tx, by controlplane.Principal, u controlplane.User, hash string) (controlplane.User, error) {
	out, err := tx.CreateUser(ctx, u, hash)
	if err != nil || out.TenantID == 0 {
		return out, err
	}
	kind := controlplane.NotifyUserInvited
	if out.Role == controlplane.RoleTenantAdmin {
		admins, err := tx.Admins(ctx, out.TenantID)
		if err != nil {
			return out, err
		}
		if len(admins) == 1 && admins[0].ID == out.ID {
			kind = controlplane.NotifyWelcome
		}
	}
	inviter := by.Email
	if inviter == "" {
		inviter = "An administrator"
	}
	_, err = s.NotifyTx(ctx, tx, controlplane.NotificationEvent{TenantID: out.TenantID, Kind: kind,
		Event: "user:" + strconv.FormatInt(out.ID, 10) + ":" + string(kind), To: controlplane.Audience{Email: out.Email},
		Data: map[string]string{"name": out.Name, "email": out.Email, "role": string(out.Role), "invited_by": inviter}})
	return out, err
}

// UserLockedOut queues the lockout email to u in tx (authtrack's
// LockoutNotifier), once per lockout.
func (s *Service) UserLockedOut(ctx context.Context, tx *store.Tx, u controlplane.User, until time.Time, ip string) error {
	tz := "UTC"
	if u.TenantID != 0 {
		if b, err := tx.BillingSettings(ctx, u.TenantID); err == nil {
			tz = b.Timezone
		}
	}
	_, err := s.NotifyTx(ctx, tx, controlplane.NotificationEvent{TenantID: u.TenantID, Kind: controlplane.NotifyLockout,
		Event: "user:" + strconv.FormatInt(u.ID, 10) + ":lockout:" + strconv.FormatInt(until.Unix(), 10),
		To:    controlplane.Audience{Email: u.Email},
		Data:  map[string]string{"until": controlplane.LocalTime(until, tz), "ip": ip}})
	return err
}
