package agent

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/protocol"
)

// noRouter fails the test if the executor touches the router.
type noRouter struct{ t *testing.T }

func (n noRouter) command(context.Context, ...string) (*routeros.Reply, error) {
	n.t.Error("command ran on the router")
	return nil, errRouterDown
}
func (noRouter) waitConnected(context.Context) error                   { return nil }
func (noRouter) markKicked(protocol.SessionKind, []string)             {}
func (noRouter) unmarkKicked(protocol.SessionKind, []string)           {}
func (noRouter) lookupKey(string) (protocol.SessionKind, string, bool) { return "", "", false }
func (n noRouter) resync(context.Context) error                        { n.t.Error("resync ran"); return nil }

// A command left running by a crash is reported failed (interrupted) on
// the next start and never re-run when it is redelivered.
func TestExecutorInterruptedCommandIsNotRerun(t *testing.T) {
	ctx := context.Background()
	db, err := openDB(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// What a crash mid-command leaves behind.
	running, _ := json.Marshal(protocol.CommandResult{V: 1, ID: "c1", Router: "r1", Status: protocol.ResultRunning, TS: time.Now().UTC()})
	if _, err := db.Exec(`INSERT INTO commands (id, kind, status, result, received, updated) VALUES ('c1', 'hotspot.user.add', 'running', ?, 1, 1)`, running); err != nil {
		t.Fatal(err)
	}
	results := newResultLog(db)
	e, err := newExecutor(ctx, db, results, noRouter{t}, executorConfig{Router: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := protocol.Encode(&protocol.Command{V: 1, ID: "c1", Router: "r1", Kind: protocol.CmdHotspotUserAdd, IssuedAt: time.Now().UTC(),
		HotspotUser: &protocol.HotspotUser{Name: "u"}})
	e.handle(ctx, cmd)

	rs, err := results.pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d results queued, want the startup report and the duplicate answer", len(rs))
	}
	for i, r := range rs {
		res, err := protocol.DecodeCommandResult(r.body)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != protocol.ResultFailed || res.Code != protocol.CodeInterrupted || res.Duplicate != (i == 1) {
			t.Fatalf("result %d = %+v, want failed/%s duplicate=%v", i, res, protocol.CodeInterrupted, i == 1)
		}
	}
}

func TestRawAllowList(t *testing.T) {
	e := &executor{cfg: executorConfig{RawAllow: []string{"/ip/hotspot/host", "/system/identity/print/"}}}
	tests := []struct {
		path string
		want bool
	}{
		{"/ip/hotspot/host/print", true},
		{"/ip/hotspot/host", true},
		{"/ip/hotspot/hostile/print", false},
		{"/ip/hotspot/user/remove", false},
		{"/system/identity/print", true},
		{"/system/identity/set", false},
	}
	for _, tt := range tests {
		if got := e.rawAllowed(tt.path); got != tt.want {
			t.Errorf("rawAllowed(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
	if (&executor{}).rawAllowed("/ip/hotspot/host/print") {
		t.Error("empty allow-list allowed a raw command")
	}
}
