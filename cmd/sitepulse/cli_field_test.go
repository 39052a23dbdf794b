package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/internal/testkit"
)

// cliRun runs the sitepulse CLI in-process with stdin and returns its
// standard output and error.
func cliRun(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errw lockedBuffer
	c := newCLI(&out, &errw)
	c.Reader = strings.NewReader(stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := c.Run(ctx, append([]string{"sitepulse"}, args...))
	return out.String(), errw.String(), err
}

// TestFieldCLI drives the field-tech commands against a running control
// plane with a simulated router and the real agent.
func TestFieldCLI(t *testing.T) {
	e := startProvEnv(t, Config{DataDir: t.TempDir()})
	sr := e.router("cli-site")
	sr.start()
	sr.waitOnline(10 * time.Second)
	creds := filepath.Join(t.TempDir(), "config", "sitepulse", "credentials")
	run := func(stdin string, args ...string) (string, error) {
		t.Helper()
		out, errOut, err := cliRun(t, stdin, append(args, "--credentials", creds)...)
		if errOut != "" {
			t.Logf("%v stderr: %s", args, errOut)
		}
		return out, err
	}

	if _, err := run("", "routers", "list"); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Fatalf("routers list before login: %v", err)
	}
	if _, err := run("wrong password\n", "login", "--server", e.root.base, "--email", "tech@kilimani.test", "--password-stdin"); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	out, err := run(e.password+"\n", "login", "--server", e.root.base, "--email", "tech@kilimani.test", "--password-stdin")
	if err != nil || !strings.Contains(out, "logged in") {
		t.Fatalf("login: %v %s", err, out)
	}
	st, err := os.Stat(creds)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file %v, mode %v; want 0600", err, st.Mode())
	}
	if dir, _ := os.Stat(filepath.Dir(creds)); dir.Mode().Perm() != 0o700 {
		t.Errorf("credentials directory mode %v, want 0700", dir.Mode().Perm())
	}

	out, err = run("", "routers", "list")
	if err != nil || !strings.Contains(out, sr.id) || !strings.Contains(out, "online") {
		t.Fatalf("routers list: %v\n%s", err, out)
	}
	out, err = run("", "routers", "list", "--json")
	var routers []controlplane.Router
	if err != nil || json.Unmarshal([]byte(out), &routers) != nil || len(routers) != 1 || routers[0].ID != sr.id {
		t.Fatalf("routers list --json: %v\n%s", err, out)
	}

	// A hotspot user added through the CLI: transitions shown, exit 0.
	out, err = run("", "hotspot-user", "add", "--router", sr.id, "--password", "pw", "--profile", "default", "cli-user")
	if err != nil {
		t.Fatalf("hotspot-user add: %v\n%s", err, out)
	}
	for _, st := range []string{"queued", "succeeded"} {
		if !strings.Contains(out, st) {
			t.Errorf("hotspot-user add output lacks %q:\n%s", st, out)
		}
	}
	if sr.hotspotUsers("cli-user") != 1 {
		t.Fatal("cli-user not on the router")
	}
	// Flags after the name work too; the router refuses a duplicate, and
	// the exit status says so.
	out, err = run("", "hotspot-user", "add", "cli-user", "--router", sr.id, "--password", "pw")
	if err == nil || !strings.Contains(err.Error(), "already have user") || !strings.Contains(out, "failed") {
		t.Fatalf("duplicate add: err %v\n%s", err, out)
	}
	out, err = run("", "hotspot-user", "add", "--json", "--router", sr.id, "--password", "pw", "cli-json")
	var c controlplane.Command
	if err != nil || json.Unmarshal([]byte(out), &c) != nil || c.Status != controlplane.CommandSucceeded || c.Params.HotspotUser.Password != "" {
		t.Fatalf("add --json: %v\n%s", err, out)
	}
	if _, err := run("", "ppp-secret", "add", "--router", sr.id, "--password", "pw", "cli-ppp"); err != nil {
		t.Fatalf("ppp-secret add: %v", err)
	}
	if _, err := run("", "ppp-secret", "disable", "--router", sr.id, "cli-ppp"); err != nil {
		t.Fatalf("ppp-secret disable: %v", err)
	}

	// Sessions: listed, watched live, kicked.
	if _, err := sr.sim.LoginHotspot("cli-user", "AA:BB:CC:00:0C:01", "10.5.50.90"); err != nil {
		t.Fatal(err)
	}
	var page controlplane.Page[controlplane.Session]
	testkit.Eventually(t, 5*time.Second, "the session listed", func() bool {
		out, err := run("", "sessions", "list", "--json", "--user", "cli-user")
		return err == nil && json.Unmarshal([]byte(out), &page) == nil && page.Total == 1
	})
	// The watch runs until the kick's end shows in its output (how long
	// that takes depends on the machine's load), then is interrupted.
	var watchOut lockedBuffer
	watchCtx, stopWatch := context.WithTimeout(context.Background(), 60*time.Second)
	defer stopWatch()
	watchDone := make(chan error, 1)
	go func() {
		c := newCLI(&watchOut, io.Discard)
		watchDone <- c.Run(watchCtx, []string{"sitepulse", "sessions", "watch", "--credentials", creds})
	}()
	testkit.Eventually(t, 5*time.Second, "the watch subscribed", func() bool {
		_, ok := e.m.hub.Channel(channel("sessions", e.tenantA))
		return ok
	})
	out, err = run("", "kick", "--router", sr.id, "--user", "cli-user")
	if err != nil || !strings.Contains(out, "succeeded") {
		t.Fatalf("kick: %v\n%s", err, out)
	}
	testkit.Eventually(t, 30*time.Second, "the watch showing the kicked session's end", func() bool {
		o := watchOut.String()
		return strings.Contains(o, "Ended") && strings.Contains(o, "kicked")
	})
	stopWatch()
	if err := <-watchDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("sessions watch: %v\n%s", err, watchOut.String())
	}

	// A bulk command over every router: one progress line per change.
	sr2 := e.router("cli-site-2")
	sr2.start()
	sr2.waitOnline(10 * time.Second)
	out, err = run("", "hotspot-user", "add", "--all-routers", "--password", "pw", "bulk-cli")
	if err != nil || !strings.Contains(out, "2/2 done (2 succeeded)") {
		t.Fatalf("bulk add: %v\n%s", err, out)
	}
	out, err = run("", "hotspot-user", "remove", "--json", "--router", sr.id, "--router", sr2.id, "bulk-cli")
	var bulk controlplane.BulkResult
	if err != nil || json.Unmarshal([]byte(out), &bulk) != nil || len(bulk.Commands) != 2 {
		t.Fatalf("bulk remove --json: %v\n%s", err, out)
	}
	if sr.hotspotUsers("bulk-cli")+sr2.hotspotUsers("bulk-cli") != 0 {
		t.Error("bulk-cli still on a router")
	}

	// Commands: listed, and watched to their end.
	out, err = run("", "commands", "list", "--status", "failed")
	if err != nil || !strings.Contains(out, "already have user") {
		t.Fatalf("commands list: %v\n%s", err, out)
	}
	if _, err := run("", "commands", "watch", c.ID); err != nil {
		t.Errorf("commands watch of a succeeded command: %v", err)
	}
	sr2.stop()
	sr2.waitOffline()
	out, err = run("", "hotspot-user", "add", "--no-wait", "--json", "--router", sr2.id, "--password", "pw", "later")
	if err != nil || json.Unmarshal([]byte(out), &c) != nil || c.Status != controlplane.CommandQueued {
		t.Fatalf("--no-wait: %v\n%s", err, out)
	}
	if _, err := run("", "commands", "watch", "--timeout", "1s", c.ID); err == nil {
		t.Error("watching a command stuck on an offline router did not fail at its timeout")
	}
	sr2.start()
	if out, err := run("", "commands", "watch", c.ID); err != nil || !strings.Contains(out, "succeeded") {
		t.Errorf("commands watch after the router came back: %v\n%s", err, out)
	}

	if _, err := run("", "logout"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(creds); !os.IsNotExist(err) {
		t.Errorf("credentials still there after logout: %v", err)
	}
}

// TestFieldCLIRejectedToken checks that an answer 401 (an expired or
// revoked token) tells the user to log in again, on a subcommand too.
func TestFieldCLIRejectedToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"unauthorized","message":"token expired"}}`))
	}))
	defer srv.Close()
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := saveCredentials(creds, credentials{Server: srv.URL, Email: "tech@isp.test", Token: "old"}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"routers", "list"}, {"commands", "list"}} {
		_, _, err := cliRun(t, "", append(args, "--credentials", creds)...)
		if err == nil || !strings.Contains(err.Error(), "token expired") || !strings.Contains(err.Error(), "run `sitepulse login` again") {
			t.Errorf("%v: %v, want the API's message and a hint to log in", args, err)
		}
	}
}
