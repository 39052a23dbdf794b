package agent

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// The session ledger: one record per live session, shared by the two
// views of it, the API watcher (listen + snapshot) and RADIUS accounting,
// so that a session is counted once.
//
// Key rule: whichever view sees a session first names it; the other
// finds it and reuses that key. They find each other by the RouterOS
// identity that both carry: a hotspot Acct-Session-Id is the active row's
// .id in eight hex digits ("0000001A" is "*1A"), and a PPP one is the
// /ppp/active session-id itself, so that a PPP key (name|session-id) is
// the same from both sides anyway. A hotspot key is user|mac|login second
// |.id; accounting computes the login second as Event-Timestamp minus
// Acct-Session-Time, the API as now minus uptime, which may differ by a
// second, which is why the second view adopts the first one's key and
// start rather than computing its own. Likewise exactly one of them
// records session.started and one session.ended: the first to see it
// (an ended session stays in the ledger as a tombstone for an hour, so a
// late or repeated Stop, or a row of a session already stopped, adds
// nothing). session.updated may come from both: counters are absolute.

// tombstoneTTL is how long an ended session is remembered.
const tombstoneTTL = time.Hour

// liveSession is one session as the ledger knows it.
type liveSession struct {
	s      protocol.Session
	api    bool // the API watcher tracks it
	radius bool // accounting told of it
	ended  bool
	at     time.Time // last accounting (or end, once ended)
	// reason is set by the agent before it disconnects the session, so
	// that the end carries why (kicked, expired) whichever view sees it.
	reason protocol.EndReason
	// counted is what of the session's bytes and seconds was added to its
	// entry's usage.
	counted     uint64
	countedSecs int64
	// endsAt is when the agent disconnects it (entitlement end, voucher
	// end); zero means never.
	endsAt time.Time
}

// radiusRow is a RADIUS session's persisted state (radius_sessions).
type radiusRow struct {
	Session     protocol.Session   `json:"session"`
	API         bool               `json:"api,omitempty"`
	Reason      protocol.EndReason `json:"reason,omitempty"`
	Counted     uint64             `json:"counted,omitempty"`
	CountedSecs int64              `json:"counted_s,omitempty"`
	EndsAt      time.Time          `json:"ends_at,omitzero"`
	At          time.Time          `json:"at"`
}

// entryUsage is what this agent counted for an entry since its version.
type entryUsage struct {
	version uint64
	bytes   uint64
	secs    int64
}

// pendingAccept is an Access-Accept whose accounting Start has not come
// yet: it counts towards shared users and carries the session's end.
type pendingAccept struct {
	user, mac string
	endsAt    time.Time
	at        time.Time
}

// pendingTTL bounds how long an accept without a Start counts.
const pendingTTL = 30 * time.Second

type sessionLedger struct {
	mu      sync.Mutex
	byKey   map[string]*liveSession
	byRef   map[keyRef]*liveSession // kind + RouterOS .id
	byAcct  map[keyRef]*liveSession // kind + Acct-Session-Id
	usage   map[entryRef]*entryUsage
	pending map[keyRef]pendingAccept // kind + Acct-Session-Id
	// users indexes the live RADIUS sessions and the pending accepts by
	// account, so that a decision looks at that account's only.
	users map[entryRef]map[*liveSession]bool
	pends map[entryRef]map[keyRef]bool
}

func (l *sessionLedger) addUser(e *liveSession) {
	r := entryRef{e.s.Kind, e.s.User}
	if l.users[r] == nil {
		l.users[r] = map[*liveSession]bool{}
	}
	l.users[r][e] = true
}

func (l *sessionLedger) dropUser(e *liveSession) {
	r := entryRef{e.s.Kind, e.s.User}
	delete(l.users[r], e)
	if len(l.users[r]) == 0 {
		delete(l.users, r)
	}
}

func (l *sessionLedger) dropPending(k keyRef) {
	p, ok := l.pending[k]
	if !ok {
		return
	}
	delete(l.pending, k)
	r := entryRef{k.kind, p.user}
	delete(l.pends[r], k)
	if len(l.pends[r]) == 0 {
		delete(l.pends, r)
	}
}

func newSessionLedger() *sessionLedger {
	return &sessionLedger{byKey: map[string]*liveSession{}, byRef: map[keyRef]*liveSession{},
		byAcct: map[keyRef]*liveSession{}, usage: map[entryRef]*entryUsage{}, pending: map[keyRef]pendingAccept{},
		users: map[entryRef]map[*liveSession]bool{}, pends: map[entryRef]map[keyRef]bool{}}
}

// hotspotIDFromAcct maps a hotspot Acct-Session-Id to the active row's
// .id: "0000001A" → "*1A".
func hotspotIDFromAcct(acct string) (string, bool) {
	if len(acct) != 8 {
		return "", false
	}
	n, err := strconv.ParseUint(acct, 16, 32)
	if err != nil {
		return "", false
	}
	return "*" + strings.ToUpper(strconv.FormatUint(n, 16)), true
}

// acctFromHotspotID is the reverse: "*1A" → "0000001A".
func acctFromHotspotID(id string) (string, bool) {
	n, err := strconv.ParseUint(strings.TrimPrefix(id, "*"), 16, 32)
	if err != nil || !strings.HasPrefix(id, "*") {
		return "", false
	}
	return fmt.Sprintf("%08X", n), true
}

func (l *sessionLedger) index(e *liveSession) {
	l.byKey[e.s.Key] = e
	if e.s.RouterOSID != "" {
		l.byRef[keyRef{e.s.Kind, e.s.RouterOSID}] = e
	}
	if e.s.AcctSessionID != "" {
		l.byAcct[keyRef{e.s.Kind, e.s.AcctSessionID}] = e
	}
}

// apiStart is called by the API watcher for a session it sees appear. It
// returns false when the ledger already has it (accounting reported the
// start, or it was restored): s then takes that session's key, start
// time and Acct-Session-Id.
func (l *sessionLedger) apiStart(s *protocol.Session) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var e *liveSession
	if s.Kind == protocol.KindHotspot {
		if c := l.byRef[keyRef{s.Kind, s.RouterOSID}]; c != nil && c.s.User == s.User && c.s.MAC == s.MAC {
			e = c
		}
	} else {
		e = l.byKey[s.Key]
	}
	if e == nil {
		e = l.unclaimedRadius(s)
	}
	// A tombstone names this row only if it is the same login: a reboot
	// renumbers rows, so an old .id may come back for a new session.
	if e != nil && e.ended && !nearLogin(e.s.StartedAt, s.StartedAt) {
		e = nil
	}
	if e == nil {
		l.index(&liveSession{s: *s, api: true})
		return true
	}
	s.Key, s.StartedAt, s.AcctSessionID = e.s.Key, e.s.StartedAt, e.s.AcctSessionID
	e.api = true
	e.s.RouterOSID = s.RouterOSID
	if s.Address != "" {
		e.s.Address = s.Address
	}
	e.s.Service, e.s.LoginBy = s.Service, s.LoginBy
	l.index(e)
	return false
}

// unclaimedRadius finds the one live RADIUS session of s's user and MAC
// that no API row has claimed and whose Acct-Session-Id names no row (a
// hotspot id that names one is matched by it, or not at all).
func (l *sessionLedger) unclaimedRadius(s *protocol.Session) *liveSession {
	if s.MAC == "" {
		return nil
	}
	var found *liveSession
	for e := range l.users[entryRef{s.Kind, s.User}] {
		if !e.api && !e.ended && e.s.MAC == s.MAC && e.s.RouterOSID == "" {
			if found != nil {
				return nil
			}
			found = e
		}
	}
	return found
}

// acctSlack is how far the API's and accounting's login times (both on
// the agent's clock, from uptime and Acct-Session-Time) may differ for
// the same login.
const acctSlack = 5 * time.Second

func nearLogin(a, b time.Time) bool {
	d := a.Sub(b)
	return d <= acctSlack && d >= -acctSlack
}

// apiUpdate reports whether the API watcher should record new counters
// for s: not once the session has ended.
func (l *sessionLedger) apiUpdate(s *protocol.Session) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.byKey[s.Key]
	if e == nil {
		return true
	}
	if e.ended {
		return false
	}
	s.AcctSessionID = e.s.AcctSessionID
	setCounters(&e.s, maxCounters(counters(&e.s), counters(s)))
	return true
}

// apiEnd is called by the API watcher for a session it saw go. It returns
// whether to record session.ended (not when accounting already did), the
// reason (the agent's own, when it disconnected the session) and the
// state change that forgets the RADIUS row, if any.
func (l *sessionLedger) apiEnd(s *protocol.Session, reason protocol.EndReason, now time.Time) (bool, protocol.EndReason, func(context.Context, *sql.Tx) error) {
	if l == nil {
		return true, reason, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.byKey[s.Key]
	if e == nil {
		return true, reason, nil
	}
	if e.ended {
		return false, reason, nil
	}
	s.AcctSessionID = e.s.AcctSessionID
	e.ended, e.at = true, now
	if e.reason != "" {
		reason = e.reason
	}
	if !e.radius {
		delete(l.byKey, e.s.Key)
		if l.byRef[keyRef{e.s.Kind, e.s.RouterOSID}] == e {
			delete(l.byRef, keyRef{e.s.Kind, e.s.RouterOSID})
		}
		return true, reason, nil
	}
	l.dropUser(e)
	return true, reason, forgetRadiusRow(e.s.Kind, e.s.AcctSessionID)
}

// restore registers a session from the agent's persisted state.
func (l *sessionLedger) restore(s *protocol.Session) {
	if l == nil {
		return
	}
	l.apiStart(s)
}

// restoreRadius registers a persisted RADIUS session.
func (l *sessionLedger) restoreRadius(r *radiusRow) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := &liveSession{s: r.Session, api: r.API, radius: true, reason: r.Reason, counted: r.Counted,
		countedSecs: r.CountedSecs, endsAt: r.EndsAt, at: r.At}
	l.index(e)
	l.addUser(e)
}

// markEnding records why the agent is about to end the session named by
// key.
func (l *sessionLedger) markEnding(key string, reason protocol.EndReason) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.byKey[key]; e != nil && !e.ended {
		e.reason = reason
	}
}

// live returns copies of the live RADIUS sessions that match.
func (l *sessionLedger) live(match func(*liveSession) bool) []liveSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []liveSession
	for _, e := range l.byAcct {
		if e.radius && !e.ended && match(e) {
			out = append(out, *e)
		}
	}
	return out
}

// sharing counts the live and just-accepted RADIUS sessions of user other
// than one from mac (a device logging in again replaces its session).
func (l *sessionLedger) sharing(kind protocol.SessionKind, user, mac string, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := entryRef{kind, user}
	n := 0
	for e := range l.users[r] {
		if !e.ended && (mac == "" || e.s.MAC != mac) {
			n++
		}
	}
	for k := range l.pends[r] {
		p := l.pending[k]
		if now.Sub(p.at) > pendingTTL {
			l.dropPending(k)
			continue
		}
		if mac == "" || p.mac != mac {
			n++
		}
	}
	return n
}

// accepted remembers an Access-Accept until its Start arrives.
func (l *sessionLedger) accepted(kind protocol.SessionKind, acct, user, mac string, endsAt, now time.Time) {
	if acct == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := keyRef{kind, acct}
	l.dropPending(k)
	l.pending[k] = pendingAccept{user: user, mac: mac, endsAt: endsAt, at: now}
	r := entryRef{kind, user}
	if l.pends[r] == nil {
		l.pends[r] = map[keyRef]bool{}
	}
	l.pends[r][k] = true
}

// used returns what the agent counted for ref since version.
func (l *sessionLedger) used(ref entryRef, version uint64) (uint64, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := l.usage[ref]; u != nil && u.version == version {
		return u.bytes, u.secs
	}
	return 0, 0
}

// setEndsAt moves the agent's end of the live sessions of ref.
func (l *sessionLedger) setEndsAt(ref entryRef, endsAt time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for e := range l.users[ref] {
		if !e.ended {
			e.endsAt = endsAt
		}
	}
}

// purge drops tombstones and stale pending accepts.
func (l *sessionLedger) purge(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, e := range l.byAcct {
		if e.ended && now.Sub(e.at) > tombstoneTTL {
			delete(l.byAcct, k)
			if l.byKey[e.s.Key] == e {
				delete(l.byKey, e.s.Key)
			}
			if r := (keyRef{e.s.Kind, e.s.RouterOSID}); l.byRef[r] == e {
				delete(l.byRef, r)
			}
		}
	}
	for k, p := range l.pending {
		if now.Sub(p.at) > pendingTTL {
			l.dropPending(k)
		}
	}
}

func maxCounters(a, b [4]uint64) [4]uint64 {
	for i := range a {
		a[i] = max(a[i], b[i])
	}
	return a
}

func radiusRowKey(kind protocol.SessionKind, acct string) string { return string(kind) + ":" + acct }

func forgetRadiusRow(kind protocol.SessionKind, acct string) func(context.Context, *sql.Tx) error {
	k := radiusRowKey(kind, acct)
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM radius_sessions WHERE acct = ?`, k)
		return err
	}
}

func storeRadiusRow(e *liveSession) func(context.Context, *sql.Tx) error {
	k := radiusRowKey(e.s.Kind, e.s.AcctSessionID)
	body, _ := json.Marshal(radiusRow{Session: e.s, API: e.api, Reason: e.reason, Counted: e.counted,
		CountedSecs: e.countedSecs, EndsAt: e.endsAt, At: e.at})
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO radius_sessions (acct, body) VALUES (?, ?)
			ON CONFLICT (acct) DO UPDATE SET body = excluded.body`, k, body)
		return err
	}
}

// loadRadiusRows reads the persisted RADIUS sessions.
func loadRadiusRows(ctx context.Context, db *sql.DB) ([]radiusRow, error) {
	rows, err := db.QueryContext(ctx, `SELECT body FROM radius_sessions`)
	if err != nil {
		return nil, fmt.Errorf("radius: load sessions: %w", err)
	}
	defer rows.Close()
	var out []radiusRow
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("radius: load sessions: %w", err)
		}
		var r radiusRow
		if json.Unmarshal(b, &r) == nil && r.Session.Key != "" {
			out = append(out, r)
		}
	}
	return out, rows.Err()
}
