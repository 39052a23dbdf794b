package protocol

import (
	"fmt"
	"strings"
	"time"
)

func checkVersion(v int) error {
	if v != Version {
		return &VersionError{Got: v}
	}
	return nil
}

func checkRouter(field, id string) error {
	if err := ValidRouterID(id); err != nil {
		return &FieldError{Field: field, Reason: err.Error()}
	}
	return nil
}

func checkText(field, s string, required bool) error {
	if s == "" {
		if required {
			return fieldErr(field, "required")
		}
		return nil
	}
	if len(s) > MaxFieldLen {
		return fieldErr(field, "longer than %d bytes", MaxFieldLen)
	}
	if strings.ContainsRune(s, 0) {
		return fieldErr(field, "contains NUL")
	}
	return nil
}

// namedText is one optional text field, listed in struct order so that
// validation reports the same field every time (ranging over a map would
// not).
type namedText struct {
	name, value string
}

// checkTexts runs checkText over optional fields in order.
func checkTexts(prefix string, fields ...namedText) error {
	for _, f := range fields {
		if err := checkText(prefix+f.name, f.value, false); err != nil {
			return err
		}
	}
	return nil
}

func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return fieldErr(field, "required")
	}
	return nil
}

// Validate implements Message.
func (b *EventBatch) Validate() error {
	if err := checkVersion(b.V); err != nil {
		return err
	}
	if err := checkRouter("router", b.Router); err != nil {
		return err
	}
	if len(b.Epoch) > MaxEpochLen || strings.Trim(b.Epoch, "0123456789abcdef") != "" {
		return fieldErr("epoch", "want up to %d lowercase hex digits", MaxEpochLen)
	}
	if len(b.Events) == 0 {
		return fieldErr("events", "empty batch")
	}
	if len(b.Events) > MaxEventsPerBatch {
		return fieldErr("events", "more than %d events", MaxEventsPerBatch)
	}
	if b.Prev != 0 && b.Prev >= b.Events[0].Seq {
		return fieldErr("prev", "%d not below the first seq %d", b.Prev, b.Events[0].Seq)
	}
	var prev uint64
	for i := range b.Events {
		f := fmt.Sprintf("events[%d]", i)
		e := &b.Events[i]
		if e.Seq == 0 {
			return fieldErr(f+".seq", "must be > 0")
		}
		if e.Seq <= prev {
			return fieldErr(f+".seq", "%d not above previous %d", e.Seq, prev)
		}
		prev = e.Seq
		if err := e.validate(f); err != nil {
			return err
		}
	}
	return nil
}

func (e *Event) validate(f string) error {
	if err := checkTime(f+".ts", e.TS); err != nil {
		return err
	}
	// Each type carries exactly its own fields; the others must be absent so
	// that a consumer never has to guess which one counts.
	var session, reason, snapshot, resources, voucher bool
	switch e.Type {
	case EventSessionStarted, EventSessionUpdated:
		session = true
	case EventSessionEnded:
		session, reason = true, true
	case EventSnapshot:
		snapshot = true
	case EventRouterResources:
		resources = true
	case EventVoucherUsed:
		voucher = true
	case "":
		return fieldErr(f+".type", "required")
	default:
		return fieldErr(f+".type", "unknown event type %q", e.Type)
	}
	for _, p := range []struct {
		name         string
		allowed, set bool
	}{
		{"session", session, e.Session != nil},
		{"reason", reason, e.Reason != ""},
		{"snapshot", snapshot, e.Snapshot != nil},
		{"resources", resources, e.Resources != nil},
		{"voucher", voucher, e.Voucher != nil},
	} {
		switch {
		case p.allowed && !p.set:
			return fieldErr(f+"."+p.name, "required for %s", e.Type)
		case !p.allowed && p.set:
			return fieldErr(f+"."+p.name, "not allowed for %s", e.Type)
		}
	}
	switch {
	case session:
		if err := e.Session.validate(f + ".session"); err != nil {
			return err
		}
		if reason {
			switch e.Reason {
			case EndLogout, EndKicked, EndExpired, EndVanished:
			default:
				return fieldErr(f+".reason", "unknown reason %q", e.Reason)
			}
		}
		return nil
	case snapshot:
		return e.Snapshot.validate(f + ".snapshot")
	case voucher:
		return e.Voucher.validate(f + ".voucher")
	default:
		return e.Resources.validate(f + ".resources")
	}
}

func (s *Snapshot) validate(f string) error {
	if err := checkText(f+".id", s.ID, true); err != nil {
		return err
	}
	if s.Parts < 1 {
		return fieldErr(f+".parts", "must be >= 1")
	}
	if s.Part < 1 || s.Part > s.Parts {
		return fieldErr(f+".part", "%d outside 1..%d", s.Part, s.Parts)
	}
	if len(s.Sessions) > MaxSnapshotSessions {
		return fieldErr(f+".sessions", "more than %d sessions", MaxSnapshotSessions)
	}
	for i := range s.Sessions {
		if err := s.Sessions[i].validate(fmt.Sprintf("%s.sessions[%d]", f, i)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) validate(f string) error {
	switch s.Kind {
	case KindHotspot, KindPPPoE:
	case "":
		return fieldErr(f+".kind", "required")
	default:
		return fieldErr(f+".kind", "unknown kind %q", s.Kind)
	}
	if err := checkText(f+".key", s.Key, true); err != nil {
		return err
	}
	if !strings.HasPrefix(s.Key, string(s.Kind)+":") {
		return fieldErr(f+".key", "must start with %q", string(s.Kind)+":")
	}
	if err := checkText(f+".user", s.User, true); err != nil {
		return err
	}
	if err := checkTexts(f+".",
		namedText{"ros_id", s.RouterOSID}, namedText{"address", s.Address}, namedText{"mac", s.MAC},
		namedText{"service", s.Service}, namedText{"login_by", s.LoginBy}, namedText{"session_id", s.SessionID},
		namedText{"acct_session_id", s.AcctSessionID},
	); err != nil {
		return err
	}
	return checkTime(f+".started_at", s.StartedAt)
}

func (r *Resources) validate(f string) error {
	if r.CPULoad < 0 || r.CPULoad > 100 {
		return fieldErr(f+".cpu_load", "%d outside 0..100", r.CPULoad)
	}
	if r.UptimeSeconds < 0 {
		return fieldErr(f+".uptime_s", "negative")
	}
	if r.TotalMemory > 0 && r.FreeMemory > r.TotalMemory {
		return fieldErr(f+".free_memory", "above total_memory")
	}
	return checkTexts(f+".",
		namedText{"identity", r.Identity}, namedText{"version", r.Version},
		namedText{"board", r.Board}, namedText{"architecture", r.Architecture},
	)
}

// Validate implements Message.
func (s *Status) Validate() error {
	if err := checkVersion(s.V); err != nil {
		return err
	}
	if err := checkRouter("router", s.Router); err != nil {
		return err
	}
	switch s.State {
	case StateOnline, StateOffline:
	case "":
		return fieldErr("state", "required")
	default:
		return fieldErr("state", "unknown state %q", s.State)
	}
	if err := checkTime("ts", s.TS); err != nil {
		return err
	}
	if err := checkText("agent_version", s.AgentVersion, false); err != nil {
		return err
	}
	if s.Resources != nil {
		return s.Resources.validate("resources")
	}
	return nil
}

// Validate implements Message.
func (c *Command) Validate() error {
	if err := checkVersion(c.V); err != nil {
		return err
	}
	if err := checkText("id", c.ID, true); err != nil {
		return err
	}
	if err := checkRouter("router", c.Router); err != nil {
		return err
	}
	if err := checkTime("issued_at", c.IssuedAt); err != nil {
		return err
	}
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(c.IssuedAt) {
		return fieldErr("expires_at", "before issued_at")
	}
	// Params in struct order, so that with several wrong ones the first is
	// always the one reported.
	set := []struct {
		name  string
		isSet bool
	}{
		{"hotspot_user", c.HotspotUser != nil},
		{"ppp_secret", c.PPPSecret != nil},
		{"kick", c.Kick != nil},
		{"profile", c.Profile != nil},
		{"raw", c.Raw != nil},
		{"profile_spec", c.ProfileSpec != nil},
	}
	want := ""
	switch c.Kind {
	case CmdHotspotUserAdd, CmdHotspotUserSet, CmdHotspotUserRemove, CmdHotspotUserEnable, CmdHotspotUserDisable:
		want = "hotspot_user"
	case CmdPPPSecretAdd, CmdPPPSecretSet, CmdPPPSecretRemove, CmdPPPSecretEnable, CmdPPPSecretDisable:
		want = "ppp_secret"
	case CmdHotspotActiveKick, CmdPPPActiveKick:
		want = "kick"
	case CmdHotspotProfileLimit, CmdPPPProfileLimit:
		want = "profile"
	case CmdRaw:
		want = "raw"
	case CmdHotspotProfileAdd, CmdHotspotProfileSet, CmdHotspotProfileRemove,
		CmdPPPProfileAdd, CmdPPPProfileSet, CmdPPPProfileRemove:
		want = "profile_spec"
	case CmdResync:
	case "":
		return fieldErr("kind", "required")
	default:
		return fieldErr("kind", "unknown command kind %q", c.Kind)
	}
	wantSet := false
	for _, p := range set {
		if p.name == want {
			wantSet = p.isSet
		} else if p.isSet {
			return fieldErr(p.name, "not allowed for %s", c.Kind)
		}
	}
	if want != "" && !wantSet {
		return fieldErr(want, "required for %s", c.Kind)
	}
	switch {
	case c.HotspotUser != nil:
		u := c.HotspotUser
		if err := checkName("hotspot_user.name", u.Name); err != nil {
			return err
		}
		if err := checkTexts("hotspot_user.",
			namedText{"password", u.Password}, namedText{"profile", u.Profile}, namedText{"server", u.Server},
			namedText{"mac", u.MAC}, namedText{"email", u.Email}, namedText{"comment", u.Comment},
			namedText{"limit_uptime", u.LimitUptime},
		); err != nil {
			return err
		}
	case c.PPPSecret != nil:
		s := c.PPPSecret
		if err := checkName("ppp_secret.name", s.Name); err != nil {
			return err
		}
		if err := checkTexts("ppp_secret.",
			namedText{"password", s.Password}, namedText{"service", s.Service}, namedText{"profile", s.Profile},
			namedText{"local_address", s.LocalAddress}, namedText{"remote_address", s.RemoteAddress},
			namedText{"caller_id", s.CallerID}, namedText{"comment", s.Comment},
		); err != nil {
			return err
		}
	case c.Kick != nil:
		k := c.Kick
		if k.Key == "" && k.RouterOSID == "" && k.User == "" {
			return fieldErr("kick", "one of key, ros_id or user is required")
		}
		if err := checkTexts("kick.", namedText{"key", k.Key}, namedText{"ros_id", k.RouterOSID}, namedText{"user", k.User}); err != nil {
			return err
		}
	case c.Profile != nil:
		if err := checkName("profile.name", c.Profile.Name); err != nil {
			return err
		}
		if err := checkText("profile.rate_limit", c.Profile.RateLimit, true); err != nil {
			return err
		}
	case c.ProfileSpec != nil:
		if err := c.ProfileSpec.validate(c.Kind); err != nil {
			return err
		}
	case c.Raw != nil:
		if err := checkText("raw.path", c.Raw.Path, true); err != nil {
			return err
		}
		if !strings.HasPrefix(c.Raw.Path, "/") || strings.ContainsAny(c.Raw.Path, " =?") {
			return fieldErr("raw.path", "must be a RouterOS command word like /ip/hotspot/host/print")
		}
		if len(c.Raw.Args) > 64 {
			return fieldErr("raw.args", "more than 64 words")
		}
		for i, a := range c.Raw.Args {
			if err := checkText(fmt.Sprintf("raw.args[%d]", i), a, true); err != nil {
				return err
			}
			// Words starting with '.' are API attributes; the only one,
			// .tag, belongs to the agent's RouterOS client, and a command
			// that set it could steal replies meant for other commands.
			if a[0] != '=' && a[0] != '?' {
				return fieldErr(fmt.Sprintf("raw.args[%d]", i), "must start with '=' or '?'")
			}
		}
	}
	return nil
}

// checkName validates a RouterOS item name: required, bounded, and free of
// control characters that would break an API word.
func checkName(field, s string) error {
	if err := checkText(field, s, true); err != nil {
		return err
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fieldErr(field, "contains a control character")
		}
	}
	return nil
}

// Validate implements Message.
func (r *CommandResult) Validate() error {
	if err := checkVersion(r.V); err != nil {
		return err
	}
	if err := checkText("id", r.ID, true); err != nil {
		return err
	}
	if err := checkRouter("router", r.Router); err != nil {
		return err
	}
	switch r.Status {
	case ResultRunning, ResultSucceeded:
	case ResultFailed:
		if r.Code == "" {
			return fieldErr("code", "required for failed")
		}
	case "":
		return fieldErr("status", "required")
	default:
		return fieldErr("status", "unknown status %q", r.Status)
	}
	if err := checkTime("ts", r.TS); err != nil {
		return err
	}
	if err := checkText("code", r.Code, false); err != nil {
		return err
	}
	if err := checkText("message", r.Message, false); err != nil {
		return err
	}
	if err := checkText("ret", r.Ret, false); err != nil {
		return err
	}
	if len(r.Rows) > 1000 {
		return fieldErr("rows", "more than 1000 rows")
	}
	return nil
}
