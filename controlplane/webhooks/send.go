package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// lease is how long past its timeout a claimed attempt may stay
// unrecorded before the sweep sends it again.
const lease = time.Minute

// claim is an attempt taken in the first transaction.
type claim struct {
	d      controlplane.WebhookDelivery
	ep     controlplane.WebhookEndpoint
	secret []byte
}

// send makes attempt attempt+1 of delivery id, if that attempt is still
// due: the row is locked and its status and attempt count checked, so a
// job retried after a success, or a duplicate job, sends nothing.
func (s *Service) send(ctx context.Context, id int64, attempt int) error {
	var c claim
	var skip bool
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		d, err := tx.WebhookDelivery(ctx, 0, id)
		if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
			skip = true // its endpoint was deleted
			return nil
		}
		if err != nil {
			return err
		}
		if d.Status == controlplane.DeliverySucceeded || d.Status == controlplane.DeliveryDead || d.Attempts != attempt {
			skip = true
			return nil
		}
		ep, sealed, err := tx.WebhookEndpoint(ctx, 0, d.EndpointID)
		if err != nil {
			return err
		}
		if !ep.Enabled && d.Event != EventPing {
			d.Status, d.NextAttempt, d.LastError = controlplane.DeliveryDead, nil, "endpoint disabled"
			skip = true
			return tx.UpdateWebhookDelivery(ctx, d)
		}
		secret, err := s.o.Sealer.Open(sealed, secretAAD(ep.TenantID))
		if err != nil {
			return fmt.Errorf("webhooks: open secret of endpoint %d: %w", ep.ID, err)
		}
		d.Attempts++
		next := tx.Now().Add(s.o.Timeout + lease)
		d.NextAttempt = &next
		c = claim{d: d, ep: ep, secret: secret}
		return tx.UpdateWebhookDelivery(ctx, d)
	})
	if err != nil || skip {
		return err
	}
	a := s.post(ctx, c)
	return s.record(ctx, c, a)
}

// post makes the HTTP attempt.
func (s *Service) post(ctx context.Context, c claim) controlplane.WebhookDeliveryAttempt {
	a := controlplane.WebhookDeliveryAttempt{DeliveryID: c.d.ID}
	body := []byte(c.d.Payload)
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.ep.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = err.Error()
		return a
	}
	now := s.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "SitePulse-Webhooks/1")
	req.Header.Set(HeaderSignature, Sign(c.secret, now, body))
	req.Header.Set(HeaderEvent, c.d.Event)
	req.Header.Set(HeaderDelivery, strconv.FormatInt(c.d.ID, 10))
	start := time.Now()
	resp, err := s.client.Do(req)
	if err == nil {
		var buf []byte
		buf, _ = io.ReadAll(io.LimitReader(resp.Body, MaxResponseLog))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
		resp.Body.Close()
		a.StatusCode, a.Response = resp.StatusCode, string(buf)
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			a.Error = "HTTP " + strconv.Itoa(resp.StatusCode)
			if resp.StatusCode >= 300 && resp.StatusCode < 400 {
				a.Error += ": redirects are not followed"
			}
		}
	} else {
		a.Error = err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			a.Error = "timeout after " + s.o.Timeout.String()
		}
	}
	dur := time.Since(start)
	a.DurationMS = dur.Milliseconds()
	s.m.duration.Observe(dur.Seconds())
	return a
}

// record logs the attempt and moves the delivery on: succeeded; failed
// with its next attempt scheduled; or dead once the retry window is over.
func (s *Service) record(ctx context.Context, c claim, a controlplane.WebhookDeliveryAttempt) error {
	ok := a.Error == ""
	var disabled *controlplane.WebhookEndpoint
	result := ""
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		disabled, result = nil, ""
		d, err := tx.WebhookDelivery(ctx, 0, c.d.ID)
		if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.InsertWebhookAttempt(ctx, a); err != nil {
			return err
		}
		now := tx.Now()
		d.LastStatus, d.LastError, d.LastDurationMS = a.StatusCode, a.Error, a.DurationMS
		var schedule *deliverArgs
		switch {
		case ok:
			d.Status, d.NextAttempt = controlplane.DeliverySucceeded, nil
		case now.Add(s.backoff(d.Attempts)).After(d.CreatedAt.Add(s.o.Retry.Window)):
			d.Status, d.NextAttempt = controlplane.DeliveryDead, nil
		default:
			next := now.Add(s.backoff(d.Attempts))
			d.Status, d.NextAttempt = controlplane.DeliveryFailed, &next
			schedule = &deliverArgs{DeliveryID: d.ID, Attempt: d.Attempts, At: next}
		}
		result = d.Status
		if err := tx.UpdateWebhookDelivery(ctx, d); err != nil {
			return err
		}
		if schedule != nil {
			if err := s.jobs.InsertJobsTx(ctx, tx, *schedule); err != nil {
				return err
			}
		}
		if d.Event == EventPing {
			return nil // a test says nothing about the endpoint's health
		}
		ep, _, err := tx.WebhookEndpoint(ctx, 0, d.EndpointID)
		if err != nil {
			return err
		}
		switch {
		case ok:
			if ep.FailingSince == nil && ep.ConsecutiveDead == 0 {
				return nil
			}
			ep.FailingSince, ep.ConsecutiveDead = nil, 0
		case ep.FailingSince == nil:
			t := now
			ep.FailingSince = &t
		}
		if d.Status == controlplane.DeliveryDead {
			ep.ConsecutiveDead++
		}
		wasEnabled := ep.Enabled
		if ep.Enabled && !ok {
			switch {
			case ep.ConsecutiveDead >= s.o.DisableAfterDead:
				ep.Enabled, ep.DisabledReason = false, fmt.Sprintf("disabled after %d dead deliveries in a row", ep.ConsecutiveDead)
			case now.Sub(*ep.FailingSince) > s.o.Retry.Window:
				ep.Enabled, ep.DisabledReason = false, "disabled after failing for more than "+s.o.Retry.Window.String()
			}
			if !ep.Enabled {
				if err := tx.Audit(ctx, controlplane.AuditEntry{TenantID: ep.TenantID, Actor: system.Email,
					Action: "webhook.disabled", Target: "webhook:" + strconv.FormatInt(ep.ID, 10), Result: "ok", Detail: ep.DisabledReason}); err != nil {
					return err
				}
			}
		}
		ep, err = tx.UpdateWebhookEndpoint(ctx, ep)
		if err == nil && wasEnabled && !ep.Enabled {
			disabled = &ep
		}
		return err
	})
	if err != nil {
		return err
	}
	if result != "" {
		s.m.results.WithLabelValues(result).Inc()
	}
	if disabled != nil {
		s.m.disabled.Inc()
		s.log.Warn("webhooks: endpoint disabled", "tenant", disabled.TenantID, "endpoint", disabled.ID, "reason", disabled.DisabledReason)
		s.bus.Publish(controlplane.WebhookEndpointChanged{Endpoint: *disabled})
		if s.o.Notifier != nil {
			if err := s.o.Notifier.EndpointDisabled(ctx, disabled.TenantID, *disabled); err != nil {
				s.log.Error("webhooks: disabled-endpoint notice failed", "endpoint", disabled.ID, "err", err)
			}
		}
	}
	return nil
}

// Sweep re-enqueues deliveries whose next attempt is overdue by more than
// a lease: an attempt claimed by a process that died before recording it,
// or a job lost. It runs every minute on the webhooks queue.
func (s *Service) Sweep(ctx context.Context) error {
	return s.st.Write(ctx, func(tx *store.Tx) error {
		due, err := tx.OverdueWebhookDeliveries(ctx, tx.Now().Add(-lease), 500)
		if err != nil {
			return err
		}
		for _, d := range due {
			if err := s.jobs.InsertJobsTx(ctx, tx, deliverArgs{DeliveryID: d.ID, Attempt: d.Attempts}); err != nil {
				return err
			}
		}
		return nil
	})
}
