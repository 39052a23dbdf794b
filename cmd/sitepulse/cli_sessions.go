package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

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
					p, err := f.c.Sessions(ctx, 0, controlplane.SessionFilter{RouterID: cmd.String("router"), User: cmd.String("user"),
						Kind: protocol.SessionKind(cmd.String("kind")), Limit: cmd.Int("limit")})
					if err != nil {
						return err
					}
					return printPage(f, p, "ROUTER\tKIND\tUSER\tADDRESS\tMAC\tUPTIME\tBYTES IN\tBYTES OUT", "sessions", func(s controlplane.Session) []string {
						return []string{s.RouterID, string(s.Kind), s.User, s.Address, s.MAC,
							time.Since(s.StartedAt).Round(time.Second).String(), strconv.FormatUint(s.BytesIn, 10), strconv.FormatUint(s.BytesOut, 10)}
					})
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
					ctx, cancel := watchFor(ctx, cmd)
					defer cancel()
					p, err := f.realtime(ctx, tenant, "sessions")
					if err != nil {
						return err
					}
					defer p.Close()
					return f.watchSessions(ctx, p)
				},
			},
		},
	}
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

func (f *field) watchSessions(ctx context.Context, p *client.Realtime) error {
	for ev := range p.Events(ctx) {
		if f.json {
			if err := f.out.event(ev); err != nil {
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
	return p.Err()
}
