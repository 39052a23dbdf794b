package agent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/go-routeros/routeros/v3"

	"github.com/sitepulse/sitepulse/protocol"
)

const maxRawRows = 1000

// resultLog is the durable queue of command results: a result is stored in
// the same transaction as the command record and deleted after its PUBACK.
type resultLog struct {
	db     *sql.DB
	notify chan struct{}
}

type storedResult struct {
	n    int64
	body []byte
}

func newResultLog(db *sql.DB) *resultLog {
	return &resultLog{db: db, notify: make(chan struct{}, 1)}
}

func (r *resultLog) changed() <-chan struct{} { return r.notify }

func (r *resultLog) signal() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *resultLog) pending(ctx context.Context, limit int) ([]storedResult, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT n, body FROM results ORDER BY n LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending results: %w", err)
	}
	defer rows.Close()
	var out []storedResult
	for rows.Next() {
		var s storedResult
		if err := rows.Scan(&s.n, &s.body); err != nil {
			return nil, fmt.Errorf("pending results: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (r *resultLog) remove(ctx context.Context, n int64) error {
	if _, err := r.db.ExecContext(ctx, `DELETE FROM results WHERE n = ?`, n); err != nil {
		return fmt.Errorf("remove result %d: %w", n, err)
	}
	return nil
}

func (r *resultLog) depth(ctx context.Context) int {
	var n int
	_ = r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM results`).Scan(&n)
	return n
}

// routerAPI is what the executor needs from the router side.
type routerAPI interface {
	// command runs one command on the command connection. A *routeros.DeviceError
	// is RouterOS's !trap; any other error means the connection broke.
	command(ctx context.Context, words ...string) (*routeros.Reply, error)
	// waitConnected returns once an API session is up, or ctx ends.
	waitConnected(ctx context.Context) error
	// markKicked tells the watcher that the agent itself is removing these
	// active-session ids, so their end reason is "kicked".
	markKicked(kind protocol.SessionKind, ids []string)
	// unmarkKicked withdraws marks whose remove failed.
	unmarkKicked(kind protocol.SessionKind, ids []string)
	// lookupKey finds the RouterOS .id of a live session by its key.
	lookupKey(key string) (protocol.SessionKind, string, bool)
	// resync runs a full snapshot diff and returns when it is done.
	resync(ctx context.Context) error
}

type executorConfig struct {
	Router   string
	RawAllow []string
	// WaitRouter bounds how long a command waits for the router API
	// session before failing as unreachable; 0 means 15 s.
	WaitRouter time.Duration
	// Timeout bounds one command's execution; 0 means 60 s.
	Timeout time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *metrics
	// Radius, when set, kicks RADIUS sessions of a router in radius mode
	// by Disconnect-Request instead of the API.
	Radius radiusKicker
}

// executor runs commands one at a time, exactly once per command id.
//
// Before a command touches the router its record is committed as running.
// If the agent dies mid-command, the next start marks such records failed
// with protocol.CodeInterrupted and reports that, and a redelivery is answered from
// the record. The command is never run twice: for provisioning, running a
// non-idempotent step twice (add, kick) is worse than an honest "outcome
// unknown" the operator can check and retry as a new command.
type executor struct {
	cfg     executorConfig
	db      *sql.DB
	results *resultLog
	api     routerAPI
	log     *slog.Logger
	m       *metrics
	queue   chan []byte
}

func newExecutor(ctx context.Context, db *sql.DB, results *resultLog, api routerAPI, cfg executorConfig) (*executor, error) {
	if cfg.WaitRouter <= 0 {
		cfg.WaitRouter = 15 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = newMetrics()
	}
	e := &executor{cfg: cfg, db: db, results: results, api: api, log: orDiscard(cfg.Logger), m: cfg.Metrics, queue: make(chan []byte, 256)}
	if err := e.recoverInterrupted(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// recoverInterrupted turns records left "running" by a crash into failures
// and reports them.
func (e *executor) recoverInterrupted(ctx context.Context) error {
	rows, err := e.db.QueryContext(ctx, `SELECT id FROM commands WHERE status = 'running'`)
	if err != nil {
		return fmt.Errorf("find interrupted commands: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("find interrupted commands: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		res := e.result(id, protocol.ResultFailed)
		res.Code = protocol.CodeInterrupted
		res.Message = "the agent stopped while this command was running; its outcome is unknown and it will not be re-run"
		if err := e.store(ctx, id, "", res, false); err != nil {
			return err
		}
		e.log.Warn("command interrupted by an agent restart", "id", id)
	}
	// Keep a month of records: long enough for any redelivery.
	_, err = e.db.ExecContext(ctx, `DELETE FROM commands WHERE updated < ? AND status != 'running'`, e.cfg.Now().Add(-30*24*time.Hour).UnixNano())
	if err != nil {
		return fmt.Errorf("prune commands: %w", err)
	}
	return nil
}

// submit queues a payload from the cmd topic. It blocks briefly when the
// queue is full; a command dropped then is re-sent by the control plane on
// the next reconnect, like any command the agent did not answer.
func (e *executor) submit(payload []byte) {
	b := append([]byte(nil), payload...)
	select {
	case e.queue <- b:
	case <-time.After(5 * time.Second):
		e.m.commands.WithLabelValues("dropped").Inc()
		e.log.Error("command queue full; dropping a command delivery")
	}
}

func (e *executor) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-e.queue:
			e.handle(ctx, p)
		}
	}
}

func (e *executor) result(id string, st protocol.ResultStatus) protocol.CommandResult {
	return protocol.CommandResult{V: protocol.Version, ID: id, Router: e.cfg.Router, Status: st, TS: e.cfg.Now().UTC()}
}

// store records a command's state and queues its result, in one
// transaction; insert creates the record, otherwise it is updated.
func (e *executor) store(ctx context.Context, id, kind string, res protocol.CommandResult, insert bool) error {
	body, err := protocol.Encode(&res)
	if err != nil {
		return fmt.Errorf("encode result %s: %w", id, err)
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record command %s: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	now := e.cfg.Now().UnixNano()
	if insert {
		_, err = tx.ExecContext(ctx, `INSERT INTO commands (id, kind, status, result, received, updated) VALUES (?, ?, ?, ?, ?, ?)`,
			id, kind, string(res.Status), body, now, now)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE commands SET status = ?, result = ?, updated = ? WHERE id = ?`, string(res.Status), body, now, id)
	}
	if err != nil {
		return fmt.Errorf("record command %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO results (body) VALUES (?)`, body); err != nil {
		return fmt.Errorf("queue result %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record command %s: %w", id, err)
	}
	e.results.signal()
	return nil
}

// queueOnly stores a result without touching the command record (answers
// to duplicates).
func (e *executor) queueOnly(ctx context.Context, res protocol.CommandResult) error {
	body, err := protocol.Encode(&res)
	if err != nil {
		return fmt.Errorf("encode result %s: %w", res.ID, err)
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO results (body) VALUES (?)`, body); err != nil {
		return fmt.Errorf("queue result %s: %w", res.ID, err)
	}
	e.results.signal()
	return nil
}

func (e *executor) handle(ctx context.Context, payload []byte) {
	cmd, err := protocol.DecodeCommand(payload)
	if err != nil {
		e.rejectMalformed(ctx, payload, err)
		return
	}
	if cmd.Router != e.cfg.Router {
		e.m.commands.WithLabelValues("wrong_router").Inc()
		e.log.Warn("command for another router ignored", "id", cmd.ID, "router", cmd.Router)
		return
	}
	log := e.log.With("id", cmd.ID, "kind", cmd.Kind)

	var status string
	var stored []byte
	err = e.db.QueryRowContext(ctx, `SELECT status, result FROM commands WHERE id = ?`, cmd.ID).Scan(&status, &stored)
	switch {
	case err == nil:
		var res protocol.CommandResult
		if jerr := json.Unmarshal(stored, &res); jerr != nil || res.Status == protocol.ResultRunning {
			// Only a crash leaves "running" behind and startup rewrites it;
			// be safe anyway.
			res = e.result(cmd.ID, protocol.ResultFailed)
			res.Code, res.Message = protocol.CodeInterrupted, "outcome unknown"
		}
		res.Duplicate = true
		res.TS = e.cfg.Now().UTC()
		e.m.commands.WithLabelValues("duplicate").Inc()
		log.Info("duplicate command answered from the record", "status", res.Status)
		if err := e.queueOnly(ctx, res); err != nil {
			log.Error("answer duplicate", "err", err)
		}
		return
	case !errors.Is(err, sql.ErrNoRows):
		log.Error("read command record", "err", err)
		return
	}

	fail := func(code, msg string) {
		res := e.result(cmd.ID, protocol.ResultFailed)
		res.Code, res.Message = code, msg
		if err := e.store(ctx, cmd.ID, string(cmd.Kind), res, true); err != nil {
			log.Error("record command", "err", err)
		}
		e.m.commands.WithLabelValues("failed_" + code).Inc()
		log.Info("command failed", "code", code, "message", msg)
	}
	if !cmd.ExpiresAt.IsZero() && e.cfg.Now().After(cmd.ExpiresAt) {
		fail(protocol.CodeExpired, "arrived after it expired at "+cmd.ExpiresAt.UTC().Format(time.RFC3339))
		return
	}
	if cmd.Kind == protocol.CmdRaw && !e.rawAllowed(cmd.Raw.Path) {
		fail(protocol.CodeRefused, "raw command "+cmd.Raw.Path+" is not in this agent's allow-list")
		return
	}
	// A kick the RADIUS side does needs no API session.
	err = nil
	if !e.radiusKick(cmd) {
		wctx, cancel := context.WithTimeout(ctx, e.cfg.WaitRouter)
		err = e.api.waitConnected(wctx)
		cancel()
	}
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: not recorded, so a redelivery runs it
		}
		fail(protocol.CodeUnreachable, "no API session with the router")
		return
	}

	if err := e.store(ctx, cmd.ID, string(cmd.Kind), e.result(cmd.ID, protocol.ResultRunning), true); err != nil {
		log.Error("record running command; not running it", "err", err)
		return
	}
	log.Info("running command")
	rctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	res := e.execute(rctx, cmd)
	cancel()
	if err := e.store(context.WithoutCancel(ctx), cmd.ID, "", res, false); err != nil {
		log.Error("record command result", "err", err)
	}
	if res.Status == protocol.ResultFailed {
		e.m.commands.WithLabelValues("failed_" + res.Code).Inc()
		log.Info("command failed", "code", res.Code, "message", res.Message)
	} else {
		e.m.commands.WithLabelValues("succeeded").Inc()
		log.Info("command succeeded")
	}
}

// rejectMalformed answers a command that failed validation when it carries
// a usable id for this router; anything else is only counted.
func (e *executor) rejectMalformed(ctx context.Context, payload []byte, derr error) {
	var head struct {
		ID     string `json:"id"`
		Router string `json:"router"`
	}
	if json.Unmarshal(payload, &head) != nil || head.ID == "" || len(head.ID) > protocol.MaxFieldLen || head.Router != e.cfg.Router {
		e.m.commands.WithLabelValues("malformed").Inc()
		e.log.Warn("malformed command ignored", "reason", protocol.Reason(derr), "err", derr)
		return
	}
	var n int
	_ = e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM commands WHERE id = ?`, head.ID).Scan(&n)
	if n > 0 {
		return
	}
	res := e.result(head.ID, protocol.ResultFailed)
	res.Code, res.Message = protocol.CodeInvalid, truncate(derr.Error(), protocol.MaxFieldLen)
	if err := e.store(ctx, head.ID, "invalid", res, true); err != nil {
		e.log.Error("record invalid command", "err", err)
	}
	e.m.commands.WithLabelValues("failed_" + protocol.CodeInvalid).Inc()
}

func (e *executor) rawAllowed(path string) bool {
	for _, p := range e.cfg.RawAllow {
		p = strings.TrimSuffix(p, "/")
		if p == "" {
			continue
		}
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// cmdError is a failure with a result code.
type cmdError struct {
	code, msg string
}

func (c *cmdError) Error() string { return c.code + ": " + c.msg }

func (e *executor) execute(ctx context.Context, cmd *protocol.Command) protocol.CommandResult {
	res := e.result(cmd.ID, protocol.ResultSucceeded)
	ret, rows, err := e.dispatch(ctx, cmd)
	res.TS = e.cfg.Now().UTC()
	if err != nil {
		res.Status = protocol.ResultFailed
		var de *routeros.DeviceError
		var ce *cmdError
		switch {
		case errors.As(err, &de):
			res.Code = protocol.CodeRouterError
			res.Message = de.Sentence.Map["message"]
			if res.Message == "" {
				res.Message = de.Error()
			}
		case errors.As(err, &ce):
			res.Code, res.Message = ce.code, ce.msg
		default:
			res.Code, res.Message = protocol.CodeUnreachable, err.Error()
		}
		res.Message = truncate(res.Message, protocol.MaxFieldLen)
		return res
	}
	res.Ret = ret
	res.Rows = rows
	return res
}

func (e *executor) dispatch(ctx context.Context, cmd *protocol.Command) (string, []map[string]string, error) {
	const (
		hsUser    = "/ip/hotspot/user"
		hsActive  = "/ip/hotspot/active"
		hsProfile = "/ip/hotspot/user/profile"
		pppSecret = "/ppp/secret"
		pppActive = "/ppp/active"
		pppProf   = "/ppp/profile"
	)
	switch cmd.Kind {
	case protocol.CmdHotspotUserAdd:
		return e.add(ctx, hsUser, hotspotUserAttrs(cmd.HotspotUser, true))
	case protocol.CmdHotspotUserSet:
		return "", nil, e.onNamed(ctx, hsUser, cmd.HotspotUser.Name, serverQuery(cmd.HotspotUser.Server), "set", hotspotUserAttrs(cmd.HotspotUser, false))
	case protocol.CmdHotspotUserRemove:
		return "", nil, e.onNamed(ctx, hsUser, cmd.HotspotUser.Name, serverQuery(cmd.HotspotUser.Server), "remove", nil)
	case protocol.CmdHotspotUserEnable:
		return "", nil, e.onNamed(ctx, hsUser, cmd.HotspotUser.Name, serverQuery(cmd.HotspotUser.Server), "enable", nil)
	case protocol.CmdHotspotUserDisable:
		return "", nil, e.onNamed(ctx, hsUser, cmd.HotspotUser.Name, serverQuery(cmd.HotspotUser.Server), "disable", nil)
	case protocol.CmdPPPSecretAdd:
		return e.add(ctx, pppSecret, pppSecretAttrs(cmd.PPPSecret, true))
	case protocol.CmdPPPSecretSet:
		return "", nil, e.onNamed(ctx, pppSecret, cmd.PPPSecret.Name, nil, "set", pppSecretAttrs(cmd.PPPSecret, false))
	case protocol.CmdPPPSecretRemove:
		return "", nil, e.onNamed(ctx, pppSecret, cmd.PPPSecret.Name, nil, "remove", nil)
	case protocol.CmdPPPSecretEnable:
		return "", nil, e.onNamed(ctx, pppSecret, cmd.PPPSecret.Name, nil, "enable", nil)
	case protocol.CmdPPPSecretDisable:
		return "", nil, e.onNamed(ctx, pppSecret, cmd.PPPSecret.Name, nil, "disable", nil)
	case protocol.CmdHotspotActiveKick:
		if ss := e.radiusTargets(cmd); len(ss) > 0 {
			return "", nil, e.cfg.Radius.kick(ctx, ss)
		}
		return "", nil, e.kick(ctx, protocol.KindHotspot, hsActive, "user", cmd.Kick)
	case protocol.CmdPPPActiveKick:
		if ss := e.radiusTargets(cmd); len(ss) > 0 {
			return "", nil, e.cfg.Radius.kick(ctx, ss)
		}
		return "", nil, e.kick(ctx, protocol.KindPPPoE, pppActive, "name", cmd.Kick)
	case protocol.CmdHotspotProfileLimit:
		return "", nil, e.onNamed(ctx, hsProfile, cmd.Profile.Name, nil, "set", []string{"=rate-limit=" + cmd.Profile.RateLimit})
	case protocol.CmdPPPProfileLimit:
		return "", nil, e.onNamed(ctx, pppProf, cmd.Profile.Name, nil, "set", []string{"=rate-limit=" + cmd.Profile.RateLimit})
	case protocol.CmdHotspotProfileAdd, protocol.CmdHotspotProfileSet:
		return e.upsertProfile(ctx, hsProfile, cmd.ProfileSpec.Name, profileAttrs(cmd.ProfileSpec))
	case protocol.CmdPPPProfileAdd, protocol.CmdPPPProfileSet:
		return e.upsertProfile(ctx, pppProf, cmd.ProfileSpec.Name, profileAttrs(cmd.ProfileSpec))
	case protocol.CmdHotspotProfileRemove:
		return "", nil, e.removeProfile(ctx, hsProfile, cmd.ProfileSpec.Name)
	case protocol.CmdPPPProfileRemove:
		return "", nil, e.removeProfile(ctx, pppProf, cmd.ProfileSpec.Name)
	case protocol.CmdResync:
		return "", nil, e.api.resync(ctx)
	case protocol.CmdRaw:
		r, err := e.api.command(ctx, append([]string{cmd.Raw.Path}, cmd.Raw.Args...)...)
		if err != nil {
			return "", nil, err
		}
		var rows []map[string]string
		for i, s := range r.Re {
			if i == maxRawRows {
				break
			}
			rows = append(rows, s.Map)
		}
		ret := ""
		if r.Done != nil {
			ret = r.Done.Map["ret"]
		}
		return ret, rows, nil
	}
	return "", nil, &cmdError{protocol.CodeInvalid, "unsupported command kind " + string(cmd.Kind)}
}

func (e *executor) add(ctx context.Context, menu string, attrs []string) (string, []map[string]string, error) {
	r, err := e.api.command(ctx, append([]string{menu + "/add"}, attrs...)...)
	if err != nil {
		return "", nil, err
	}
	if r.Done != nil {
		return r.Done.Map["ret"], nil, nil
	}
	return "", nil, nil
}

// find returns the .ids of menu's items named name (print ?name=).
func (e *executor) find(ctx context.Context, menu, attr, value string, extra []string) ([]string, error) {
	// Several query words are ANDed implicitly.
	words := append([]string{menu + "/print", "?" + attr + "=" + value}, extra...)
	words = append(words, "=.proplist=.id")
	r, err := e.api.command(ctx, words...)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(r.Re))
	for _, s := range r.Re {
		if id := s.Map[".id"]; id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// onNamed runs verb on every item of menu named name.
func (e *executor) onNamed(ctx context.Context, menu, name string, extra []string, verb string, attrs []string) error {
	ids, err := e.find(ctx, menu, "name", name, extra)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return &cmdError{protocol.CodeRouterError, "no such item: " + menu + " name=" + name}
	}
	for _, id := range ids {
		if _, err := e.api.command(ctx, append([]string{menu + "/" + verb, "=.id=" + id}, attrs...)...); err != nil {
			return err
		}
	}
	return nil
}

// upsertProfile makes the profile named name carry attrs, whether it is
// there or not: a plan's profile may already exist from hand configuration
// or an attempt whose result was lost, and either way the plan's values
// should win. Add and set are the same operation; Ret is the profile's .id.
func (e *executor) upsertProfile(ctx context.Context, menu, name string, attrs []string) (string, []map[string]string, error) {
	ids, err := e.find(ctx, menu, "name", name, nil)
	if err != nil {
		return "", nil, err
	}
	if len(ids) == 0 {
		return e.add(ctx, menu, append([]string{"=name=" + name}, attrs...))
	}
	if len(attrs) > 0 {
		if _, err := e.api.command(ctx, append([]string{menu + "/set", "=.id=" + ids[0]}, attrs...)...); err != nil {
			return "", nil, err
		}
	}
	return ids[0], nil, nil
}

// removeProfile removes the profile named name; one that is not there is
// already the wanted state. RouterOS's own refusals (a default profile, a
// profile users still refer to) come back as router errors.
func (e *executor) removeProfile(ctx context.Context, menu, name string) error {
	ids, err := e.find(ctx, menu, "name", name, nil)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := e.api.command(ctx, menu+"/remove", "=.id="+id); err != nil {
			return err
		}
	}
	return nil
}

// radiusTargets returns the RADIUS sessions a kick command names while
// the router is in radius mode: those are ended by Disconnect-Request.
func (e *executor) radiusTargets(cmd *protocol.Command) []protocol.Session {
	if e.cfg.Radius == nil || cmd.Kick == nil {
		return nil
	}
	switch cmd.Kind {
	case protocol.CmdHotspotActiveKick:
		return e.cfg.Radius.kickTargets(protocol.KindHotspot, cmd.Kick)
	case protocol.CmdPPPActiveKick:
		return e.cfg.Radius.kickTargets(protocol.KindPPPoE, cmd.Kick)
	}
	return nil
}

func (e *executor) radiusKick(cmd *protocol.Command) bool { return len(e.radiusTargets(cmd)) > 0 }

func (e *executor) kick(ctx context.Context, kind protocol.SessionKind, menu, userAttr string, k *protocol.Kick) error {
	var ids []string
	switch {
	case k.RouterOSID != "":
		ids = []string{k.RouterOSID}
	case k.Key != "":
		gotKind, id, ok := e.api.lookupKey(k.Key)
		if !ok || gotKind != kind {
			return &cmdError{protocol.CodeInvalid, "no live " + string(kind) + " session with key " + k.Key}
		}
		ids = []string{id}
	default:
		var err error
		if ids, err = e.find(ctx, menu, userAttr, k.User, nil); err != nil {
			return err
		}
	}
	e.api.markKicked(kind, ids)
	for i, id := range ids {
		if _, err := e.api.command(ctx, menu+"/remove", "=.id="+id); err != nil {
			e.api.unmarkKicked(kind, ids[i:])
			return err
		}
	}
	return nil
}

func serverQuery(server string) []string {
	if server == "" {
		return nil
	}
	return []string{"?server=" + server}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// hotspotUserAttrs maps a HotspotUser to /ip/hotspot/user attribute words;
// empty fields are left out so that set changes only what was given.
func hotspotUserAttrs(u *protocol.HotspotUser, withName bool) []string {
	var w []string
	put := func(k, v string) {
		if v != "" {
			w = append(w, "="+k+"="+v)
		}
	}
	if withName {
		put("name", u.Name)
	}
	put("password", u.Password)
	put("profile", u.Profile)
	put("server", u.Server)
	put("mac-address", u.MAC)
	put("email", u.Email)
	put("comment", u.Comment)
	put("limit-uptime", u.LimitUptime)
	if u.LimitBytesTotal > 0 {
		put("limit-bytes-total", strconv.FormatUint(u.LimitBytesTotal, 10))
	}
	if u.Disabled != nil {
		put("disabled", yesNo(*u.Disabled))
	}
	return w
}

// pppSecretAttrs maps a PPPSecret to /ppp/secret attribute words.
func pppSecretAttrs(s *protocol.PPPSecret, add bool) []string {
	var w []string
	put := func(k, v string) {
		if v != "" {
			w = append(w, "="+k+"="+v)
		}
	}
	service := s.Service
	if add {
		put("name", s.Name)
		if service == "" {
			service = "pppoe"
		}
	}
	put("password", s.Password)
	put("service", service)
	put("profile", s.Profile)
	put("local-address", s.LocalAddress)
	put("remote-address", s.RemoteAddress)
	put("caller-id", s.CallerID)
	put("comment", s.Comment)
	if s.Disabled != nil {
		put("disabled", yesNo(*s.Disabled))
	}
	return w
}

// profileAttrs maps a ProfileSpec to /ip/hotspot/user/profile or
// /ppp/profile attribute words, without the name. Validation has already
// kept each menu's own fields to its kinds; empty fields are left out.
func profileAttrs(p *protocol.ProfileSpec) []string {
	var w []string
	put := func(k, v string) {
		if v != "" {
			w = append(w, "="+k+"="+v)
		}
	}
	put("rate-limit", p.RateLimit)
	put("session-timeout", p.SessionTimeout)
	put("idle-timeout", p.IdleTimeout)
	if p.SharedUsers > 0 {
		put("shared-users", strconv.Itoa(p.SharedUsers))
	}
	put("local-address", p.LocalAddress)
	put("remote-address", p.RemoteAddress)
	if p.OnlyOne != nil {
		put("only-one", yesNo(*p.OnlyOne))
	}
	put("comment", p.Comment)
	return w
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// commandRecord summarises a recent command for /status.
type commandRecord struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Status  string    `json:"status"`
	Code    string    `json:"code,omitempty"`
	Updated time.Time `json:"updated"`
}

func (e *executor) recent(ctx context.Context, n int) []commandRecord {
	rows, err := e.db.QueryContext(ctx, `SELECT id, kind, status, result, updated FROM commands ORDER BY updated DESC LIMIT ?`, n)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []commandRecord
	for rows.Next() {
		var r commandRecord
		var body []byte
		var upd int64
		if rows.Scan(&r.ID, &r.Kind, &r.Status, &body, &upd) != nil {
			continue
		}
		var res protocol.CommandResult
		if json.Unmarshal(body, &res) == nil {
			r.Code = res.Code
		}
		r.Updated = time.Unix(0, upd)
		out = append(out, r)
	}
	return out
}
