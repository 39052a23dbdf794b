package billing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// view is what the API shows of stored settings: whether each secret is
// set, never the secret.
func view(b store.BillingSettingsRow) controlplane.BillingSettings {
	src := b.AllowedSources
	if src == nil {
		src = []string{}
	}
	return controlplane.BillingSettings{TenantID: b.TenantID, Currency: b.Currency, Timezone: b.Timezone,
		MpesaShortCode: b.MpesaShortCode, MpesaTransactionType: b.MpesaTransactionType, MpesaPartyB: b.MpesaPartyB,
		MpesaConsumerKeySet: b.SealedConsumerKey != "", MpesaSecretSet: b.SealedConsumerSecret != "",
		MpesaPasskeySet: b.SealedPass != "", ConfirmPolicy: b.ConfirmPolicy, SourcePolicy: b.SourcePolicy,
		AllowedSources: src, WebhookSecretSet: b.SealedWebhookSecret != "", C2BEnabled: b.C2BToken != "",
		UpdatedAt: b.UpdatedAt}
}

// Settings returns a tenant's billing settings (p's own tenant when
// tenantID is 0). Tenant admins only: they show how money is taken.
func (s *Service) Settings(ctx context.Context, p controlplane.Principal, tenantID int64) (controlplane.BillingSettings, error) {
	if err := needManage(p, "read billing settings"); err != nil {
		return controlplane.BillingSettings{}, err
	}
	tenant, err := tenantOf(p, tenantID)
	if err != nil {
		return controlplane.BillingSettings{}, err
	}
	b, err := s.st.GetBillingSettings(ctx, tenant)
	if err != nil {
		return controlplane.BillingSettings{}, err
	}
	return view(b), nil
}

// UpdateSettings applies patch: secrets are sealed before they are
// stored and never returned; RegisterC2B enqueues the C2B URL
// registration with Daraja. Tenant admins only; EINVALID naming the field.
func (s *Service) UpdateSettings(ctx context.Context, p controlplane.Principal, patch controlplane.BillingSettingsPatch) (controlplane.BillingSettings, error) {
	if err := needManage(p, "change billing settings"); err != nil {
		return controlplane.BillingSettings{}, err
	}
	tenant, err := tenantOf(p, patch.TenantID)
	if err != nil {
		return controlplane.BillingSettings{}, err
	}
	var out store.BillingSettingsRow
	var changed []string
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		b, err := tx.BillingSettings(ctx, tenant)
		if err != nil {
			return err
		}
		str := func(name string, dst *string, v *string, check func(string) error) error {
			if v == nil {
				return nil
			}
			val := strings.TrimSpace(*v)
			if check != nil {
				if err := check(val); err != nil {
					return err
				}
			}
			*dst = val
			changed = append(changed, name)
			return nil
		}
		secret := func(name string, dst *string, v *string) error {
			if v == nil {
				return nil
			}
			changed = append(changed, name)
			if *v == "" {
				*dst = ""
				return nil
			}
			if len(*v) > 1024 {
				return controlplane.Errorf(controlplane.EINVALID, "%s: at most 1024 bytes", name)
			}
			sealed, err := s.o.Sealer.Seal([]byte(*v), sealAAD(tenant, name))
			if err != nil {
				return fmt.Errorf("seal %s: %w", name, err)
			}
			*dst = sealed
			return nil
		}
		digits := func(field string) func(string) error {
			return func(v string) error {
				if v == "" {
					return nil
				}
				if _, err := strconv.ParseUint(v, 10, 64); err != nil || len(v) < 5 || len(v) > 7 {
					return controlplane.Errorf(controlplane.EINVALID, "%s: must be a 5 to 7 digit M-Pesa shortcode", field)
				}
				return nil
			}
		}
		oneOf := func(field string, vals ...string) func(string) error {
			return func(v string) error {
				for _, x := range vals {
					if v == x {
						return nil
					}
				}
				return controlplane.Errorf(controlplane.EINVALID, "%s: must be one of %s", field, strings.Join(vals, ", "))
			}
		}
		for _, e := range []error{
			str("currency", &b.Currency, patch.Currency, func(v string) error {
				if !controlplane.ValidCurrency(v) {
					return controlplane.Errorf(controlplane.EINVALID, "currency: must be an ISO 4217 code such as KES")
				}
				return nil
			}),
			str("timezone", &b.Timezone, patch.Timezone, func(v string) error {
				if _, err := time.LoadLocation(v); err != nil || v == "" {
					return controlplane.Errorf(controlplane.EINVALID, "timezone: unknown zone %q", v)
				}
				return nil
			}),
			str("mpesa_shortcode", &b.MpesaShortCode, patch.MpesaShortCode, digits("mpesa_shortcode")),
			str("mpesa_party_b", &b.MpesaPartyB, patch.MpesaPartyB, digits("mpesa_party_b")),
			str("mpesa_transaction_type", &b.MpesaTransactionType, patch.MpesaTransactionType,
				oneOf("mpesa_transaction_type", "CustomerPayBillOnline", "CustomerBuyGoodsOnline")),
			str("confirm_policy", &b.ConfirmPolicy, patch.ConfirmPolicy,
				oneOf("confirm_policy", controlplane.ConfirmUntrusted, controlplane.ConfirmAlways, controlplane.ConfirmNever)),
			str("source_policy", &b.SourcePolicy, patch.SourcePolicy, oneOf("source_policy", controlplane.SourceWarn, controlplane.SourceStrict)),
			secret("mpesa_consumer_key", &b.SealedConsumerKey, patch.MpesaConsumerKey),
			secret("mpesa_consumer_secret", &b.SealedConsumerSecret, patch.MpesaConsumerSecret),
			secret("mpesa_passkey", &b.SealedPass, patch.MpesaPasskey),
			secret("webhook_secret", &b.SealedWebhookSecret, patch.WebhookSecret),
		} {
			if e != nil {
				return e
			}
		}
		if patch.AllowedSources != nil {
			var list []string
			for _, e := range *patch.AllowedSources {
				e = strings.TrimSpace(e)
				_, perr := netip.ParsePrefix(e)
				_, aerr := netip.ParseAddr(e)
				if perr != nil && aerr != nil {
					return controlplane.Errorf(controlplane.EINVALID, "allowed_sources: %q is not an IP address or CIDR", e)
				}
				list = append(list, e)
			}
			b.AllowedSources = list
			changed = append(changed, "allowed_sources")
		}
		if b.C2BToken == "" && b.MpesaShortCode != "" {
			// Hex: Daraja refuses C2B URLs containing words such as
			// "exe", "cmd" or "sql", which base64 could spell.
			tok := make([]byte, 24)
			rand.Read(tok)
			b.C2BToken = hex.EncodeToString(tok)
		}
		if err := tx.PutBillingSettings(ctx, b); err != nil {
			return err
		}
		if patch.RegisterC2B {
			if s.publicURL() == "" || b.C2BToken == "" {
				return controlplane.Errorf(controlplane.EINVALID, "register_c2b: needs mpesa_shortcode and the control plane's --public-url")
			}
			if err := s.prov.InsertJobsTx(ctx, tx, c2bRegisterArgs{TenantID: tenant}); err != nil {
				return err
			}
			changed = append(changed, "register_c2b")
		}
		if out, err = tx.BillingSettings(ctx, tenant); err != nil {
			return err
		}
		// The names of what changed, never the values.
		return tx.Audit(ctx, controlplane.AuditEntry{TenantID: tenant, ActorID: p.UserID, Actor: p.Email,
			Action: "billing.settings", Target: fmt.Sprintf("tenant:%d", tenant), Result: "ok", Detail: strings.Join(changed, ", ")})
	})
	if err != nil {
		return controlplane.BillingSettings{}, fmt.Errorf("update billing settings: %w", err)
	}
	return view(out), nil
}

func (s *Service) c2bURL(tenant int64, token, which string) string {
	// No "mpesa" in the path: Daraja refuses C2B URLs that contain it.
	return s.publicURL() + "/api/v1/hooks/c2b/" + strconv.FormatInt(tenant, 10) + "/" + token + "/" + which
}

// registerC2B registers the tenant's C2B URLs with Daraja.
func (s *Service) registerC2B(ctx context.Context, tenant int64) error {
	set, err := s.st.GetBillingSettings(ctx, tenant)
	if err != nil {
		return err
	}
	creds, err := s.credentials(set)
	if err != nil {
		return err
	}
	if s.o.Daraja == nil {
		return controlplane.Errorf(controlplane.EUNAVAILABLE, "M-Pesa is not set up")
	}
	return s.o.Daraja.RegisterC2B(ctx, creds, s.c2bURL(tenant, set.C2BToken, "confirmation"), s.c2bURL(tenant, set.C2BToken, "validation"))
}
