package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

func init() {
	addCases(storeCase{"notifications/outbox", testNotificationOutbox},
		storeCase{"notifications/settings", testNotificationSettings},
		storeCase{"notifications/outages", testRouterOutages})
}

func testNotificationOutbox(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten, err := s.CreateTenant(ctx, "Outbox ISP")
	if err != nil {
		t.Fatal(err)
	}
	row := NotificationRow{DataSealed: "sealed", Notification: controlplane.Notification{TenantID: ten.ID,
		Kind: controlplane.NotifyPaymentReceipt, Channel: controlplane.ChannelSMS, Recipient: "+254712000001",
		Language: "sw", Event: "payment:1:receipt"}}
	// Eight concurrent causes for one occurrence queue one row.
	var wg sync.WaitGroup
	inserted := make(chan int64, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Write(ctx, func(tx *Tx) error {
				out, ok, err := tx.QueueNotification(ctx, row)
				if ok {
					inserted <- out.ID
				}
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(inserted)
	var ids []int64
	for id := range inserted {
		ids = append(ids, id)
	}
	if len(ids) != 1 {
		t.Fatalf("queued %d rows for one occurrence, want 1", len(ids))
	}
	// Another channel or recipient is another row.
	other := row
	other.Channel, other.Recipient = controlplane.ChannelEmail, "a@example.com"
	err = s.Write(ctx, func(tx *Tx) error {
		_, ok, err := tx.QueueNotification(ctx, other)
		if !ok {
			t.Error("an email for the same occurrence was not queued")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var got NotificationRow
	err = s.Write(ctx, func(tx *Tx) (err error) {
		got, err = tx.Notification(ctx, ten.ID, ids[0], true)
		if err != nil {
			return err
		}
		now := tx.Now()
		got.Status, got.Attempts, got.ProviderID, got.SentAt = controlplane.NotificationSent, 1, "ATXid_1", &now
		got, err = tx.UpdateNotification(ctx, got)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != controlplane.NotificationSent || got.SentAt == nil || got.DataSealed != "sealed" || got.Language != "sw" {
		t.Errorf("updated row %+v", got)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Notification(ctx, ten.ID+1, ids[0], false); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
			t.Errorf("another tenant's scope: %v, want ENOTFOUND", err)
		}
		byp, err := tx.NotificationByProvider(ctx, ten.ID, controlplane.ChannelSMS, "ATXid_1")
		if err != nil || byp.ID != ids[0] {
			t.Errorf("by provider id: %+v, %v", byp, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		r := row
		r.Event = fmt.Sprintf("page:%d", i)
		if err := s.Write(ctx, func(tx *Tx) error { _, _, err := tx.QueueNotification(ctx, r); return err }); err != nil {
			t.Fatal(err)
		}
	}
	page, more, err := s.ListNotifications(ctx, ten.ID, controlplane.NotificationFilter{Limit: 3})
	if err != nil || len(page) != 3 || !more || page[0].ID < page[1].ID {
		t.Fatalf("first page: %d rows, more %v, %v", len(page), more, err)
	}
	rest, more, err := s.ListNotifications(ctx, ten.ID, controlplane.NotificationFilter{Before: page[2].ID, Limit: 10})
	if err != nil || len(rest) != 4 || more {
		t.Fatalf("second page: %d rows, more %v, %v", len(rest), more, err)
	}
	sent, _, err := s.ListNotifications(ctx, 0, controlplane.NotificationFilter{Status: controlplane.NotificationSent})
	if err != nil || len(sent) != 1 || sent[0].ID != ids[0] {
		t.Errorf("sent filter: %+v, %v", sent, err)
	}
}

func testNotificationSettings(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten, err := s.CreateTenant(ctx, "Settings ISP")
	if err != nil {
		t.Fatal(err)
	}
	def, err := s.GetNotificationSettings(ctx, ten.ID)
	if err != nil || def.Language != "en" || len(def.ReminderOffsets) != 2 || def.RouterOfflineAfter != 300 || !def.Enabled(controlplane.NotifyWelcome) {
		t.Fatalf("defaults %+v, %v", def, err)
	}
	want := def
	want.Language, want.Disabled = "sw", []controlplane.NotificationKind{controlplane.NotifyExpired, controlplane.NotifyReconnected}
	want.ReminderOffsets, want.TelegramChats = []int64{600, 7200}, []string{"-1001", "@ops_channel"}
	want.SealedSMSKey, want.SMSUsername = "sealed-key", "isp"
	var got NotificationSettingsRow
	if err := s.Write(ctx, func(tx *Tx) (err error) { got, err = tx.PutNotificationSettings(ctx, want); return err }); err != nil {
		t.Fatal(err)
	}
	if got.Language != "sw" || got.Enabled(controlplane.NotifyExpired) || !got.Enabled(controlplane.NotifyWelcome) ||
		fmt.Sprint(got.ReminderOffsets) != "[600 7200]" || fmt.Sprint(got.TelegramChats) != "[-1001 @ops_channel]" ||
		got.SealedSMSKey != "sealed-key" || got.UpdatedAt.IsZero() {
		t.Errorf("stored %+v", got)
	}
	if m, err := s.MaxReminderOffset(ctx); err != nil || m != 86400 {
		t.Errorf("max offset %d, %v; want the default's 86400", m, err)
	}
	bad := want
	bad.TenantID = ten.ID + 100
	if err := s.Write(ctx, func(tx *Tx) error { _, err := tx.PutNotificationSettings(ctx, bad); return err }); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
		t.Errorf("unknown tenant: %v, want ENOTFOUND", err)
	}
}

func testRouterOutages(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten, err := s.CreateTenant(ctx, "Outage ISP")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := s.CreateRouter(ctx, ten.ID, "core", "Site A")
	if err != nil {
		t.Fatal(err)
	}
	down := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	alerted := down.Add(5 * time.Minute)
	err = s.Write(ctx, func(tx *Tx) error {
		if err := tx.PutRouterOutage(ctx, RouterOutage{RouterID: r.ID, TenantID: ten.ID, DownSince: down}); err != nil {
			return err
		}
		return tx.PutRouterOutage(ctx, RouterOutage{RouterID: r.ID, TenantID: ten.ID, DownSince: down, AlertedAt: &alerted})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		os, err := tx.RouterOutages(ctx)
		if err != nil {
			return err
		}
		if len(os) != 1 || !os[0].DownSince.Equal(down) || os[0].AlertedAt == nil || !os[0].AlertedAt.Equal(alerted) || os[0].UpSince != nil {
			t.Errorf("outages %+v", os)
		}
		if err := tx.EndRouterOutage(ctx, r.ID); err != nil {
			return err
		}
		os, err = tx.RouterOutages(ctx)
		if len(os) != 0 {
			t.Errorf("after the end: %+v", os)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
