package store

import (
	"context"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
)

func init() {
	addCases(storeCase{"webhooks/endpoints-deliveries", testWebhooks})
}

func testWebhooks(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, err := s.CreateTenant(ctx, "Hooks A")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateTenant(ctx, "Hooks B")
	if err != nil {
		t.Fatal(err)
	}
	var ep controlplane.WebhookEndpoint
	err = s.Write(ctx, func(tx *Tx) error {
		ep, err = tx.InsertWebhookEndpoint(ctx, controlplane.WebhookEndpoint{TenantID: a.ID, URL: "https://h.example/x",
			EventTypes: []string{"PaymentCompleted", "SessionStarted"}, Enabled: true}, "sealed-1")
		return err
	})
	if err != nil || ep.ID == 0 || len(ep.EventTypes) != 2 || !ep.Enabled {
		t.Fatalf("insert = %+v, %v", ep, err)
	}
	err = s.ReadTx(ctx, func(tx *Tx) error {
		got, sealed, err := tx.WebhookEndpoint(ctx, a.ID, ep.ID)
		if err != nil || sealed != "sealed-1" || got.URL != ep.URL {
			t.Errorf("get = %+v %q %v", got, sealed, err)
		}
		if _, _, err := tx.WebhookEndpoint(ctx, b.ID, ep.ID); controlplane.ErrorCode(err) != controlplane.ENOTFOUND {
			t.Errorf("other tenant: %v, want ENOTFOUND", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var first, again controlplane.WebhookDelivery
	var created1, created2 bool
	err = s.Write(ctx, func(tx *Tx) error {
		d := controlplane.WebhookDelivery{TenantID: a.ID, EndpointID: ep.ID, Event: "PaymentCompleted", EventID: "evt_1", Payload: `{"a":1}`}
		if first, created1, err = tx.InsertWebhookDelivery(ctx, d); err != nil {
			return err
		}
		again, created2, err = tx.InsertWebhookDelivery(ctx, d)
		return err
	})
	if err != nil || !created1 || created2 || again.ID != first.ID || first.Status != controlplane.DeliveryPending {
		t.Fatalf("deliveries %+v %v, %+v %v, %v", first, created1, again, created2, err)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		d, err := tx.WebhookDelivery(ctx, a.ID, first.ID)
		if err != nil {
			return err
		}
		if err := tx.InsertWebhookAttempt(ctx, controlplane.WebhookDeliveryAttempt{DeliveryID: d.ID, StatusCode: 500, DurationMS: 3, Response: "no"}); err != nil {
			return err
		}
		d.Status, d.Attempts, d.LastStatus = controlplane.DeliverySucceeded, 1, 200
		if err := tx.UpdateWebhookDelivery(ctx, d); err != nil {
			return err
		}
		ep.Enabled, ep.DisabledReason = false, "failing"
		if ep, err = tx.UpdateWebhookEndpoint(ctx, ep); err != nil {
			return err
		}
		return tx.SetWebhookSecret(ctx, ep.ID, "sealed-2")
	})
	if err != nil || ep.Enabled || ep.DisabledReason != "failing" {
		t.Fatalf("update: %+v %v", ep, err)
	}
	err = s.ReadTx(ctx, func(tx *Tx) error {
		list, total, err := tx.WebhookDeliveries(ctx, a.ID, ep.ID, 0, 10)
		if err != nil || total != 1 || len(list) != 1 || list[0].Status != controlplane.DeliverySucceeded ||
			len(list[0].AttemptLog) != 1 || list[0].AttemptLog[0].StatusCode != 500 {
			t.Errorf("list = %+v %d %v", list, total, err)
		}
		eps, err := tx.WebhookEndpoints(ctx, b.ID)
		if err != nil || len(eps) != 0 {
			t.Errorf("tenant b endpoints = %v %v", eps, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, func(tx *Tx) error { return tx.DeleteWebhookEndpoint(ctx, a.ID, ep.ID) }); err != nil {
		t.Fatal(err)
	}
}
