package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// apiSession is one RouterOS API session: the pair of connections that
// runAPISession dialled and everything the stream connection is in the
// middle of (the running snapshot round, the changes not yet recorded). It
// lives on the router's run goroutine and ends with the first error.
type apiSession struct {
	r      *router
	ctx    context.Context
	fail   context.CancelCauseFunc
	stream net.Conn
	round  *snapRound
	next   *snapRound // requested while round was running
	batch  []change
}

const (
	tagHotspotListen   = "hl"
	tagPPPListen       = "pl"
	tagHotspotCounters = "hc"
	tagIfaceCounters   = "ic"
)

// runAPISession dials both connections, starts the listens, the first
// snapshot and the counter streams, and handles the stream until the
// session fails or ctx ends.
func (r *router) runAPISession(ctx context.Context) error {
	cmdNC, cmdC, err := r.d.dial(ctx)
	if err != nil {
		return err
	}
	defer cmdNC.Close()
	streamNC, _, err := r.d.dial(ctx)
	if err != nil {
		return err
	}
	defer streamNC.Close()

	sctx, fail := context.WithCancelCause(ctx)
	cc := &cmdConn{conn: cmdNC, c: cmdC, timeout: r.cfg.IOTimeout, onBreak: fail}
	s := &apiSession{r: r, ctx: sctx, fail: fail, stream: streamNC}
	sentences := make(chan *sentence, 512)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.read(sentences)
	}()
	// Whatever ends the session, stop its goroutines before returning:
	// cancel (which also moves the command connection's deadline into the
	// past), close both connections, wait, and release resync waiters.
	defer func() {
		fail(errors.New("router session closed"))
		cc.close()
		_ = streamNC.Close()
		wg.Wait()
		s.abandonRounds()
	}()

	// Listen first, then snapshot, on the same connection: rows that
	// listen reports while the print runs are handled by the window.
	err = errors.Join(
		s.write(r.cfg.IOTimeout, "/ip/hotspot/active/listen", ".tag="+tagHotspotListen),
		s.write(r.cfg.IOTimeout, "/ppp/active/listen", ".tag="+tagPPPListen),
	)
	if err != nil {
		return err
	}
	if err := s.startRound(&snapRound{snapshot: true}); err != nil {
		return err
	}
	secs := formatInterval(r.cfg.CountersInterval)
	err = errors.Join(
		s.write(r.cfg.IOTimeout, "/ip/hotspot/active/print", "=interval="+secs,
			"=.proplist=.id,user,mac-address,uptime,bytes-in,bytes-out,packets-in,packets-out", ".tag="+tagHotspotCounters),
		s.write(r.cfg.IOTimeout, "/interface/print", "=interval="+secs, "?type=pppoe-in",
			"=.proplist=name,type,rx-byte,tx-byte,rx-packet,tx-packet", ".tag="+tagIfaceCounters),
	)
	if err != nil {
		return err
	}

	r.setUp(cc)
	defer r.setUp(nil)
	r.log.Info("router connected", "addr", r.cfg.Addr)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.pollResources(sctx, cc, fail)
	}()

	resync := time.NewTicker(r.cfg.ResyncInterval)
	defer resync.Stop()
	watchdog := time.NewTicker(r.cfg.IOTimeout)
	defer watchdog.Stop()
	for {
		select {
		case <-sctx.Done():
			s.flushBatch()
			return context.Cause(sctx)
		case sen := <-sentences:
			s.handle(sen)
			// Drain what is already buffered before committing, so that a
			// burst of rows becomes one outbox group.
			for drained := false; !drained && len(s.batch) < maxGroup; {
				select {
				case sen := <-sentences:
					s.handle(sen)
				default:
					drained = true
				}
			}
			s.flushBatch()
		case <-resync.C:
			if s.round == nil {
				if err := s.startRound(&snapRound{}); err != nil {
					return err
				}
			}
		case w := <-r.resyncReq:
			if s.round == nil {
				if err := s.startRound(&snapRound{snapshot: true, waiters: []chan error{w}}); err != nil {
					return err
				}
			} else {
				if s.next == nil {
					s.next = &snapRound{snapshot: true}
				}
				s.next.waiters = append(s.next.waiters, w)
			}
		case <-watchdog.C:
			// The read deadline catches a silent connection; this catches
			// a snapshot that never completes on a talkative one.
			if s.round != nil && time.Since(s.round.started) > 4*r.cfg.IOTimeout+r.cfg.ResyncInterval {
				return errors.New("snapshot print did not complete")
			}
		}
	}
}

// read delivers stream sentences in wire order until the connection ends.
// The read deadline is pushed forward on each sentence; the periodic
// snapshot guarantees traffic at least every resync interval, so a longer
// silence means the router or the path is gone.
func (s *apiSession) read(out chan<- *sentence) {
	wr := newWireReader(s.stream)
	idle := s.r.cfg.ResyncInterval + 2*s.r.cfg.IOTimeout
	for {
		_ = s.stream.SetReadDeadline(time.Now().Add(idle))
		sen, err := wr.readSentence()
		if err != nil {
			s.fail(fmt.Errorf("stream connection: %w", err))
			return
		}
		select {
		case out <- sen:
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *apiSession) write(timeout time.Duration, words ...string) error {
	_ = s.stream.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := s.stream.Write(encodeSentence(words...)); err != nil {
		return fmt.Errorf("write %s: %w", words[0], err)
	}
	return nil
}

func (s *apiSession) record(c change) { s.batch = append(s.batch, c) }

func (s *apiSession) flushBatch() {
	if len(s.batch) == 0 {
		return
	}
	// Recording only blocks when the outbox queue is full; the router
	// then waits on TCP, which is the back-pressure we want.
	if err := s.r.ob.record(context.WithoutCancel(s.ctx), s.batch...); err != nil {
		s.r.log.Error("record events", "err", err)
	}
	s.batch = s.batch[:0]
}

func (s *apiSession) handle(sen *sentence) {
	switch sen.word {
	case "!fatal":
		s.fail(fmt.Errorf("router sent !fatal: %s", sen.attrs["message"]))
		return
	case "!empty":
		return
	}
	switch tag := sen.tag; {
	case tag == tagHotspotListen || tag == tagPPPListen:
		kind := protocol.KindHotspot
		if tag == tagPPPListen {
			kind = protocol.KindPPPoE
		}
		switch sen.word {
		case "!re":
			s.onListen(kind, sen.attrs)
		default:
			s.fail(fmt.Errorf("listen %s ended: %s %s", kind, sen.word, sen.attrs["message"]))
		}
	case tag == tagHotspotCounters || tag == tagIfaceCounters:
		switch sen.word {
		case "!re":
			if tag == tagHotspotCounters {
				s.onHotspotCounters(sen.attrs)
			} else {
				s.onIfaceCounters(sen.attrs)
			}
		case "!trap":
			// Counters are an optimisation over the snapshot; keep going.
			s.r.log.Warn("counter print failed", "tag", tag, "message", sen.attrs["message"])
		}
	case strings.HasPrefix(tag, "hs") || strings.HasPrefix(tag, "ps"):
		s.onSnapshot(tag, sen)
	}
}

func (s *apiSession) window(kind protocol.SessionKind) *snapWindow {
	if s.round == nil {
		return nil
	}
	if w := s.round.windows[kind]; !w.done {
		return w
	}
	return nil
}

func (s *apiSession) onListen(kind protocol.SessionKind, m map[string]string) {
	id := m[".id"]
	if id == "" {
		return
	}
	tab := s.r.tabs[kind]
	w := s.window(kind)
	if d := m[".dead"]; d == "true" || d == "yes" {
		if w != nil {
			w.dead[id] = true
		}
		if t := tab[id]; t != nil {
			s.endSession(t, s.r.endReason(kind, id, protocol.EndLogout))
		}
		return
	}
	cand, ok := sessionFromRow(kind, m, s.r.cfg.Now())
	if !ok {
		return
	}
	if w != nil {
		w.touched[id] = true
	}
	if t := tab[id]; t != nil {
		if sameSession(t, &cand) {
			t.s.Address = cand.s.Address
			t.loginRef = cand.ref
			if kind == protocol.KindHotspot {
				setCounters(&t.s, counters(&cand.s))
			}
			return
		}
		// The .id now names another session: the old one is gone.
		s.endSession(t, protocol.EndVanished)
	}
	s.startSession(cand)
}

func (s *apiSession) onHotspotCounters(m map[string]string) {
	t := s.r.tabs[protocol.KindHotspot][m[".id"]]
	if t == nil || m["user"] != t.s.User || m["mac-address"] != t.s.MAC {
		// Unknown: listen or the next snapshot will introduce it.
		return
	}
	s.updateCounters(t, [4]uint64{u64(m["bytes-in"]), u64(m["bytes-out"]), u64(m["packets-in"]), u64(m["packets-out"])})
}

// onIfaceCounters maps a dynamic <pppoe-NAME> interface to NAME's session.
// The interface counts from the router's side: rx is what the subscriber
// sent, which is bytes_in in the hotspot sense too.
func (s *apiSession) onIfaceCounters(m map[string]string) {
	name, ok := strings.CutPrefix(m["name"], "<pppoe-")
	if !ok {
		return
	}
	name = strings.TrimSuffix(name, ">")
	t := s.r.tabs[protocol.KindPPPoE][s.r.pppIDs[name]]
	if t == nil {
		return
	}
	s.updateCounters(t, [4]uint64{u64(m["rx-byte"]), u64(m["tx-byte"]), u64(m["rx-packet"]), u64(m["tx-packet"])})
}

func (s *apiSession) updateCounters(t *tracked, c [4]uint64) {
	s.r.countTraffic(counters(&t.s), c)
	setCounters(&t.s, c)
	if c == t.emitted {
		return
	}
	t.emitted = c
	if !s.r.ledger.apiUpdate(&t.s) {
		return // accounting already ended it
	}
	sess := t.s
	// The state row is refreshed by the next diff, not here: at 10k
	// sessions the upsert would double the outbox's write load for
	// counters that only matter if the session vanishes while the agent is
	// down.
	s.record(change{event: &protocol.Event{TS: s.r.cfg.Now().UTC(), Type: protocol.EventSessionUpdated, Session: &sess}})
}

func setCounters(s *protocol.Session, c [4]uint64) {
	s.BytesIn, s.BytesOut, s.PacketsIn, s.PacketsOut = c[0], c[1], c[2], c[3]
}

// startSession tracks a subscriber session that appeared and records its
// start with the state row that remembers it.
// When RADIUS accounting already reported the session, it keeps the key
// accounting gave it and only its state row is recorded.
func (s *apiSession) startSession(cand sighting) {
	emit := s.r.ledger.apiStart(&cand.s)
	c := counters(&cand.s)
	s.r.track(&tracked{s: cand.s, emitted: c, persisted: c, loginRef: cand.ref})
	sess := cand.s
	ch := change{upsert: &sess}
	if emit {
		ch.event = &protocol.Event{TS: s.r.cfg.Now().UTC(), Type: protocol.EventSessionStarted, Session: &sess}
	}
	s.record(ch)
}

// endSession forgets a subscriber session and records its end.
// Not when RADIUS accounting already reported the end; an end the agent
// caused by a Disconnect carries the agent's reason.
func (s *apiSession) endSession(t *tracked, reason protocol.EndReason) {
	s.r.untrack(t)
	sess := t.s
	now := s.r.cfg.Now()
	emit, reason, exec := s.r.ledger.apiEnd(&sess, reason, now)
	ch := change{forget: sessionRef(&sess), exec: exec}
	if emit {
		ch.event = &protocol.Event{TS: now.UTC(), Type: protocol.EventSessionEnded, Session: &sess, Reason: reason}
	}
	s.record(ch)
}
