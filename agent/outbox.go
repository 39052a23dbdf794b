package agent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitepulse/sitepulse/protocol"
)

// Outbox defaults, sized for a router container with a few MiB to spare.
const (
	defaultOutboxMaxEvents = 100_000
	defaultOutboxMaxBytes  = 64 << 20
	defaultGroupWindow     = 3 * time.Millisecond
	maxGroup               = 2000
)

// errOutboxClosed is returned when recording after close.
var errOutboxClosed = errors.New("outbox closed")

// errOutboxGaveUp is returned when recording after the outbox gave up
// waiting for its disk (see giveUp).
var errOutboxGaveUp = errors.New("outbox gave up committing: events are not recorded")

// change is one unit of work for the outbox writer. Every field is
// optional; the writer applies them in the order they were recorded, so a
// session.started and the sessions row that remembers it commit together.
type change struct {
	// event is appended with the next seq. The writer owns it after record.
	event *protocol.Event
	// upsert stores a session as the agent's last known state.
	upsert *protocol.Session
	// forget deletes the last known state of a session (sessionRef).
	forget string
	// exec runs in the commit's transaction, so that state kept beside
	// the outbox (RADIUS sessions, voucher redemptions) commits with its
	// event. It may run again when a commit is retried: it must be
	// idempotent (upserts, deletes).
	exec func(ctx context.Context, tx *sql.Tx) error
	// ack deletes published events ackFrom..ackTo after their PUBACK.
	ackFrom, ackTo uint64
	// done is closed once everything recorded before it has committed.
	done chan struct{}
}

// sessionRef names a live session in the sessions table: kind and
// RouterOS .id.
func sessionRef(s *protocol.Session) string { return string(s.Kind) + ":" + s.RouterOSID }

// storedEvent is one pending outbox row.
type storedEvent struct {
	seq  uint64
	body []byte
}

// outboxConfig configures an outbox.
type outboxConfig struct {
	Router string
	// MaxEvents and MaxBytes bound the pending events; over either bound
	// superseded session.updated and router.resources rows are coalesced.
	// 0 means the default.
	MaxEvents int
	MaxBytes  int64
	// GroupWindow is how long the writer waits for more changes before it
	// commits a group; 0 means 3 ms.
	GroupWindow time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
	Metrics     *metrics
	// OnCoalesce, if set, is called with the seqs removed by coalescing.
	OnCoalesce func(seqs []uint64)
}

// outboxStats describes the pending events.
type outboxStats struct {
	Depth     int       `json:"depth"`
	Bytes     int64     `json:"bytes"`
	LastSeq   uint64    `json:"last_seq"`
	LastAcked uint64    `json:"last_acked"`
	Oldest    time.Time `json:"oldest,omitzero"`
}

// outbox is the durable event queue between the router and the uplink.
// One goroutine writes (group commit); readers share the single connection.
type outbox struct {
	db  *sql.DB
	cfg outboxConfig
	log *slog.Logger
	m   *metrics

	in     chan change
	closed bool
	inMu   sync.RWMutex
	done   chan struct{}
	notify chan struct{} // signalled after a commit that added events

	// gaveUp is closed by giveUp: from then on a failed commit is not
	// retried and recording fails, so a full disk cannot hold a shutdown.
	gaveUp     chan struct{}
	giveUpOnce sync.Once
	// lost counts the events given up on: never committed, never sent.
	lost atomic.Int64

	// cursor is the newest seq handed to the publisher; coalescing leaves
	// rows up to it alone because they may already be on the wire.
	cursor atomic.Uint64

	mu             sync.Mutex
	depth          int
	bytes          int64
	lastSeq        uint64
	lastAcked      uint64
	epoch          string // protocol.EventBatch.Epoch, fixed for the database's life
	coalescedDepth int    // depth right after the last coalescing pass
	emptyWaiters   []chan struct{}

	// commitFault, if set, fails every commit with its error before it
	// touches the database: tests use it to stand for a full disk.
	commitFault atomic.Pointer[func() error]
}

func newOutbox(ctx context.Context, db *sql.DB, cfg outboxConfig) (*outbox, error) {
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = defaultOutboxMaxEvents
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = defaultOutboxMaxBytes
	}
	if cfg.GroupWindow <= 0 {
		cfg.GroupWindow = defaultGroupWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	o := &outbox{
		db:     db,
		cfg:    cfg,
		log:    orDiscard(cfg.Logger),
		m:      cfg.Metrics,
		in:     make(chan change, 4096),
		done:   make(chan struct{}),
		notify: make(chan struct{}, 1),
		gaveUp: make(chan struct{}),
	}
	if o.m == nil {
		o.m = newMetrics()
	}
	row := db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM events`)
	if err := row.Scan(&o.depth, &o.bytes); err != nil {
		return nil, fmt.Errorf("outbox: count pending: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'last_seq'`).Scan(&o.lastSeq); err != nil {
		return nil, fmt.Errorf("outbox: read last seq: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'last_acked'`).Scan(&o.lastAcked); err != nil {
		return nil, fmt.Errorf("outbox: read last acked: %w", err)
	}
	var epoch int64
	if err := db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'epoch'`).Scan(&epoch); err != nil {
		return nil, fmt.Errorf("outbox: read epoch: %w", err)
	}
	o.epoch = fmt.Sprintf("%016x", epoch)
	// A crash between insert and meta update cannot happen (same
	// transaction), but guard anyway: never reuse a seq still in the table.
	var maxSeq sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(seq) FROM events`).Scan(&maxSeq); err != nil {
		return nil, fmt.Errorf("outbox: read max seq: %w", err)
	}
	if maxSeq.Valid && uint64(maxSeq.Int64) > o.lastSeq {
		o.lastSeq = uint64(maxSeq.Int64)
	}
	o.m.outboxDepth.Set(float64(o.depth))
	o.m.outboxBytes.Set(float64(o.bytes))
	go o.writer()
	return o, nil
}

// record queues changes for the writer. It blocks while the queue is full
// (back-pressure onto the router reader) and never drops a change, until
// the outbox gives up (see giveUp); the events it then refuses are counted
// as lost.
func (o *outbox) record(ctx context.Context, cs ...change) error {
	o.inMu.RLock()
	defer o.inMu.RUnlock()
	if o.closed {
		return errOutboxClosed
	}
	for i, c := range cs {
		select {
		case <-o.gaveUp:
			o.lose(cs[i:])
			return errOutboxGaveUp
		default:
		}
		select {
		case o.in <- c:
		case <-o.gaveUp:
			o.lose(cs[i:])
			return errOutboxGaveUp
		case <-ctx.Done():
			return fmt.Errorf("outbox record: %w", ctx.Err())
		}
	}
	return nil
}

// countEvents counts the changes that carry an event (not acks or
// flush marks).
func countEvents(cs []change) int {
	n := 0
	for _, c := range cs {
		if c.event != nil {
			n++
		}
	}
	return n
}

// lose counts the events of changes the outbox gives up on.
func (o *outbox) lose(cs []change) int {
	n := countEvents(cs)
	o.lost.Add(int64(n))
	return n
}

// flush waits until everything recorded before it has committed.
func (o *outbox) flush(ctx context.Context) error {
	c := change{done: make(chan struct{})}
	if err := o.record(ctx, c); err != nil {
		return err
	}
	select {
	case <-c.done:
		return nil
	case <-o.gaveUp:
		return errOutboxGaveUp
	case <-ctx.Done():
		return fmt.Errorf("outbox flush: %w", ctx.Err())
	}
}

// recordDurable records changes and returns once they have committed:
// the RADIUS side answers the router only then.
func (o *outbox) recordDurable(ctx context.Context, cs ...change) error {
	wait, err := o.recordThen(ctx, cs...)
	if err != nil {
		return err
	}
	return wait()
}

// recordThen queues changes and returns a wait for their commit, so that
// a caller can queue under its own lock (keeping its order) and wait
// outside it.
func (o *outbox) recordThen(ctx context.Context, cs ...change) (func() error, error) {
	done := make(chan struct{})
	cs = append(cs, change{done: done})
	if err := o.record(ctx, cs...); err != nil {
		return nil, err
	}
	return func() error { return o.waitDone(ctx, done) }, nil
}

func (o *outbox) waitDone(ctx context.Context, done chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-o.gaveUp:
		return errOutboxGaveUp
	case <-ctx.Done():
		return fmt.Errorf("outbox commit: %w", ctx.Err())
	}
}

// giveUp stops the outbox waiting for its disk: a commit that fails is no
// longer retried (its events are lost) and record refuses new changes. A
// shutdown calls it once its timeout has passed.
func (o *outbox) giveUp() { o.giveUpOnce.Do(func() { close(o.gaveUp) }) }

// ack deletes events from..to once their batch's PUBACK arrived.
func (o *outbox) ack(ctx context.Context, from, to uint64) error {
	return o.record(ctx, change{ackFrom: from, ackTo: to})
}

// close commits what is queued and stops the writer. Once ctx ends it
// gives up (see giveUp) and returns as soon as the writer has stopped; the
// error then names the events that were never committed. Calling it again
// returns the same count.
func (o *outbox) close(ctx context.Context) error {
	stop := context.AfterFunc(ctx, o.giveUp)
	defer stop()
	o.inMu.Lock()
	if !o.closed {
		o.closed = true
		close(o.in)
	}
	o.inMu.Unlock()
	<-o.done
	if n := o.lost.Load(); n > 0 {
		return &unflushedError{lost: n, pending: o.stats(context.WithoutCancel(ctx)).Depth}
	}
	return nil
}

// unflushedError reports what an outbox closed with: events never
// committed (lost) and committed events still waiting for their PUBACK
// (sent on the next start).
type unflushedError struct {
	lost    int64
	pending int
}

func (e *unflushedError) Error() string {
	return fmt.Sprintf("outbox: %d events not committed (lost: the disk kept failing); %d committed events not yet published stay for the next start", e.lost, e.pending)
}

// changed is signalled after a commit that added events.
func (o *outbox) changed() <-chan struct{} { return o.notify }

// resetCursor makes the next pending call start again from the oldest
// unacked event (after a reconnect).
func (o *outbox) resetCursor() { o.cursor.Store(0) }

// pending returns up to limit events after seq, oldest first.
func (o *outbox) pending(ctx context.Context, after uint64, limit int) ([]storedEvent, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox pending: %w", err)
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var e storedEvent
		if err := rows.Scan(&e.seq, &e.body); err != nil {
			return nil, fmt.Errorf("outbox pending: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox pending: %w", err)
	}
	if n := len(out); n > 0 && out[n-1].seq > o.cursor.Load() {
		o.cursor.Store(out[n-1].seq)
	}
	return out, nil
}

// sessions returns the persisted last known state.
func (o *outbox) sessions(ctx context.Context) ([]protocol.Session, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT body FROM sessions`)
	if err != nil {
		return nil, fmt.Errorf("load sessions: %w", err)
	}
	defer rows.Close()
	var out []protocol.Session
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("load sessions: %w", err)
		}
		var s protocol.Session
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("load sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load sessions: %w", err)
	}
	return out, nil
}

// stats reports the outbox depth; Oldest costs one indexed query.
func (o *outbox) stats(ctx context.Context) outboxStats {
	o.mu.Lock()
	s := outboxStats{Depth: o.depth, Bytes: o.bytes, LastSeq: o.lastSeq, LastAcked: o.lastAcked}
	o.mu.Unlock()
	var oldest sql.NullInt64
	if err := o.db.QueryRowContext(ctx, `SELECT created FROM events ORDER BY seq LIMIT 1`).Scan(&oldest); err == nil && oldest.Valid {
		s.Oldest = time.Unix(0, oldest.Int64)
	}
	return s
}

// acked returns the newest seq whose PUBACK was recorded.
func (o *outbox) acked() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastAcked
}

// waitEmpty returns once every recorded event is acked, or ctx ends.
func (o *outbox) waitEmpty(ctx context.Context) error {
	o.mu.Lock()
	if o.depth == 0 {
		o.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	o.emptyWaiters = append(o.emptyWaiters, ch)
	o.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *outbox) writer() {
	defer close(o.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-o.in
		if !ok {
			return
		}
		group := []change{first}
		timer.Reset(o.cfg.GroupWindow)
	collect:
		for len(group) < maxGroup {
			select {
			case c, ok := <-o.in:
				if !ok {
					break collect
				}
				group = append(group, c)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		o.commitRetrying(group)
	}
}

// commitRetrying commits a group, retrying with backoff: a change is
// never dropped, so a full disk stalls the agent instead of losing events,
// until the outbox gives up (a shutdown past its timeout): then a failed
// commit is tried once more at most and its events are counted as lost.
func (o *outbox) commitRetrying(group []change) {
	delay := 100 * time.Millisecond
	t := time.NewTimer(delay)
	t.Stop()
	for attempt := 0; ; attempt++ {
		err := o.commit(group)
		if err == nil {
			return
		}
		o.m.outboxErrors.Inc()
		select {
		case <-o.gaveUp:
			n := o.lose(group)
			o.log.Error("outbox gave up on a commit; its events are lost", "err", err, "attempt", attempt, "changes", len(group), "events", n)
			return
		default:
		}
		o.log.Error("outbox commit failed; retrying", "err", err, "attempt", attempt, "changes", len(group), "events", countEvents(group))
		t.Reset(delay)
		select {
		case <-t.C:
		case <-o.gaveUp:
			t.Stop()
		}
		delay = min(delay*2, 5*time.Second)
	}
}

type coalesced struct {
	seq  uint64
	size int64
}

func (o *outbox) commit(group []change) (err error) {
	if f := o.commitFault.Load(); f != nil {
		if err := (*f)(); err != nil {
			return err
		}
	}
	ctx := context.Background()
	now := o.cfg.Now()
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	o.mu.Lock()
	seq := o.lastSeq
	depth, bytes := o.depth, o.bytes
	lastAcked := o.lastAcked
	coalescedDepth := o.coalescedDepth
	o.mu.Unlock()

	var (
		added    int
		types    = map[protocol.EventType]int{}
		dones    []chan struct{}
		dropped  []coalesced
		insEvent *sql.Stmt
		upSess   *sql.Stmt
	)
	for i := range group {
		c := &group[i]
		if c.done != nil {
			dones = append(dones, c.done)
		}
		if c.event != nil {
			ev := *c.event
			if ev.TS.IsZero() {
				ev.TS = now
			}
			ev.Seq = seq + 1
			body, key, verr := encodeEvent(o.cfg.Router, &ev)
			if verr != nil {
				// A bug, not a transient failure: retrying cannot help.
				o.log.Error("outbox: dropping invalid event", "type", ev.Type, "err", verr)
				o.m.outboxErrors.Inc()
			} else {
				if insEvent == nil {
					if insEvent, err = tx.PrepareContext(ctx, `INSERT INTO events (seq, type, key, created, body) VALUES (?, ?, ?, ?, ?)`); err != nil {
						return fmt.Errorf("prepare insert: %w", err)
					}
					defer insEvent.Close()
				}
				if _, err = insEvent.ExecContext(ctx, ev.Seq, string(ev.Type), key, now.UnixNano(), body); err != nil {
					return fmt.Errorf("insert event %d: %w", ev.Seq, err)
				}
				seq = ev.Seq
				depth++
				bytes += int64(len(body))
				added++
				types[ev.Type]++
			}
		}
		if c.upsert != nil {
			b, merr := json.Marshal(c.upsert)
			if merr != nil {
				return fmt.Errorf("encode session: %w", merr)
			}
			if upSess == nil {
				if upSess, err = tx.PrepareContext(ctx, `INSERT INTO sessions (ref, body) VALUES (?, ?) ON CONFLICT (ref) DO UPDATE SET body = excluded.body`); err != nil {
					return fmt.Errorf("prepare upsert: %w", err)
				}
				defer upSess.Close()
			}
			if _, err = upSess.ExecContext(ctx, sessionRef(c.upsert), b); err != nil {
				return fmt.Errorf("store session: %w", err)
			}
		}
		if c.exec != nil {
			if err = c.exec(ctx, tx); err != nil {
				return fmt.Errorf("commit state: %w", err)
			}
		}
		if c.forget != "" {
			if _, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE ref = ?`, c.forget); err != nil {
				return fmt.Errorf("forget session: %w", err)
			}
		}
		if c.ackTo > 0 {
			n, size, aerr := deleteRange(ctx, tx, c.ackFrom, c.ackTo)
			if aerr != nil {
				return aerr
			}
			depth -= n
			bytes -= size
			lastAcked = max(lastAcked, c.ackTo)
		}
	}
	if (depth > o.cfg.MaxEvents || bytes > o.cfg.MaxBytes) && depth-coalescedDepth >= max(1, o.cfg.MaxEvents/10) {
		if dropped, err = coalesce(ctx, tx, o.cursor.Load()); err != nil {
			return err
		}
		for _, d := range dropped {
			depth--
			bytes -= d.size
		}
		coalescedDepth = depth
		if depth > o.cfg.MaxEvents {
			o.log.Warn("outbox over its bound with nothing left to coalesce", "depth", depth, "max", o.cfg.MaxEvents)
		}
	}
	if depth <= o.cfg.MaxEvents && bytes <= o.cfg.MaxBytes {
		coalescedDepth = 0
	}
	if _, err = tx.ExecContext(ctx, `UPDATE meta SET v = ? WHERE k = 'last_seq'`, seq); err != nil {
		return fmt.Errorf("update last seq: %w", err)
	}
	if _, err = tx.ExecContext(ctx, `UPDATE meta SET v = ? WHERE k = 'last_acked'`, lastAcked); err != nil {
		return fmt.Errorf("update last acked: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}

	o.mu.Lock()
	o.lastSeq, o.depth, o.bytes, o.lastAcked, o.coalescedDepth = seq, depth, bytes, lastAcked, coalescedDepth
	var waiters []chan struct{}
	if depth == 0 {
		waiters, o.emptyWaiters = o.emptyWaiters, nil
	}
	o.mu.Unlock()
	for _, w := range waiters {
		close(w)
	}
	for t, n := range types {
		o.m.eventsRecorded.WithLabelValues(string(t)).Add(float64(n))
	}
	o.m.outboxDepth.Set(float64(depth))
	o.m.outboxBytes.Set(float64(bytes))
	if len(dropped) > 0 {
		o.m.eventsCoalesced.Add(float64(len(dropped)))
		if o.cfg.OnCoalesce != nil {
			seqs := make([]uint64, len(dropped))
			for i, d := range dropped {
				seqs[i] = d.seq
			}
			o.cfg.OnCoalesce(seqs)
		}
	}
	if added > 0 {
		select {
		case o.notify <- struct{}{}:
		default:
		}
	}
	for _, d := range dones {
		close(d)
	}
	return nil
}

func deleteRange(ctx context.Context, tx *sql.Tx, from, to uint64) (int, int64, error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM events WHERE seq BETWEEN ? AND ? RETURNING LENGTH(body)`, from, to)
	if err != nil {
		return 0, 0, fmt.Errorf("ack %d..%d: %w", from, to, err)
	}
	defer rows.Close()
	var n int
	var size int64
	for rows.Next() {
		var l int64
		if err := rows.Scan(&l); err != nil {
			return 0, 0, fmt.Errorf("ack %d..%d: %w", from, to, err)
		}
		n++
		size += l
	}
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("ack %d..%d: %w", from, to, err)
	}
	return n, size, nil
}

// coalesce deletes every pending session.updated and router.resources row
// that a newer row of the same key supersedes. Counters are absolute, so
// the newest row carries everything the deleted ones did. Rows up to
// cursor may be on the wire already and are left alone; started, ended
// and snapshot rows are never touched.
func coalesce(ctx context.Context, tx *sql.Tx, cursor uint64) ([]coalesced, error) {
	rows, err := tx.QueryContext(ctx, `
		DELETE FROM events
		WHERE seq > ? AND type IN ('session.updated', 'router.resources')
		  AND seq NOT IN (
		    SELECT MAX(seq) FROM events
		    WHERE type IN ('session.updated', 'router.resources')
		    GROUP BY type, key)
		RETURNING seq, LENGTH(body)`, cursor)
	if err != nil {
		return nil, fmt.Errorf("coalesce: %w", err)
	}
	defer rows.Close()
	var out []coalesced
	for rows.Next() {
		var c coalesced
		if err := rows.Scan(&c.seq, &c.size); err != nil {
			return nil, fmt.Errorf("coalesce: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("coalesce: %w", err)
	}
	return out, nil
}

// encodeEvent validates ev as the control plane will and returns its JSON
// and its coalescing key (the session key, or "" for events that are never
// superseded).
func encodeEvent(router string, ev *protocol.Event) ([]byte, string, error) {
	b := protocol.EventBatch{V: protocol.Version, Router: router, Events: []protocol.Event{*ev}}
	if err := b.Validate(); err != nil {
		return nil, "", err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, "", err
	}
	if len(body)+batchOverhead(router) > protocol.MaxPayloadSize {
		return nil, "", fmt.Errorf("event of %d bytes cannot fit a batch", len(body))
	}
	key := ""
	if ev.Session != nil {
		key = ev.Session.Key
	}
	return body, key, nil
}
