package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
	"github.com/sitepulse/sitepulse/sim/daraja"
)

// billPrice is the bench plan's price in minor units (KES 50.00).
const billPrice = 5000

// benchBilling: the money path on a real `sitepulse serve` with the
// Daraja simulator (in process, over TCP) as M-Pesa and one simulated
// router with its real agent (in process, as in e2e).
//
//  1. STK callback → hotspot user with the plan's profile enabled on the
//     router, per purchase, with the router online.
//  2. 200 callbacks/s for a minute, first deliveries mixed with
//     duplicates, then every payment must have been applied exactly once.
func benchBilling(e *env) error {
	const cmd = "go run ./bench -only billing"
	pg, pgErr := harness.OpenPostgres(e.ctx, e.tmp)
	if pg != nil {
		defer pg.Close()
	}
	for _, d := range []string{"sqlite", "postgres"} {
		dbURL := ""
		if d == "postgres" {
			if pgErr != nil {
				for _, n := range []string{"callback → account on router p50", "callback → account on router p99",
					"callbacks/s sustained", "callback answer p50", "callback answer p99", "duplicates applied", "callback errors"} {
					e.add(Row{Section: "8 billing", Name: n + " (PostgreSQL)", Text: "skipped: no PostgreSQL", Command: cmd, Note: pgErr.Error()})
				}
				continue
			}
			u, err := pg.NewDatabase(e.ctx, "sitepulse_bench_billing")
			if err != nil {
				return err
			}
			dbURL = u
		}
		if err := billingRun(e, d, dbURL, cmd); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}

// billSite is one dialect's running system.
type billSite struct {
	e      *env
	srv    *harness.Server
	fx     harness.Fixture
	api    *client.Client
	mpesa  *daraja.Server
	router *sim.Router
	plan   controlplane.Plan

	mu   sync.Mutex
	seen map[string]time.Time // hotspot user → when the router showed it enabled with the plan's profile

	restTook time.Duration // the last purchase call's REST requests
}

func billingRun(e *env, dialect, dbURL, cmd string) error {
	name := map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[dialect]
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	b, stop, err := startBillSite(ctx, e, dialect, dbURL)
	if err != nil {
		return err
	}
	defer stop()
	if err := b.latency(ctx, name, cmd); err != nil {
		return fmt.Errorf("callback → router: %w", err)
	}
	if err := b.sustained(ctx, name, cmd); err != nil {
		return fmt.Errorf("sustained callbacks: %w", err)
	}
	return nil
}

func startBillSite(ctx context.Context, e *env, dialect, dbURL string) (*billSite, func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	fail := func(err error) (*billSite, func(), error) { stop(); return nil, nil, err }
	b := &billSite{e: e, seen: map[string]time.Time{}}

	// Daraja: callbacks over keep-alive connections, as many as the
	// benchmark has in flight.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	b.mpesa = daraja.New(daraja.Options{Seed: 13, HTTPClient: &http.Client{Transport: tr, Timeout: 30 * time.Second}})
	if err := b.mpesa.Start(ctx, "127.0.0.1:0"); err != nil {
		return fail(err)
	}
	stops = append(stops, func() { b.mpesa.Close() })

	dir := filepath.Join(e.tmp, "billing-"+dialect)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	srv, err := harness.NewServer(e.bins.Server, dir, dbURL)
	if err != nil {
		return fail(err)
	}
	// The query sweep stays out of the way: every payment here is
	// completed by a callback.
	srv.Args = []string{"--mpesa-base-url", b.mpesa.URL(), "--stk-query-after", "30m", "--stk-give-up-after", "1h"}
	b.srv = srv
	if b.fx, err = harness.Setup(ctx, srv.DataDir, dbURL, 1); err != nil {
		return fail(err)
	}
	if err := srv.Start(ctx); err != nil {
		return fail(fmt.Errorf("%w (log %s)", err, srv.LogPath))
	}
	stops = append(stops, func() { srv.Stop() })
	b.api = srv.API(b.fx.Token)

	b.router = sim.New(sim.Config{User: "bench", Password: "pw", Identity: "billing", TrafficInterval: -1, ReplyDelay: 200 * time.Microsecond})
	if err := b.router.Start(ctx, "127.0.0.1:0"); err != nil {
		return fail(err)
	}
	stops = append(stops, func() { b.router.Close() })
	actx, acancel := context.WithCancel(ctx)
	cred := b.fx.Routers[0]
	a, err := agent.New(actx, agent.Config{RouterID: cred.ID, RouterAddr: b.router.Addr(), RouterUser: "bench", RouterPassword: "pw",
		MQTTURL: "tcp://" + srv.MQTTAddr, MQTTSecret: cred.Secret, DataDir: filepath.Join(dir, "agent"),
		CountersInterval: 10 * time.Second, RouterMinBackoff: 50 * time.Millisecond, RouterMaxBackoff: 500 * time.Millisecond,
		MQTTMinBackoff: 50 * time.Millisecond, MQTTMaxBackoff: 500 * time.Millisecond, ShutdownTimeout: 2 * time.Second,
		Version: "bench", Logger: e.log})
	if err != nil {
		acancel()
		return fail(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(actx) }()
	stops = append(stops, func() { acancel(); <-done; a.Close() })

	if err := harness.WaitFor(ctx, 30*time.Second, "router online", func() bool {
		r, err := b.api.Router(ctx, cred.ID)
		return err == nil && r.Status == controlplane.RouterOnline && r.RouterConnected
	}); err != nil {
		return fail(err)
	}
	tenant := b.fx.TenantID
	short, pass, key, secret := daraja.SandboxShortCode, daraja.SandboxPasskey, daraja.DefaultConsumerKey, daraja.DefaultConsumerSecret
	if _, err := b.api.UpdateBillingSettings(ctx, controlplane.BillingSettingsPatch{TenantID: tenant, MpesaShortCode: &short,
		MpesaPasskey: &pass, MpesaConsumerKey: &key, MpesaConsumerSecret: &secret, AllowedSources: &[]string{"127.0.0.1"}}); err != nil {
		return fail(fmt.Errorf("billing settings: %w", err))
	}
	if b.plan, err = b.api.CreatePlan(ctx, controlplane.PlanRequest{TenantID: tenant, Name: "1 hour", Kind: controlplane.PlanHotspot,
		Price: billPrice, Duration: "1h", RateLimit: "2M/5M", SharedUsers: 1}); err != nil {
		return fail(fmt.Errorf("create plan: %w", err))
	}
	if err := harness.WaitFor(ctx, 30*time.Second, "plan profile on the router", func() bool {
		p, err := b.api.Plan(ctx, b.plan.ID)
		return err == nil && len(p.Routers) == 1 && p.Routers[0].State == controlplane.SyncSynced
	}); err != nil {
		return fail(err)
	}

	// The router's own view: /ip/hotspot/user/listen over the RouterOS
	// API streams every added or changed user as the router makes it.
	rc, err := routeros.DialTimeout(b.router.Addr(), "bench", "pw", 5*time.Second)
	if err != nil {
		return fail(fmt.Errorf("dial router: %w", err))
	}
	rc.Queue = 1 << 14
	l, err := rc.ListenArgsContext(ctx, []string{"/ip/hotspot/user/listen"})
	if err != nil {
		rc.Close()
		return fail(fmt.Errorf("listen: %w", err))
	}
	stops = append(stops, func() { rc.Close() })
	go func() {
		for s := range l.Chan() {
			at := time.Now()
			m := s.Map
			if m["profile"] != b.plan.Profile || m["disabled"] != "false" || m["name"] == "" {
				continue
			}
			b.mu.Lock()
			if _, ok := b.seen[m["name"]]; !ok {
				b.seen[m["name"]] = at
			}
			b.mu.Unlock()
		}
	}()
	return b, stop, nil
}

// phones returns n distinct customer numbers (2547…, M-Pesa's form, which
// is also the hotspot user name billing gives the account).
func phones(prefix, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("2547%02d%06d", prefix, i)
	}
	return out
}

// purchase scripts outcome for each phone at the simulator, buys the
// plan for each through REST (8 at a time) and waits until every STK push
// is at the simulator and its ids are on the payment. It returns the
// simulator's transaction per phone.
func (b *billSite) purchase(ctx context.Context, ph []string, outcome daraja.Outcome) (map[string]daraja.Transaction, error) {
	for _, p := range ph {
		b.mpesa.Script(p, outcome)
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ph) {
					return
				}
				if _, err := b.api.Purchase(ctx, controlplane.PurchaseRequest{TenantID: b.fx.TenantID, PlanID: b.plan.ID, Phone: "+" + ph[i]}); err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("purchase %s: %w", ph[i], err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	b.restTook = time.Since(t0)
	want := map[string]bool{}
	for _, p := range ph {
		want[p] = true
	}
	txs := map[string]daraja.Transaction{}
	err := poll(ctx, 120*time.Second, 100*time.Millisecond, fmt.Sprintf("%d STK pushes at the simulator", len(ph)), func() bool {
		for _, t := range b.mpesa.Transactions() {
			if want[t.Phone] && (outcome.Hold || t.State != daraja.StatePending) {
				txs[t.Phone] = t
			}
		}
		return len(txs) == len(ph)
	})
	if err != nil {
		return nil, err
	}
	// The push job records the CheckoutRequestID after Daraja answers;
	// wait for it so that no push job writes during the measurement.
	err = poll(ctx, 60*time.Second, 250*time.Millisecond, "checkout ids on the payments", func() bool {
		pend, err := b.api.AllPayments(ctx, b.fx.TenantID, controlplane.PaymentFilter{Status: controlplane.PaymentPending})
		if err != nil {
			return false
		}
		n := 0
		for _, p := range pend {
			if want[msisdn(p.Phone)] && p.CheckoutRequestID != "" {
				n++
			}
		}
		return n == len(ph)
	})
	return txs, err
}

func (b *billSite) seenAt(name string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.seen[name]
	return t, ok
}

// latency: N held pushes are released at a steady pace (the router is
// online); each sample is from the simulator's start of the callback
// POST (Delivery.At) to the router's listen row for that user.
func (b *billSite) latency(ctx context.Context, name, cmd string) error {
	n := pick(b.e, 100, 20)
	pace := 100 * time.Millisecond
	ph := phones(10, n)
	txs, err := b.purchase(ctx, ph, daraja.Outcome{Hold: true})
	if err != nil {
		return err
	}
	start := time.Now()
	for i, p := range ph {
		if d := time.Until(start.Add(time.Duration(i) * pace)); d > 0 {
			time.Sleep(d)
		}
		if err := b.mpesa.Release(txs[p].CheckoutRequestID); err != nil {
			return err
		}
	}
	var lat []time.Duration
	var bad []string
	err = harness.WaitFor(ctx, 60*time.Second, fmt.Sprintf("%d hotspot users on the router", n), func() bool {
		lat, bad = lat[:0], bad[:0]
		for _, p := range ph {
			t, _ := b.mpesa.Transaction(txs[p].CheckoutRequestID)
			at, ok := b.seenAt(p)
			if len(t.Deliveries) == 0 || !ok {
				return false
			}
			d := t.Deliveries[0]
			if d.Status != http.StatusOK {
				bad = append(bad, fmt.Sprintf("%s: callback answered %d %s", p, d.Status, d.Error))
			}
			lat = append(lat, at.Sub(d.At))
		}
		return true
	})
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d callbacks refused, first: %s", len(bad), bad[0])
	}
	p99 := percentile(lat, 0.99)
	note := fmt.Sprintf("%d purchases, held STK pushes released %v apart, router online with its agent; from the simulator's Delivery.At "+
		"(start of the callback POST) to the router's /ip/hotspot/user/listen row (RouterOS API) with the plan's profile and disabled=false", n, pace)
	e := b.e
	e.add(Row{Section: "8 billing", Name: "callback → account on router p50 (" + name + ")", Value: ms(percentile(lat, 0.5)), Unit: "ms", Command: cmd, Note: note})
	e.add(Row{Section: "8 billing", Name: "callback → account on router p99 (" + name + ")", Value: ms(p99), Unit: "ms", Command: cmd,
		Note: fmt.Sprintf("target ≤ 2000 ms: %s; max %.0f ms", map[bool]string{true: "met", false: "MISSED"}[p99 <= 2*time.Second], ms(percentile(lat, 1)))})
	return nil
}

// sustained drives rate STK callbacks per second for dur at the hook
// URLs of real pending payments: first deliveries mixed with duplicates
// of earlier ones, then checks every payment was applied exactly once.
func (b *billSite) sustained(ctx context.Context, name, cmd string) error {
	const rate = 200
	dur := pick(b.e, 60*time.Second, 10*time.Second)
	total := int(rate * dur.Seconds())
	// One first delivery per 12 callbacks, 11 duplicates: 1,000 payments
	// at full size, which billing's payments queue pushes in about 25 s
	// (4 workers, ~40 jobs/s); more would stretch the section past its
	// three minutes.
	const every = 12
	n := (total + every - 1) / every
	ph := phones(20, n)
	// Never: the customer pays at once but the simulator withholds the
	// callback, so the benchmark decides when each copy goes out (Resend
	// POSTs the simulator's own payload to the payment's hook URL).
	t0 := time.Now()
	txs, err := b.purchase(ctx, ph, daraja.Outcome{Never: true})
	if err != nil {
		return err
	}
	prepared := time.Since(t0)
	tenant := b.fx.TenantID
	before, err := b.counts(ctx)
	if err != nil {
		return err
	}

	ids := make([]string, n)
	for i, p := range ph {
		ids[i] = txs[p].CheckoutRequestID
	}
	lat := make([]time.Duration, total)
	sent := make([]time.Duration, total) // since start
	load0 := loadavg()
	cpu0, _ := harness.ProcUsage(b.srv.Proc.PID())
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2000)
	rng := rand.New(rand.NewPCG(42, uint64(len(ids))))
	period := time.Second / rate
	var lateSlots int
	start := time.Now()
	racing := 0
	for i := range total {
		k := i / every
		var id string
		racy := false
		switch {
		case i%every == 0:
			id = ids[k]
		case i%every == 1 && rng.IntN(4) == 0:
			// Daraja's duplicate: a copy sent together with the first
			// delivery, both in flight at once.
			id, racy = ids[k], true
			racing++
		default:
			id = ids[rng.IntN(k+1)]
		}
		if !racy { // a racing copy goes out with the slot before it
			if d := time.Until(start.Add(time.Duration(i) * period)); d > 0 {
				time.Sleep(d)
			} else if d < -50*time.Millisecond {
				lateSlots++
			}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int, id string) {
			defer func() { <-sem; wg.Done() }()
			t0 := time.Now()
			status, err := b.mpesa.Resend(ctx, id, "")
			lat[i], sent[i] = time.Since(t0), t0.Sub(start)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("HTTP %d", status)
			}
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}(i, id)
	}
	wg.Wait()
	elapsed := time.Since(start)
	achieved := float64(total) / elapsed.Seconds()
	cpu1, _ := harness.ProcUsage(b.srv.Proc.PID())
	// Where the slow answers were: a stall of the server (or of this
	// machine, shared on 2 cores) shows as one window.
	slow, from, to := 0, time.Duration(-1), time.Duration(0)
	for i, d := range lat {
		if d > time.Second {
			slow++
			if from < 0 {
				from = sent[i]
			}
			to = max(to, sent[i]+d)
		}
	}
	stall := "none over 1 s"
	if slow > 0 {
		stall = fmt.Sprintf("%d over 1 s, sent between +%.1fs and answered by +%.1fs", slow, from.Seconds(), to.Seconds())
	}

	// Drain: every account on the router, every payment completed.
	want := before.completed + n
	var after billCounts
	drain := time.Now()
	err = poll(ctx, 120*time.Second, 100*time.Millisecond, "payments completed and accounts on the router", func() bool {
		for _, p := range ph {
			if _, ok := b.seenAt(p); !ok {
				return false
			}
		}
		after, err = b.counts(ctx)
		return err == nil && after.completed >= want && after.userAdds >= before.userAdds+n
	})
	drainTook := time.Since(drain)
	if err != nil {
		return err
	}

	// Exactly once, from the control plane's side and the router's.
	done, err := b.api.AllPayments(ctx, tenant, controlplane.PaymentFilter{Status: controlplane.PaymentCompleted})
	if err != nil {
		return err
	}
	mine := map[string]bool{}
	for _, p := range ph {
		mine[p] = true
	}
	receipts := map[string]bool{}
	completed, wrongReceipt := 0, 0
	for _, p := range done {
		if !mine[msisdn(p.Phone)] {
			continue
		}
		completed++
		receipts[p.Receipt] = true
		if t, _ := b.mpesa.Transaction(p.CheckoutRequestID); t.Receipt != p.Receipt {
			wrongReceipt++
		}
	}
	// Per subscription: one hour of time (a second application would add
	// another) and one hotspot.user.add for its account.
	subs, err := b.api.AllSubscriptions(ctx, tenant, controlplane.SubscriptionFilter{})
	if err != nil {
		return err
	}
	cmds, err := b.api.AllCommands(ctx, tenant, controlplane.CommandFilter{Kind: protocol.CmdHotspotUserAdd})
	if err != nil {
		return err
	}
	addsOf := map[int64]int{}
	for _, c := range cmds {
		addsOf[c.AccountID]++
	}
	subsSeen, twice := 0, 0
	for _, sub := range subs {
		if !mine[sub.Username] {
			continue
		}
		subsSeen++
		if sub.StartsAt == nil || sub.EndsAt == nil || sub.EndsAt.Sub(*sub.StartsAt) > time.Hour+time.Minute || addsOf[sub.AccountID] != 1 {
			twice++
		}
	}
	revenue := after.revenue - before.revenue
	adds := after.userAdds - before.userAdds
	routerAdds := after.routerAdds - before.routerAdds
	applied := after.applied - before.applied
	dups := max(0, completed-n, int(revenue/billPrice)-n, adds-n, routerAdds-n, applied-n, after.flagged-before.flagged, twice)
	check := fmt.Sprintf("%d payments: completed %d, distinct receipts %d (%d differ from the simulator's), revenue +%d = %d × %d, "+
		"hotspot.user.add commands +%d, user adds on the router +%d, callbacks applied +%d / duplicate +%d, flagged +%d; "+
		"%d subscriptions, %d with more than the plan's hour or not exactly one hotspot.user.add for their account",
		n, completed, len(receipts), wrongReceipt, revenue, n, billPrice, adds, routerAdds, applied, after.duplicate-before.duplicate,
		after.flagged-before.flagged, subsSeen, twice)
	var problems []string
	if completed != n || len(receipts) != n || wrongReceipt != 0 {
		problems = append(problems, "payments")
	}
	if revenue != int64(n)*billPrice {
		problems = append(problems, "revenue")
	}
	if adds != n || routerAdds != n || applied != n || subsSeen != n || twice != 0 {
		problems = append(problems, "applications")
	}

	answers := append([]time.Duration(nil), lat...)
	note := fmt.Sprintf("%d callbacks in %v (target %d/s for %v, %d slots late > 50 ms): %d first deliveries + %d duplicates "+
		"(the simulator's payload resent to the payment's hook URL, %d of them together with the first delivery), all accounts on the router %v after the last; "+
		"the %d pending payments were bought through REST beforehand in %v (requests %v, the rest waiting for the STK push jobs)",
		total, elapsed.Round(time.Millisecond), rate, dur, lateSlots, n, total-n, racing, drainTook.Round(time.Millisecond), n,
		prepared.Round(100*time.Millisecond), b.restTook.Round(100*time.Millisecond))
	e := b.e
	e.add(Row{Section: "8 billing", Name: "callbacks/s sustained (" + name + ")", Value: achieved, Unit: "callbacks/s", Command: cmd, Note: note})
	e.add(Row{Section: "8 billing", Name: "callback answer p50 (" + name + ")", Value: ms(percentile(answers, 0.5)), Unit: "ms", Command: cmd,
		Note: "Resend call at the simulator: POST to the hook and the control plane's answer"})
	e.add(Row{Section: "8 billing", Name: "callback answer p99 (" + name + ")", Value: ms(percentile(answers, 0.99)), Unit: "ms", Command: cmd,
		Note: fmt.Sprintf("max %.0f ms; %s; server CPU %.0f%% of a core during the drive; load average %s before, %s after",
			ms(percentile(answers, 1)), stall, 100*(cpu1.CPU-cpu0.CPU).Seconds()/elapsed.Seconds(), load0, loadavg())})
	e.add(Row{Section: "8 billing", Name: "duplicates applied (" + name + ")", Value: float64(dups), Unit: "", Command: cmd, Note: check})
	errNote := ""
	if v, ok := firstErr.Load().(error); ok {
		errNote = "first: " + v.Error()
	}
	e.add(Row{Section: "8 billing", Name: "callback errors (" + name + ")", Value: float64(errs.Load()), Unit: "", Command: cmd, Note: errNote})
	if len(problems) > 0 {
		return fmt.Errorf("not exactly once (%v): %s", problems, check)
	}
	return nil
}

// billCounts are the figures the exactly-once check compares before and
// after the drive.
type billCounts struct {
	completed, userAdds, routerAdds, applied, duplicate, flagged int
	revenue                                                      int64
}

func (b *billSite) counts(ctx context.Context) (billCounts, error) {
	var c billCounts
	t := b.fx.TenantID
	st, err := b.api.BillingStats(ctx, t)
	if err != nil {
		return c, err
	}
	c.revenue = st.Revenue30d
	total := func(p controlplane.Page[controlplane.Payment], err error) (int, error) { return p.Total, err }
	var errs []error
	c.completed, err = total(b.api.Payments(ctx, t, controlplane.PaymentFilter{Status: controlplane.PaymentCompleted, Limit: 1}))
	errs = append(errs, err)
	c.flagged, err = total(b.api.Payments(ctx, t, controlplane.PaymentFilter{Status: controlplane.PaymentFlagged, Limit: 1}))
	errs = append(errs, err)
	cmds, err := b.api.Commands(ctx, t, controlplane.CommandFilter{Kind: protocol.CmdHotspotUserAdd, Limit: 1})
	c.userAdds = cmds.Total
	errs = append(errs, err)
	cb, err := b.api.Callbacks(ctx, t, controlplane.CallbackApplied, 1, 0)
	c.applied = cb.Total
	errs = append(errs, err)
	cb, err = b.api.Callbacks(ctx, t, controlplane.CallbackDuplicate, 1, 0)
	c.duplicate = cb.Total
	errs = append(errs, err)
	c.routerAdds = b.router.Calls("/ip/hotspot/user/add")
	return c, errors.Join(errs...)
}

// msisdn is an E.164 phone as M-Pesa writes it (no plus).
func msisdn(e164 string) string {
	if len(e164) > 0 && e164[0] == '+' {
		return e164[1:]
	}
	return e164
}

// poll checks cond every interval until it holds or d passes; for
// conditions that cost the server requests, where harness.WaitFor's 20 ms
// would load what is being measured.
func poll(ctx context.Context, d, interval time.Duration, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %v", what, d)
		case <-time.After(interval):
		}
	}
	return nil
}
