//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/bench/harness"
	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/fanout"
	"github.com/sitepulse/sitepulse/protocol"
	"github.com/sitepulse/sitepulse/sim"
)

// mode holds the knobs of one run: -short is the CI run on SQLite.
type mode struct {
	name      string
	routers   int
	sessions  int           // per kind per router
	churn     float64       // per router per minute
	cut       time.Duration // network blackhole
	down      time.Duration // agent / control plane down time
	postgres  bool
	settle    time.Duration // churn between faults
	quiesceIn time.Duration // bound for store and client to catch up
}

func pickMode() mode {
	if testing.Short() {
		return mode{name: "short", routers: 2, sessions: 15, churn: 240, cut: 8 * time.Second, down: 2 * time.Second,
			settle: 4 * time.Second, quiesceIn: 90 * time.Second}
	}
	return mode{name: "full", routers: 3, sessions: 30, churn: 360, cut: 2 * time.Minute, down: 5 * time.Second,
		postgres: true, settle: 8 * time.Second, quiesceIn: 3 * time.Minute}
}

// sessionKey identifies a session across the simulator, the store and the
// broadcasts: router, kind and RouterOS .id (the sim never reuses an id
// within a run, and broadcasts mask the user but not the .id).
func sessionKey(router, kind, rosID string) string { return router + "|" + kind + "|" + rosID }

// truth records every login and logout of the simulated routers.
type truth struct {
	mu      sync.Mutex
	started map[string]time.Time
	ended   map[string]time.Time
	login   map[string]time.Time // login time of every session seen (initial ones too)
	user    map[string]string
	// byPKey groups sessions by their protocol session key (hotspot:
	// user+MAC+login second+.id, PPP: name+session-id): sessions sharing one
	// are one session to SitePulse by design.
	byPKey map[string][]string
	pkey   map[string]string
	dups   int
}

func (g *truth) follow(router string, ch <-chan sim.Change) {
	for c := range ch {
		if c.Op == "update" {
			continue
		}
		k := sessionKey(router, c.Kind, c.ID)
		g.mu.Lock()
		switch c.Op {
		case "login":
			if _, ok := g.started[k]; ok {
				g.dups++
			}
			g.started[k] = c.Time
			g.login[k] = c.LoginTime
			g.user[k] = c.User
			pk := protocol.PPPKey(c.User, c.SessionID)
			if c.Kind == "hotspot" {
				pk = protocol.HotspotKey(c.User, c.MAC, c.LoginTime, c.ID)
			}
			pk = router + "|" + pk
			g.pkey[k] = pk
			g.byPKey[pk] = append(g.byPKey[pk], k)
		case "logout":
			if _, ok := g.ended[k]; ok {
				g.dups++
			}
			g.ended[k] = c.Time
		}
		g.mu.Unlock()
	}
}

// blind is a window in which one router's sessions could not be seen.
type blind struct {
	router   string
	from, to time.Time
}

// wsView is the dashboard's view over the WebSocket, following the
// refetch-on-gap rule (see the package comment).
type wsView struct {
	mu          sync.Mutex
	live        map[string]bool
	lenientTill time.Time
	started     int
	ended       int
	dupStarted  []string
	dupEnded    []string
	gaps        int
	reconnects  int
	refetches   int
}

func runClient(ctx context.Context, t *testing.T, srv *harness.Server, token string, tenant int64, v *wsView) {
	channel := fanout.TenantChannel(tenant, "sessions")
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			v.mu.Lock()
			v.reconnects++
			v.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
		c, err := harness.DialWS(ctx, srv.HTTPAddr, "")
		if err != nil {
			continue
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		frames := make(chan client.Frame, 4096)
		go func() {
			defer close(frames)
			for {
				f, err := c.Next(ctx)
				if err != nil {
					return
				}
				frames <- f
			}
		}()
		if err := c.Subscribe(ctx, channel); err != nil {
			c.Close()
			stop()
			continue
		}
		refetch := func() bool {
			v.mu.Lock()
			v.lenientTill = time.Now().Add(time.Hour) // lenient while in flight
			v.mu.Unlock()
			rows, err := srv.API(token).AllSessions(ctx, 0, controlplane.SessionFilter{})
			if err != nil {
				return false
			}
			v.mu.Lock()
			v.live = map[string]bool{}
			for _, s := range rows {
				v.live[sessionKey(s.RouterID, string(s.Kind), s.RouterOSID)] = true
			}
			v.refetches++
			v.lenientTill = time.Now().Add(time.Second)
			v.mu.Unlock()
			return true
		}
		var lastSeq uint64
		subscribed := false
		for f := range frames {
			if f.Channel != channel {
				continue
			}
			if f.Event == "pusher_internal:subscription_succeeded" {
				subscribed = refetch()
				if !subscribed {
					break
				}
				continue
			}
			if strings.HasPrefix(f.Event, "pusher:") || strings.HasPrefix(f.Event, "pusher_internal:") {
				continue // protocol frames (subscription_count…), not session events
			}
			var ev harness.SessionEvent
			if err := json.Unmarshal(f.Data, &ev); err != nil {
				t.Errorf("ws: bad %s data %s: %v", f.Event, f.Data, err)
				continue
			}
			if lastSeq != 0 && ev.Seq != lastSeq+1 {
				v.mu.Lock()
				v.gaps++
				v.mu.Unlock()
				lastSeq = ev.Seq
				if !refetch() {
					break
				}
				continue
			}
			lastSeq = ev.Seq
			if !subscribed {
				continue
			}
			k := sessionKey(ev.Session.RouterID, ev.Session.Kind, ev.Session.RouterOSID)
			v.mu.Lock()
			lenient := time.Now().Before(v.lenientTill)
			switch f.Event {
			case fanout.EventSessionStarted:
				v.started++
				if v.live[k] && !lenient {
					v.dupStarted = append(v.dupStarted, k)
				}
				v.live[k] = true
			case fanout.EventSessionEnded:
				v.ended++
				if !v.live[k] && !lenient {
					v.dupEnded = append(v.dupEnded, k)
				}
				delete(v.live, k)
			}
			v.mu.Unlock()
		}
		c.Close()
		stop()
	}
}

// agentProc runs the real sitepulse-agent binary for one router.
type agentProc struct {
	bin, dir, log string
	args          []string
	p             *harness.Proc
}

func (a *agentProc) start(t *testing.T) {
	t.Helper()
	p, err := harness.StartProc("sitepulse-agent", a.bin, a.args, nil, a.log)
	if err != nil {
		t.Fatal(err)
	}
	a.p = p
}

func TestChaos(t *testing.T) {
	m := pickMode()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	// Keep the logs when something fails.
	if d := os.Getenv("CHAOS_KEEP"); d != "" {
		tmp = d
		_ = os.MkdirAll(tmp, 0o755)
	}
	bins, err := harness.Build(ctx, root, filepath.Join(tmp, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	var pg *harness.Postgres
	dbURL := ""
	if m.postgres {
		// Only a server started here may be restarted.
		pg, err = harness.StartPostgres(ctx, tmp)
		if err != nil {
			t.Fatalf("full mode needs PostgreSQL 15 binaries: %v", err)
		}
		defer pg.Close()
		if dbURL, err = pg.NewDatabase(ctx, "sitepulse_chaos"); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := harness.NewServer(bins.Server, tmp, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	fx, err := harness.Setup(ctx, srv.DataDir, dbURL, m.routers)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("%v (log %s)", err, srv.LogPath)
	}
	defer srv.Kill()

	g := &truth{started: map[string]time.Time{}, ended: map[string]time.Time{}, login: map[string]time.Time{}, user: map[string]string{}, byPKey: map[string][]string{}, pkey: map[string]string{}}
	initial := map[string]bool{}
	routers := make([]*sim.Router, m.routers)
	proxies := make([]*blackhole, m.routers)
	agents := make([]*agentProc, m.routers)
	for i, cred := range fx.Routers {
		r := sim.New(sim.Config{User: "sitepulse", Password: "router-pw", Identity: fmt.Sprintf("chaos-%d", i),
			Seed: int64(100 + i), HotspotSessions: m.sessions, PPPSessions: m.sessions, ChurnPerMinute: m.churn,
			TrafficInterval: -1})
		ch, unsub := r.Subscribe()
		defer unsub()
		go g.follow(cred.ID, ch)
		for _, row := range r.HotspotActive() {
			initial[sessionKey(cred.ID, "hotspot", row[".id"])] = true
		}
		for _, row := range r.PPPActive() {
			initial[sessionKey(cred.ID, "pppoe", row[".id"])] = true
		}
		if err := r.Start(ctx, "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		routers[i] = r
		if proxies[i], err = newBlackhole(srv.MQTTAddr); err != nil {
			t.Fatal(err)
		}
		defer proxies[i].close()
		dir := filepath.Join(tmp, "agent"+strconv.Itoa(i))
		agents[i] = &agentProc{bin: bins.Agent, dir: dir, log: dir + ".log", args: []string{"run",
			"--router-id", cred.ID, "--router-addr", r.Addr(), "--router-user", "sitepulse", "--router-password", "router-pw",
			"--mqtt-url", "tcp://" + proxies[i].addr(), "--mqtt-secret", cred.Secret, "--data-dir", dir, "--listen-addr", "",
			"--counters-interval", "2s", "--resync-interval", "15s", "--log-level", "warn"}}
		agents[i].start(t)
	}
	defer func() {
		for _, a := range agents {
			if a != nil && a.p != nil {
				a.p.Kill()
			}
		}
	}()

	cctx, stopClient := context.WithCancel(ctx)
	view := &wsView{live: map[string]bool{}}
	clientDone := make(chan struct{})
	go func() { defer close(clientDone); runClient(cctx, t, srv, fx.Token, fx.TenantID, view) }()
	defer func() { stopClient(); <-clientDone }()

	// Wait for every initial session in the store before breaking things.
	if err := harness.WaitFor(ctx, 60*time.Second, "initial sessions in the store", func() bool {
		rows, err := srv.API(fx.Token).AllSessions(ctx, 0, controlplane.SessionFilter{})
		return err == nil && len(rows) >= len(initial)
	}); err != nil {
		t.Fatal(err)
	}

	// Steady churn: every router steps four times a second.
	churnCtx, stopChurn := context.WithCancel(ctx)
	churnDone := make(chan struct{})
	go func() {
		defer close(churnDone)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-churnCtx.Done():
				return
			case <-tick.C:
				for _, r := range routers {
					r.Tick()
				}
			}
		}
	}()

	var blinds []blind
	var broke []string
	note := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		broke = append(broke, s)
		t.Logf("%s chaos: %s", time.Now().Format("15:04:05.000"), s)
	}
	settle := func() { time.Sleep(m.settle) }
	settle()

	// 1. kill -9 the agent; it restarts after m.down and resyncs.
	a0 := agents[0]
	from := time.Now()
	a0.p.Kill()
	note("SIGKILL agent of %s (pid %d), down %v", fx.Routers[0].ID, a0.p.PID(), m.down)
	time.Sleep(m.down)
	a0.start(t)
	// The agent sees the router again at its first snapshot, a moment
	// after start; 5 s bounds it on this machine.
	blinds = append(blinds, blind{router: fx.Routers[0].ID, from: from, to: time.Now().Add(5 * time.Second)})
	settle()

	// 2. kill -9 the control plane (broker + ingest + hub) and restart it.
	srv.Kill()
	note("SIGKILL control plane, down %v", m.down)
	time.Sleep(m.down)
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("restart control plane: %v (log %s)", err, srv.LogPath)
	}
	note("control plane back on %s", srv.HTTPAddr)
	settle()

	// 3. drop the router API connections of the second router.
	ri := 1 % m.routers
	from = time.Now()
	routers[ri].DropConnections()
	note("DropConnections on simulated router %s", fx.Routers[ri].ID)
	blinds = append(blinds, blind{router: fx.Routers[ri].ID, from: from, to: time.Now().Add(8 * time.Second)})
	settle()

	// 4. cut the agent's network (blackhole, connections held).
	proxies[ri].setCut(true)
	note("network cut between agent %s and broker for %v (connections held, nothing forwarded)", fx.Routers[ri].ID, m.cut)
	time.Sleep(m.cut)
	proxies[ri].setCut(false)
	note("network restored for %s", fx.Routers[ri].ID)
	settle()

	// 5. restart PostgreSQL (full mode, our own server).
	if pg != nil {
		if err := pg.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		note("PostgreSQL restarted (pg_ctl -m fast stop, start)")
		settle()
	}

	// 6. a graceful control-plane restart too.
	if err := srv.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}
	note("SIGTERM control plane")
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("restart control plane: %v (log %s)", err, srv.LogPath)
	}
	settle()

	stopChurn()
	<-churnDone
	note("churn stopped")

	// Ground truth now.
	final := map[string]bool{}
	for i, r := range routers {
		for _, row := range r.HotspotActive() {
			final[sessionKey(fx.Routers[i].ID, "hotspot", row[".id"])] = true
		}
		for _, row := range r.PPPActive() {
			final[sessionKey(fx.Routers[i].ID, "pppoe", row[".id"])] = true
		}
	}
	time.Sleep(200 * time.Millisecond) // let the subscriber pumps drain
	g.mu.Lock()
	ended := map[string]time.Time{}
	for k, v := range g.ended {
		ended[k] = v
	}
	started := len(g.started)
	simDups := g.dups
	g.mu.Unlock()

	unobservable := map[string]bool{}
	for k, end := range ended {
		g.mu.Lock()
		st, ok := g.started[k]
		g.mu.Unlock()
		if !ok {
			continue
		}
		for _, b := range blinds {
			if len(k) > len(b.router) && k[:len(b.router)] == b.router && !st.Before(b.from) && !end.After(b.to) {
				unobservable[k] = true
			}
		}
	}

	// The store catches up: live = final, history ⊇ observable ended.
	var live []controlplane.Session
	var hist []controlplane.SessionRecord
	caughtUp := harness.WaitFor(ctx, m.quiesceIn, "store matches the simulator", func() bool {
		var err error
		if live, err = srv.API(fx.Token).AllSessions(ctx, 0, controlplane.SessionFilter{}); err != nil {
			return false
		}
		if hist, err = srv.API(fx.Token).AllHistory(ctx, 0, controlplane.HistoryFilter{}); err != nil {
			return false
		}
		return len(live) == len(final) && len(hist) >= len(ended)-len(unobservable)
	})
	_ = harness.WaitFor(ctx, 30*time.Second, "websocket view matches the simulator", func() bool {
		view.mu.Lock()
		defer view.mu.Unlock()
		return sameSet(view.live, final)
	})

	liveSet, liveDup := map[string]bool{}, 0
	for _, s := range live {
		k := sessionKey(s.RouterID, string(s.Kind), s.RouterOSID)
		if liveSet[k] {
			liveDup++
		}
		liveSet[k] = true
	}
	histCount := map[string]int{}
	for _, r := range hist {
		histCount[sessionKey(r.RouterID, string(r.Kind), r.RouterOSID)]++
	}
	var lost, histDup, histExtra, unobsSeen, collided []string
	for k := range ended {
		switch n := histCount[k]; {
		case n == 0 && !unobservable[k] && sharesKey(g, k, histCount, liveSet):
			collided = append(collided, k)
		case n == 0 && !unobservable[k]:
			lost = append(lost, k)
		case n > 1:
			histDup = append(histDup, k)
		case n == 1 && unobservable[k]:
			unobsSeen = append(unobsSeen, k)
		}
	}
	for k := range histCount {
		if _, ok := ended[k]; !ok {
			histExtra = append(histExtra, k)
		}
	}
	liveMissing, liveExtra := diff(final, liveSet)
	view.mu.Lock()
	wsMissing, wsExtra := diff(final, view.live)
	vs := struct {
		started, ended, reconnects, gaps, refetches int
		dupStarted, dupEnded                        []string
	}{view.started, view.ended, view.reconnects, view.gaps, view.refetches, view.dupStarted, view.dupEnded}
	view.mu.Unlock()

	t.Logf("chaos %s: what was broken:", m.name)
	for _, b := range broke {
		t.Logf("  - %s", b)
	}
	t.Logf("chaos %s: what was counted:", m.name)
	t.Logf("  simulator: %d initial sessions, %d logins, %d logouts, %d live at the end (duplicate changes: %d)", len(initial), started, len(ended), len(final), simDups)
	t.Logf("  blind: %d sessions lived only inside a window where the agent could not see the router; %d of them are missing from the store (not counted as lost), the agent still caught %d",
		len(unobservable), len(unobservable)-len(unobsSeen), len(unobsSeen))
	t.Logf("  key collisions (ended, and another session with the same protocol key was recorded under it): %d", len(collided))
	t.Logf("  store: %d live (missing %d, extra %d, duplicate %d), %d history rows (lost %d, duplicated %d, not ended on the router %d)",
		len(live), len(liveMissing), len(liveExtra), liveDup, len(hist), len(lost), len(histDup), len(histExtra))
	t.Logf("  websocket: %d SessionStarted, %d SessionEnded received; %d reconnects, %d seq gaps, %d REST refetches; live view missing %d, extra %d; duplicates: %d started, %d ended",
		vs.started, vs.ended, vs.reconnects, vs.gaps, vs.refetches, len(wsMissing), len(wsExtra), len(vs.dupStarted), len(vs.dupEnded))
	if caughtUp != nil {
		t.Errorf("%v", caughtUp)
	}
	check := func(what string, keys []string) {
		if len(keys) > 0 {
			sort.Strings(keys)
			t.Errorf("%s: %d, e.g. %v", what, len(keys), keys[:min(5, len(keys))])
		}
	}
	check("store: live sessions missing", liveMissing)
	check("store: live sessions not live on the router", liveExtra)
	check("store: ended sessions lost from history", lost)
	for _, k := range lost[:min(5, len(lost))] {
		g.mu.Lock()
		t.Logf("  lost %s: login %s, started %s, ended %s (blind windows %v)", k, g.login[k].Format("15:04:05.000"),
			g.started[k].Format("15:04:05.000"), ended[k].Format("15:04:05.000"), blinds)
		for _, h := range hist {
			if h.User == g.user[k] {
				t.Logf("    history row of the same user: ros_id %s key %s started %s ended %s reason %s", h.RouterOSID, h.Key, h.StartedAt.Format("15:04:05.000"), h.EndedAt.Format("15:04:05.000"), h.EndReason)
			}
		}
		g.mu.Unlock()
	}
	check("store: sessions twice in history", histDup)
	check("store: history rows the router never ended", histExtra)
	check("websocket: live sessions missing", wsMissing)
	check("websocket: live sessions not live on the router", wsExtra)
	check("websocket: duplicate SessionStarted", vs.dupStarted)
	check("websocket: SessionEnded for a session not live", vs.dupEnded)
	if liveDup > 0 || simDups > 0 {
		t.Errorf("duplicates: %d live rows, %d simulator changes", liveDup, simDups)
	}
}

// sharesKey reports whether another ground-truth session with k's
// protocol session key is in the store (history or live).
func sharesKey(g *truth, k string, hist map[string]int, live map[string]bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k2 := range g.byPKey[g.pkey[k]] {
		if k2 != k && (hist[k2] > 0 || live[k2]) {
			return true
		}
	}
	return false
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// diff returns want's keys missing from got and got's keys not in want.
func diff(want, got map[string]bool) (missing, extra []string) {
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	return missing, extra
}
