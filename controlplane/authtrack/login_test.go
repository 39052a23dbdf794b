package authtrack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/authtrack"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const password = "correct horse battery"

// notified records UserLockedOut calls. It is a hand-written fake: the
// notification outbox it stands for is not built yet. Ready at its zero
// value.
type notified struct {
	mu    sync.Mutex
	users []int64
}

func (n *notified) UserLockedOut(_ context.Context, tx *store.Tx, u controlplane.User, until time.Time, ip string) error {
	if tx == nil || until.IsZero() || ip == "" {
		panic("UserLockedOut without its transaction, lock or address")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.users = append(n.users, u.ID)
	return nil
}

func (n *notified) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.users)
}

type env struct {
	t     *testing.T
	st    *store.Store
	clock *testkit.Clock
	tr    *authtrack.Tracker
	srv   *api.Server
	notes *notified
}

func newEnv(t *testing.T, db testkit.Database) *env {
	t.Helper()
	e := &env{t: t, clock: testkit.NewClock(t0), notes: &notified{}}
	var err error
	e.st, err = store.Open(context.Background(), store.Options{DataDir: db.Dir, DatabaseURL: db.URL, PasswordIterations: 1000, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	e.tr, err = authtrack.New(authtrack.Options{Store: e.st, Notifier: e.notes, AccountLimit: 5, IPLimit: 8,
		Window: 15 * time.Minute, LockFor: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// The in-memory rate limit is set out of the way: these tests are
	// about the store-backed lockout.
	e.srv, err = api.New(api.Options{Store: e.st, Logins: e.tr, LoginPerMinute: 1000, LoginBurst: 1000, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) user(email string) controlplane.User {
	e.t.Helper()
	ten, err := e.st.CreateTenant(context.Background(), "T "+email)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.st.CreateUser(context.Background(), controlplane.User{TenantID: ten.ID, Email: email, Name: "U", Role: controlplane.RoleTenantAdmin}, password)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// login posts a login from ip and returns the status and Retry-After.
func (e *env) login(ip, email, pw string) (int, string) {
	e.t.Helper()
	body, _ := json.Marshal(controlplane.LoginRequest{Email: email, Password: pw})
	r := httptest.NewRequest("POST", "/api/v1/auth/login", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = ip + ":40000"
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w.Code, w.Header().Get("Retry-After")
}

func (e *env) audits(tenant int64, action string) int {
	e.t.Helper()
	es, err := e.st.ListAudit(context.Background(), tenant, 1000, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, a := range es {
		if a.Action == action {
			n++
		}
	}
	return n
}

func TestAccountLockout(t *testing.T) {
	testkit.EachDialectParallel(t, func(t *testing.T, db testkit.Database) {
		e := newEnv(t, db)
		u := e.user("ann@example.test")
		for i := 1; i <= 4; i++ {
			if code, _ := e.login("192.0.2.1", u.Email, "wrong"); code != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: %d, want 401", i, code)
			}
		}
		code, retry := e.login("192.0.2.2", "ANN@example.test", "wrong")
		if code != http.StatusTooManyRequests || retry != strconv.Itoa(15*60+1) {
			t.Fatalf("5th wrong password: %d Retry-After %q, want 429 after 901 s", code, retry)
		}
		// Locked: the right password is refused like a wrong one.
		for _, pw := range []string{password, "wrong"} {
			if code, retry := e.login("192.0.2.3", u.Email, pw); code != http.StatusTooManyRequests || retry == "" {
				t.Errorf("locked, password %q: %d Retry-After %q, want 429", pw, code, retry)
			}
		}
		if n := e.notes.count(); n != 1 {
			t.Errorf("notifier called %d times, want once per lockout", n)
		}
		if n := e.audits(u.TenantID, "user.lockout"); n != 1 {
			t.Errorf("%d user.lockout audit entries, want 1", n)
		}
		e.clock.Advance(15*time.Minute + time.Second)
		if code, _ := e.login("192.0.2.1", u.Email, password); code != http.StatusOK {
			t.Fatalf("after the lock: %d, want 200", code)
		}
		got, err := e.st.GetUser(context.Background(), 0, u.ID)
		if err != nil || got.LastLoginAt == nil {
			t.Errorf("LastLoginAt after login = %v, %v", got.LastLoginAt, err)
		}
		// The success reset the count: four more failures lock nothing.
		for i := 0; i < 4; i++ {
			e.login("192.0.2.1", u.Email, "wrong")
		}
		if code, _ := e.login("192.0.2.1", u.Email, password); code != http.StatusOK {
			t.Errorf("4 failures after a success: %d, want 200", code)
		}
		if n := e.notes.count(); n != 1 {
			t.Errorf("notifier called %d times, want 1", n)
		}
	})
}

func TestUnknownEmailsCountPerAddress(t *testing.T) {
	testkit.EachDialectParallel(t, func(t *testing.T, db testkit.Database) {
		e := newEnv(t, db)
		u := e.user("bob@example.test")
		// Each a different unknown email: only the address's count grows.
		for i := 1; i <= 7; i++ {
			if code, _ := e.login("198.51.100.7", "nobody"+strconv.Itoa(i)+"@example.test", "x"); code != http.StatusUnauthorized {
				t.Fatalf("unknown email %d: %d, want 401", i, code)
			}
		}
		if code, _ := e.login("198.51.100.7", "nobody8@example.test", "x"); code != http.StatusTooManyRequests {
			t.Fatalf("8th failure from the address: %d, want 429", code)
		}
		if code, _ := e.login("198.51.100.7", u.Email, password); code != http.StatusTooManyRequests {
			t.Errorf("a real user from the locked address: %d, want 429", code)
		}
		if code, _ := e.login("198.51.100.8", u.Email, password); code != http.StatusOK {
			t.Errorf("the same user from another address: %d, want 200", code)
		}
		if n := e.audits(0, "ip.lockout"); n != 1 {
			t.Errorf("%d ip.lockout audit entries, want 1", n)
		}
		if n := e.notes.count(); n != 0 {
			t.Errorf("notifier called %d times for an address lockout, want 0", n)
		}
		// One unknown email tried five times answers as a real account
		// would: a lockout must not tell which emails exist.
		for i := 0; i < 4; i++ {
			e.login("203.0.113.1", "ghost@example.test", "x")
		}
		if code, _ := e.login("203.0.113.1", "ghost@example.test", "x"); code != http.StatusTooManyRequests {
			t.Errorf("5th failure of an unknown email: %d, want 429 like a known one", code)
		}
	})
}

// offline is a provisioning publisher without agents: these tests send no
// router commands.
type offline struct{}

func (offline) PublishCommand(context.Context, *protocol.Command) error {
	return controlplane.Errorf(controlplane.EUNAVAILABLE, "no agents here")
}
func (offline) Connected(string) bool { return false }

func TestLastLoginOnTheQueue(t *testing.T) {
	testkit.EachDialectParallel(t, func(t *testing.T, db testkit.Database) {
		e := newEnv(t, db)
		u := e.user("cyd@example.test")
		prov, err := provisioning.New(provisioning.Options{Store: e.st, Bus: &controlplane.Bus{}, DisablePeriodic: true,
			JobPollInterval: 20 * time.Millisecond, Jobs: []provisioning.JobSet{e.tr}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { prov.Close(context.Background()) })
		e.tr.SetInserter(prov)
		if err := prov.Start(context.Background(), offline{}); err != nil {
			t.Fatal(err)
		}
		if code, _ := e.login("192.0.2.50", u.Email, password); code != http.StatusOK {
			t.Fatalf("login: %d", code)
		}
		testkit.Eventually(t, 0, "last login recorded by the auth-tracking job", func() bool {
			got, err := e.st.GetUser(context.Background(), 0, u.ID)
			return err == nil && got.LastLoginAt != nil
		})
	})
}

func TestLoginSeriesAcrossHours(t *testing.T) {
	testkit.EachDialectParallel(t, func(t *testing.T, db testkit.Database) {
		e := newEnv(t, db)
		u := e.user("dan@example.test")
		tok, _, err := e.st.CreateToken(context.Background(), u.ID, "t", 0)
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := e.st.CreateRouter(context.Background(), u.TenantID, "R", "")
		if err != nil {
			t.Fatal(err)
		}
		var seq uint64
		start := func(user string, at time.Time) {
			t.Helper()
			seq++
			s := protocol.Session{Kind: protocol.KindHotspot, Key: protocol.HotspotKey(user, "AA:BB:CC:DD:EE:01", at, ""),
				User: user, MAC: "AA:BB:CC:DD:EE:01", StartedAt: at}
			_, err := e.st.ApplyBatch(context.Background(), &protocol.EventBatch{V: protocol.Version, Router: r.ID,
				Events: []protocol.Event{{Seq: seq, TS: at, Type: protocol.EventSessionStarted, Session: &s}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		start("a", t0.Add(10*time.Minute))
		e.clock.Advance(time.Hour)
		start("b", t0.Add(70*time.Minute))
		start("c", t0.Add(80*time.Minute))
		e.clock.Advance(time.Hour) // now t0+2h: the buckets are t0, t0+1h, t0+2h
		req := httptest.NewRequest("GET", "/api/v1/stats/logins?hours=3", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("GET stats/logins: %d %s", w.Code, w.Body)
		}
		var got controlplane.LoginSeries
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		want := []int64{1, 2, 0}
		if len(got.Data) != len(want) || got.TenantID != u.TenantID {
			t.Fatalf("series = %+v, want %v", got, want)
		}
		for i, n := range want {
			if !got.Data[i].Hour.Equal(t0.Add(time.Duration(i)*time.Hour)) || got.Data[i].Logins != n {
				t.Errorf("bucket %d = %+v, want %d at %v", i, got.Data[i], n, t0.Add(time.Duration(i)*time.Hour))
			}
		}
	})
}

func TestFailedLoginsShownToAdmins(t *testing.T) {
	testkit.EachDialectParallel(t, func(t *testing.T, db testkit.Database) {
		e := newEnv(t, db)
		u := e.user("eve@example.test")
		viewer, err := e.st.CreateUser(context.Background(), controlplane.User{TenantID: u.TenantID, Email: "vic@example.test", Name: "V", Role: controlplane.RoleViewer}, password)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			e.login("192.0.2.9", u.Email, "wrong")
		}
		list := func(who controlplane.User) map[string]*int {
			t.Helper()
			tok, _, err := e.st.CreateToken(context.Background(), who.ID, "t", 0)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("GET", "/api/v1/tenants/"+strconv.FormatInt(u.TenantID, 10)+"/users", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("list users as %s: %d %s", who.Role, w.Code, w.Body)
			}
			var got controlplane.List[controlplane.User]
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			out := map[string]*int{}
			for _, x := range got.Data {
				out[x.Email] = x.FailedLogins
			}
			return out
		}
		got := list(u)
		if got[u.Email] == nil || *got[u.Email] != 3 || got[viewer.Email] == nil || *got[viewer.Email] != 0 {
			t.Errorf("admin sees failed_logins %v, want eve 3 and vic 0", got)
		}
		// Only admins list users at all (viewers get 403), so the count
		// reaches no one else.
	})
}
