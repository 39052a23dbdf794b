package protocol_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the Go values")

// Fixed instants keep the golden bytes stable. They are in UTC because a
// decoded "Z" time is in UTC, so reflect.DeepEqual holds after a round trip.
var (
	t0      = time.Date(2026, 11, 27, 7, 40, 1, 123456789, time.UTC)
	login   = time.Date(2026, 11, 27, 6, 15, 0, 0, time.UTC)
	pppUp   = time.Date(2026, 11, 26, 22, 3, 17, 0, time.UTC)
	expires = time.Date(2026, 11, 27, 8, 40, 1, 0, time.UTC)
)

const router = "site-042_core"

func hotspotSession() protocol.Session {
	return protocol.Session{
		Kind:       protocol.KindHotspot,
		Key:        protocol.HotspotKey("alice", "AA:BB:CC:00:11:22", login, ""),
		RouterOSID: "*1A",
		User:       "alice",
		Address:    "10.5.50.23",
		MAC:        "AA:BB:CC:00:11:22",
		Service:    "hotspot1",
		LoginBy:    "http-chap",
		StartedAt:  login,
		BytesIn:    1048576,
		BytesOut:   52428800,
		PacketsIn:  9001,
		PacketsOut: 41000,
	}
}

func pppSession() protocol.Session {
	return protocol.Session{
		Kind:       protocol.KindPPPoE,
		Key:        protocol.PPPKey("bob-home", "0x81A00017"),
		RouterOSID: "*80000007",
		User:       "bob-home",
		Address:    "100.64.0.17",
		MAC:        "DC:2C:6E:01:02:03",
		Service:    "pppoe",
		SessionID:  "0x81A00017",
		StartedAt:  pppUp,
		BytesIn:    987654321,
		BytesOut:   12345678901,
	}
}

func resources() *protocol.Resources {
	return &protocol.Resources{
		Identity:      "Site 42 core",
		Version:       "7.18.2 (stable)",
		Board:         "RB5009UG+S+",
		Architecture:  "arm64",
		UptimeSeconds: 1234567,
		CPULoad:       7,
		CPUCount:      4,
		FreeMemory:    812646400,
		TotalMemory:   1073741824,
		FreeHDD:       900000000,
		TotalHDD:      1073741824,
		RxBps:         48210000.5,
		TxBps:         3100000,
	}
}

func batch(events ...protocol.Event) *protocol.EventBatch {
	return &protocol.EventBatch{V: protocol.Version, Router: router, Events: events}
}

func ended(seq uint64, s protocol.Session, r protocol.EndReason) protocol.Event {
	return protocol.Event{Seq: seq, TS: t0, Type: protocol.EventSessionEnded, Session: &s, Reason: r}
}

func command(id string, kind protocol.CommandKind, set func(*protocol.Command)) *protocol.Command {
	c := &protocol.Command{V: protocol.Version, ID: id, Router: router, Kind: kind, IssuedAt: t0, ExpiresAt: expires}
	if set != nil {
		set(c)
	}
	return c
}

func result(status protocol.ResultStatus, set func(*protocol.CommandResult)) *protocol.CommandResult {
	r := &protocol.CommandResult{V: protocol.Version, ID: "cmd-0001", Router: router, Status: status, TS: t0}
	if set != nil {
		set(r)
	}
	return r
}

// goldenCases maps each file in testdata/ to the Go value it encodes. The
// file-name prefix (events., status., cmd., result.) says which decoder
// reads it; the fuzz targets use the same prefixes for their seeds.
func goldenCases() map[string]protocol.Message {
	hs, ppp := hotspotSession(), pppSession()
	updated := ppp
	updated.BytesIn, updated.BytesOut = 987999999, 12399999999
	no := false
	yes := true

	cases := map[string]protocol.Message{
		"events.snapshot.json": batch(
			protocol.Event{Seq: 1, TS: t0, Type: protocol.EventSnapshot, Snapshot: &protocol.Snapshot{
				ID: "snap-20261127T074001", Part: 1, Parts: 2, Sessions: []protocol.Session{hs},
			}},
			protocol.Event{Seq: 2, TS: t0, Type: protocol.EventSnapshot, Snapshot: &protocol.Snapshot{
				ID: "snap-20261127T074001", Part: 2, Parts: 2, Sessions: []protocol.Session{ppp},
			}},
		),
		// An empty snapshot is how a router with no sessions says so.
		"events.snapshot-empty.json": batch(protocol.Event{Seq: 7, TS: t0, Type: protocol.EventSnapshot, Snapshot: &protocol.Snapshot{
			ID: "snap-empty", Part: 1, Parts: 1, Sessions: []protocol.Session{},
		}}),
		"events.session-started.json": batch(protocol.Event{Seq: 3, TS: t0, Type: protocol.EventSessionStarted, Session: &hs}),
		// A batch names its agent's seq space and the seq published before
		// it (both optional).
		"events.epoch-prev.json": func() *protocol.EventBatch {
			b := batch(protocol.Event{Seq: 42, TS: t0, Type: protocol.EventSessionStarted, Session: &hs})
			b.Epoch, b.Prev = "3f9a0c61d2b7e845", 40
			return b
		}(),
		"events.session-updated.json": batch(protocol.Event{Seq: 4, TS: t0, Type: protocol.EventSessionUpdated, Session: &updated}),
		"events.session-ended.json": batch(
			ended(10, hs, protocol.EndLogout),
			ended(11, ppp, protocol.EndKicked),
			ended(13, hs, protocol.EndExpired), // 12 was coalesced away
			ended(14, ppp, protocol.EndVanished),
		),
		"events.router-resources.json": batch(protocol.Event{Seq: 5, TS: t0, Type: protocol.EventRouterResources, Resources: resources()}),

		"status.online.json": &protocol.Status{
			V: protocol.Version, Router: router, State: protocol.StateOnline, TS: t0,
			AgentVersion: "v0.1.0-3-gabcdef0", RouterConnected: true, Resources: resources(), LastSeq: 14,
		},
		// The will: registered at connect time, so it knows nothing current.
		"status.offline.json": &protocol.Status{V: protocol.Version, Router: router, State: protocol.StateOffline, TS: t0, AgentVersion: "v0.1.0"},

		"result.running.json": result(protocol.ResultRunning, nil),
		"result.succeeded.json": result(protocol.ResultSucceeded, func(r *protocol.CommandResult) {
			r.Ret = "*1F"
		}),
		"result.succeeded-rows.json": result(protocol.ResultSucceeded, func(r *protocol.CommandResult) {
			r.Rows = []map[string]string{
				{".id": "*3", "address": "10.5.50.23", "mac-address": "AA:BB:CC:00:11:22"},
				{".id": "*4", "address": "10.5.50.24", "mac-address": "AA:BB:CC:00:11:23"},
			}
		}),
		"result.succeeded-duplicate.json": result(protocol.ResultSucceeded, func(r *protocol.CommandResult) {
			r.Ret, r.Duplicate = "*1F", true
		}),
		"result.failed.json": result(protocol.ResultFailed, func(r *protocol.CommandResult) {
			r.Code, r.Message = protocol.CodeRouterError, "failure: already have user with this name for this server"
		}),
	}

	cmds := map[protocol.CommandKind]func(*protocol.Command){
		protocol.CmdHotspotUserAdd: func(c *protocol.Command) {
			c.HotspotUser = &protocol.HotspotUser{
				Name: "guest-0042", Password: "s3cret!", Profile: "1h-2M", Server: "hotspot1",
				MAC: "AA:BB:CC:00:11:22", Email: "guest@example.com", Comment: "voucher 42",
				LimitUptime: "1h", LimitBytesTotal: 1073741824, Disabled: &no,
			}
		},
		protocol.CmdHotspotUserSet: func(c *protocol.Command) {
			c.HotspotUser = &protocol.HotspotUser{Name: "guest-0042", Profile: "1d-5M", LimitUptime: "1d"}
		},
		protocol.CmdHotspotUserRemove:  func(c *protocol.Command) { c.HotspotUser = &protocol.HotspotUser{Name: "guest-0042"} },
		protocol.CmdHotspotUserEnable:  func(c *protocol.Command) { c.HotspotUser = &protocol.HotspotUser{Name: "guest-0042"} },
		protocol.CmdHotspotUserDisable: func(c *protocol.Command) { c.HotspotUser = &protocol.HotspotUser{Name: "guest-0042", Disabled: &yes} },
		protocol.CmdHotspotActiveKick:  func(c *protocol.Command) { c.Kick = &protocol.Kick{Key: hs.Key, RouterOSID: "*1A"} },
		protocol.CmdPPPSecretAdd: func(c *protocol.Command) {
			c.PPPSecret = &protocol.PPPSecret{
				Name: "bob-home", Password: "pppoe-pass", Service: "pppoe", Profile: "10M",
				LocalAddress: "100.64.0.1", RemoteAddress: "100.64.0.17", CallerID: "DC:2C:6E:01:02:03",
				Comment: "Bob, Ngong Rd", Disabled: &no,
			}
		},
		protocol.CmdPPPSecretSet:     func(c *protocol.Command) { c.PPPSecret = &protocol.PPPSecret{Name: "bob-home", Profile: "20M"} },
		protocol.CmdPPPSecretRemove:  func(c *protocol.Command) { c.PPPSecret = &protocol.PPPSecret{Name: "bob-home"} },
		protocol.CmdPPPSecretEnable:  func(c *protocol.Command) { c.PPPSecret = &protocol.PPPSecret{Name: "bob-home"} },
		protocol.CmdPPPSecretDisable: func(c *protocol.Command) { c.PPPSecret = &protocol.PPPSecret{Name: "bob-home", Disabled: &yes} },
		protocol.CmdPPPActiveKick:    func(c *protocol.Command) { c.Kick = &protocol.Kick{User: "bob-home"} },
		protocol.CmdHotspotProfileLimit: func(c *protocol.Command) {
			c.Profile = &protocol.ProfileRate{Name: "1h-2M", RateLimit: "512k/2M"}
		},
		protocol.CmdPPPProfileLimit: func(c *protocol.Command) {
			c.Profile = &protocol.ProfileRate{Name: "10M", RateLimit: "5M/10M 6M/12M 4M/8M 16/16"}
		},
		protocol.CmdHotspotProfileAdd: func(c *protocol.Command) {
			c.ProfileSpec = &protocol.ProfileSpec{Name: "plan-daily-5M", RateLimit: "2M/5M", SessionTimeout: "1d",
				IdleTimeout: "15m", SharedUsers: 2}
		},
		// Set sends what changed; "0s" is how a timeout is cleared.
		protocol.CmdHotspotProfileSet: func(c *protocol.Command) {
			c.ProfileSpec = &protocol.ProfileSpec{Name: "plan-daily-5M", RateLimit: "2M/5M 4M/10M 1M/3M 16/16 8 512k/1M", SessionTimeout: "0s"}
		},
		protocol.CmdHotspotProfileRemove: func(c *protocol.Command) { c.ProfileSpec = &protocol.ProfileSpec{Name: "plan-daily-5M"} },
		protocol.CmdPPPProfileAdd: func(c *protocol.Command) {
			c.ProfileSpec = &protocol.ProfileSpec{Name: "plan-home-20M", RateLimit: "10M/20M", SessionTimeout: "30d",
				IdleTimeout: "0s", LocalAddress: "100.64.0.1", RemoteAddress: "pppoe-pool", OnlyOne: &yes, Comment: "SitePulse plan 9"}
		},
		protocol.CmdPPPProfileSet: func(c *protocol.Command) {
			c.ProfileSpec = &protocol.ProfileSpec{Name: "plan-home-20M", RateLimit: "0/0", OnlyOne: &no}
		},
		protocol.CmdPPPProfileRemove: func(c *protocol.Command) { c.ProfileSpec = &protocol.ProfileSpec{Name: "plan-home-20M"} },
		protocol.CmdResync:           func(c *protocol.Command) { c.ExpiresAt = time.Time{} }, // no expiry: omitted
		protocol.CmdRaw: func(c *protocol.Command) {
			c.Raw = &protocol.RawCommand{Path: "/ip/hotspot/host/print", Args: []string{"=.proplist=.id,address,mac-address", "?authorized=false"}}
		},
	}
	for i, kind := range protocol.CommandKinds {
		cases["cmd."+string(kind)+".json"] = command(fmt.Sprintf("cmd-%04d", i+1), kind, cmds[kind])
	}
	for name, msg := range radiusCases() {
		cases[name] = msg
	}
	return cases
}

// radiusCases are the RADIUS-at-the-edge messages: sync pages (entries of
// every shape, answers), the agent's state, a voucher's first-use
// question, and the voucher.used event.
func radiusCases() map[string]protocol.Message {
	at := t0.Add(-10 * time.Minute)
	return map[string]protocol.Message{
		"radiussync.page.json": &protocol.RadiusSync{V: protocol.Version, Router: router, Mode: protocol.AuthRadius,
			From: 40, To: 44, Head: 50, InterimSeconds: 300, Entries: []protocol.RadiusEntry{
				{Kind: protocol.KindHotspot, Name: "+254712345678", Version: 41, Password: "pw-1", Profile: "sp-plan-3", RateLimit: "2M/5M",
					ExpiresAt: t0.Add(24 * time.Hour), UptimeLimitSeconds: 3600, DataCapBytes: 1 << 30, UsedBytes: 1 << 20, SharedUsers: 2},
				{Kind: protocol.KindPPPoE, Name: "bob-home", Version: 42, NTHash: "8846f7eaee8fb117ad06bdd830b7586c", Profile: "sp-plan-9",
					RateLimit: "10M/20M", FramedPool: "pppoe-pool"},
				{Kind: protocol.KindHotspot, Name: "KW7H3QXM", Version: 43, Voucher: true, Password: "KW7H3QXM", VoucherSeconds: 3600,
					Profile: "sp-plan-3", RateLimit: "2M/5M"},
				{Kind: protocol.KindHotspot, Name: "guest-0042", Version: 44, Disabled: true, Reason: "expired", Password: "s3cret!"},
			}},
		"radiussync.tombstone-last.json": &protocol.RadiusSync{V: protocol.Version, Router: router, Mode: protocol.AuthLocal,
			From: 44, To: 50, Head: 50, Entries: []protocol.RadiusEntry{{Kind: protocol.KindPPPoE, Name: "bob-home", Version: 47, Deleted: true}}},
		"radiussync.answers.json": &protocol.RadiusSync{V: protocol.Version, Router: router, Mode: protocol.AuthRadius,
			From: 50, To: 50, Head: 51, Answers: []protocol.RadiusAnswer{
				{ID: "ask-1", Accept: true, Entry: &protocol.RadiusEntry{Kind: protocol.KindHotspot, Name: "KW7H3QXM", Version: 51,
					Password: "KW7H3QXM", Profile: "sp-plan-3", ExpiresAt: t0.Add(time.Hour)}},
				{ID: "ask-2", Reason: "voucher not valid"},
			}},
		"radiusstate.connect.json": &protocol.RadiusState{V: protocol.Version, Router: router, Version: 44, Count: 3},
		"radiusstate.empty.json":   &protocol.RadiusState{V: protocol.Version, Router: router},
		"radiusask.first-use.json": &protocol.RadiusAsk{V: protocol.Version, Router: router, ID: "ask-1", Code: "KW7H3QXM",
			MAC: "AA:BB:CC:00:11:22", IP: "10.5.50.23", TS: t0},
		"events.voucher-used.json": batch(protocol.Event{Seq: 15, TS: at, Type: protocol.EventVoucherUsed, Voucher: &protocol.VoucherUse{
			Code: "KW7H3QXM", MAC: "AA:BB:CC:00:11:22", IP: "10.5.50.23", At: at, EndsAt: at.Add(time.Hour)}}),
	}
}

// decodeAs decodes b with the decoder for like's type.
func decodeAs(like protocol.Message, b []byte) (protocol.Message, error) {
	switch like.(type) {
	case *protocol.EventBatch:
		return unwrap(protocol.DecodeEventBatch(b))
	case *protocol.Status:
		return unwrap(protocol.DecodeStatus(b))
	case *protocol.Command:
		return unwrap(protocol.DecodeCommand(b))
	case *protocol.CommandResult:
		return unwrap(protocol.DecodeCommandResult(b))
	case *protocol.RadiusSync:
		return unwrap(protocol.DecodeRadiusSync(b))
	case *protocol.RadiusState:
		return unwrap(protocol.DecodeRadiusState(b))
	case *protocol.RadiusAsk:
		return unwrap(protocol.DecodeRadiusAsk(b))
	}
	panic(fmt.Sprintf("no decoder for %T", like))
}

// unwrap turns a typed result into a Message without boxing a nil pointer.
func unwrap[P protocol.Message](m P, err error) (protocol.Message, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}

// TestGolden runs every file in testdata/ through the encoder (Go value →
// exact bytes) and the decoder (bytes → the same Go value). Run with
// -update to rewrite the files after an intended change.
func TestGolden(t *testing.T) {
	cases := goldenCases()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	onDisk := map[string]bool{}
	for _, f := range files {
		onDisk[filepath.Base(f)] = true
		if _, ok := cases[filepath.Base(f)]; !ok {
			t.Errorf("%s has no Go value in goldenCases; delete it or add one", f)
		}
	}
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, name := range names {
		msg := cases[name]
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			path := filepath.Join("testdata", name)
			got, err := protocol.Encode(msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got = append(got, '\n') // files end in a newline; decoders accept the whitespace
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if !onDisk[name] {
				t.Fatalf("%s is missing; run go test ./protocol -run TestGolden -update", path)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Encode differs from %s (rerun with -update if intended)\ngot:  %s\nwant: %s", path, got, want)
			}

			dec, err := decodeAs(msg, want)
			if err != nil {
				t.Fatalf("decode %s: %v", path, err)
			}
			if !reflect.DeepEqual(dec, msg) {
				t.Errorf("decode %s:\ngot:  %+v\nwant: %+v", path, dec, msg)
			}
		})
	}
}

// TestGoldenCoverage keeps the golden set complete: every event type,
// command kind, agent state and result status has at least one file.
func TestGoldenCoverage(t *testing.T) {
	seen := map[string]bool{}
	for _, msg := range goldenCases() {
		switch m := msg.(type) {
		case *protocol.EventBatch:
			for _, e := range m.Events {
				seen["event "+string(e.Type)] = true
				if e.Reason != "" {
					seen["reason "+string(e.Reason)] = true
				}
				if e.Session != nil {
					seen["kind "+string(e.Session.Kind)] = true
				}
			}
		case *protocol.Status:
			seen["state "+string(m.State)] = true
		case *protocol.Command:
			seen["command "+string(m.Kind)] = true
		case *protocol.CommandResult:
			seen["result "+string(m.Status)] = true
		}
	}
	var want []string
	for _, e := range []protocol.EventType{protocol.EventSnapshot, protocol.EventSessionStarted, protocol.EventSessionUpdated, protocol.EventSessionEnded, protocol.EventRouterResources} {
		want = append(want, "event "+string(e))
	}
	for _, r := range []protocol.EndReason{protocol.EndLogout, protocol.EndKicked, protocol.EndExpired, protocol.EndVanished} {
		want = append(want, "reason "+string(r))
	}
	for _, k := range []protocol.SessionKind{protocol.KindHotspot, protocol.KindPPPoE} {
		want = append(want, "kind "+string(k))
	}
	for _, s := range []protocol.AgentState{protocol.StateOnline, protocol.StateOffline} {
		want = append(want, "state "+string(s))
	}
	for _, k := range protocol.CommandKinds {
		want = append(want, "command "+string(k))
	}
	for _, s := range []protocol.ResultStatus{protocol.ResultRunning, protocol.ResultSucceeded, protocol.ResultFailed} {
		want = append(want, "result "+string(s))
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no golden file covers %s", w)
		}
	}
}
