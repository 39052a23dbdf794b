package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
)

// fieldCommands are the field tech's commands: they talk to a running
// control plane's REST API and realtime hub (through package client) with
// the token `sitepulse login` stored.
func fieldCommands() []*cli.Command {
	cmds := []*cli.Command{
		loginCommand(),
		logoutCommand(),
		routersCommand(),
		sessionsCommand(),
		kickCommand(),
		accountCommand("hotspot-user", "hotspot users (/ip/hotspot/user) on routers", controlplane.AccountHotspot),
		accountCommand("ppp-secret", "PPP secrets (/ppp/secret) on routers", controlplane.AccountPPP),
		commandsCommand(),
		plansCommand(),
		customersCommand(),
		subscriptionsCommand(),
		paymentsCommand(),
		vouchersCommand(),
	}
	for _, c := range cmds {
		hintLogin(c)
	}
	return cmds
}

// hintLogin wraps the actions of c and its subcommands so that an answer
// 401 (an expired or revoked token) tells the user what to do.
func hintLogin(c *cli.Command) {
	if act := c.Action; act != nil {
		c.Action = func(ctx context.Context, cmd *cli.Command) error {
			err := act(ctx, cmd)
			var ae *client.Error
			if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
				return fmt.Errorf("%w; run `sitepulse login` again", err)
			}
			return err
		}
	}
	for _, sub := range c.Commands {
		hintLogin(sub)
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
	c      *client.Client
	out    output
	errOut output
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
	return &field{
		c:      client.New(server, client.Options{Token: creds.Token}),
		out:    output{cmd.Root().Writer},
		errOut: output{cmd.Root().ErrWriter},
		json:   cmd.Bool("json"),
	}, nil
}

// tenant returns the tenant a command concerns: the first router's, the
// flag's (system admins), or the caller's own.
func (f *field) tenant(ctx context.Context, routers []string, flag int64) (int64, error) {
	if len(routers) > 0 {
		r, err := f.c.Router(ctx, routers[0])
		if err != nil {
			return 0, fmt.Errorf("router %s: %w", routers[0], err)
		}
		return r.TenantID, nil
	}
	if flag != 0 {
		return flag, nil
	}
	me, err := f.c.Me(ctx)
	if err != nil {
		return 0, err
	}
	if me.User.TenantID == 0 {
		return 0, errors.New("system admins name the tenant with --tenant")
	}
	return me.User.TenantID, nil
}

// realtime connects to the hub and subscribes to the tenant's channel of
// topic; read it with Events.
func (f *field) realtime(ctx context.Context, tenant int64, topic string) (*client.Realtime, error) {
	p, err := f.c.DialRealtime(ctx, client.RealtimeOptions{ClientName: "sitepulse-cli", Version: Version})
	if err != nil {
		return nil, err
	}
	if err := p.SubscribeWait(ctx, fmt.Sprintf("private-tenant.%d.%s", tenant, topic)); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// watchFor bounds ctx by the --for flag when it is set.
func watchFor(ctx context.Context, cmd *cli.Command) (context.Context, context.CancelFunc) {
	if d := cmd.Duration("for"); d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}
