package fanout

import (
	"strings"
	"testing"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

func TestFanoutCommandUpdated(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, "commands"), "")
	other := dial(t, srv)
	other.subscribeOK(TenantChannel(4, "commands"), "")
	f := New(h, Options{Now: func() time.Time { return fanoutEpoch }})

	no := false
	cmd := controlplane.Command{ID: "c1", TenantID: 3, RouterID: "r1", Kind: protocol.CmdHotspotUserAdd, Status: controlplane.CommandQueued,
		Params: controlplane.CommandParams{HotspotUser: &protocol.HotspotUser{Name: "+254712345678", Password: "hunter2-secret",
			Profile: "1h", Email: "jane@example.com", Disabled: &no}},
		Actor: "tech@example.com", ActorID: 9, CreatedAt: fanoutEpoch, UpdatedAt: fanoutEpoch, ExpiresAt: fanoutEpoch.Add(time.Hour)}
	f.Apply(controlplane.CommandChanged{Command: cmd})
	cmd.Status, cmd.Code, cmd.Message = controlplane.CommandFailed, protocol.CodeRouterError, "failure: already have user with this name for this server"
	f.Apply(controlplane.CommandChanged{Command: cmd})

	var got []commandView
	for i := range 2 {
		fr := c.expect(EventCommandUpdated)
		for _, leak := range []string{"hunter2", "712345", "jane@", "tech@"} {
			if strings.Contains(string(fr.Raw), leak) {
				t.Errorf("CommandUpdated leaks %q: %s", leak, fr.Raw)
			}
		}
		var d struct {
			Seq     uint64      `json:"seq"`
			Command commandView `json:"command"`
		}
		fr.decode(t, &d)
		if d.Seq != uint64(i+1) {
			t.Errorf("event %d: seq %d", i, d.Seq)
		}
		got = append(got, d.Command)
	}
	if got[0].Status != "queued" || got[1].Status != "failed" || got[1].Message != cmd.Message || got[1].Code != protocol.CodeRouterError {
		t.Errorf("statuses %+v", got)
	}
	v := got[0]
	if v.ID != "c1" || v.RouterID != "r1" || v.Target != "+2547****678" || v.Params.HotspotUser == nil ||
		v.Params.HotspotUser.Name != "+2547****678" || v.Params.HotspotUser.Profile != "1h" || v.Actor != "t***@example.com" {
		t.Errorf("view %+v", v)
	}
	other.alive() // tenant 4 hears nothing

	// Raw commands broadcast their path only.
	raw := controlplane.Command{ID: "c2", TenantID: 3, RouterID: "r1", Kind: protocol.CmdRaw, Status: controlplane.CommandSucceeded,
		Params: controlplane.CommandParams{Raw: &protocol.RawCommand{Path: "/ppp/secret/set", Args: []string{"=password=topsecret"}}},
		Rows:   []map[string]string{{"password": "x"}}}
	f.Apply(controlplane.CommandChanged{Command: raw})
	fr := c.expect(EventCommandUpdated)
	if strings.Contains(string(fr.Raw), "topsecret") || strings.Contains(string(fr.Raw), "rows") || !strings.Contains(string(fr.Raw), "/ppp/secret/set") {
		t.Errorf("raw command broadcast: %s", fr.Raw)
	}
}

func TestFanoutProfileCommandUpdated(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, "commands"), "")
	f := New(h, Options{})
	cmd := controlplane.Command{ID: "c3", TenantID: 3, RouterID: "r1", Kind: protocol.CmdPPPProfileAdd, Status: controlplane.CommandQueued,
		Params: controlplane.CommandParams{ProfileSpec: &protocol.ProfileSpec{Name: "sp-plan-7", RateLimit: "2M/5M", SessionTimeout: "1d",
			Comment: "plan 7, questions to +254712345678"}}}
	f.Apply(controlplane.CommandChanged{Command: cmd})
	fr := c.expect(EventCommandUpdated)
	if strings.Contains(string(fr.Raw), "712345678") {
		t.Errorf("profile command leaks the phone: %s", fr.Raw)
	}
	var d struct {
		Command commandView `json:"command"`
	}
	fr.decode(t, &d)
	ps := d.Command.Params.ProfileSpec
	if d.Command.Target != "sp-plan-7" || ps == nil || ps.RateLimit != "2M/5M" || ps.SessionTimeout != "1d" || ps.Comment != "plan 7, questions to +2547****678" {
		t.Errorf("profile command = %+v (spec %+v)", d.Command, ps)
	}
}

func TestFanoutUserEvents(t *testing.T) {
	h, srv := newTestHub(t, nil)
	c := dial(t, srv)
	c.subscribeOK(TenantChannel(3, "users"), "")
	f := New(h, Options{Now: func() time.Time { return fanoutEpoch }})
	exp := fanoutEpoch.Add(24 * time.Hour)
	a := controlplane.Account{ID: 11, TenantID: 3, Kind: controlplane.AccountHotspot, Name: "0712345678", Password: "pw-secret",
		Profile: "1h", ExpiresAt: &exp, Phone: "+254712345678", Email: "jane@example.com", Comment: "call +254799999999",
		Routers: []controlplane.AccountRouter{{RouterID: "r1", State: controlplane.SyncFailed, Message: "input does not match any value of profile"}}}
	for _, op := range []string{controlplane.AccountCreated, controlplane.AccountUpdated, controlplane.AccountDeleted} {
		f.Apply(controlplane.AccountChanged{Op: op, Account: a})
	}
	for i, event := range []string{EventUserCreated, EventUserUpdated, EventUserDeleted} {
		fr := c.expect(event)
		for _, leak := range []string{"pw-secret", "712345", "jane@", "799999"} {
			if strings.Contains(string(fr.Raw), leak) {
				t.Errorf("%s leaks %q: %s", event, leak, fr.Raw)
			}
		}
		var d struct {
			Seq     uint64      `json:"seq"`
			Account accountView `json:"account"`
		}
		fr.decode(t, &d)
		v := d.Account
		if d.Seq != uint64(i+1) || v.ID != 11 || v.Kind != "hotspot" || v.Name != "0712****678" || v.Phone != "+2547****678" ||
			v.Email != "j***@example.com" || len(v.Routers) != 1 || v.Routers[0].State != "failed" ||
			v.Routers[0].Message != "input does not match any value of profile" || v.ExpiresAt == nil {
			t.Errorf("%s = seq %d %+v", event, d.Seq, v)
		}
	}
}
