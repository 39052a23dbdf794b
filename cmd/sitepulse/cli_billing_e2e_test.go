package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/billing"
	"github.com/sitepulse/sitepulse/controlplane/mpesa"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/seal"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

// TestBillingCLIOverTheAPI runs the billing commands against the real API
// and billing service (wired here as serve wires them), on SQLite and
// PostgreSQL: a plan created in shillings is priced in exact cents, a cash
// payment one cent short is refused, one recorded in full completes and
// shows in every list.
func TestBillingCLIOverTheAPI(t *testing.T) {
	testkit.EachDialect(t, func(t *testing.T, db testkit.Database) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := store.Open(ctx, store.Options{DataDir: db.Dir, DatabaseURL: db.URL, PasswordIterations: 1000})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		bus := &controlplane.Bus{}
		key, err := seal.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		ring, err := seal.NewKeyring(key)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := billing.New(billing.Options{Store: st, Bus: bus, Sealer: ring,
			Daraja:    billing.NewDaraja(mpesa.New(mpesa.Config{BaseURL: "http://127.0.0.1:1"})),
			PublicURL: "https://cp.example.test", CallbackKey: bytes.Repeat([]byte{9}, 32)})
		if err != nil {
			t.Fatal(err)
		}
		prov, err := provisioning.New(provisioning.Options{Store: st, Bus: bus, DisablePeriodic: true, Jobs: []provisioning.JobSet{svc}})
		if err != nil {
			t.Fatal(err)
		}
		defer prov.Close(context.Background())
		svc.SetProvisioning(prov)
		srv, err := api.New(api.Options{Store: st, Bus: bus, Provisioning: prov, Billing: svc})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		defer hs.Close()

		ten, err := st.CreateTenant(ctx, "Kahawa WiFi")
		if err != nil {
			t.Fatal(err)
		}
		if ten, err = st.ActivateTenant(ctx, ten.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.CreateRouter(ctx, ten.ID, "site-a", "site a"); err != nil {
			t.Fatal(err)
		}
		creds := map[controlplane.Role]string{}
		for _, role := range []controlplane.Role{controlplane.RoleTenantAdmin, controlplane.RoleTechnician, controlplane.RoleViewer} {
			u, err := st.CreateUser(ctx, controlplane.User{TenantID: ten.ID, Email: string(role) + "@kahawa.test", Role: role}, "correct horse battery")
			if err != nil {
				t.Fatal(err)
			}
			tok, _, err := st.CreateToken(ctx, u.ID, "cli", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			creds[role] = filepath.Join(t.TempDir(), "credentials")
			if err := saveCredentials(creds[role], credentials{Server: hs.URL, Email: u.Email, Token: tok}); err != nil {
				t.Fatal(err)
			}
		}
		run := func(role controlplane.Role, args ...string) (string, error) {
			t.Helper()
			out, _, err := cliRun(t, "", append(args, "--credentials", creds[role])...)
			return out, err
		}

		if _, err := run(controlplane.RoleTechnician, "plans", "create", "--name", "Daily", "--price", "50", "--duration", "24h"); err == nil ||
			!strings.Contains(err.Error(), "may not") {
			t.Fatalf("a technician created a plan: %v", err)
		}
		out, err := run(controlplane.RoleTenantAdmin, "plans", "create", "--json", "--name", "Daily", "--price", "50.00", "--duration", "24h", "--rate-limit", "2M/5M")
		var pl controlplane.Plan
		if err != nil || json.Unmarshal([]byte(out), &pl) != nil || pl.Price != controlplane.KES(5000) || len(pl.Routers) != 1 {
			t.Fatalf("plans create: %v\n%s", err, out)
		}
		out, err = run(controlplane.RoleViewer, "plans", "list")
		if err != nil || !strings.Contains(out, "KES 50.00") || !strings.Contains(out, "1 of 1 plans") {
			t.Fatalf("plans list: %v\n%s", err, out)
		}

		if _, err := run(controlplane.RoleViewer, "payments", "record", "--plan", strconv.FormatInt(pl.ID, 10), "--phone", "0712345678", "--amount", "50"); err == nil {
			t.Fatal("a viewer recorded a payment")
		}
		if _, err := run(controlplane.RoleTechnician, "payments", "record", "--plan", strconv.FormatInt(pl.ID, 10), "--phone", "0712345678", "--amount", "49.99"); err == nil ||
			!strings.Contains(err.Error(), "below the plan's price") {
			t.Fatalf("a short cash payment: %v", err)
		}
		out, err = run(controlplane.RoleTechnician, "payments", "record", "--plan", strconv.FormatInt(pl.ID, 10), "--phone", "0712345678", "--name", "Wanjiru",
			"--amount", "50", "--reference", "CASH-0001")
		if err != nil || !strings.Contains(out, "KES 50.00 completed, receipt CASH-0001") {
			t.Fatalf("payments record: %v\n%s", err, out)
		}
		out, err = run(controlplane.RoleViewer, "payments", "list", "--status", "completed")
		if err != nil || !strings.Contains(out, "CASH-0001") || !strings.Contains(out, "KES 50.00") || !strings.Contains(out, "1 of 1 payments") {
			t.Fatalf("payments list: %v\n%s", err, out)
		}
		out, err = run(controlplane.RoleViewer, "payments", "list", "--status", "flagged")
		if err != nil || !strings.Contains(out, "0 of 0 payments") {
			t.Fatalf("payments list --status flagged: %v\n%s", err, out)
		}
		out, err = run(controlplane.RoleViewer, "customers", "list")
		if err != nil || !strings.Contains(out, "+254712345678") || !strings.Contains(out, "Wanjiru") {
			t.Fatalf("customers list: %v\n%s", err, out)
		}
		out, err = run(controlplane.RoleViewer, "subscriptions", "list", "--status", "active")
		if err != nil || !strings.Contains(out, "Daily") || !strings.Contains(out, "1 of 1 subscriptions") {
			t.Fatalf("subscriptions list: %v\n%s", err, out)
		}
	})
}
