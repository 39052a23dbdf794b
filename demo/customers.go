package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"regexp"
	"time"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/sim/daraja"
)

// The plans the demo tenant sells, in minor units of KES.
var demoPlans = []controlplane.PlanRequest{
	{Name: "1 Hour", Kind: controlplane.PlanHotspot, Price: 2000, Duration: "1h", RateLimit: "2M/4M", SharedUsers: 1},
	{Name: "Day Pass", Kind: controlplane.PlanHotspot, Price: 5000, Duration: "24h", RateLimit: "3M/6M", SharedUsers: 2},
	{Name: "Week Bundle", Kind: controlplane.PlanHotspot, Price: 25000, Duration: "7d", RateLimit: "5M/10M", SharedUsers: 2},
	{Name: "Home 10 Mbps", Kind: controlplane.PlanPPPoE, Price: 150000, Duration: "30d", RateLimit: "5M/10M"},
}

// purchase is a simulated customer's purchase, followed until it is paid
// and the customer is online, or it failed.
type purchase struct {
	site    *site
	phone   string
	plan    controlplane.Plan
	res     controlplane.PurchaseResult
	started time.Time
}

// shop is the demo's customers: they buy plans at random through the
// Daraja simulator (some cancel or have no money), then log in on a
// simulated router with the credentials they got.
type shop struct {
	d       *demo
	tech    *client.Client
	plans   []controlplane.Plan
	rng     *rand.Rand
	pending map[int64]*purchase
	phones  []string
	sold    int
	failed  int
}

// startMpesaSim starts the Daraja simulator: a fifth of its customers
// fail (cancelled, unreachable, wrong PIN, no money), the rest answer the
// prompt within a few seconds.
func (d *demo) startMpesaSim(ctx context.Context) (string, error) {
	p, err := startChild(d.logs, "mpesa-sim", filepath.Join(d.c.bin, "sitepulse-mpesa-sim"),
		[]string{"--addr", "127.0.0.1:0", "--control-addr", "", "--failure-rate", "0.2", "--callback-delay", "3s", "--seed", "5"})
	if err != nil {
		return "", err
	}
	d.sims = append(d.sims, p)
	line, err := p.waitLine(ctx, 15*time.Second, regexp.MustCompile(`sitepulse-mpesa-sim running`))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`api=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		return "", fmt.Errorf("no api= in %q", line)
	}
	return m[1], nil
}

// startSMSSim starts the SMS gateway simulator (Africa's Talking's API):
// receipts and logins the customers get appear on the Notifications page.
func (d *demo) startSMSSim(ctx context.Context) (string, error) {
	p, err := startChild(d.logs, "sms-sim", filepath.Join(d.c.bin, "sitepulse-sms-sim"),
		[]string{"--addr", "127.0.0.1:0", "--control-addr", "", "--any-account"})
	if err != nil {
		return "", err
	}
	d.sims = append(d.sims, p)
	line, err := p.waitLine(ctx, 15*time.Second, regexp.MustCompile(`sitepulse-sms-sim running`))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`api=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		return "", fmt.Errorf("no api= in %q", line)
	}
	return m[1], nil
}

// openShop sets the tenant's M-Pesa settings to the simulator's app and
// creates the plans, as the tenant's owner.
func (d *demo) openShop(ctx context.Context, tenant int64, owner, tech *client.Client) (*shop, error) {
	key, secret, shortcode, passkey := daraja.DefaultConsumerKey, daraja.DefaultConsumerSecret, daraja.SandboxShortCode, daraja.SandboxPasskey
	if _, err := owner.UpdateBillingSettings(ctx, controlplane.BillingSettingsPatch{MpesaShortCode: &shortcode,
		MpesaConsumerKey: &key, MpesaConsumerSecret: &secret, MpesaPasskey: &passkey,
		// The simulator calls back from this machine.
		AllowedSources: &[]string{"127.0.0.1"}}); err != nil {
		return nil, fmt.Errorf("billing settings: %w", err)
	}
	user, apiKey := "demo", "demo-sms-key"
	if _, err := owner.UpdateNotificationSettings(ctx, controlplane.NotificationSettingsPatch{SMSUsername: &user, SMSAPIKey: &apiKey}); err != nil {
		return nil, fmt.Errorf("notification settings: %w", err)
	}
	s := &shop{d: d, tech: tech, rng: rand.New(rand.NewPCG(7, 11)), pending: map[int64]*purchase{}}
	for _, req := range demoPlans {
		p, err := owner.CreatePlan(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", req.Name, err)
		}
		s.plans = append(s.plans, p)
	}
	for range 60 {
		s.phones = append(s.phones, fmt.Sprintf("+2547%02d%06d", s.rng.IntN(30), s.rng.IntN(1_000_000)))
	}
	return s, nil
}

// buy has a random customer buy a random plan (hotspot plans mostly).
func (s *shop) buy(ctx context.Context) {
	plan := s.plans[s.rng.IntN(3)]
	if s.rng.IntN(6) == 0 {
		plan = s.plans[3]
	}
	st := sites[s.rng.IntN(len(sites))]
	if st.agent == nil {
		return // the site is down: its customers cannot reach the portal
	}
	phone := s.phones[s.rng.IntN(len(s.phones))]
	res, err := s.tech.Purchase(ctx, controlplane.PurchaseRequest{PlanID: plan.ID, Phone: phone})
	if err != nil {
		if controlplane.ErrorCode(err) != controlplane.ECONFLICT { // one push at a time per customer and plan
			fmt.Printf("%s  purchase by %s: %v\n", now(), mask(phone), err)
		}
		return
	}
	fmt.Printf("%s  %s at %s buys %s for %s: M-Pesa prompt sent\n", now(), mask(phone), st.name, plan.Name, plan.Price)
	s.pending[res.PaymentID] = &purchase{site: st, phone: phone, plan: plan, res: res, started: time.Now()}
}

// follow checks the pending purchases: a paid one logs its customer in on
// the site's router.
func (s *shop) follow(ctx context.Context) {
	for id, p := range s.pending {
		pay, err := s.tech.Payment(ctx, id)
		if err != nil {
			continue
		}
		switch pay.Status {
		case controlplane.PaymentPending:
			if time.Since(p.started) > 10*time.Minute {
				delete(s.pending, id)
			}
			continue
		case controlplane.PaymentCompleted:
			cred, err := s.tech.SubscriptionCredentials(ctx, p.res.SubscriptionID)
			if err != nil {
				continue // the account is still being created
			}
			s.sold++
			delete(s.pending, id)
			online := "paid"
			if err := s.login(ctx, p, cred); err == nil {
				online = "online"
			} else {
				online = "paid; login: " + err.Error()
			}
			fmt.Printf("%s  %s paid %s (receipt %s): %s at %s as %s\n", now(), mask(p.phone), pay.Amount, pay.Receipt, online, p.site.name, cred.Username)
		default:
			s.failed++
			delete(s.pending, id)
			fmt.Printf("%s  %s's payment %s: %s\n", now(), mask(p.phone), pay.Status, pay.Reason)
		}
	}
}

// login logs the customer in on the site's simulated router with its
// credentials, through the simulator's control API (the hotspot login
// page or the PPPoE client, in real life). The account reaches the router
// as a command; it may take a moment.
func (s *shop) login(ctx context.Context, p *purchase, cred controlplane.Credentials) error {
	kind := "hotspot"
	if p.plan.Kind == controlplane.PlanPPPoE {
		kind = "ppp"
	}
	body, _ := json.Marshal(map[string]string{"kind": kind, "user": cred.Username, "password": cred.Password,
		"mac":     fmt.Sprintf("02:5A:%02X:%02X:%02X:%02X", s.rng.IntN(256), s.rng.IntN(256), s.rng.IntN(256), s.rng.IntN(256)),
		"address": fmt.Sprintf("10.5.%d.%d", 50+s.rng.IntN(10), 2+s.rng.IntN(250))})
	var last error
	for range 20 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.site.control+"/login", bytes.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("router answered %s", res.Status)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return last
}

// mask shows a phone the way broadcasts do.
func mask(phone string) string {
	if len(phone) < 8 {
		return "****"
	}
	return phone[:5] + "****" + phone[len(phone)-3:]
}
