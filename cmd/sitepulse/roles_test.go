package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/provisioning"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/internal/testpg"
)

func TestParseRoles(t *testing.T) {
	r, err := parseRoles([]string{"api, ingest", "realtime,api"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r, Roles{RoleAPI, RoleIngest, RoleRealtime}) || r.Has(RoleJobs) || !r.Has(RoleAPI) {
		t.Errorf("roles = %v", r)
	}
	if !(Roles(nil)).Has(RoleJobs) {
		t.Error("no roles must mean all")
	}
	for _, in := range []string{"api,workers", ""} {
		if _, err := parseRoles([]string{in}); err == nil || !strings.Contains(err.Error(), "api,ingest,realtime,jobs") {
			t.Errorf("parseRoles(%q) = %v, want an error listing the roles", in, err)
		}
	}
	if err := checkRoles(Roles{RoleJobs}, ""); err == nil {
		t.Error("checkRoles accepted a jobs-only process without --mqtt-url")
	}
	if err := checkRoles(Roles{RoleJobs}, "tcp://broker:1883"); err != nil {
		t.Error(err)
	}
	if err := checkRoles(Roles{RoleAPI, RoleIngest, RoleRealtime}, ""); err != nil {
		t.Error(err)
	}
}

func TestParseQueueWorkers(t *testing.T) {
	q, err := parseQueueWorkers([]string{"provisioning=8, payments=2", "billing=1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"provisioning": 8, "payments": 2, "billing": 1}; !maps.Equal(q, want) {
		t.Errorf("got %v, want %v", q, want)
	}
	for _, in := range []string{"provisioning", "=3", "provisioning=0", "provisioning=x", "a=1,a=2"} {
		if _, err := parseQueueWorkers([]string{in}); err == nil {
			t.Errorf("parseQueueWorkers(%q) accepted", in)
		}
	}
}

// An unknown queue in --queue-workers stops serve with the known queues.
func TestServeRefusesUnknownQueue(t *testing.T) {
	m := NewMain(Config{HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", DataDir: t.TempDir(), PasswordIterations: 1000,
		AdminPassword: "a very long admin password", Stdout: io.Discard,
		QueueWorkers: map[string]int{"no-such-queue": 8}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "known: ") || !strings.Contains(err.Error(), "payments") {
		t.Errorf("Run = %v, want an error listing the known queues", err)
	}
}

// A process without the jobs role inserts jobs with its transactions but
// runs none; a process with it on the same PostgreSQL runs them: the
// tenant created through the first one's API is activated by the second
// one's tenant-management worker.
func TestRolesWithoutJobs(t *testing.T) {
	db := testpg.NewDatabase(t)
	cfg := Config{DatabaseURL: db, AdminEmail: "root@isp.test", AdminPassword: "a very long admin password",
		Provisioning: provisioning.Options{JobPollInterval: 50 * time.Millisecond}}
	web := cfg
	web.Roles = Roles{RoleAPI, RoleIngest, RoleRealtime}
	a := startMain(t, web)
	base := "http://" + a.HTTPAddr()
	root := &testClient{t: t, base: base, token: login(t, base, cfg.AdminEmail, cfg.AdminPassword)}
	var acc controlplane.Accepted
	if code := root.call("POST", "/api/v1/tenants", map[string]string{"name": "Kilimani WiFi"}, &acc); code != http.StatusAccepted {
		t.Fatalf("create tenant: %d", code)
	}
	if code, body := httpGet(t, base+"/readyz", ""); code != http.StatusOK || !strings.Contains(string(body), `"jobs":"insert-only"`) {
		t.Errorf("readyz = %d %s, want 200 with jobs insert-only", code, body)
	}
	state := func() string {
		var s string
		if err := a.Store().DB().QueryRowContext(context.Background(),
			`SELECT state FROM river_job WHERE kind = $1`, provisioning.KindTenantActivate).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := state(); s != "available" {
		t.Fatalf("activation job is %s, want available (committed with the tenant, run by nobody yet)", s)
	}
	var ten controlplane.Tenant
	root.call("GET", fmt.Sprintf("/api/v1/tenants/%d", acc.ID), nil, &ten)
	if ten.Status == controlplane.TenantActive {
		t.Fatal("tenant active without any jobs process")
	}

	startMain(t, cfg) // every role, jobs included
	testkit.Eventually(t, 20*time.Second, "the jobs process activates the tenant", func() bool {
		root.call("GET", fmt.Sprintf("/api/v1/tenants/%d", acc.ID), nil, &ten)
		return ten.Status == controlplane.TenantActive
	})
	testkit.Eventually(t, 20*time.Second, "the activation job completed", func() bool { return state() == "completed" })
}
