package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
)

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
func (f *field) send(ctx context.Context, cmd *cli.Command, req controlplane.CommandRequest) error {
	routers, all := cmd.StringSlice("router"), cmd.Bool("all-routers")
	switch {
	case len(routers) == 0 && !all:
		return errors.New("name a --router (or several, or --all-routers)")
	case len(routers) > 0 && all:
		return errors.New("--router and --all-routers exclude each other")
	}
	if ttl := cmd.Int("ttl"); ttl > 0 {
		req.TTLSeconds = ttl
	}
	wait := !cmd.Bool("no-wait")
	ctx, cancel := context.WithTimeout(ctx, cmd.Duration("timeout"))
	defer cancel()

	// Subscribe first, so that no transition is missed.
	var p *client.Realtime
	if wait {
		tenant, err := f.tenant(ctx, routers, cmd.Int64("tenant"))
		if err != nil {
			return err
		}
		if p, err = f.realtime(ctx, tenant, "commands"); err != nil {
			fmt.Fprintf(f.errOut, "realtime unavailable (%v); polling instead\n", err)
			p = nil
		} else {
			defer p.Close()
		}
	}

	var w *waiter
	if len(routers) == 1 {
		c, err := f.c.SendCommand(ctx, routers[0], req)
		if err != nil {
			return err
		}
		w = newWaiter(f, []controlplane.Command{c}, "")
	} else {
		bulk := controlplane.BulkRequest{Command: req, AllRouters: all, RouterIDs: routers}
		if all {
			bulk.TenantID = cmd.Int64("tenant")
		}
		res, err := f.c.SendBulk(ctx, bulk)
		if err != nil {
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
			c, err := w.f.c.Command(ctx, id)
			if err != nil {
				return err
			}
			w.update(c)
		}
		return nil
	}
	cmds, err := w.f.c.AllCommands(ctx, 0, controlplane.CommandFilter{BulkID: w.bulkID})
	if err != nil {
		return err
	}
	for _, c := range cmds {
		w.update(c)
	}
	return nil
}

// commandEvent is the part of a CommandUpdated event the CLI reads.
type commandEvent struct {
	Command struct {
		ID       string                     `json:"id"`
		RouterID string                     `json:"router_id"`
		Kind     string                     `json:"kind"`
		Status   controlplane.CommandStatus `json:"status"`
		Target   string                     `json:"target"`
		Code     string                     `json:"code"`
		Message  string                     `json:"message"`
	} `json:"command"`
}

// wait follows the commands until each is final, ctx ends or polling
// fails. p nil means polling only.
func (w *waiter) wait(ctx context.Context, p *client.Realtime) error {
	var events <-chan client.Frame
	if p != nil {
		events = p.Events(ctx)
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
			var d commandEvent
			if ev.Event != "CommandUpdated" || json.Unmarshal(ev.Data, &d) != nil {
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
		if err := w.f.out.printJSON(v); err != nil {
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
					p, err := f.c.Commands(ctx, 0, controlplane.CommandFilter{RouterID: cmd.String("router"), BulkID: cmd.String("bulk"),
						Status: controlplane.CommandStatus(cmd.String("status")), Limit: cmd.Int("limit")})
					if err != nil {
						return err
					}
					return printPage(f, p, "ID\tROUTER\tKIND\tSTATUS\tBY\tCREATED\tRESULT", "commands", func(c controlplane.Command) []string {
						return []string{c.ID, c.RouterID, string(c.Kind), string(c.Status), c.Actor, ago(&c.CreatedAt), strings.TrimSpace(c.Code + " " + c.Message)}
					})
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
						return f.watchCommand(ctx, id, cmd.Duration("timeout"))
					}
					tenant, err := f.tenant(ctx, nil, cmd.Int64("tenant"))
					if err != nil {
						return err
					}
					ctx, cancel := watchFor(ctx, cmd)
					defer cancel()
					p, err := f.realtime(ctx, tenant, "commands")
					if err != nil {
						return err
					}
					defer p.Close()
					return f.watchCommands(ctx, p)
				},
			},
		},
	}
}

// watchCommand follows one command to its end, within timeout.
func (f *field) watchCommand(ctx context.Context, id string, timeout time.Duration) error {
	c, err := f.c.Command(ctx, id)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w := newWaiter(f, []controlplane.Command{c}, "")
	p, err := f.realtime(ctx, c.TenantID, "commands")
	if err != nil {
		fmt.Fprintf(f.errOut, "realtime unavailable (%v); polling instead\n", err)
		return w.wait(ctx, nil)
	}
	defer p.Close()
	return w.wait(ctx, p)
}

// watchCommands prints every command event of the subscribed tenant.
func (f *field) watchCommands(ctx context.Context, p *client.Realtime) error {
	for ev := range p.Events(ctx) {
		if f.json {
			if err := f.out.event(ev); err != nil {
				return err
			}
			continue
		}
		var d commandEvent
		if json.Unmarshal(ev.Data, &d) != nil {
			continue
		}
		c := d.Command
		fmt.Fprintf(f.out, "%s %s %s on %s %s: %s %s\n", time.Now().Format("15:04:05"), c.ID, c.Kind, c.RouterID, c.Target, c.Status,
			strings.TrimSpace(c.Code+" "+c.Message))
	}
	return p.Err()
}
