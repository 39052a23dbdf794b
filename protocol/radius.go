package protocol

import (
	"fmt"
	"time"
)

// RADIUS at the edge: the agent answers its router's RADIUS (auth 1812,
// accounting 1813) from a synced copy of the accounts that may log in
// there, so logins work while the cloud is unreachable.
//
// Sync is versioned per router. Every change to an entry the router needs
// gives that entry the router's next version; an entry keeps only its
// newest state (a removal is an entry with Deleted set, kept so that it
// can be sent). "Changes since v" is therefore every entry with a version
// above v, in version order, which pages naturally: a page From..To holds
// the entries with From < version ≤ To.
//
//	agent → cp  sp/v1/{router}/radius/state  RadiusState{Version}  on connect, after a gap, after applying
//	cp → agent  sp/v1/{router}/radius        RadiusSync{From, To, Entries, Answers}
//	agent → cp  sp/v1/{router}/radius/ask    RadiusAsk  (a voucher's first use)
//
// The agent applies a page only when From equals its version (then its
// version becomes To); a page with To ≤ its version is a duplicate and is
// dropped; a page with From above its version means one was missed, and the
// agent publishes its state again so that the control plane re-sends from
// there. A page whose To equals Head is the last one for now.

// RADIUS topic kinds.
const (
	TopicRadiusSync  TopicKind = "radius"       // control plane → agent, QoS 1
	TopicRadiusState TopicKind = "radius/state" // agent → control plane, QoS 1
	TopicRadiusAsk   TopicKind = "radius/ask"   // agent → control plane, QoS 1
)

// RadiusSyncTopic is where the control plane sends router its entries.
func RadiusSyncTopic(router string) string {
	return Topic{Kind: TopicRadiusSync, Router: router}.String()
}

// RadiusStateTopic is where router reports the version it holds.
func RadiusStateTopic(router string) string {
	return Topic{Kind: TopicRadiusState, Router: router}.String()
}

// RadiusAskTopic is where router asks the control plane to decide.
func RadiusAskTopic(router string) string {
	return Topic{Kind: TopicRadiusAsk, Router: router}.String()
}

// Authentication modes of a router.
const (
	// AuthLocal: accounts are hotspot users and PPP secrets provisioned
	// into the router over the API (typed commands).
	AuthLocal = "local"
	// AuthRadius: the router asks the agent's RADIUS server; accounts are
	// synced to the agent instead, and kicks become Disconnect-Requests.
	AuthRadius = "radius"
)

// RadiusState is the payload of sp/v1/{router}/radius/state.
type RadiusState struct {
	V      int    `json:"v"`
	Router string `json:"router"`
	// Version is the newest entry version the agent holds (0: none).
	Version uint64 `json:"version"`
	// Count is how many live (not deleted) entries it holds, for the
	// dashboard and to spot a diverged copy.
	Count int `json:"count"`
}

// RadiusSync is the payload of sp/v1/{router}/radius.
type RadiusSync struct {
	V      int    `json:"v"`
	Router string `json:"router"`
	// Mode is the router's authentication mode (AuthLocal or AuthRadius).
	// In AuthLocal the agent still keeps its copy but answers every
	// Access-Request with a reject, and kicks go over the API.
	Mode string `json:"mode"`
	// From and To bound the versions of Entries: From < version ≤ To.
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	// Head is the router's newest version when the page was built.
	Head    uint64        `json:"head"`
	Entries []RadiusEntry `json:"entries,omitempty"`
	// Answers decide earlier RadiusAsks; they apply whatever the versions.
	Answers []RadiusAnswer `json:"answers,omitempty"`
	// InterimSeconds is the Acct-Interim-Interval to hand out; 0 means the
	// agent's default.
	InterimSeconds int `json:"interim_s,omitempty"`
}

// MaxRadiusEntries bounds the entries in one sync page, so that a page
// stays well under MaxPayloadSize.
const MaxRadiusEntries = 500

// RadiusEntry is one account as a router's RADIUS needs it. Kind and Name
// identify it (a hotspot user and a PPP secret may share a name).
type RadiusEntry struct {
	Kind    SessionKind `json:"kind"`
	Name    string      `json:"name"`
	Version uint64      `json:"version"`
	// Deleted removes the entry; the other fields are then empty.
	Deleted bool `json:"deleted,omitempty"`

	// Password is the clear text, sent for hotspot entries only: CHAP
	// (RouterOS's hotspot default) cannot be checked against a hash.
	// NTHash is hex MD4 of the UTF-16LE password, sent for PPP entries:
	// it checks PAP and MS-CHAPv2 without the clear text. Secrets: never
	// log them.
	Password string `json:"password,omitempty"`
	NTHash   string `json:"nt_hash,omitempty"`

	// Profile is the RouterOS profile (Mikrotik-Group); RateLimit the
	// MikroTik-Rate-Limit ("rx/tx", e.g. 2M/5M), "" for the profile's.
	Profile   string `json:"profile,omitempty"`
	RateLimit string `json:"rate_limit,omitempty"`
	// ExpiresAt ends the entitlement (Session-Timeout is the time left);
	// zero means no end.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// UptimeLimitSeconds is a budget of online time (hotspot
	// limit-uptime); 0 means none.
	UptimeLimitSeconds int64 `json:"uptime_limit_s,omitempty"`
	// DataCapBytes bounds bytes in + out over the entitlement
	// (Mikrotik-Total-Limit); UsedBytes is what the control plane has
	// counted so far, so the agent hands out only the rest.
	DataCapBytes uint64 `json:"data_cap_bytes,omitempty"`
	UsedBytes    uint64 `json:"used_bytes,omitempty"`
	// SharedUsers bounds concurrent sessions at this router; 0 means 1.
	SharedUsers int `json:"shared_users,omitempty"`
	// FramedPool names the router's address pool (Framed-Pool), if any.
	FramedPool string `json:"framed_pool,omitempty"`
	// Disabled rejects logins with Reason ("expired", "disabled", ...),
	// which the router shows on its login page.
	Disabled bool   `json:"disabled,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Voucher marks an unredeemed voucher code (Name is the code, Password
	// the code too): its first use is decided by the control plane (a
	// RadiusAsk) when it is reachable; otherwise the agent allows it for
	// VoucherSeconds from the login and reports the use as a voucher.used
	// event, which the control plane reconciles (flagging a double use).
	Voucher        bool  `json:"voucher,omitempty"`
	VoucherSeconds int64 `json:"voucher_s,omitempty"`
}

// RadiusAsk is the payload of sp/v1/{router}/radius/ask: a voucher code
// tried for the first time at this router.
type RadiusAsk struct {
	V      int       `json:"v"`
	Router string    `json:"router"`
	ID     string    `json:"id"` // the agent's request id, echoed in the answer
	Code   string    `json:"code"`
	MAC    string    `json:"mac,omitempty"`
	IP     string    `json:"ip,omitempty"`
	TS     time.Time `json:"ts"`
}

// RadiusAnswer decides a RadiusAsk. On Accept the redeemed account's entry
// (no longer a voucher) comes in Entry and, with its version, in the
// normal sync too.
type RadiusAnswer struct {
	ID     string       `json:"id"`
	Accept bool         `json:"accept"`
	Reason string       `json:"reason,omitempty"` // shown on a reject
	Entry  *RadiusEntry `json:"entry,omitempty"`
}

// VoucherUse is the data of a voucher.used event: a voucher the agent let
// in while the control plane could not be asked.
type VoucherUse struct {
	Code string    `json:"code"`
	MAC  string    `json:"mac,omitempty"`
	IP   string    `json:"ip,omitempty"`
	At   time.Time `json:"at"`
	// EndsAt is when the agent will end it (At + VoucherSeconds).
	EndsAt time.Time `json:"ends_at"`
}

// EventVoucherUsed reports a voucher the agent accepted offline (Voucher
// is set). The control plane redeems it as of At, or flags a double use
// if it was redeemed elsewhere meanwhile.
const EventVoucherUsed EventType = "voucher.used"

// DecodeRadiusSync decodes and validates a sync page.
func DecodeRadiusSync(b []byte) (*RadiusSync, error) { return decode[RadiusSync](b) }

// DecodeRadiusState decodes and validates an agent's sync state.
func DecodeRadiusState(b []byte) (*RadiusState, error) { return decode[RadiusState](b) }

// DecodeRadiusAsk decodes and validates a voucher question.
func DecodeRadiusAsk(b []byte) (*RadiusAsk, error) { return decode[RadiusAsk](b) }

// Validate implements Message.
func (s *RadiusState) Validate() error {
	if err := checkVersion(s.V); err != nil {
		return err
	}
	if err := checkRouter("router", s.Router); err != nil {
		return err
	}
	if s.Count < 0 {
		return fieldErr("count", "negative")
	}
	return nil
}

// Validate implements Message.
func (s *RadiusSync) Validate() error {
	if err := checkVersion(s.V); err != nil {
		return err
	}
	if err := checkRouter("router", s.Router); err != nil {
		return err
	}
	if s.Mode != AuthLocal && s.Mode != AuthRadius {
		return fieldErr("mode", "want %q or %q", AuthLocal, AuthRadius)
	}
	if s.To < s.From {
		return fieldErr("to", "below from")
	}
	if s.Head < s.To {
		return fieldErr("head", "below to")
	}
	if len(s.Entries) > MaxRadiusEntries {
		return fieldErr("entries", "more than %d", MaxRadiusEntries)
	}
	if len(s.Answers) > MaxRadiusEntries {
		return fieldErr("answers", "more than %d", MaxRadiusEntries)
	}
	if s.InterimSeconds < 0 {
		return fieldErr("interim_s", "negative")
	}
	for i := range s.Entries {
		e := &s.Entries[i]
		if err := e.validate(fmt.Sprintf("entries[%d].", i)); err != nil {
			return err
		}
		if e.Version <= s.From || e.Version > s.To {
			return fieldErr(fmt.Sprintf("entries[%d].version", i), "outside (from, to]")
		}
	}
	for i, a := range s.Answers {
		p := fmt.Sprintf("answers[%d].", i)
		if err := checkText(p+"id", a.ID, true); err != nil {
			return err
		}
		if err := checkText(p+"reason", a.Reason, false); err != nil {
			return err
		}
		if a.Entry != nil {
			if err := a.Entry.validate(p + "entry."); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *RadiusEntry) validate(p string) error {
	if e.Kind != KindHotspot && e.Kind != KindPPPoE {
		return fieldErr(p+"kind", "want %q or %q", KindHotspot, KindPPPoE)
	}
	if err := checkText(p+"name", e.Name, true); err != nil {
		return err
	}
	if e.Version == 0 {
		return fieldErr(p+"version", "required")
	}
	if err := checkTexts(p,
		namedText{"password", e.Password}, namedText{"nt_hash", e.NTHash},
		namedText{"profile", e.Profile}, namedText{"rate_limit", e.RateLimit},
		namedText{"framed_pool", e.FramedPool}, namedText{"reason", e.Reason},
	); err != nil {
		return err
	}
	if e.NTHash != "" && !isHex(e.NTHash, 32) {
		return fieldErr(p+"nt_hash", "want 32 hex digits")
	}
	if e.UptimeLimitSeconds < 0 || e.VoucherSeconds < 0 {
		return fieldErr(p+"uptime_limit_s", "negative")
	}
	if e.SharedUsers < 0 || e.SharedUsers > MaxSharedUsers {
		return fieldErr(p+"shared_users", "want 0..%d", MaxSharedUsers)
	}
	return nil
}

// Validate implements Message.
func (a *RadiusAsk) Validate() error {
	if err := checkVersion(a.V); err != nil {
		return err
	}
	if err := checkRouter("router", a.Router); err != nil {
		return err
	}
	if err := checkText("id", a.ID, true); err != nil {
		return err
	}
	if err := checkText("code", a.Code, true); err != nil {
		return err
	}
	if err := checkTexts("", namedText{"mac", a.MAC}, namedText{"ip", a.IP}); err != nil {
		return err
	}
	return checkTime("ts", a.TS)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (v *VoucherUse) validate(f string) error {
	if err := checkText(f+".code", v.Code, true); err != nil {
		return err
	}
	if err := checkTexts(f+".", namedText{"mac", v.MAC}, namedText{"ip", v.IP}); err != nil {
		return err
	}
	if err := checkTime(f+".at", v.At); err != nil {
		return err
	}
	if err := checkTime(f+".ends_at", v.EndsAt); err != nil {
		return err
	}
	if v.EndsAt.Before(v.At) {
		return fieldErr(f+".ends_at", "before at")
	}
	return nil
}
