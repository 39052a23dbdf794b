package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// BillingSettingsRow is a tenant's billing settings as stored: the
// secrets sealed (controlplane/seal), never in plain text.
type BillingSettingsRow struct {
	TenantID                                            int64
	Currency, Timezone                                  string
	MpesaShortCode, MpesaTransactionType, MpesaPartyB   string
	SealedConsumerKey, SealedConsumerSecret, SealedPass string
	ConfirmPolicy, SourcePolicy                         string
	AllowedSources                                      []string
	SealedWebhookSecret                                 string
	C2BToken                                            string
	UpdatedAt                                           time.Time
}

// DefaultBillingSettings are a tenant's settings before it saved any.
func DefaultBillingSettings(tenantID int64) BillingSettingsRow {
	return BillingSettingsRow{TenantID: tenantID, Currency: controlplane.DefaultCurrency, Timezone: "Africa/Nairobi",
		MpesaTransactionType: "CustomerPayBillOnline", ConfirmPolicy: controlplane.ConfirmUntrusted,
		SourcePolicy: controlplane.SourceWarn}
}

const billingSettingsColumns = `tenant_id, currency, timezone, mpesa_shortcode, mpesa_tx_type, mpesa_party_b, mpesa_key,
	mpesa_secret, mpesa_passkey, confirm_policy, source_policy, allowed_sources, webhook_secret, c2b_token, updated_at`

func scanBillingSettings(sc interface{ Scan(...any) error }) (BillingSettingsRow, error) {
	var b BillingSettingsRow
	var sources string
	err := sc.Scan(&b.TenantID, &b.Currency, &b.Timezone, &b.MpesaShortCode, &b.MpesaTransactionType, &b.MpesaPartyB,
		&b.SealedConsumerKey, &b.SealedConsumerSecret, &b.SealedPass, &b.ConfirmPolicy, &b.SourcePolicy, &sources,
		&b.SealedWebhookSecret, &b.C2BToken, &b.UpdatedAt)
	if sources != "" {
		b.AllowedSources = strings.Split(sources, ",")
	}
	b.UpdatedAt = b.UpdatedAt.UTC()
	return b, err
}

// BillingSettings returns the tenant's settings, the defaults when it has
// saved none.
func (tx *Tx) BillingSettings(ctx context.Context, tenantID int64) (BillingSettingsRow, error) {
	return getBillingSettings(ctx, tx.t, tenantID)
}

func getBillingSettings(ctx context.Context, t *dbtx, tenantID int64) (BillingSettingsRow, error) {
	b, err := scanBillingSettings(t.queryRow(ctx, `SELECT `+billingSettingsColumns+` FROM billing_settings WHERE tenant_id = $1`, tenantID))
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultBillingSettings(tenantID), nil
	}
	return b, err
}

// GetBillingSettings returns the tenant's settings outside a transaction.
func (s *Store) GetBillingSettings(ctx context.Context, tenantID int64) (BillingSettingsRow, error) {
	return read(ctx, s, func(t *dbtx) (BillingSettingsRow, error) { return getBillingSettings(ctx, t, tenantID) })
}

// BillingSettingsByC2BToken returns the settings whose C2B path token is
// token. ENOTFOUND otherwise.
func (s *Store) BillingSettingsByC2BToken(ctx context.Context, tenantID int64, token string) (BillingSettingsRow, error) {
	b, err := read(ctx, s, func(t *dbtx) (BillingSettingsRow, error) {
		return scanBillingSettings(t.queryRow(ctx, `SELECT `+billingSettingsColumns+` FROM billing_settings
			WHERE tenant_id = $1 AND c2b_token = $2 AND c2b_token <> ''`, tenantID, token))
	})
	return b, noRows(err, "c2b endpoint of tenant", tenantID)
}

// PutBillingSettings stores b.
func (tx *Tx) PutBillingSettings(ctx context.Context, b BillingSettingsRow) error {
	_, err := tx.t.exec(ctx, `INSERT INTO billing_settings (`+billingSettingsColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (tenant_id) DO UPDATE SET currency = $2, timezone = $3, mpesa_shortcode = $4, mpesa_tx_type = $5,
		mpesa_party_b = $6, mpesa_key = $7, mpesa_secret = $8, mpesa_passkey = $9, confirm_policy = $10,
		source_policy = $11, allowed_sources = $12, webhook_secret = $13, c2b_token = $14, updated_at = $15`,
		b.TenantID, b.Currency, b.Timezone, b.MpesaShortCode, b.MpesaTransactionType, b.MpesaPartyB, b.SealedConsumerKey,
		b.SealedConsumerSecret, b.SealedPass, b.ConfirmPolicy, b.SourcePolicy, strings.Join(b.AllowedSources, ","),
		b.SealedWebhookSecret, b.C2BToken, tx.t.now)
	if isForeignKeyViolation(err) {
		return notFound("tenant", b.TenantID)
	}
	return err
}

// AddRevenue adds amount (negative for a refund) and payments to the
// tenant's figures of day (YYYY-MM-DD in its timezone).
func (tx *Tx) AddRevenue(ctx context.Context, tenantID int64, day string, m controlplane.Money, payments int) error {
	_, err := tx.t.exec(ctx, `INSERT INTO billing_daily (tenant_id, day, currency, revenue_minor, payments)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, day, currency)
		DO UPDATE SET revenue_minor = billing_daily.revenue_minor + $4, payments = billing_daily.payments + $5`,
		tenantID, day, m.Currency, m.Amount, payments)
	return err
}

// Revenue sums the tenant's daily figures (every tenant's with 0) from day
// from (inclusive, YYYY-MM-DD) per currency.
func (tx *Tx) Revenue(ctx context.Context, tenantID int64, from string) (map[string]int64, int, error) {
	var w where
	w.add("day >= ?", from)
	if tenantID != 0 {
		w.add("tenant_id = ?", tenantID)
	}
	rows, err := queryAll(ctx, tx.t, func(sc interface{ Scan(...any) error }) (struct {
		cur      string
		sum, pay int64
	}, error) {
		var x struct {
			cur      string
			sum, pay int64
		}
		return x, sc.Scan(&x.cur, &x.sum, &x.pay)
	}, `SELECT currency, COALESCE(sum(revenue_minor), 0), COALESCE(sum(payments), 0) FROM billing_daily`+w.sql()+` GROUP BY currency`, w.args...)
	if err != nil {
		return nil, 0, err
	}
	out := map[string]int64{}
	n := 0
	for _, x := range rows {
		out[x.cur] += x.sum
		n += int(x.pay)
	}
	return out, n, nil
}

// PayingCustomers counts the distinct customers of the tenant (every
// tenant with 0) with a completed payment since since.
func (tx *Tx) PayingCustomers(ctx context.Context, tenantID int64, since time.Time) (int, error) {
	var w where
	w.add("status = ?", string(controlplane.PaymentCompleted))
	w.add("completed_at >= ?", dbTime(since))
	if tenantID != 0 {
		w.add("tenant_id = ?", tenantID)
	}
	var n int
	err := tx.t.queryRow(ctx, `SELECT count(DISTINCT customer_id) FROM payments`+w.sql(), w.args...).Scan(&n)
	return n, err
}

// ReadTx runs fn with a Tx outside any transaction, for reads that reuse
// the Tx methods. fn must not write.
func (s *Store) ReadTx(ctx context.Context, fn func(tx *Tx) error) error {
	_, err := read(ctx, s, func(t *dbtx) (struct{}, error) { return struct{}{}, fn(&Tx{t: t}) })
	return err
}
