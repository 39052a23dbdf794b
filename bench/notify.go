package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/notify"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/seal"
	"github.com/sitepulse/sitepulse/controlplane/sms"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/sim/smsgw"
)

// benchNotify: notification throughput on a real `sitepulse serve` with
// the SMS gateway simulator (in process, over TCP) as Africa's Talking.
// The cause is real: manual payments through the API, each of which
// queues an SMS receipt in its transaction and, through the reconnect
// job, the new account's credentials SMS. Reported: SMS sent per second
// while the outbox drains (first to last message at the gateway), and
// payment accepted → receipt at the gateway p50/p99.
func benchNotify(e *env) error {
	const cmd = "go run ./bench -only notify"
	pg, pgErr := harness.OpenPostgres(e.ctx, filepath.Join(e.tmp, "notify"))
	if pg != nil {
		defer pg.Close()
	}
	for _, d := range []string{"sqlite", "postgres"} {
		dbURL := ""
		var err error
		if d == "postgres" {
			if pgErr != nil {
				for _, n := range []string{"outbox drain", "notifications sent/s", "payment → SMS receipt p50", "payment → SMS receipt p99"} {
					e.add(Row{Section: "10 notifications", Name: n + " (PostgreSQL)", Text: "skipped: no PostgreSQL", Command: cmd, Note: pgErr.Error()})
				}
				continue
			}
			if dbURL, err = pg.NewDatabase(e.ctx, "sitepulse_bench_notify"); err != nil {
				return err
			}
		}
		so := store.Options{DataDir: filepath.Join(e.tmp, "notify-drain-"+d), DatabaseURL: dbURL}
		if err := notifyDrain(e, d, so, cmd); err != nil {
			return fmt.Errorf("%s drain: %w", d, err)
		}
		if d == "postgres" {
			if dbURL, err = pg.NewDatabase(e.ctx, "sitepulse_bench_notify_serve"); err != nil {
				return err
			}
		}
		if err := notifyRun(e, d, dbURL, cmd); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}

// notifyWorkers is serve's notifications queue concurrency in the bench
// (its default).
var notifyWorkers = notify.DefaultWorkers

func notifyRun(e *env, dialect, dbURL, cmd string) error {
	name := map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[dialect]
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	gw := smsgw.New(smsgw.Options{AnyAccount: true})
	if err := gw.Start(ctx, "127.0.0.1:0"); err != nil {
		return err
	}
	defer gw.Close()
	dir := filepath.Join(e.tmp, "notify-"+dialect)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	srv, err := harness.NewServer(e.bins.Server, dir, dbURL)
	if err != nil {
		return err
	}
	srv.Args = []string{"--sms-base-url", gw.URL(), "--notification-workers", strconv.Itoa(notifyWorkers)}
	fx, err := harness.Setup(ctx, srv.DataDir, dbURL, 0)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("%w (log %s)", err, srv.LogPath)
	}
	defer srv.Stop()
	api := srv.API(fx.Token)
	user, key := "bench", "bench-key"
	if _, err := api.UpdateNotificationSettings(ctx, controlplane.NotificationSettingsPatch{TenantID: fx.TenantID,
		SMSUsername: &user, SMSAPIKey: &key}); err != nil {
		return fmt.Errorf("notification settings: %w", err)
	}
	plan, err := api.CreatePlan(ctx, controlplane.PlanRequest{TenantID: fx.TenantID, Name: "1 hour", Kind: controlplane.PlanHotspot,
		Price: billPrice, Duration: "1h"})
	if err != nil {
		return fmt.Errorf("create plan: %w", err)
	}
	n := 1000
	if e.quick {
		n = 200
	}
	var mu sync.Mutex
	paid := make(map[string]time.Time, n)
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				phone := fmt.Sprintf("+2547%08d", i)
				at := time.Now()
				if _, err := api.RecordPayment(ctx, controlplane.ManualPaymentRequest{PlanID: plan.ID, Phone: phone,
					Amount: billPrice, Reference: fmt.Sprintf("BENCH%06d", i)}); err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				mu.Lock()
				paid[phone] = at
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	causesDone := time.Now()
	backlog := 2*n - len(gw.Messages(""))
	select {
	case err := <-errs:
		return fmt.Errorf("record payment: %w", err)
	default:
	}
	want := 2 * n // a receipt and the credentials per payment
	if err := harness.WaitFor(ctx, 5*time.Minute, "every SMS at the gateway", func() bool { return len(gw.Messages("")) >= want }); err != nil {
		return fmt.Errorf("%w: %d of %d", err, len(gw.Messages("")), want)
	}
	msgs := gw.Messages("")
	first, last := msgs[0].Received, msgs[0].Received
	var lat []time.Duration
	for _, m := range msgs {
		if m.Received.Before(first) {
			first = m.Received
		}
		if m.Received.After(last) {
			last = m.Received
		}
		if strings.Contains(m.Text, "BENCH") {
			if at, ok := paid[m.To]; ok {
				lat = append(lat, m.Received.Sub(at))
			}
		}
	}
	rate := float64(len(msgs)) / last.Sub(first).Seconds()
	note := fmt.Sprintf("%d manual payments by 16 API clients → %d SMS (receipt + credentials) through the outbox, %d notification workers; %s",
		n, len(msgs), notifyWorkers, name)
	e.add(Row{Section: "10 notifications", Name: "notifications sent/s (" + name + ")", Value: rate, Unit: "msg/s", Command: cmd,
		Note: note + "; first to last SMS at the gateway, while the payments still arrive; target ≥ 200"})
	if backlog > 0 && last.After(causesDone) {
		e.add(Row{Section: "10 notifications", Name: "outbox drain after the last payment (" + name + ")", Value: float64(backlog) / last.Sub(causesDone).Seconds(),
			Unit: "msg/s", Command: cmd, Note: fmt.Sprintf("%d SMS still queued when the last payment was accepted; target ≥ 200", backlog)})
	}
	e.add(Row{Section: "10 notifications", Name: "payment → SMS receipt p50 (" + name + ")", Value: ms(percentile(lat, 0.5)), Unit: "ms", Command: cmd, Note: note})
	e.add(Row{Section: "10 notifications", Name: "payment → SMS receipt p99 (" + name + ")", Value: ms(percentile(lat, 0.99)), Unit: "ms", Command: cmd, Note: note})
	if extra := len(msgs) - want; extra > 0 {
		return fmt.Errorf("%d SMS more than queued: a notification was sent twice", extra)
	}
	return nil
}

// notifyDrain: the outbox alone, in process (store, provisioning's River
// client as serve runs it, the notification service with the real SMS
// client against the gateway simulator): n receipts queued in
// transactions of 100, timed from the first commit to the last SMS at the
// gateway.
func notifyDrain(e *env, dialect string, so store.Options, cmd string) error {
	name := map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[dialect]
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Minute)
	defer cancel()
	if so.DataDir != "" {
		if err := os.MkdirAll(so.DataDir, 0o700); err != nil {
			return err
		}
	}
	st, err := store.Open(ctx, so)
	if err != nil {
		return err
	}
	defer st.Close()
	gw := smsgw.New(smsgw.Options{AnyAccount: true})
	if err := gw.Start(ctx, "127.0.0.1:0"); err != nil {
		return err
	}
	defer gw.Close()
	key, err := seal.GenerateKey()
	if err != nil {
		return err
	}
	ring, _ := seal.NewKeyring(key)
	bus := &controlplane.Bus{}
	svc, err := notify.New(notify.Options{Store: st, Bus: bus, Sealer: ring, ReportKey: key.Derive("bench"),
		SMS: notify.SMSGateway{Client: sms.New(sms.Config{BaseURL: gw.URL()})}})
	if err != nil {
		return err
	}
	prov, err := provisioning.New(provisioning.Options{Store: st, Bus: bus, DisablePeriodic: true, Jobs: []provisioning.JobSet{svc}})
	if err != nil {
		return err
	}
	svc.SetJobs(prov)
	tenant, err := st.CreateTenant(ctx, "Notify bench "+dialect)
	if err != nil {
		return err
	}
	admin := controlplane.Principal{UserID: 1, TenantID: tenant.ID, Role: controlplane.RoleTenantAdmin}
	user, apiKey := "bench", "bench-key"
	if _, err := svc.UpdateSettings(ctx, admin, controlplane.NotificationSettingsPatch{SMSUsername: &user, SMSAPIKey: &apiKey}); err != nil {
		return err
	}
	if err := prov.Start(ctx, nopCommands{}); err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		prov.Close(c)
	}()
	n := 2000
	if e.quick {
		n = 400
	}
	start := time.Now()
	for b := 0; b < n; b += 100 {
		err := st.Write(ctx, func(tx *store.Tx) error {
			evs := make([]controlplane.NotificationEvent, 0, 100)
			for i := b; i < b+100 && i < n; i++ {
				evs = append(evs, controlplane.NotificationEvent{TenantID: tenant.ID, Kind: controlplane.NotifyPaymentReceipt,
					Event: fmt.Sprintf("payment:%d:receipt", i), To: controlplane.Audience{Phone: fmt.Sprintf("+2547%08d", i)},
					Data: map[string]string{"name": "", "amount": "KES 50.00", "receipt": fmt.Sprintf("BENCH%06d", i), "plan": "1 hour", "ends_at": "later"}})
			}
			_, err := svc.NotifyTx(ctx, tx, evs...)
			return err
		})
		if err != nil {
			return err
		}
	}
	if err := harness.WaitFor(ctx, 4*time.Minute, "every SMS at the gateway", func() bool { return len(gw.Messages("")) >= n }); err != nil {
		return fmt.Errorf("%w: %d of %d", err, len(gw.Messages("")), n)
	}
	took := time.Since(start)
	e.add(Row{Section: "10 notifications", Name: "outbox drain (" + name + ")", Value: float64(n) / took.Seconds(), Unit: "msg/s", Command: cmd,
		Note: fmt.Sprintf("%d SMS receipts queued in transactions of 100 and sent by %d workers to the gateway simulator over HTTP, first commit to last SMS; target ≥ 200", n, notify.DefaultWorkers)})
	if extra := len(gw.Messages("")) - n; extra > 0 {
		return fmt.Errorf("%d SMS more than queued", extra)
	}
	return nil
}
