package agent_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/agent"
	"github.com/sitepulse/sitepulse/internal/testkit"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

const childEnv = "SITEPULSE_AGENT_TEST_CHILD"

// readOutbox returns the events a killed agent left in its outbox.
func readOutbox(t *testing.T, dir string) map[uint64]protocol.Event {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "agent.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT seq, body FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uint64]protocol.Event{}
	for rows.Next() {
		var seq uint64
		var body []byte
		if err := rows.Scan(&seq, &body); err != nil {
			t.Fatal(err)
		}
		var e protocol.Event
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		out[seq] = e
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMain doubles as the agent process for the kill -9 test: re-executed
// with childEnv set, the test binary runs an agent until it is killed.
func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(runChild(cfg))
	}
	os.Exit(m.Run())
}

type childConfig struct {
	RouterAddr, MQTTURL, DataDir string
}

func runChild(raw string) int {
	var cc childConfig
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		fmt.Fprintln(os.Stderr, "child config:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	a, err := agent.New(ctx, agent.Config{
		RouterID: testRouterID, RouterAddr: cc.RouterAddr, RouterUser: testAPIUser,
		RouterPassword: os.Getenv("SITEPULSE_ROUTER_PASSWORD"), MQTTURL: cc.MQTTURL,
		MQTTSecret: os.Getenv("SITEPULSE_MQTT_SECRET"), DataDir: cc.DataDir,
		CountersInterval: 100 * time.Millisecond, ResourcesInterval: 200 * time.Millisecond, ResyncInterval: time.Hour,
		IOTimeout: 5 * time.Second, RouterMinBackoff: 20 * time.Millisecond, RouterMaxBackoff: 200 * time.Millisecond,
		MQTTMinBackoff: 20 * time.Millisecond, MQTTMaxBackoff: 200 * time.Millisecond, Version: "child",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		return 1
	}
	err = a.Run(ctx)
	_ = a.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent run:", err)
		return 1
	}
	return 0
}

// startChild re-executes the test binary as an agent process. Under
// qemu-user (the 32-bit ARM run) the kernel cannot exec an ARM binary by
// itself, so the child is started through the same emulator.
func startChild(t *testing.T, cc childConfig, logs *testkit.LogBuffer) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(cc)
	mk := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), childEnv+"="+string(raw),
			"SITEPULSE_ROUTER_PASSWORD="+testAPIPass, "SITEPULSE_MQTT_SECRET="+testSecret)
		cmd.Stdout, cmd.Stderr = logs, logs
		return cmd
	}
	cmd := mk(exe, "-test.run=^$")
	err = cmd.Start()
	if errors.Is(err, syscall.ENOEXEC) {
		emu := map[string]string{"arm": "qemu-arm-static", "arm64": "qemu-aarch64-static", "386": "qemu-i386-static"}[runtime.GOARCH]
		path, lerr := exec.LookPath(emu)
		if lerr != nil {
			t.Fatalf("cannot exec %s (%v) and no %s to run it with", exe, err, emu)
		}
		cmd = mk(path, exe, "-test.run=^$")
		err = cmd.Start()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// The agent process is killed with SIGKILL mid-stream and restarted with
// the same data dir: nothing it committed is lost, no seq is reused, and
// no session starts or ends twice.
func TestKillNineLosesNothingCommitted(t *testing.T) {
	rcv := newReceiver()
	br := startBroker(t, "127.0.0.1:0", rcv)
	router := startSim(t, sim.Config{})
	const users = 40
	addUsers(t, router, "k", users)
	cc := childConfig{RouterAddr: router.Addr(), MQTTURL: br.url(), DataDir: t.TempDir()}
	logs := &testkit.LogBuffer{}
	child := startChild(t, cc, logs)
	testkit.Eventually(t, 60*time.Second, "the child agent's first snapshot", func() bool { return len(rcv.ofType(protocol.EventSnapshot)) > 0 })

	// Churn: log users in and out and grow counters until told to stop.
	stop := make(chan struct{})
	var ops atomic.Int64 // churn steps taken
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pace := time.NewTicker(3 * time.Millisecond) // the churn's rate
		defer pace.Stop()
		active := map[int]string{}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-pace.C:
			}
			u := i % users
			if id, ok := active[u]; ok {
				_ = router.Logout(id)
				delete(active, u)
			} else {
				var id string
				var err error
				// A new MAC per login: a hotspot key is user|MAC|login
				// second, so one device logging in twice within a second
				// would share a key (ros_id still tells them apart).
				if u%2 == 0 {
					id, err = router.LoginHotspot(fmt.Sprintf("k-h-%d", u), mac(i), ip(u))
				} else {
					id, err = router.LoginPPP(fmt.Sprintf("k-p-%d", u), mac(i), ip(u))
				}
				if err == nil {
					active[u] = id
				}
			}
			if i%5 == 0 {
				router.Tick()
			}
			ops.Add(1)
		}
	}()
	churned := func(what string, n int64) {
		t.Helper()
		from := ops.Load()
		testkit.Eventually(t, 30*time.Second, fmt.Sprintf("%d churn steps %s", n, what), func() bool { return ops.Load() >= from+n })
	}
	testkit.Eventually(t, 60*time.Second, "events flowing", func() bool { return len(rcv.ofType(protocol.EventSessionStarted)) >= 30 })
	// Take the broker away so that the outbox holds committed, unpublished
	// events when the process dies.
	br.stop()
	testkit.Eventually(t, 30*time.Second, "committed events the broker never got", func() bool {
		for seq := range readOutbox(t, cc.DataDir) {
			if !rcv.received(seq) {
				return true
			}
		}
		return false
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	before := len(rcv.events())
	committed := readOutbox(t, cc.DataDir)
	if len(committed) == 0 {
		t.Fatal("no committed, unpublished events at the kill; the test proves nothing")
	}
	churned("while the agent is dead", 30)

	startBroker(t, br.addr, rcv)
	child = startChild(t, cc, logs)
	var newest uint64
	for seq := range committed {
		newest = max(newest, seq)
	}
	testkit.Eventually(t, 60*time.Second, "the restarted agent to publish what was committed before the kill", func() bool { return rcv.received(newest) })
	churned("with the restarted agent", 30)
	close(stop)
	wg.Wait()

	// Converged: every recorded seq is here, and the open sessions at the
	// receiver are exactly the router's active sessions.
	want := map[string]bool{}
	for _, r := range append(router.HotspotActive(), router.PPPActive()...) {
		want[r[".id"]] = true
	}
	var open map[string]bool
	testkit.Eventually(t, 60*time.Second, "the receiver to converge on the router's sessions", func() bool {
		open = map[string]bool{}
		for _, e := range rcv.events() {
			switch e.Type {
			case protocol.EventSessionStarted:
				open[e.Session.RouterOSID] = true
			case protocol.EventSessionEnded:
				delete(open, e.Session.RouterOSID)
			}
		}
		if len(open) != len(want) {
			return false
		}
		for id := range want {
			if !open[id] {
				return false
			}
		}
		st, ok := rcv.lastStatus()
		evs := rcv.events()
		return ok && len(evs) > 0 && evs[len(evs)-1].Seq >= st.LastSeq && uint64(len(evs)) == evs[len(evs)-1].Seq
	})
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("graceful stop after SIGTERM: %v\n%s", err, logs.String())
	}

	evs := rcv.events()
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("seq hole: position %d has seq %d (nothing is coalesced in this test)", i, e.Seq)
		}
	}
	got := map[uint64]protocol.Event{}
	for _, e := range evs {
		got[e.Seq] = e
	}
	for seq, want := range committed {
		if g, ok := got[seq]; !ok || !sameEvent(g, want) {
			t.Fatalf("event %d committed before the kill (%s %s) arrived as %+v", seq, want.Type, sessKey(want), g)
		}
	}
	started, ended := keyCount(evs)
	for k, c := range started {
		if c != 1 || ended[k] > 1 {
			t.Errorf("session %s started %d and ended %d times", k, c, ended[k])
		}
	}
	vanished := 0
	for _, e := range rcv.ofType(protocol.EventSessionEnded) {
		if e.Reason == protocol.EndVanished {
			vanished++
		}
	}
	t.Logf("%d events received before the kill, %d committed but unpublished at the kill, %d in all, %d sessions, %d ended while the agent was dead", before, len(committed), len(evs), len(started), vanished)
	if st, _ := rcv.lastStatus(); st.State != protocol.StateOffline {
		t.Errorf("last status %q, want offline after SIGTERM", st.State)
	}
	for _, secret := range []string{testAPIPass, testSecret} {
		if logs.Contains(secret) {
			t.Errorf("agent logs contain secret %q", secret)
		}
	}
	rcv.checkClean(t)
}
