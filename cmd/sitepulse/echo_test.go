package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

// TestEchoSeesSimulatorLogin runs the real laravel-echo and pusher-js
// (controlplane/fanout/jstest, installed by npm ci) against sitepulse
// serve: Echo.private('tenant.N.sessions').listen('.SessionStarted')
// receives the session that a login on the simulated router caused,
// through the real agent, broker, ingest and hub, with the phone number
// masked; a user of another tenant is refused that channel.
func TestEchoSeesSimulatorLogin(t *testing.T) {
	s := startSite(t)
	const phone = "+254712345678"
	if err := s.router.AddHotspotUser(phone, "pw", ""); err != nil {
		t.Fatal(err)
	}

	// A second tenant's admin, who must be refused tenant N's channel.
	var acc controlplane.Accepted
	if code := s.c.call("POST", "/api/v1/tenants", map[string]string{"name": "Other ISP"}, &acc); code != http.StatusAccepted {
		t.Fatalf("create tenant: %d", code)
	}
	testkit.Eventually(t, 5*time.Second, "second tenant active", func() bool {
		var ten controlplane.Tenant
		s.c.call("GET", fmt.Sprintf("/api/v1/tenants/%d", acc.ID), nil, &ten)
		return ten.Status == controlplane.TenantActive
	})
	if code := s.c.call("POST", fmt.Sprintf("/api/v1/tenants/%d/users", acc.ID),
		controlplane.CreateUserRequest{Email: "other@isp.test", Name: "Other", Role: controlplane.RoleTenantAdmin, Password: "another long password"}, nil); code != http.StatusCreated {
		t.Fatalf("create user: %d", code)
	}
	other := login(t, s.c.base, "other@isp.test", "another long password")

	runEcho(t, echoRun{m: s.m, base: s.c.base, token: s.c.token, other: other, tenant: s.tenantID,
		user: "+2547****678"}, func() error {
		_, err := s.router.LoginHotspot(phone, "AA:BB:CC:DD:EE:07", "10.5.50.77")
		return err
	})
}

// echoRun is what echo.mjs is run with: serve's address, a user of the
// tenant and one of another tenant (who must be refused the channel), and
// the masked user name the SessionStarted event must carry.
type echoRun struct {
	m                        *Main
	base, token, other, user string
	tenant                   int64
}

// runEcho runs the real laravel-echo and pusher-js (controlplane/fanout/
// jstest/echo.mjs) on Echo.private('tenant.N.sessions') and calls login
// once it is subscribed; it fails t unless Echo received the session.
func runEcho(t *testing.T, r echoRun, login func() error) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required: %v", err)
	}
	jsDir, err := filepath.Abs(filepath.Join("..", "..", "controlplane", "fanout", "jstest"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "laravel-echo")); err != nil {
		t.Fatalf("run npm ci in %s first (make test and .ci/run do): %v", jsDir, err)
	}
	host, port, err := net.SplitHostPort(r.m.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "echo.mjs")
	cmd.Dir = jsDir
	cmd.Env = append(os.Environ(), "SP_WS_HOST="+host, "SP_WS_PORT="+port, "SP_HTTP_URL="+r.base,
		"SP_APP_ID=sitepulse", "SP_KEY=sitepulse", "SP_TOKEN="+r.token, "SP_OTHER_TOKEN="+r.other,
		fmt.Sprintf("SP_TENANT=%d", r.tenant), "SP_EXPECT_USER="+r.user, "SP_EXPECT_SEQ=any", "SP_TIMEOUT_MS=30000")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	passed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Logf("echo.mjs: %s", line)
		switch {
		case line == "READY": // subscribed: now the subscriber logs in on the router
			if err := login(); err != nil {
				t.Error(err)
			}
		case strings.HasPrefix(line, "PASS"):
			passed = true
		}
	}
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("echo.mjs: %v (passed=%v)\nstderr:\n%s", err, passed, stderr.String())
	}
}
