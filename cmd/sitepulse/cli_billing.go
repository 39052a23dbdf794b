package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Billing's field commands: plans, customers, subscriptions and payments.
// Amounts are typed in shillings ("50" or "50.00") and sent in minor
// units, converted exactly by controlplane.ParseMinor; they print with
// controlplane.Money.String.

// shillings reads an amount flag into minor units.
func shillings(cmd *cli.Command, name string) (int64, error) {
	v := cmd.String(name)
	if v == "" {
		return 0, fmt.Errorf("--%s is required (in shillings, e.g. 50 or 50.00)", name)
	}
	n, err := controlplane.ParseMinor(v)
	if err != nil {
		return 0, fmt.Errorf("--%s: %s", name, controlplane.ErrorMessage(err))
	}
	return n, nil
}

// when prints an optional time, "-" when unset.
func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// idOrDash prints an optional id.
func idOrDash(id int64) string {
	if id == 0 {
		return "-"
	}
	return strconv.FormatInt(id, 10)
}

func plansCommand() *cli.Command {
	return &cli.Command{
		Name:     "plans",
		Category: fieldCategory,
		Usage:    "the plans the tenant sells",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list plans",
				Flags: fieldFlags(
					&cli.StringFlag{Name: "kind", Usage: "hotspot or pppoe"},
					&cli.BoolFlag{Name: "active", Usage: "only active plans"},
					&cli.Int64Flag{Name: "tenant", Usage: "the tenant (system admins)"},
					&cli.IntFlag{Name: "limit", Value: 100},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					p, err := f.c.Plans(ctx, cmd.Int64("tenant"), controlplane.PlanFilter{Kind: controlplane.PlanKind(cmd.String("kind")),
						ActiveOnly: cmd.Bool("active"), Limit: cmd.Int("limit")})
					if err != nil {
						return err
					}
					return printPage(f, p, "ID\tNAME\tKIND\tPRICE\tDURATION\tRATE LIMIT\tACTIVE\tPROFILE\tROUTERS", "plans", func(pl controlplane.Plan) []string {
						return []string{strconv.FormatInt(pl.ID, 10), pl.Name, string(pl.Kind), pl.Price.String(), pl.Duration, dash(pl.RateLimit),
							strconv.FormatBool(pl.Active), pl.Profile, planSync(pl.Routers)}
					})
				},
			},
			{
				Name:  "create",
				Usage: "create a plan; its profile is then synced to the tenant's routers",
				Flags: fieldFlags(
					&cli.StringFlag{Name: "name", Usage: "what customers see", Required: true},
					&cli.StringFlag{Name: "kind", Value: "hotspot", Usage: "hotspot or pppoe"},
					&cli.StringFlag{Name: "price", Usage: "in shillings, e.g. 50 or 49.50", Required: true},
					&cli.StringFlag{Name: "duration", Usage: "how long a purchase lasts: 30m, 1h, 24h, 7d, 30d", Required: true},
					&cli.StringFlag{Name: "rate-limit", Usage: "RouterOS rx/tx, e.g. 2M/5M"},
					&cli.IntFlag{Name: "shared-users", Usage: "devices at once on one login"},
					&cli.Uint64Flag{Name: "data-cap", Usage: "bytes in + out before the subscription ends early (0: none)"},
					&cli.DurationFlag{Name: "grace", Usage: "delay of the disconnect after a subscription ends"},
					&cli.BoolFlag{Name: "inactive", Usage: "create it not for sale yet"},
					&cli.Int64Flag{Name: "tenant", Usage: "the tenant (system admins)"},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					price, err := shillings(cmd, "price")
					if err != nil {
						return err
					}
					req := controlplane.PlanRequest{
						TenantID: cmd.Int64("tenant"), Name: cmd.String("name"), Kind: controlplane.PlanKind(cmd.String("kind")),
						Price: price, Duration: cmd.String("duration"), RateLimit: cmd.String("rate-limit"),
						SharedUsers: cmd.Int("shared-users"), DataCapBytes: cmd.Uint64("data-cap"),
						GraceSeconds: int64(cmd.Duration("grace") / time.Second),
					}
					if cmd.Bool("inactive") {
						active := false
						req.Active = &active
					}
					pl, err := f.c.CreatePlan(ctx, req)
					if err != nil {
						return err
					}
					if f.json {
						return f.out.printJSON(pl)
					}
					_, err = fmt.Fprintf(f.out, "plan %d %q: %s for %s, profile %s (%s)\n", pl.ID, pl.Name, pl.Price, pl.Duration, pl.Profile, planSync(pl.Routers))
					return err
				},
			},
		},
	}
}

// planSync sums a plan's profile sync states: "2 synced, 1 pending".
func planSync(rs []controlplane.PlanRouter) string {
	if len(rs) == 0 {
		return "no routers"
	}
	n := map[string]int{}
	for _, r := range rs {
		n[r.State]++
	}
	out := ""
	for _, st := range []string{controlplane.SyncSynced, controlplane.SyncPending, controlplane.SyncFailed} {
		if n[st] > 0 {
			if out != "" {
				out += ", "
			}
			out += fmt.Sprintf("%d %s", n[st], st)
		}
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func customersCommand() *cli.Command {
	return &cli.Command{
		Name:     "customers",
		Category: fieldCategory,
		Usage:    "the tenant's paying customers",
		Commands: []*cli.Command{{
			Name:  "list",
			Usage: "list customers",
			Flags: fieldFlags(
				&cli.StringFlag{Name: "query", Aliases: []string{"q"}, Usage: "phone or name contains"},
				&cli.Int64Flag{Name: "tenant", Usage: "the tenant (system admins)"},
				&cli.IntFlag{Name: "limit", Value: 100},
			),
			Action: func(ctx context.Context, cmd *cli.Command) error {
				f, err := newField(cmd)
				if err != nil {
					return err
				}
				p, err := f.c.Customers(ctx, cmd.Int64("tenant"), controlplane.CustomerFilter{Query: cmd.String("query"), Limit: cmd.Int("limit")})
				if err != nil {
					return err
				}
				return printPage(f, p, "ID\tPHONE\tNAME\tEMAIL\tACTIVE SUBSCRIPTIONS\tSINCE", "customers", func(c controlplane.Customer) []string {
					return []string{strconv.FormatInt(c.ID, 10), c.Phone, dash(c.Name), dash(c.Email), strconv.Itoa(c.ActiveSubscriptions), when(&c.CreatedAt)}
				})
			},
		}},
	}
}

func subscriptionsCommand() *cli.Command {
	return &cli.Command{
		Name:     "subscriptions",
		Category: fieldCategory,
		Usage:    "customers' subscriptions to plans",
		Commands: []*cli.Command{{
			Name:  "list",
			Usage: "list subscriptions",
			Flags: fieldFlags(
				&cli.StringFlag{Name: "status", Usage: "pending_payment, active, expired, suspended or cancelled"},
				&cli.Int64Flag{Name: "customer", Usage: "only this customer id"},
				&cli.Int64Flag{Name: "plan", Usage: "only this plan id"},
				&cli.Int64Flag{Name: "tenant", Usage: "the tenant (system admins)"},
				&cli.IntFlag{Name: "limit", Value: 100},
			),
			Action: func(ctx context.Context, cmd *cli.Command) error {
				f, err := newField(cmd)
				if err != nil {
					return err
				}
				p, err := f.c.Subscriptions(ctx, cmd.Int64("tenant"), controlplane.SubscriptionFilter{CustomerID: cmd.Int64("customer"),
					PlanID: cmd.Int64("plan"), Status: controlplane.SubscriptionStatus(cmd.String("status")), Limit: cmd.Int("limit")})
				if err != nil {
					return err
				}
				return printPage(f, p, "ID\tCUSTOMER\tPLAN\tSTATUS\tUSERNAME\tSTARTS\tENDS\tREASON", "subscriptions", func(s controlplane.Subscription) []string {
					return []string{strconv.FormatInt(s.ID, 10), strconv.FormatInt(s.CustomerID, 10), s.PlanName, string(s.Status), dash(s.Username),
						when(s.StartsAt), when(s.EndsAt), dash(s.Reason)}
				})
			},
		}},
	}
}

func paymentsCommand() *cli.Command {
	return &cli.Command{
		Name:     "payments",
		Category: fieldCategory,
		Usage:    "payments: M-Pesa, webhook and manual",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list payments, newest first",
				Flags: fieldFlags(
					&cli.StringFlag{Name: "status", Usage: "pending, completed, failed, flagged or refunded"},
					&cli.StringFlag{Name: "provider", Usage: "mpesa_stk, mpesa_c2b, manual or webhook"},
					&cli.StringFlag{Name: "phone", Usage: "only this phone"},
					&cli.Int64Flag{Name: "subscription", Usage: "only this subscription id"},
					&cli.Int64Flag{Name: "tenant", Usage: "the tenant (system admins)"},
					&cli.IntFlag{Name: "limit", Value: 100},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					p, err := f.c.Payments(ctx, cmd.Int64("tenant"), controlplane.PaymentFilter{Status: controlplane.PaymentStatus(cmd.String("status")),
						Provider: cmd.String("provider"), Phone: cmd.String("phone"), SubscriptionID: cmd.Int64("subscription"), Limit: cmd.Int("limit")})
					if err != nil {
						return err
					}
					return printPage(f, p, "ID\tCREATED\tPROVIDER\tAMOUNT\tPHONE\tRECEIPT\tSTATUS\tSUBSCRIPTION\tREASON", "payments", func(py controlplane.Payment) []string {
						return []string{strconv.FormatInt(py.ID, 10), when(&py.CreatedAt), py.Provider, py.Amount.String(), dash(py.Phone), dash(py.Receipt),
							string(py.Status), idOrDash(py.SubscriptionID), dash(py.Reason)}
					})
				},
			},
			{
				Name:  "record",
				Usage: "record a cash or other manual payment for a subscription, or for a plan and a phone (audited)",
				Flags: fieldFlags(
					&cli.Int64Flag{Name: "subscription", Usage: "the subscription paid for"},
					&cli.Int64Flag{Name: "plan", Usage: "or: the plan bought, with --phone"},
					&cli.StringFlag{Name: "phone", Usage: "the customer's phone, with --plan"},
					&cli.StringFlag{Name: "name", Usage: "the customer's name, for a new customer"},
					&cli.StringFlag{Name: "amount", Usage: "in shillings, e.g. 50 or 50.00", Required: true},
					&cli.StringFlag{Name: "reference", Usage: "the receipt (cash book number, bank reference); unique per tenant (default: made up)"},
					&cli.StringFlag{Name: "note"},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					req := controlplane.ManualPaymentRequest{SubscriptionID: cmd.Int64("subscription"), PlanID: cmd.Int64("plan"),
						Phone: cmd.String("phone"), Name: cmd.String("name"), Reference: cmd.String("reference"), Note: cmd.String("note")}
					switch {
					case req.SubscriptionID != 0 && (req.PlanID != 0 || req.Phone != ""):
						return errors.New("--subscription excludes --plan and --phone")
					case req.SubscriptionID == 0 && (req.PlanID == 0 || req.Phone == ""):
						return errors.New("name the --subscription, or the --plan and the customer's --phone")
					}
					amount, err := shillings(cmd, "amount")
					if err != nil {
						return err
					}
					req.Amount = amount
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					py, err := f.c.RecordPayment(ctx, req)
					if err != nil {
						return err
					}
					if f.json {
						return f.out.printJSON(py)
					}
					_, err = fmt.Fprintf(f.out, "payment %d: %s %s, receipt %s, subscription %s\n", py.ID, py.Amount, py.Status, dash(py.Receipt), idOrDash(py.SubscriptionID))
					return err
				},
			},
		},
	}
}
