package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// fieldCommands are the field tech's commands: they talk to a running
// control plane's REST API and realtime hub with the token `sitepulse
// login` stored.
func fieldCommands() []*cli.Command {
	return []*cli.Command{
		loginCommand(),
		logoutCommand(),
		routersCommand(),
		sessionsCommand(),
		kickCommand(),
		accountCommand("hotspot-user", "hotspot users (/ip/hotspot/user) on routers", controlplane.AccountHotspot),
		accountCommand("ppp-secret", "PPP secrets (/ppp/secret) on routers", controlplane.AccountPPP),
		commandsCommand(),
	}
}

const fieldCategory = "field tech"

// fieldFlags are the flags every field-tech command takes.
func fieldFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "credentials", Value: defaultCredentialsPath(), Usage: "file where sitepulse login keeps the token", Sources: cli.EnvVars("SITEPULSE_CREDENTIALS")},
		&cli.StringFlag{Name: "server", Usage: "control plane URL (default: the one logged in to)", Sources: cli.EnvVars("SITEPULSE_SERVER")},
		&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"},
	}, extra...)
}

// field is one field-tech command's context.
type field struct {
	c      *apiClient
	out    io.Writer
	errOut io.Writer
	json   bool
}

func newField(cmd *cli.Command) (*field, error) {
	creds, err := loadCredentials(cmd.String("credentials"))
	if err != nil {
		return nil, err
	}
	server := creds.Server
	if s := cmd.String("server"); s != "" {
		server = s
	}
	return &field{c: newAPIClient(server, creds.Token), out: cmd.Root().Writer, errOut: cmd.Root().ErrWriter, json: cmd.Bool("json")}, nil
}

func (f *field) printJSON(v any) error {
	enc := json.NewEncoder(f.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (f *field) table(header string, rows [][]string) error {
	tw := tabwriter.NewWriter(f.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func ago(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return time.Since(*t).Round(time.Second).String() + " ago"
}

// ---- login ----

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:     "login",
		Category: fieldCategory,
		Usage:    "log in to a control plane and keep the token for the other commands",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "credentials", Value: defaultCredentialsPath(), Usage: "where to keep the token", Sources: cli.EnvVars("SITEPULSE_CREDENTIALS")},
			&cli.StringFlag{Name: "server", Value: "http://127.0.0.1:8080", Usage: "control plane URL", Sources: cli.EnvVars("SITEPULSE_SERVER")},
			&cli.StringFlag{Name: "email", Usage: "your login email", Required: true, Sources: cli.EnvVars("SITEPULSE_EMAIL")},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from standard input (else SITEPULSE_PASSWORD, else a prompt)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			password := os.Getenv("SITEPULSE_PASSWORD")
			if cmd.Bool("password-stdin") || password == "" {
				if !cmd.Bool("password-stdin") {
					fmt.Fprint(cmd.Root().ErrWriter, "Password: ")
				}
				line, err := bufio.NewReader(cmd.Root().Reader).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("read password: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if password == "" {
				return errors.New("no password given")
			}
			c := newAPIClient(cmd.String("server"), "")
			var res controlplane.LoginResponse
			if err := c.do(ctx, "POST", "/api/v1/auth/login", controlplane.LoginRequest{Email: cmd.String("email"), Password: password}, &res); err != nil {
				return fmt.Errorf("login: %w", err)
			}
			path := cmd.String("credentials")
			creds := credentials{Server: c.server, Email: res.User.Email, Token: res.Token, ExpiresAt: res.ExpiresAt}
			if err := saveCredentials(path, creds); err != nil {
				return err
			}
			fmt.Fprintf(cmd.Root().Writer, "logged in to %s as %s (%s); token kept in %s\n", c.server, res.User.Email, res.User.Role, path)
			return nil
		},
	}
}

func logoutCommand() *cli.Command {
	return &cli.Command{
		Name:     "logout",
		Category: fieldCategory,
		Usage:    "revoke the stored token and forget it",
		Flags:    fieldFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			f, err := newField(cmd)
			if err != nil {
				return err
			}
			if err := f.c.do(ctx, "POST", "/api/v1/auth/logout", nil, nil); err != nil {
				var ae *apiError
				if !errors.As(err, &ae) || ae.Status != 401 {
					return fmt.Errorf("logout: %w", err)
				}
			}
			if err := os.Remove(cmd.String("credentials")); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			fmt.Fprintln(f.out, "logged out")
			return nil
		},
	}
}

// ---- routers and sessions ----

func routersCommand() *cli.Command {
	return &cli.Command{
		Name:     "routers",
		Category: fieldCategory,
		Usage:    "routers you can see",
		Commands: []*cli.Command{{
			Name:  "list",
			Usage: "list routers with their status",
			Flags: fieldFlags(),
			Action: func(ctx context.Context, cmd *cli.Command) error {
				f, err := newField(cmd)
				if err != nil {
					return err
				}
				var rs controlplane.List[controlplane.Router]
				if err := f.c.do(ctx, "GET", "/api/v1/routers", nil, &rs); err != nil {
					return err
				}
				if f.json {
					return f.printJSON(rs.Data)
				}
				rows := make([][]string, 0, len(rs.Data))
				for _, r := range rs.Data {
					conn := "no"
					if r.RouterConnected {
						conn = "yes"
					}
					rows = append(rows, []string{r.ID, r.Name, r.Site, r.Status, conn, r.Identity, r.RouterOSVersion, ago(r.LastSeenAt)})
				}
				return f.table("ID\tNAME\tSITE\tSTATUS\tROUTEROS API\tIDENTITY\tVERSION\tLAST SEEN", rows)
			},
		}},
	}
}

func sessionsCommand() *cli.Command {
	return &cli.Command{
		Name:     "sessions",
		Category: fieldCategory,
		Usage:    "live hotspot and PPPoE sessions",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list live sessions",
				Flags: fieldFlags(
					&cli.StringFlag{Name: "router", Usage: "only this router"},
					&cli.StringFlag{Name: "user", Usage: "user name contains"},
					&cli.StringFlag{Name: "kind", Usage: "hotspot or pppoe"},
					&cli.IntFlag{Name: "limit", Value: 100},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					var p controlplane.Page[controlplane.Session]
					q := query("router_id", cmd.String("router"), "user", cmd.String("user"), "kind", cmd.String("kind"),
						"limit", strconv.Itoa(cmd.Int("limit")))
					if err := f.c.do(ctx, "GET", "/api/v1/sessions"+q, nil, &p); err != nil {
						return err
					}
					if f.json {
						return f.printJSON(p)
					}
					rows := make([][]string, 0, len(p.Data))
					for _, s := range p.Data {
						rows = append(rows, []string{s.RouterID, string(s.Kind), s.User, s.Address, s.MAC,
							time.Since(s.StartedAt).Round(time.Second).String(), strconv.FormatUint(s.BytesIn, 10), strconv.FormatUint(s.BytesOut, 10)})
					}
					if err := f.table("ROUTER\tKIND\tUSER\tADDRESS\tMAC\tUPTIME\tBYTES IN\tBYTES OUT", rows); err != nil {
						return err
					}
					_, err = fmt.Fprintf(f.out, "%d of %d sessions\n", len(p.Data), p.Total)
					return err
				},
			},
			{
				Name:  "watch",
				Usage: "follow session starts, updates and ends live (until interrupted)",
				Flags: fieldFlags(
					&cli.Int64Flag{Name: "tenant", Usage: "the tenant to watch (system admins)"},
					&cli.DurationFlag{Name: "for", Usage: "stop after this long (default: until interrupted)"},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					tenant, err := f.tenant(ctx, nil, cmd.Int64("tenant"))
					if err != nil {
						return err
					}
					if d := cmd.Duration("for"); d > 0 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, d)
						defer cancel()
					}
					p, err := f.realtime(ctx, tenant, "sessions")
					if err != nil {
						return err
					}
					defer p.close()
					return f.watchSessions(ctx, p)
				},
			},
		},
	}
}

// tenant returns the tenant a command concerns: the first router's, the
// flag's (system admins), or the caller's own.
func (f *field) tenant(ctx context.Context, routers []string, flag int64) (int64, error) {
	if len(routers) > 0 {
		var r controlplane.Router
		if err := f.c.do(ctx, "GET", "/api/v1/routers/"+routers[0], nil, &r); err != nil {
			return 0, fmt.Errorf("router %s: %w", routers[0], err)
		}
		return r.TenantID, nil
	}
	if flag != 0 {
		return flag, nil
	}
	var me controlplane.MeResponse
	if err := f.c.do(ctx, "GET", "/api/v1/me", nil, &me); err != nil {
		return 0, err
	}
	if me.User.TenantID == 0 {
		return 0, errors.New("system admins name the tenant with --tenant")
	}
	return me.User.TenantID, nil
}

// realtime connects to the hub and subscribes to the tenant's channel of
// topic.
func (f *field) realtime(ctx context.Context, tenant int64, topic string) (*pusherConn, error) {
	p, err := dialPusher(ctx, f.c)
	if err != nil {
		return nil, err
	}
	if err := p.subscribe(ctx, fmt.Sprintf("private-tenant.%d.%s", tenant, topic)); err != nil {
		p.close()
		return nil, err
	}
	go p.run(ctx)
	return p, nil
}

// sessionEventView is the part of a session event the CLI prints.
type sessionEventView struct {
	RouterID  string `json:"router_id"`
	Kind      string `json:"kind"`
	User      string `json:"user"`
	Address   string `json:"address"`
	MAC       string `json:"mac"`
	BytesIn   uint64 `json:"bytes_in"`
	BytesOut  uint64 `json:"bytes_out"`
	EndReason string `json:"end_reason"`
}

func (f *field) watchSessions(ctx context.Context, p *pusherConn) error {
	for ev := range p.events {
		if f.json {
			if err := json.NewEncoder(f.out).Encode(map[string]any{"event": ev.Event, "data": ev.Data}); err != nil {
				return err
			}
			continue
		}
		var d struct {
			Session  *sessionEventView  `json:"session"`
			Sessions []sessionEventView `json:"sessions"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			continue
		}
		if d.Session != nil {
			d.Sessions = append(d.Sessions, *d.Session)
		}
		for _, s := range d.Sessions {
			line := fmt.Sprintf("%s %-14s %s %-7s %s %s %s", time.Now().Format("15:04:05"), strings.TrimPrefix(ev.Event, "Session"),
				s.RouterID, s.Kind, s.User, s.Address, s.MAC)
			switch ev.Event {
			case "SessionUpdated":
				line += fmt.Sprintf(" in=%d out=%d", s.BytesIn, s.BytesOut)
			case "SessionEnded":
				line += " (" + s.EndReason + ")"
			}
			fmt.Fprintln(f.out, line)
		}
	}
	if p.err != nil {
		return p.err
	}
	return nil
}

// ---- commands ----

// commandFlags select the routers of a command and how to wait for it.
func commandFlags(extra ...cli.Flag) []cli.Flag {
	return fieldFlags(append([]cli.Flag{
		&cli.StringSliceFlag{Name: "router", Aliases: []string{"r"}, Usage: "router id; repeat for a bulk command"},
		&cli.BoolFlag{Name: "all-routers", Usage: "every router of the tenant (a bulk command)"},
		&cli.Int64Flag{Name: "tenant", Usage: "the tenant of --all-routers (system admins)"},
		&cli.IntFlag{Name: "ttl", Usage: "seconds the command may wait for an offline router before it expires (default: the server's)"},
		&cli.BoolFlag{Name: "no-wait", Usage: "queue it and return at once"},
		&cli.DurationFlag{Name: "timeout", Value: 5 * time.Minute, Usage: "how long to wait for the result"},
	}, extra...)...)
}

// send queues req on the routers the flags name, waits for the results
// (printing the transitions, or a progress line for a bulk command) and
// fails unless every router applied it.
func (f *field) send(ctx context.Context, cmd *cli.Command, req map[string]any) error {
	routers, all := cmd.StringSlice("router"), cmd.Bool("all-routers")
	switch {
	case len(routers) == 0 && !all:
		return errors.New("name a --router (or several, or --all-routers)")
	case len(routers) > 0 && all:
		return errors.New("--router and --all-routers exclude each other")
	}
	if ttl := cmd.Int("ttl"); ttl > 0 {
		req["ttl_seconds"] = ttl
	}
	wait := !cmd.Bool("no-wait")
	ctx, cancel := context.WithTimeout(ctx, cmd.Duration("timeout"))
	defer cancel()

	// Subscribe first, so that no transition is missed.
	var p *pusherConn
	if wait {
		tenant, err := f.tenant(ctx, routers, cmd.Int64("tenant"))
		if err != nil {
			return err
		}
		if p, err = f.realtime(ctx, tenant, "commands"); err != nil {
			fmt.Fprintf(f.errOut, "realtime unavailable (%v); polling instead\n", err)
			p = nil
		} else {
			defer p.close()
		}
	}

	var w *waiter
	if len(routers) == 1 {
		var c controlplane.Command
		if err := f.c.do(ctx, "POST", "/api/v1/routers/"+routers[0]+"/commands", req, &c); err != nil {
			return err
		}
		w = newWaiter(f, []controlplane.Command{c}, "")
	} else {
		body := map[string]any{"command": req}
		if all {
			body["all_routers"] = true
			if t := cmd.Int64("tenant"); t != 0 {
				body["tenant_id"] = t
			}
		} else {
			body["router_ids"] = routers
		}
		var res controlplane.BulkResult
		if err := f.c.do(ctx, "POST", "/api/v1/commands/bulk", body, &res); err != nil {
			return err
		}
		w = newWaiter(f, res.Commands, res.BulkID)
	}
	if !wait {
		return w.report(false)
	}
	return w.wait(ctx, p)
}

// waiter follows commands to their end: from CommandUpdated events, and by
// polling the API as a safety net (a missed event, realtime down).
type waiter struct {
	f      *field
	bulkID string
	order  []string
	cmds   map[string]controlplane.Command
	last   string // the last progress line printed
}

func newWaiter(f *field, cmds []controlplane.Command, bulkID string) *waiter {
	w := &waiter{f: f, bulkID: bulkID, cmds: map[string]controlplane.Command{}}
	for _, c := range cmds {
		w.order = append(w.order, c.ID)
		w.cmds[c.ID] = c
		w.show(c)
	}
	return w
}

// update records c and prints what changed.
func (w *waiter) update(c controlplane.Command) {
	old, ok := w.cmds[c.ID]
	if !ok || old.Status == c.Status || old.Status.Final() {
		return
	}
	w.cmds[c.ID] = c
	w.show(c)
}

func (w *waiter) show(c controlplane.Command) {
	if w.f.json {
		return
	}
	if w.bulkID == "" {
		line := fmt.Sprintf("%s %s on %s: %s", c.ID, c.Kind, c.RouterID, c.Status)
		if c.Code != "" || c.Message != "" {
			line += fmt.Sprintf(" (%s: %s)", c.Code, c.Message)
		}
		fmt.Fprintln(w.f.out, line)
		return
	}
	if line := w.progress(); line != w.last && len(w.cmds) == len(w.order) {
		w.last = line
		fmt.Fprintln(w.f.out, line)
	}
}

// progress is the bulk command's one-line summary.
func (w *waiter) progress() string {
	n := map[controlplane.CommandStatus]int{}
	done := 0
	for _, c := range w.cmds {
		n[c.Status]++
		if c.Status.Final() {
			done++
		}
	}
	var parts []string
	for _, st := range controlplane.CommandStatuses {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
		}
	}
	return fmt.Sprintf("bulk %s: %d/%d done (%s)", w.bulkID, done, len(w.order), strings.Join(parts, ", "))
}

func (w *waiter) finished() bool {
	for _, c := range w.cmds {
		if !c.Status.Final() {
			return false
		}
	}
	return true
}

// poll refreshes every command from the API.
func (w *waiter) poll(ctx context.Context) error {
	if w.bulkID == "" {
		for _, id := range w.order {
			var c controlplane.Command
			if err := w.f.c.do(ctx, "GET", "/api/v1/commands/"+id, nil, &c); err != nil {
				return err
			}
			w.update(c)
		}
		return nil
	}
	for offset := 0; offset < len(w.order); offset += 500 {
		var p controlplane.Page[controlplane.Command]
		q := query("bulk_id", w.bulkID, "limit", "500", "offset", strconv.Itoa(offset))
		if err := w.f.c.do(ctx, "GET", "/api/v1/commands"+q, nil, &p); err != nil {
			return err
		}
		for _, c := range p.Data {
			w.update(c)
		}
	}
	return nil
}

func (w *waiter) wait(ctx context.Context, p *pusherConn) error {
	var events <-chan pusherEvent
	if p != nil {
		events = p.events
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	// One poll at once: what happened before the subscription (a fast
	// router) is then known.
	if err := w.poll(ctx); err != nil {
		return err
	}
	for !w.finished() {
		select {
		case <-ctx.Done():
			_ = w.report(false)
			return fmt.Errorf("gave up waiting: %w", ctx.Err())
		case ev, ok := <-events:
			if !ok {
				events = nil // realtime gone: polling goes on
				continue
			}
			if ev.Event != "CommandUpdated" {
				continue
			}
			var d struct {
				Command struct {
					ID      string                     `json:"id"`
					Status  controlplane.CommandStatus `json:"status"`
					Code    string                     `json:"code"`
					Message string                     `json:"message"`
				} `json:"command"`
			}
			if json.Unmarshal(ev.Data, &d) != nil {
				continue
			}
			if c, ok := w.cmds[d.Command.ID]; ok {
				c.Status, c.Code, c.Message = d.Command.Status, d.Command.Code, d.Command.Message
				w.update(c)
			}
		case <-tick.C:
			if err := w.poll(ctx); err != nil {
				return err
			}
		}
	}
	// Final state from the API (events carry masked names).
	if err := w.poll(ctx); err != nil {
		return err
	}
	return w.report(true)
}

// report prints the JSON answer (with --json) and fails unless every
// command succeeded (when final says the waiting is over).
func (w *waiter) report(final bool) error {
	cmds := make([]controlplane.Command, 0, len(w.order))
	for _, id := range w.order {
		cmds = append(cmds, w.cmds[id])
	}
	if w.f.json {
		var v any = cmds[0]
		if w.bulkID != "" {
			v = controlplane.BulkResult{BulkID: w.bulkID, Commands: cmds}
		}
		if err := w.f.printJSON(v); err != nil {
			return err
		}
	}
	if !final {
		return nil
	}
	failed := 0
	for _, c := range cmds {
		if c.Status != controlplane.CommandSucceeded {
			failed++
		}
	}
	switch {
	case failed == 0:
		return nil
	case len(cmds) == 1:
		c := cmds[0]
		return fmt.Errorf("command %s %s on router %s: %s: %s", c.ID, c.Kind, c.RouterID, c.Status, strings.TrimSpace(c.Code+" "+c.Message))
	default:
		return fmt.Errorf("bulk %s: %d of %d routers did not apply it", w.bulkID, failed, len(cmds))
	}
}

func kickCommand() *cli.Command {
	return &cli.Command{
		Name:      "kick",
		Category:  fieldCategory,
		Usage:     "end live sessions on a router: every session of --user, or one by --key",
		ArgsUsage: " ",
		Flags: commandFlags(
			&cli.StringFlag{Name: "user", Usage: "kick every session of this user"},
			&cli.StringFlag{Name: "key", Usage: "kick the session with this key (from sessions list --json)"},
			&cli.BoolFlag{Name: "pppoe", Usage: "PPPoE sessions (default: hotspot)"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			f, err := newField(cmd)
			if err != nil {
				return err
			}
			kick := map[string]string{}
			switch {
			case cmd.String("user") != "" && cmd.String("key") != "":
				return errors.New("--user and --key exclude each other")
			case cmd.String("user") != "":
				kick["user"] = cmd.String("user")
			case cmd.String("key") != "":
				kick["key"] = cmd.String("key")
			default:
				return errors.New("name the --user or the session --key to kick")
			}
			kind := protocol.CmdHotspotActiveKick
			if cmd.Bool("pppoe") {
				kind = protocol.CmdPPPActiveKick
			}
			return f.send(ctx, cmd, map[string]any{"kind": kind, "kick": kick})
		},
	}
}

// accountCommand is hotspot-user or ppp-secret: add, enable, disable and
// remove one on routers, as typed commands.
func accountCommand(name, usage string, kind controlplane.AccountKind) *cli.Command {
	param := "hotspot_user"
	prefix := "hotspot.user."
	addFlags := []cli.Flag{
		&cli.StringFlag{Name: "password", Usage: "its password"},
		&cli.StringFlag{Name: "profile", Usage: "its profile (carries the rate limit)"},
		&cli.StringFlag{Name: "comment"},
	}
	if kind == controlplane.AccountHotspot {
		addFlags = append(addFlags,
			&cli.StringFlag{Name: "limit-uptime", Usage: "RouterOS duration, e.g. 1h"},
			&cli.Uint64Flag{Name: "limit-bytes", Usage: "total bytes allowed"},
			&cli.StringFlag{Name: "email"},
		)
	} else {
		param, prefix = "ppp_secret", "ppp.secret."
		addFlags = append(addFlags,
			&cli.StringFlag{Name: "service", Usage: "default pppoe"},
			&cli.StringFlag{Name: "local-address"},
			&cli.StringFlag{Name: "remote-address"},
		)
	}
	verb := func(v, usage string, flags []cli.Flag, fill func(cmd *cli.Command, p map[string]any)) *cli.Command {
		return &cli.Command{
			Name:      v,
			Usage:     usage,
			ArgsUsage: "NAME",
			Flags:     commandFlags(flags...),
			Action: func(ctx context.Context, cmd *cli.Command) error {
				if cmd.Args().Len() != 1 {
					return fmt.Errorf("%s %s takes one NAME", name, v)
				}
				f, err := newField(cmd)
				if err != nil {
					return err
				}
				p := map[string]any{"name": cmd.Args().First()}
				if fill != nil {
					fill(cmd, p)
				}
				return f.send(ctx, cmd, map[string]any{"kind": prefix + v, param: p})
			},
		}
	}
	add := func(cmd *cli.Command, p map[string]any) {
		for _, fl := range addFlags {
			n := fl.Names()[0]
			key := strings.ReplaceAll(n, "-", "_")
			switch n {
			case "limit-bytes":
				if v := cmd.Uint64(n); v > 0 {
					p["limit_bytes_total"] = v
				}
			default:
				if v := cmd.String(n); v != "" {
					p[key] = v
				}
			}
		}
	}
	return &cli.Command{
		Name:     name,
		Category: fieldCategory,
		Usage:    usage,
		Commands: []*cli.Command{
			verb("add", "add one", addFlags, add),
			verb("enable", "enable one", nil, nil),
			verb("disable", "disable one (live sessions stay until kicked)", nil, nil),
			verb("remove", "remove one", nil, nil),
		},
	}
}

func commandsCommand() *cli.Command {
	return &cli.Command{
		Name:     "commands",
		Category: fieldCategory,
		Usage:    "provisioning commands and their results",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list commands, newest first",
				Flags: fieldFlags(
					&cli.StringFlag{Name: "router", Usage: "only this router"},
					&cli.StringFlag{Name: "status", Usage: "queued, sent, running, succeeded, failed, expired or cancelled"},
					&cli.StringFlag{Name: "bulk", Usage: "only this bulk id"},
					&cli.IntFlag{Name: "limit", Value: 50},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					var p controlplane.Page[controlplane.Command]
					q := query("router_id", cmd.String("router"), "status", cmd.String("status"), "bulk_id", cmd.String("bulk"),
						"limit", strconv.Itoa(cmd.Int("limit")))
					if err := f.c.do(ctx, "GET", "/api/v1/commands"+q, nil, &p); err != nil {
						return err
					}
					if f.json {
						return f.printJSON(p)
					}
					rows := make([][]string, 0, len(p.Data))
					for _, c := range p.Data {
						msg := strings.TrimSpace(c.Code + " " + c.Message)
						rows = append(rows, []string{c.ID, c.RouterID, string(c.Kind), string(c.Status), c.Actor, ago(&c.CreatedAt), msg})
					}
					if err := f.table("ID\tROUTER\tKIND\tSTATUS\tBY\tCREATED\tRESULT", rows); err != nil {
						return err
					}
					_, err = fmt.Fprintf(f.out, "%d of %d commands\n", len(p.Data), p.Total)
					return err
				},
			},
			{
				Name:      "watch",
				Usage:     "follow one command to its end (exit status: did it succeed), or every command of the tenant live",
				ArgsUsage: "[ID]",
				Flags: fieldFlags(
					&cli.Int64Flag{Name: "tenant", Usage: "the tenant to watch (system admins)"},
					&cli.DurationFlag{Name: "timeout", Value: 5 * time.Minute, Usage: "how long to wait for one command"},
					&cli.DurationFlag{Name: "for", Usage: "without ID: stop after this long"},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					if id := cmd.Args().First(); id != "" {
						var c controlplane.Command
						if err := f.c.do(ctx, "GET", "/api/v1/commands/"+id, nil, &c); err != nil {
							return err
						}
						ctx, cancel := context.WithTimeout(ctx, cmd.Duration("timeout"))
						defer cancel()
						w := newWaiter(f, []controlplane.Command{c}, "")
						p, err := f.realtime(ctx, c.TenantID, "commands")
						if err != nil {
							fmt.Fprintf(f.errOut, "realtime unavailable (%v); polling instead\n", err)
							return w.wait(ctx, nil)
						}
						defer p.close()
						return w.wait(ctx, p)
					}
					tenant, err := f.tenant(ctx, nil, cmd.Int64("tenant"))
					if err != nil {
						return err
					}
					if d := cmd.Duration("for"); d > 0 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, d)
						defer cancel()
					}
					p, err := f.realtime(ctx, tenant, "commands")
					if err != nil {
						return err
					}
					defer p.close()
					for ev := range p.events {
						if f.json {
							if err := json.NewEncoder(f.out).Encode(map[string]any{"event": ev.Event, "data": ev.Data}); err != nil {
								return err
							}
							continue
						}
						var d struct {
							Command struct {
								ID       string `json:"id"`
								RouterID string `json:"router_id"`
								Kind     string `json:"kind"`
								Status   string `json:"status"`
								Target   string `json:"target"`
								Code     string `json:"code"`
								Message  string `json:"message"`
							} `json:"command"`
						}
						if json.Unmarshal(ev.Data, &d) != nil {
							continue
						}
						c := d.Command
						fmt.Fprintf(f.out, "%s %s %s on %s %s: %s %s\n", time.Now().Format("15:04:05"), c.ID, c.Kind, c.RouterID, c.Target, c.Status,
							strings.TrimSpace(c.Code+" "+c.Message))
					}
					return p.err
				},
			},
		},
	}
}
