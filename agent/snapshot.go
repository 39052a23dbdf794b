package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// Snapshot rounds: both session menus printed on the stream connection
// and diffed against the known state, with what listen reported meanwhile.

// snapRound is one snapshot of both session menus, diffed against the
// known state when both prints are done.
type snapRound struct {
	n        int
	pending  int
	windows  map[protocol.SessionKind]*snapWindow
	waiters  []chan error
	snapshot bool // also emit a snapshot event (after connect and on request)
	started  time.Time
}

// snapWindow tracks one print and what listen reported while it ran: a
// row may predate a removal listen already reported (dead), and a session
// listen reported as added may be missing from a print that began before
// it (touched). Neither may produce an end or a start.
type snapWindow struct {
	rows    []map[string]string
	touched map[string]bool
	dead    map[string]bool
	done    bool
}

func (s *apiSession) startRound(rd *snapRound) error {
	s.r.snapN++
	rd.n = s.r.snapN
	rd.pending = 2
	rd.started = time.Now()
	rd.windows = map[protocol.SessionKind]*snapWindow{
		protocol.KindHotspot: {touched: map[string]bool{}, dead: map[string]bool{}},
		protocol.KindPPPoE:   {touched: map[string]bool{}, dead: map[string]bool{}},
	}
	s.round = rd
	n := strconv.Itoa(rd.n)
	return errors.Join(
		s.write(s.r.cfg.IOTimeout, "/ip/hotspot/active/print", ".tag=hs"+n),
		s.write(s.r.cfg.IOTimeout, "/ppp/active/print", ".tag=ps"+n),
	)
}

// abandonRounds fails the resync requests of a session that ended.
func (s *apiSession) abandonRounds() {
	for _, rd := range []*snapRound{s.round, s.next} {
		if rd == nil {
			continue
		}
		for _, ch := range rd.waiters {
			ch <- errRouterDown
		}
		rd.waiters = nil
	}
}

func (s *apiSession) onSnapshot(tag string, sen *sentence) {
	rd := s.round
	if rd == nil || tag[2:] != strconv.Itoa(rd.n) {
		return // a late reply to an abandoned round
	}
	kind := protocol.KindHotspot
	if tag[0] == 'p' {
		kind = protocol.KindPPPoE
	}
	w := rd.windows[kind]
	switch sen.word {
	case "!re":
		w.rows = append(w.rows, sen.attrs)
		return
	case "!trap":
		s.fail(fmt.Errorf("snapshot print %s: %s", kind, sen.attrs["message"]))
		return
	case "!done":
	default:
		return
	}
	s.diff(kind, w)
	w.done = true
	rd.pending--
	if rd.pending > 0 {
		return
	}
	if rd.snapshot {
		s.emitSnapshot()
	}
	for _, ch := range rd.waiters {
		ch <- nil
	}
	s.round = nil
	if nx := s.next; nx != nil {
		s.next = nil
		if err := s.startRound(nx); err != nil {
			s.fail(err)
		}
	}
}

// diff reconciles the known sessions of kind with a completed print.
func (s *apiSession) diff(kind protocol.SessionKind, w *snapWindow) {
	now := s.r.cfg.Now()
	tab := s.r.tabs[kind]
	seen := make(map[string]bool, len(w.rows))
	started, ended := 0, 0
	for _, m := range w.rows {
		id := m[".id"]
		if id == "" || w.dead[id] {
			continue
		}
		cand, ok := sessionFromRow(kind, m, now)
		if !ok {
			continue
		}
		seen[id] = true
		if t := tab[id]; t != nil {
			if sameSession(t, &cand) {
				t.s.Address = cand.s.Address
				t.loginRef = cand.ref
				continue
			}
			if w.touched[id] {
				continue // listen already has a newer view of this .id
			}
			s.endSession(t, protocol.EndVanished)
			ended++
		}
		s.startSession(cand)
		started++
	}
	for id, t := range tab {
		if seen[id] || w.touched[id] {
			if c := counters(&t.s); c != t.persisted {
				t.persisted = c
				sess := t.s
				s.record(change{upsert: &sess})
			}
			continue
		}
		s.endSession(t, s.r.endReason(kind, id, protocol.EndVanished))
		ended++
	}
	if started+ended > 0 {
		s.r.log.Info("snapshot diff", "kind", kind, "rows", len(w.rows), "started", started, "ended", ended)
	}
}

// emitSnapshot records the full session list in parts that each fit a
// batch.
func (s *apiSession) emitSnapshot() {
	var all []protocol.Session
	for _, kind := range []protocol.SessionKind{protocol.KindHotspot, protocol.KindPPPoE} {
		for _, t := range s.r.tabs[kind] {
			all = append(all, t.s)
		}
	}
	const partBytes = protocol.MaxPayloadSize / 2
	var parts [][]protocol.Session
	cur := []protocol.Session{}
	size := 0
	for _, ss := range all {
		b, _ := json.Marshal(ss)
		if len(cur) > 0 && (len(cur) >= protocol.MaxSnapshotSessions || size+len(b) > partBytes) {
			parts = append(parts, cur)
			cur, size = []protocol.Session{}, 0
		}
		cur = append(cur, ss)
		size += len(b) + 1
	}
	parts = append(parts, cur)
	now := s.r.cfg.Now().UTC()
	id := fmt.Sprintf("%s-%d", s.r.cfg.Router, now.UnixNano())
	for i, p := range parts {
		s.record(change{event: &protocol.Event{TS: now, Type: protocol.EventSnapshot,
			Snapshot: &protocol.Snapshot{ID: id, Part: i + 1, Parts: len(parts), Sessions: p}}})
	}
}
