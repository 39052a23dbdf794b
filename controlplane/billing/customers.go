package billing

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// customerFields validates and normalizes a customer's phone, name and
// email.
func customerFields(tenant int64, phone, name, email string) (controlplane.Customer, error) {
	e164, err := controlplane.NormalizePhone(phone)
	if err != nil {
		return controlplane.Customer{}, err
	}
	name, email = strings.TrimSpace(name), strings.TrimSpace(email)
	if len(name) > 100 || strings.ContainsAny(name, "\x00\r\n") {
		return controlplane.Customer{}, controlplane.Errorf(controlplane.EINVALID, "name: at most 100 bytes on one line")
	}
	if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 200 {
			return controlplane.Customer{}, controlplane.Errorf(controlplane.EINVALID, "email: %q is not an address", email)
		}
	}
	return controlplane.Customer{TenantID: tenant, Phone: e164, Name: name, Email: email}, nil
}

// UpsertCustomer creates the customer with the request's phone or fills
// in its name and email. EFORBIDDEN for viewers, EINVALID.
func (s *Service) UpsertCustomer(ctx context.Context, p controlplane.Principal, req controlplane.CustomerRequest) (controlplane.Customer, error) {
	if err := needMutate(p, "manage customers"); err != nil {
		return controlplane.Customer{}, err
	}
	tenant, err := tenantOf(p, req.TenantID)
	if err != nil {
		return controlplane.Customer{}, err
	}
	c, err := customerFields(tenant, req.Phone, req.Name, req.Email)
	if err != nil {
		return controlplane.Customer{}, err
	}
	changed := false
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		c, changed, err = tx.UpsertCustomer(ctx, c)
		return err
	})
	if err != nil {
		return controlplane.Customer{}, fmt.Errorf("upsert customer: %w", err)
	}
	if changed {
		s.publish(controlplane.CustomerChanged{Customer: c})
	}
	return c, nil
}

// GetCustomer returns customer id within scope.
func (s *Service) GetCustomer(ctx context.Context, scope, id int64) (controlplane.Customer, error) {
	return s.st.GetCustomer(ctx, scope, id)
}

// ListCustomers returns the customers within scope matching f.
func (s *Service) ListCustomers(ctx context.Context, scope int64, f controlplane.CustomerFilter) ([]controlplane.Customer, int, error) {
	return s.st.ListCustomers(ctx, scope, f)
}

// GetSubscription returns subscription id within scope.
func (s *Service) GetSubscription(ctx context.Context, scope, id int64) (controlplane.Subscription, error) {
	return s.st.GetSubscription(ctx, scope, id)
}

// ListSubscriptions returns the subscriptions within scope matching f.
func (s *Service) ListSubscriptions(ctx context.Context, scope int64, f controlplane.SubscriptionFilter) ([]controlplane.Subscription, int, error) {
	return s.st.ListSubscriptions(ctx, scope, f)
}

// GetPayment returns payment id within scope.
func (s *Service) GetPayment(ctx context.Context, scope, id int64) (controlplane.Payment, error) {
	return s.st.GetPayment(ctx, scope, id)
}

// ListPayments returns the payments within scope matching f.
func (s *Service) ListPayments(ctx context.Context, scope int64, f controlplane.PaymentFilter) ([]controlplane.Payment, int, error) {
	if f.Phone != "" {
		if e, err := controlplane.NormalizePhone(f.Phone); err == nil {
			f.Phone = e
		}
	}
	return s.st.ListPayments(ctx, scope, f)
}

// ListCallbacks returns the logged provider callbacks within scope.
func (s *Service) ListCallbacks(ctx context.Context, scope int64, outcome string, limit, offset int) ([]controlplane.Callback, int, error) {
	return s.st.ListCallbacks(ctx, scope, outcome, limit, offset)
}
