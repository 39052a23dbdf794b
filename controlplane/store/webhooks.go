package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

const webhookEndpointColumns = `id, tenant_id, url, description, event_types, enabled, disabled_reason,
	failing_since, consecutive_dead, created_at, updated_at`

func scanWebhookEndpoint(sc interface{ Scan(...any) error }) (controlplane.WebhookEndpoint, error) {
	var e controlplane.WebhookEndpoint
	var types string
	var failing sql.NullTime
	err := sc.Scan(&e.ID, &e.TenantID, &e.URL, &e.Description, &types, &e.Enabled, &e.DisabledReason,
		&failing, &e.ConsecutiveDead, &e.CreatedAt, &e.UpdatedAt)
	e.EventTypes = splitList(types)
	e.FailingSince = timePtr(failing)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e, err
}

// InsertWebhookEndpoint stores a new endpoint with its sealed secret.
// ENOTFOUND for an unknown tenant.
func (tx *Tx) InsertWebhookEndpoint(ctx context.Context, e controlplane.WebhookEndpoint, sealedSecret string) (controlplane.WebhookEndpoint, error) {
	t := tx.t
	out, err := scanWebhookEndpoint(t.queryRow(ctx, `INSERT INTO webhook_endpoints (tenant_id, url, description, event_types,
		secret_sealed, enabled, disabled_reason, consecutive_dead, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8) RETURNING `+webhookEndpointColumns,
		e.TenantID, e.URL, e.Description, strings.Join(e.EventTypes, ","), sealedSecret, e.Enabled, e.DisabledReason, t.now))
	if isForeignKeyViolation(err) {
		return controlplane.WebhookEndpoint{}, notFound("tenant", e.TenantID)
	}
	return out, err
}

// WebhookEndpoint returns endpoint id within scope (0: any tenant) and its
// sealed secret, locked for update on PostgreSQL. ENOTFOUND otherwise.
func (tx *Tx) WebhookEndpoint(ctx context.Context, scope, id int64) (controlplane.WebhookEndpoint, string, error) {
	t := tx.t
	var w where
	w.add("id = ?", id)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	var sealed string
	row := t.queryRow(ctx, `SELECT `+webhookEndpointColumns+`, secret_sealed FROM webhook_endpoints`+w.sql()+t.forUpdate(), w.args...)
	e, err := scanWebhookEndpoint(scanExtra{row, []any{&sealed}})
	return e, sealed, noRows(err, "webhook endpoint", id)
}

// scanExtra appends destinations to a row's Scan.
type scanExtra struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (s scanExtra) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra...)...) }

// WebhookEndpoints lists the endpoints within scope (0: every tenant), by id.
func (tx *Tx) WebhookEndpoints(ctx context.Context, scope int64) ([]controlplane.WebhookEndpoint, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	return queryAll(ctx, tx.t, scanWebhookEndpoint, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints`+w.sql()+` ORDER BY id`, w.args...)
}

// UpdateWebhookEndpoint stores e's mutable fields (url, description, event
// types, enabled, disabled reason, failure counters). ENOTFOUND for an
// unknown id.
func (tx *Tx) UpdateWebhookEndpoint(ctx context.Context, e controlplane.WebhookEndpoint) (controlplane.WebhookEndpoint, error) {
	t := tx.t
	out, err := scanWebhookEndpoint(t.queryRow(ctx, `UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3,
		enabled = $4, disabled_reason = $5, failing_since = $6, consecutive_dead = $7, updated_at = $8
		WHERE id = $9 RETURNING `+webhookEndpointColumns,
		e.URL, e.Description, strings.Join(e.EventTypes, ","), e.Enabled, e.DisabledReason, nullTime(e.FailingSince),
		e.ConsecutiveDead, t.now, e.ID))
	return out, noRows(err, "webhook endpoint", e.ID)
}

// SetWebhookSecret replaces endpoint id's sealed secret.
func (tx *Tx) SetWebhookSecret(ctx context.Context, id int64, sealedSecret string) error {
	res, err := tx.t.exec(ctx, `UPDATE webhook_endpoints SET secret_sealed = $1, updated_at = $2 WHERE id = $3`, sealedSecret, tx.t.now, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("webhook endpoint", id)
	}
	return nil
}

// DeleteWebhookEndpoint deletes endpoint id within scope with its
// deliveries. ENOTFOUND otherwise.
func (tx *Tx) DeleteWebhookEndpoint(ctx context.Context, scope, id int64) error {
	var w where
	w.add("id = ?", id)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	res, err := tx.t.exec(ctx, `DELETE FROM webhook_endpoints`+w.sql(), w.args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("webhook endpoint", id)
	}
	return nil
}

const webhookDeliveryColumns = `id, tenant_id, endpoint_id, event, event_id, payload, status, attempts, next_attempt_at,
	last_status_code, last_error, last_duration_ms, created_at, updated_at`

func scanWebhookDelivery(sc interface{ Scan(...any) error }) (controlplane.WebhookDelivery, error) {
	var d controlplane.WebhookDelivery
	var next sql.NullTime
	err := sc.Scan(&d.ID, &d.TenantID, &d.EndpointID, &d.Event, &d.EventID, &d.Payload, &d.Status, &d.Attempts, &next,
		&d.LastStatus, &d.LastError, &d.LastDurationMS, &d.CreatedAt, &d.UpdatedAt)
	d.NextAttempt = timePtr(next)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, err
}

// InsertWebhookDelivery stores a pending delivery unless the endpoint
// already has one for d.EventID: created is false then and the existing
// row is returned, so a replayed event never makes a second delivery.
func (tx *Tx) InsertWebhookDelivery(ctx context.Context, d controlplane.WebhookDelivery) (out controlplane.WebhookDelivery, created bool, err error) {
	t := tx.t
	out, err = scanWebhookDelivery(t.queryRow(ctx, `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event, event_id, payload,
		status, attempts, next_attempt_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7, $7) ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING `+webhookDeliveryColumns,
		d.TenantID, d.EndpointID, d.Event, d.EventID, d.Payload, controlplane.DeliveryPending, t.now))
	if err == nil {
		return out, true, nil
	}
	if err != sql.ErrNoRows {
		if isForeignKeyViolation(err) {
			return out, false, notFound("webhook endpoint", d.EndpointID)
		}
		return out, false, err
	}
	out, err = scanWebhookDelivery(t.queryRow(ctx, `SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries
		WHERE endpoint_id = $1 AND event_id = $2`, d.EndpointID, d.EventID))
	return out, false, err
}

// WebhookDelivery returns delivery id within scope, locked for update on
// PostgreSQL (SQLite's single writer serializes anyway). ENOTFOUND otherwise.
func (tx *Tx) WebhookDelivery(ctx context.Context, scope, id int64) (controlplane.WebhookDelivery, error) {
	t := tx.t
	var w where
	w.add("id = ?", id)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	d, err := scanWebhookDelivery(t.queryRow(ctx, `SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries`+w.sql()+t.forUpdate(), w.args...))
	return d, noRows(err, "webhook delivery", id)
}

// UpdateWebhookDelivery stores d's status, attempts, next attempt and last
// result.
func (tx *Tx) UpdateWebhookDelivery(ctx context.Context, d controlplane.WebhookDelivery) error {
	res, err := tx.t.exec(ctx, `UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3,
		last_status_code = $4, last_error = $5, last_duration_ms = $6, updated_at = $7 WHERE id = $8`,
		d.Status, d.Attempts, nullTime(d.NextAttempt), d.LastStatus, d.LastError, d.LastDurationMS, tx.t.now, d.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("webhook delivery", d.ID)
	}
	return nil
}

// InsertWebhookAttempt logs one HTTP attempt of a delivery. A zero At
// means the transaction's time.
func (tx *Tx) InsertWebhookAttempt(ctx context.Context, a controlplane.WebhookDeliveryAttempt) error {
	at := a.At
	if at.IsZero() {
		at = tx.t.now
	}
	_, err := tx.t.exec(ctx, `INSERT INTO webhook_attempts (delivery_id, status_code, duration_ms, error, response, at)
		VALUES ($1, $2, $3, $4, $5, $6)`, a.DeliveryID, a.StatusCode, a.DurationMS, a.Error, a.Response, dbTime(at))
	return err
}

// WebhookDeliveries returns up to limit deliveries of endpoint within
// scope with ids below before (0: from the newest), newest first, each with
// its attempt log, and the endpoint's total.
func (tx *Tx) WebhookDeliveries(ctx context.Context, scope, endpoint int64, before int64, limit int) ([]controlplane.WebhookDelivery, int, error) {
	t := tx.t
	var w where
	w.add("endpoint_id = ?", endpoint)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	var total int
	if err := t.queryRow(ctx, `SELECT count(*) FROM webhook_deliveries`+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if before > 0 {
		w.add("id < ?", before)
	}
	if limit <= 0 {
		limit = 50
	}
	w.args = append(w.args, limit)
	list, err := queryAll(ctx, t, scanWebhookDelivery, `SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries`+w.sql()+
		` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(w.args)), w.args...)
	if err != nil {
		return nil, 0, err
	}
	for i := range list {
		if list[i].AttemptLog, err = tx.WebhookAttempts(ctx, list[i].ID); err != nil {
			return nil, 0, err
		}
	}
	return list, total, nil
}

// WebhookAttempts returns delivery id's attempts, oldest first.
func (tx *Tx) WebhookAttempts(ctx context.Context, delivery int64) ([]controlplane.WebhookDeliveryAttempt, error) {
	return queryAll(ctx, tx.t, func(sc interface{ Scan(...any) error }) (controlplane.WebhookDeliveryAttempt, error) {
		var a controlplane.WebhookDeliveryAttempt
		err := sc.Scan(&a.ID, &a.DeliveryID, &a.StatusCode, &a.DurationMS, &a.Error, &a.Response, &a.At)
		a.At = a.At.UTC()
		return a, err
	}, `SELECT id, delivery_id, status_code, duration_ms, error, response, at FROM webhook_attempts
		WHERE delivery_id = $1 ORDER BY id`, delivery)
}

// OverdueWebhookDeliveries returns up to limit pending or failed
// deliveries whose next attempt was due before t.
func (tx *Tx) OverdueWebhookDeliveries(ctx context.Context, t time.Time, limit int) ([]controlplane.WebhookDelivery, error) {
	return queryAll(ctx, tx.t, scanWebhookDelivery, `SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries
		WHERE status IN ($1, $2) AND next_attempt_at < $3 ORDER BY next_attempt_at LIMIT $4`,
		controlplane.DeliveryPending, controlplane.DeliveryFailed, dbTime(t), limit)
}
