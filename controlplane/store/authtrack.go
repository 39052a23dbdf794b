package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Login failure counters (issue 15, auth-tracking). A counter's key is
// chosen by its caller (authtrack uses "email:<address>" and
// "ip:<address>"); the store only counts within windows and locks.

// AddLoginFailure counts one failed login under key and returns the
// failures within the current window. A window that began before
// now-window is over: the count starts again at 1.
func (tx *Tx) AddLoginFailure(ctx context.Context, key string, window time.Duration) (int, error) {
	var n int
	err := tx.t.queryRow(ctx, `INSERT INTO login_failures (key, failures, window_start) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN login_failures.window_start < $3 THEN 1 ELSE login_failures.failures + 1 END,
			window_start = CASE WHEN login_failures.window_start < $3 THEN $2 ELSE login_failures.window_start END
		RETURNING failures`, key, tx.t.now, dbTime(tx.t.now.Add(-window))).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("add login failure: %w", err)
	}
	return n, nil
}

// LockLogin locks key until until and starts its count again, so that the
// next window's failures lock it again.
func (tx *Tx) LockLogin(ctx context.Context, key string, until time.Time) error {
	_, err := tx.t.exec(ctx, `INSERT INTO login_failures (key, failures, window_start, locked_until) VALUES ($1, 0, $2, $3)
		ON CONFLICT (key) DO UPDATE SET failures = 0, window_start = $2, locked_until = $3`, key, tx.t.now, dbTime(until))
	if err != nil {
		return fmt.Errorf("lock login: %w", err)
	}
	return nil
}

// ClearLoginFailures forgets key's failures (after a successful login). A
// lock still in force stays.
func (tx *Tx) ClearLoginFailures(ctx context.Context, key string) error {
	_, err := tx.t.exec(ctx, `DELETE FROM login_failures WHERE key = $1 AND (locked_until IS NULL OR locked_until <= $2)`, key, tx.t.now)
	if err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}

// LoginFailures returns key's failures within the window and its lock
// (zero when not locked now).
func (tx *Tx) LoginFailures(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	return loginFailures(ctx, tx.t, key, window)
}

// LoginFailures is Tx.LoginFailures outside a transaction.
func (s *Store) LoginFailures(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	type res struct {
		n     int
		until time.Time
	}
	r, err := read(ctx, s, func(tx *dbtx) (res, error) {
		n, until, err := loginFailures(ctx, tx, key, window)
		return res{n, until}, err
	})
	return r.n, r.until, err
}

func loginFailures(ctx context.Context, tx *dbtx, key string, window time.Duration) (int, time.Time, error) {
	var n int
	var start time.Time
	var locked sql.NullTime
	err := tx.queryRow(ctx, `SELECT failures, window_start, locked_until FROM login_failures WHERE key = $1`, key).Scan(&n, &start, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("login failures: %w", err)
	}
	if start.Before(tx.now.Add(-window)) {
		n = 0
	}
	var until time.Time
	if locked.Valid && locked.Time.After(tx.now) {
		until = locked.Time.UTC()
	}
	return n, until, nil
}

// LoginLockedUntil returns the latest lock in force among keys; zero when
// none is locked.
func (s *Store) LoginLockedUntil(ctx context.Context, keys ...string) (time.Time, error) {
	return read(ctx, s, func(tx *dbtx) (time.Time, error) {
		var latest time.Time
		for _, k := range keys {
			var locked sql.NullTime
			err := tx.queryRow(ctx, `SELECT locked_until FROM login_failures WHERE key = $1 AND locked_until > $2`, k, tx.now).Scan(&locked)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return time.Time{}, fmt.Errorf("login lock: %w", err)
			}
			if locked.Valid && locked.Time.After(latest) {
				latest = locked.Time.UTC()
			}
		}
		return latest, nil
	})
}

// UserByEmail returns the user with email (any case). ENOTFOUND otherwise.
func (tx *Tx) UserByEmail(ctx context.Context, email string) (controlplane.User, error) {
	u, err := scanUser(tx.t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = $1`, normalizeEmail(email)))
	return u, noRows(err, "user", email)
}

// RecordLogin stores a successful login of user id at at from ip. An older
// login recorded late (jobs run out of order) does not overwrite a newer.
func (tx *Tx) RecordLogin(ctx context.Context, id int64, ip string, at time.Time) error {
	at = dbTime(at)
	_, err := tx.t.exec(ctx, `UPDATE users SET last_login_at = $1, last_login_ip = $2
		WHERE id = $3 AND (last_login_at IS NULL OR last_login_at < $1)`, at, ip, id)
	if err != nil {
		return fmt.Errorf("record login: %w", err)
	}
	return nil
}

// SweepLoginFailures deletes counters whose window ended before before and
// that hold no lock in force.
func (tx *Tx) SweepLoginFailures(ctx context.Context, before time.Time) (int64, error) {
	res, err := tx.t.exec(ctx, `DELETE FROM login_failures WHERE window_start < $1 AND (locked_until IS NULL OR locked_until <= $2)`,
		dbTime(before), tx.t.now)
	if err != nil {
		return 0, fmt.Errorf("sweep login failures: %w", err)
	}
	return res.RowsAffected()
}

// addLogins adds counts to the login series, one upsert per (router, hour,
// service).
func addLogins(ctx context.Context, tx *dbtx, counts []controlplane.LoginCount) error {
	for _, c := range counts {
		if _, err := tx.exec(ctx, `INSERT INTO login_series (tenant_id, router_id, hour, service, logins) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (router_id, hour, service) DO UPDATE SET logins = login_series.logins + $5`,
			c.TenantID, c.RouterID, dbTime(c.Hour.Truncate(time.Hour)), c.Service, c.Logins); err != nil {
			return fmt.Errorf("add logins: %w", err)
		}
	}
	return nil
}

// AddLogins adds counts to the login series in tx.
func (tx *Tx) AddLogins(ctx context.Context, counts []controlplane.LoginCount) error {
	return addLogins(ctx, tx.t, counts)
}

// LoginSeries returns the session starts within scope (0: every tenant),
// of routerID when not "", per hour from from up to and including the hour
// of to, with zeros for hours without any.
func (s *Store) LoginSeries(ctx context.Context, scope int64, routerID string, from, to time.Time) ([]controlplane.LoginBucket, error) {
	from, to = from.UTC().Truncate(time.Hour), to.UTC().Truncate(time.Hour)
	var w where
	w.add("hour >= ?", dbTime(from))
	w.add("hour <= ?", dbTime(to))
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	if routerID != "" {
		w.add("router_id = ?", routerID)
	}
	got, err := read(ctx, s, func(tx *dbtx) (map[int64]int64, error) {
		rows, err := tx.query(ctx, `SELECT hour, logins FROM login_series`+w.sql(), w.args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		m := make(map[int64]int64)
		for rows.Next() {
			var h time.Time
			var n int64
			if err := rows.Scan(&h, &n); err != nil {
				return nil, err
			}
			m[h.UTC().Unix()] += n
		}
		return m, rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("login series: %w", err)
	}
	var out []controlplane.LoginBucket
	for h := from; !h.After(to); h = h.Add(time.Hour) {
		out = append(out, controlplane.LoginBucket{Hour: h, Logins: got[h.Unix()]})
	}
	return out, nil
}

// DeleteLoginSeriesBefore deletes the login series' hours before before.
func (tx *Tx) DeleteLoginSeriesBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := tx.t.exec(ctx, `DELETE FROM login_series WHERE hour < $1`, dbTime(before))
	if err != nil {
		return 0, fmt.Errorf("delete login series: %w", err)
	}
	return res.RowsAffected()
}
