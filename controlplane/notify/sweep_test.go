package notify

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

func testkitSQLite(t *testing.T) store.Options { return store.Options{DataDir: t.TempDir()} }

// alerts returns the tenant's router alert rows of kind (one per
// recipient and channel: here the admin's email and one Telegram chat).
func (e *env) alerts(kind controlplane.NotificationKind) []controlplane.Notification {
	var out []controlplane.Notification
	for _, n := range e.rows() {
		if n.Kind == kind && n.Channel == controlplane.ChannelTelegram {
			out = append(out, n)
		}
	}
	return out
}

func (e *env) sweep() {
	e.t.Helper()
	if _, err := e.svc.SweepRouters(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func TestRouterAlerts(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		a, _, err := e.st.CreateRouter(e.ctx, e.tenant.ID, "core", "Site A")
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := e.st.CreateRouter(e.ctx, e.tenant.ID, "edge", "Site B")
		if err != nil {
			t.Fatal(err)
		}
		pending, _, err := e.st.CreateRouter(e.ctx, e.tenant.ID, "never-connected", "")
		if err != nil {
			t.Fatal(err)
		}
		_ = pending
		e.setRouter(a.ID, true)
		e.setRouter(b.ID, true)
		e.sweep()

		// Both routers go down together: one alert listing both, after 5
		// minutes, not before, and not again.
		e.clock.Advance(time.Second)
		e.setRouter(a.ID, false)
		e.setRouter(b.ID, false)
		for range 4 {
			e.clock.Advance(time.Minute)
			e.sweep()
		}
		if got := e.alerts(controlplane.NotifyRouterOffline); len(got) != 0 {
			t.Fatalf("alerted after 4 minutes: %+v", got)
		}
		e.clock.Advance(time.Minute + time.Second)
		e.sweep()
		e.clock.Advance(time.Minute)
		e.sweep()
		got := e.alerts(controlplane.NotifyRouterOffline)
		if len(got) != 1 {
			t.Fatalf("%d offline alerts, want 1 for both routers", len(got))
		}
		if err := e.svc.send(e.ctx, got[0].ID, false); err != nil {
			t.Fatal(err)
		}
		msgs := e.gw.TelegramMessages(4242)
		if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "core (Site A)") || !strings.Contains(msgs[0].Text, "edge (Site B)") {
			t.Fatalf("telegram %+v", msgs)
		}
		var email int
		for _, n := range e.rows() {
			if n.Kind == controlplane.NotifyRouterOffline && n.Channel == controlplane.ChannelEmail && n.Recipient == "boss@kahawa.test" {
				email++
			}
		}
		if email != 1 {
			t.Errorf("%d offline emails to the admin, want 1", email)
		}

		// They come back; a flap during the recovery hold keeps the same
		// outage; recovery once the hold passes, once.
		e.setRouter(a.ID, true)
		e.setRouter(b.ID, true)
		e.sweep()
		e.clock.Advance(30 * time.Second)
		e.setRouter(a.ID, false)
		e.sweep()
		e.clock.Advance(10 * time.Second)
		e.setRouter(a.ID, true)
		e.sweep()
		for range 5 {
			e.clock.Advance(20 * time.Second)
			e.sweep()
		}
		if got := e.alerts(controlplane.NotifyRouterOffline); len(got) != 1 {
			t.Fatalf("the flap during recovery raised another alert: %d", len(got))
		}
		// edge's hold ended first; core's restarted with its flap.
		if got := e.alerts(controlplane.NotifyRouterRecovered); len(got) != 2 {
			t.Fatalf("%d recovery messages, want 2 (edge, then core after its flap)", len(got))
		}

		// A router flapping every 10 s for a minute sends nothing.
		for i := range 6 {
			e.clock.Advance(10 * time.Second)
			e.setRouter(a.ID, i%2 == 1)
			e.sweep()
		}
		e.setRouter(a.ID, true)
		for range 10 {
			e.clock.Advance(time.Minute)
			e.sweep()
		}
		if off, rec := e.alerts(controlplane.NotifyRouterOffline), e.alerts(controlplane.NotifyRouterRecovered); len(off) != 1 || len(rec) != 2 {
			t.Fatalf("flapping for a minute: %d alerts, %d recoveries; want only the earlier 1 and 2", len(off), len(rec))
		}
	})
}

func TestExpiryReminders(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := e.ctx
		// A monthly subscription started 29 days ago and an hourly one.
		var monthly, hourly controlplane.Subscription
		start := e.clock.Now()
		err := e.st.Write(ctx, func(tx *store.Tx) error {
			cust, _, err := tx.UpsertCustomer(ctx, controlplane.Customer{TenantID: e.tenant.ID, Phone: "+254712000009", Name: "Baraka"})
			if err != nil {
				return err
			}
			mk := func(name string, d time.Duration, from time.Time) (controlplane.Subscription, error) {
				plan, err := tx.InsertPlan(ctx, controlplane.Plan{TenantID: e.tenant.ID, Name: name, Kind: controlplane.PlanHotspot,
					Price: controlplane.KES(100), Duration: "1h", DurationSeconds: int64(d / time.Second), Active: true})
				if err != nil {
					return controlplane.Subscription{}, err
				}
				sub, _, err := tx.OpenSubscription(ctx, e.tenant.ID, cust.ID, plan.ID)
				if err != nil {
					return controlplane.Subscription{}, err
				}
				end := from.Add(d)
				sub.Status, sub.StartsAt, sub.EndsAt = controlplane.SubscriptionActive, &from, &end
				return tx.UpdateSubscription(ctx, sub)
			}
			if monthly, err = mk("Monthly", 30*24*time.Hour, start.Add(-29*24*time.Hour)); err != nil {
				return err
			}
			hourly, err = mk("Hourly", time.Hour, start)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sweep := func() int {
			t.Helper()
			n, err := e.svc.SweepReminders(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		reminders := func(sub int64) []controlplane.Notification {
			var out []controlplane.Notification
			for _, n := range e.rows() {
				if n.Kind == controlplane.NotifyExpiryReminder && strings.HasPrefix(n.Event, "subscription:"+itoa(sub)+":") {
					out = append(out, n)
				}
			}
			return out
		}
		// 24 h before the monthly's end: one reminder; none for the hourly
		// plan (24 h and 1 h before its end are before it started).
		if n := sweep(); n != 1 {
			t.Fatalf("first sweep queued %d, want the monthly's 24 h reminder", n)
		}
		if n := sweep(); n != 0 {
			t.Fatalf("second sweep queued %d", n)
		}
		e.clock.Advance(23*time.Hour + 30*time.Minute)
		if n := sweep(); n != 1 {
			t.Fatalf("1 h before: queued %d, want 1", n)
		}
		if got := reminders(monthly.ID); len(got) != 2 {
			t.Fatalf("monthly reminders %+v", got)
		}
		if got := reminders(hourly.ID); len(got) != 0 {
			t.Fatalf("hourly plan reminded: %+v", got)
		}
		if err := e.svc.send(ctx, reminders(monthly.ID)[1].ID, false); err != nil {
			t.Fatal(err)
		}
		msgs := e.gw.Messages("+254712000009")
		if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Monthly") || !strings.Contains(msgs[0].Text, "30 minutes") {
			t.Fatalf("reminder sms %+v", msgs)
		}
	})
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
