package controlplane

import "time"

// STK confirmation policies: when to ask Daraja (STK query) before
// trusting a callback, since Daraja does not sign them.
const (
	ConfirmUntrusted = "untrusted" // when the source address is not on the allow-list (default)
	ConfirmAlways    = "always"
	ConfirmNever     = "never"
)

// Source address policies for provider callbacks.
const (
	SourceWarn   = "warn"   // log and count a callback from outside the allow-list (default)
	SourceStrict = "strict" // refuse it
)

// BillingSettings are a tenant's billing configuration as the API shows
// it: the secrets are write-only, so only whether each is set is shown.
type BillingSettings struct {
	TenantID int64  `json:"tenant_id"`
	Currency string `json:"currency"`
	Timezone string `json:"timezone"` // IANA; days of the revenue figures
	// M-Pesa (Daraja).
	MpesaShortCode       string `json:"mpesa_shortcode"`
	MpesaTransactionType string `json:"mpesa_transaction_type"` // CustomerPayBillOnline or CustomerBuyGoodsOnline
	MpesaPartyB          string `json:"mpesa_party_b,omitempty"`
	MpesaConsumerKeySet  bool   `json:"mpesa_consumer_key_set"`
	MpesaSecretSet       bool   `json:"mpesa_consumer_secret_set"`
	MpesaPasskeySet      bool   `json:"mpesa_passkey_set"`
	// ConfirmPolicy is ConfirmUntrusted, ConfirmAlways or ConfirmNever;
	// SourcePolicy is SourceWarn or SourceStrict against AllowedSources.
	ConfirmPolicy  string   `json:"confirm_policy"`
	SourcePolicy   string   `json:"source_policy"`
	AllowedSources []string `json:"allowed_sources"` // IPs or CIDRs
	// The generic payment webhook's secret.
	WebhookSecretSet bool `json:"webhook_secret_set"`
	// C2BEnabled is true once the tenant has C2B URLs (their path holds
	// a secret token, so they are registered with Daraja by a job and not
	// shown).
	C2BEnabled bool      `json:"c2b_enabled"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// BillingSettingsPatch changes a tenant's billing settings (PUT
// /api/v1/billing/settings); nil fields stay, a secret set to "" is
// cleared.
type BillingSettingsPatch struct {
	TenantID             int64     `json:"tenant_id,omitempty"` // system admins only
	Currency             *string   `json:"currency,omitempty"`
	Timezone             *string   `json:"timezone,omitempty"`
	MpesaShortCode       *string   `json:"mpesa_shortcode,omitempty"`
	MpesaTransactionType *string   `json:"mpesa_transaction_type,omitempty"`
	MpesaPartyB          *string   `json:"mpesa_party_b,omitempty"`
	MpesaConsumerKey     *string   `json:"mpesa_consumer_key,omitempty"`
	MpesaConsumerSecret  *string   `json:"mpesa_consumer_secret,omitempty"`
	MpesaPasskey         *string   `json:"mpesa_passkey,omitempty"`
	ConfirmPolicy        *string   `json:"confirm_policy,omitempty"`
	SourcePolicy         *string   `json:"source_policy,omitempty"`
	AllowedSources       *[]string `json:"allowed_sources,omitempty"`
	WebhookSecret        *string   `json:"webhook_secret,omitempty"`
	// RegisterC2B asks Daraja to register the C2B URLs (a job).
	RegisterC2B bool `json:"register_c2b,omitempty"`
}

// SafaricomSources are the addresses Safaricom documents its callbacks
// come from; they change, so the allow-list is a setting.
var SafaricomSources = []string{
	"196.201.214.200", "196.201.214.206", "196.201.213.114", "196.201.214.207",
	"196.201.214.208", "196.201.213.44", "196.201.212.127", "196.201.212.138",
	"196.201.212.129", "196.201.212.136", "196.201.212.74", "196.201.212.69",
}

// BillingStats are a tenant's (or, with TenantID 0, every tenant's)
// revenue figures, kept current from each payment as it completes.
// Revenue sums are in minor units of Currency ("" across tenants with
// different currencies: then only per-currency sums are meaningful, see
// ByCurrency).
type BillingStats struct {
	TenantID            int64  `json:"tenant_id"`
	Currency            string `json:"currency"`
	RevenueToday        int64  `json:"revenue_today"`
	Revenue7d           int64  `json:"revenue_7d"`
	Revenue30d          int64  `json:"revenue_30d"`
	PaymentsToday       int    `json:"payments_today"`
	ActiveSubscriptions int    `json:"active_subscriptions"`
	// ARPU is the 30-day revenue per paying customer, in minor units.
	ARPU       int64            `json:"arpu"`
	ByCurrency map[string]int64 `json:"by_currency,omitempty"` // 30-day revenue, system-wide only
	At         time.Time        `json:"at"`
}
