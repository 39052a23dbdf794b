package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/controlplane"
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
	pg, pgErr := harness.OpenPostgres(e.ctx, e.tmp)
	if pg != nil {
		defer pg.Close()
	}
	for _, d := range []string{"sqlite", "postgres"} {
		dbURL := ""
		if d == "postgres" {
			if pgErr != nil {
				for _, n := range []string{"notifications sent/s", "payment → SMS receipt p50", "payment → SMS receipt p99"} {
					e.add(Row{Section: "10 notifications", Name: n + " (PostgreSQL)", Text: "skipped: no PostgreSQL", Command: cmd, Note: pgErr.Error()})
				}
				continue
			}
			u, err := pg.NewDatabase(e.ctx, "sitepulse_bench_notify")
			if err != nil {
				return err
			}
			dbURL = u
		}
		if err := notifyRun(e, d, dbURL, cmd); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}

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
	srv.Args = []string{"--sms-base-url", gw.URL(), "--notification-workers", "16"}
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
	note := fmt.Sprintf("%d manual payments by 16 API clients → %d SMS (receipt + credentials) through the outbox, 16 notification workers; %s", n, len(msgs), name)
	e.add(Row{Section: "10 notifications", Name: "notifications sent/s (" + name + ")", Value: rate, Unit: "msg/s", Command: cmd,
		Note: note + "; target ≥ 200"})
	e.add(Row{Section: "10 notifications", Name: "payment → SMS receipt p50 (" + name + ")", Value: ms(percentile(lat, 0.5)), Unit: "ms", Command: cmd, Note: note})
	e.add(Row{Section: "10 notifications", Name: "payment → SMS receipt p99 (" + name + ")", Value: ms(percentile(lat, 0.99)), Unit: "ms", Command: cmd, Note: note})
	if extra := len(msgs) - want; extra > 0 {
		return fmt.Errorf("%d SMS more than queued: a notification was sent twice", extra)
	}
	return nil
}
