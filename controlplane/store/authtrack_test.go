package store

import (
	"context"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

func init() {
	addCases(
		storeCase{"authtrack/failures-window-lock", testLoginFailures},
		storeCase{"authtrack/last-login", testLastLogin},
		storeCase{"authtrack/login-series", testLoginSeries},
	)
}

func testLoginFailures(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	add := func(key string) int {
		t.Helper()
		var n int
		if err := s.Write(ctx, func(tx *Tx) (err error) { n, err = tx.AddLoginFailure(ctx, key, 15*time.Minute); return err }); err != nil {
			t.Fatalf("AddLoginFailure: %v", err)
		}
		return n
	}
	for want := 1; want <= 3; want++ {
		if got := add("email:a@x"); got != want {
			t.Fatalf("failure %d counted as %d", want, got)
		}
	}
	if got := add("ip:1.2.3.4"); got != 1 {
		t.Errorf("other key counted %d, want 1", got)
	}
	e.clock.Advance(16 * time.Minute)
	if n, _, _ := s.LoginFailures(ctx, "email:a@x", 15*time.Minute); n != 0 {
		t.Errorf("after the window LoginFailures = %d, want 0", n)
	}
	if got := add("email:a@x"); got != 1 {
		t.Errorf("a new window starts at %d, want 1", got)
	}
	until := e.clock.Now().Add(15 * time.Minute)
	if err := s.Write(ctx, func(tx *Tx) error { return tx.LockLogin(ctx, "email:a@x", until) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoginLockedUntil(ctx, "ip:9.9.9.9", "email:a@x")
	if err != nil || !got.Equal(dbTime(until)) {
		t.Errorf("LoginLockedUntil = %v, %v; want %v", got, err, until)
	}
	// A success does not lift a lock in force.
	if err := s.Write(ctx, func(tx *Tx) error { return tx.ClearLoginFailures(ctx, "email:a@x") }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LoginLockedUntil(ctx, "email:a@x"); got.IsZero() {
		t.Error("ClearLoginFailures lifted a lock")
	}
	e.clock.Advance(15*time.Minute + time.Second)
	if got, _ := s.LoginLockedUntil(ctx, "email:a@x"); !got.IsZero() {
		t.Errorf("expired lock still in force until %v", got)
	}
	var swept int64
	e.clock.Advance(time.Hour)
	if err := s.Write(ctx, func(tx *Tx) (err error) {
		swept, err = tx.SweepLoginFailures(ctx, tx.Now().Add(-15*time.Minute))
		return err
	}); err != nil || swept != 2 {
		t.Errorf("SweepLoginFailures = %d, %v; want 2", swept, err)
	}
}

func testLastLogin(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	ten := newTenant(t, s, "A")
	u := newUser(t, s, ten.ID, "Ann@X.example", controlplane.RoleTenantAdmin, "pw-123456789")
	if u.LastLoginAt != nil {
		t.Fatalf("new user LastLoginAt = %v", u.LastLoginAt)
	}
	at := e.clock.Now()
	if err := s.Write(ctx, func(tx *Tx) error {
		got, err := tx.UserByEmail(ctx, "ann@x.example")
		if err != nil || got.ID != u.ID {
			t.Errorf("UserByEmail = %+v, %v", got, err)
		}
		_, err = tx.UserByEmail(ctx, "nobody@x.example")
		wantCode(t, "UserByEmail unknown", err, controlplane.ENOTFOUND)
		if err := tx.RecordLogin(ctx, u.ID, "192.0.2.1", at); err != nil {
			return err
		}
		return tx.RecordLogin(ctx, u.ID, "192.0.2.9", at.Add(-time.Minute)) // late and older: ignored
	}); err != nil {
		t.Fatal(err)
	}
	got := must[controlplane.User](t, "GetUser")(s.GetUser(ctx, 0, u.ID))
	if got.LastLoginAt == nil || !got.LastLoginAt.Equal(dbTime(at)) {
		t.Errorf("LastLoginAt = %v, want %v", got.LastLoginAt, at)
	}
	var ip string
	if err := s.db.QueryRowContext(ctx, `SELECT last_login_ip FROM users WHERE id = $1`, u.ID).Scan(&ip); err != nil || ip != "192.0.2.1" {
		t.Errorf("last_login_ip = %q, %v", ip, err)
	}
}

func testLoginSeries(t *testing.T, e *env) {
	ctx := context.Background()
	s := e.s
	a, b := newTenant(t, s, "A"), newTenant(t, s, "B")
	ra, rb := newRouter(t, s, a.ID, "RA"), newRouter(t, s, b.ID, "RB")
	ag := &agent{router: ra.ID}
	ann, bob := hotspot("ann", 1), pppoe("bob", "0x1", 1) // started t0-1h and t0-2h
	cyd := hotspot("cyd", 1)
	cyd.StartedAt = t0.Add(-time.Hour + 30*time.Minute)
	cyd.Key = protocol.HotspotKey("cyd", cyd.MAC, cyd.StartedAt, "")
	apply(t, s, ag.batch(ag.started(ann), ag.started(bob), ag.started(cyd), ag.updated(ann)))
	// A redelivered batch counts nothing twice.
	apply(t, s, ag.batch(ag.started(ann)))
	agb := &agent{router: rb.ID}
	apply(t, s, agb.batch(agb.started(hotspot("dan", 1))))

	from, to := t0.Add(-3*time.Hour), t0
	got := must[[]controlplane.LoginBucket](t, "LoginSeries")(s.LoginSeries(ctx, a.ID, "", from, to))
	want := []int64{0, 1, 2, 0} // t0-3h, t0-2h (bob), t0-1h (ann, cyd), t0
	if len(got) != len(want) {
		t.Fatalf("LoginSeries = %+v, want %d buckets", got, len(want))
	}
	for i, w := range want {
		if !got[i].Hour.Equal(from.Add(time.Duration(i)*time.Hour)) || got[i].Logins != w {
			t.Errorf("bucket %d = %+v, want %d logins at %v", i, got[i], w, from.Add(time.Duration(i)*time.Hour))
		}
	}
	all := must[[]controlplane.LoginBucket](t, "LoginSeries all")(s.LoginSeries(ctx, 0, "", from, to))
	if all[2].Logins != 3 {
		t.Errorf("every tenant at t0-1h = %d, want 3", all[2].Logins)
	}
	other := must[[]controlplane.LoginBucket](t, "LoginSeries router")(s.LoginSeries(ctx, a.ID, rb.ID, from, to))
	if other[2].Logins != 0 {
		t.Errorf("tenant A with B's router = %d, want 0", other[2].Logins)
	}
	var n int64
	if err := s.Write(ctx, func(tx *Tx) (err error) { n, err = tx.DeleteLoginSeriesBefore(ctx, t0.Add(-time.Hour)); return err }); err != nil || n != 1 {
		t.Errorf("DeleteLoginSeriesBefore = %d, %v; want 1", n, err)
	}
}
