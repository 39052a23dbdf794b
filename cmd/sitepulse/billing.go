package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/controlplane/billing"
	"github.com/sitepulse/sitepulse/controlplane/mpesa"
	"github.com/sitepulse/sitepulse/controlplane/seal"
)

// BillingConfig is serve's billing: where providers reach the control
// plane, Daraja's address and the key that seals tenants' credentials.
type BillingConfig struct {
	// PublicURL is the control plane's address as Safaricom reaches it
	// (https://cp.example.com); callback URLs are built on it. "" means
	// http://HTTP-ADDR, which only a provider on this machine (the Daraja
	// simulator) reaches.
	PublicURL string
	// MpesaBaseURL is Daraja's address; "" means Safaricom's sandbox.
	MpesaBaseURL string
	// SecretKeyFile and SecretKey (base64 of 32 bytes) are the key that
	// seals credentials at rest; both empty means DataDir/secret.key,
	// created on first start. Replicas must share one key.
	SecretKeyFile, SecretKey string
	// STK query, expiry and plan sync timings; zero means billing's
	// defaults.
	QueryAfter, GiveUpAfter, QueryInterval, ExpiryInterval, SyncInterval time.Duration
}

// newBilling builds the billing service; provisioning runs its jobs.
func (m *Main) newBilling() error {
	c := m.Config.Billing
	def := ""
	if c.SecretKeyFile == "" && c.SecretKey == "" {
		if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
			return fmt.Errorf("billing: %w", err)
		}
		def = filepath.Join(m.Config.DataDir, "secret.key")
		if m.Config.DatabaseURL != "" {
			m.log.Warn("no --secret-key-file or SITEPULSE_SECRET_KEY: sealing credentials with a key in the data directory; every replica must use the same key", "file", def)
		}
	}
	key, err := seal.LoadKey(c.SecretKeyFile, c.SecretKey, def)
	if err != nil {
		return fmt.Errorf("billing: secret key: %w", err)
	}
	ring, err := seal.NewKeyring(key)
	if err != nil {
		return fmt.Errorf("billing: %w", err)
	}
	m.sealer = ring // webhook secrets are sealed with it too
	m.portKey = key.Derive("portal tokens")
	base := c.MpesaBaseURL
	if base == "" {
		base = billing.DefaultMpesaBaseURL
	}
	m.billing, err = billing.New(billing.Options{
		Store: m.store, Bus: m.bus, Sealer: ring, Logger: m.log, Registerer: m.registry, Now: m.Config.Now,
		Daraja:      billing.NewDaraja(mpesa.New(mpesa.Config{BaseURL: base, Logger: m.log.With("component", "mpesa")})),
		PublicURL:   c.PublicURL,
		CallbackKey: key.Derive("billing callback tokens"),
		QueryAfter:  c.QueryAfter, GiveUpAfter: c.GiveUpAfter, QueryInterval: c.QueryInterval, ExpiryInterval: c.ExpiryInterval,
		SyncInterval: c.SyncInterval,
	})
	if err != nil {
		return fmt.Errorf("billing: %w", err)
	}
	return nil
}

// billingFlags configure serve's billing.
func billingFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "public-url", Category: "Billing", Usage: "the control plane's address as Safaricom reaches it (https://cp.example.com); M-Pesa callback URLs are built on it (default http://HTTP-ADDR, which only a simulator on this machine reaches)", Sources: cli.EnvVars("SITEPULSE_PUBLIC_URL")},
		&cli.StringFlag{Name: "mpesa-base-url", Category: "Billing", Value: billing.DefaultMpesaBaseURL, Usage: "Daraja's address: Safaricom's sandbox by default, https://api.safaricom.co.ke in production, a simulator in tests", Sources: cli.EnvVars("SITEPULSE_MPESA_BASE_URL")},
		&cli.StringFlag{Name: "secret-key-file", Category: "Billing", Usage: "file holding the base64 key that seals payment credentials at rest (or SITEPULSE_SECRET_KEY; default DATA_DIR/secret.key, created on first start)", Sources: cli.EnvVars("SITEPULSE_SECRET_KEY_FILE")},
		&cli.DurationFlag{Name: "stk-query-after", Category: "Billing", Value: billing.DefaultQueryAfter, Usage: "ask Daraja (STK query) about a push whose callback has not come after this long", Sources: cli.EnvVars("SITEPULSE_STK_QUERY_AFTER")},
		&cli.DurationFlag{Name: "stk-give-up-after", Category: "Billing", Value: billing.DefaultGiveUpAfter, Usage: "fail a push still unanswered after this long (a later callback still completes it)", Sources: cli.EnvVars("SITEPULSE_STK_GIVE_UP_AFTER")},
	}
}

// billingConfig reads billingFlags.
func billingConfig(cmd *cli.Command) BillingConfig {
	return BillingConfig{
		PublicURL:     cmd.String("public-url"),
		MpesaBaseURL:  cmd.String("mpesa-base-url"),
		SecretKeyFile: cmd.String("secret-key-file"),
		SecretKey:     os.Getenv(seal.EnvKey),
		QueryAfter:    cmd.Duration("stk-query-after"),
		GiveUpAfter:   cmd.Duration("stk-give-up-after"),
	}
}
