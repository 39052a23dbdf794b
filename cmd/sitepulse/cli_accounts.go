package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

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
			kick := &protocol.Kick{User: cmd.String("user"), Key: cmd.String("key")}
			switch {
			case kick.User != "" && kick.Key != "":
				return errors.New("--user and --key exclude each other")
			case kick.User == "" && kick.Key == "":
				return errors.New("name the --user or the session --key to kick")
			}
			kind := protocol.CmdHotspotActiveKick
			if cmd.Bool("pppoe") {
				kind = protocol.CmdPPPActiveKick
			}
			return f.send(ctx, cmd, controlplane.CommandRequest{Kind: kind, CommandParams: controlplane.CommandParams{Kick: kick}})
		},
	}
}

// accountCommand is hotspot-user or ppp-secret: add, enable, disable and
// remove one on routers, as typed commands.
func accountCommand(name, usage string, kind controlplane.AccountKind) *cli.Command {
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
		prefix = "ppp.secret."
		addFlags = append(addFlags,
			&cli.StringFlag{Name: "service", Usage: "default pppoe"},
			&cli.StringFlag{Name: "local-address"},
			&cli.StringFlag{Name: "remote-address"},
		)
	}
	// params are the command's parameters for account NAME; the add
	// flags are only set (and only read) for add.
	params := func(cmd *cli.Command, name string) controlplane.CommandParams {
		if kind == controlplane.AccountHotspot {
			return controlplane.CommandParams{HotspotUser: &protocol.HotspotUser{
				Name: name, Password: cmd.String("password"), Profile: cmd.String("profile"), Comment: cmd.String("comment"),
				LimitUptime: cmd.String("limit-uptime"), LimitBytesTotal: cmd.Uint64("limit-bytes"), Email: cmd.String("email"),
			}}
		}
		return controlplane.CommandParams{PPPSecret: &protocol.PPPSecret{
			Name: name, Password: cmd.String("password"), Profile: cmd.String("profile"), Comment: cmd.String("comment"),
			Service: cmd.String("service"), LocalAddress: cmd.String("local-address"), RemoteAddress: cmd.String("remote-address"),
		}}
	}
	verb := func(v, usage string, flags []cli.Flag) *cli.Command {
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
				return f.send(ctx, cmd, controlplane.CommandRequest{Kind: protocol.CommandKind(prefix + v), CommandParams: params(cmd, cmd.Args().First())})
			},
		}
	}
	return &cli.Command{
		Name:     name,
		Category: fieldCategory,
		Usage:    usage,
		Commands: []*cli.Command{
			verb("add", "add one", addFlags),
			verb("enable", "enable one", nil),
			verb("disable", "disable one (live sessions stay until kicked)", nil),
			verb("remove", "remove one", nil),
		},
	}
}
