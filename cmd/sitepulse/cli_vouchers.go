package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/controlplane"
)

// vouchersCommand generates, lists, prints and revokes prepaid vouchers.
func vouchersCommand() *cli.Command {
	return &cli.Command{
		Name:     "vouchers",
		Category: fieldCategory,
		Usage:    "prepaid voucher codes for hotspot plans, redeemed on use",
		Commands: []*cli.Command{
			{
				Name:  "generate",
				Usage: "generate a batch of vouchers for a hotspot plan (tenant admins), optionally saving the printable PDF",
				Flags: fieldFlags(
					&cli.Int64Flag{Name: "plan", Usage: "the hotspot plan the vouchers give", Required: true},
					&cli.IntFlag{Name: "count", Usage: "how many, 1 to 5000", Required: true},
					&cli.IntFlag{Name: "length", Usage: "random characters per code, 6 to 16 (default 8)"},
					&cli.StringFlag{Name: "prefix", Usage: "letters and digits before every code, e.g. KW"},
					&cli.StringFlag{Name: "price", Usage: "in shillings (default: the plan's price)"},
					&cli.IntFlag{Name: "valid-days", Usage: "days unused vouchers stay redeemable (0: no expiry)"},
					&cli.StringFlag{Name: "note"},
					&cli.StringFlag{Name: "pdf", Usage: "also save the A4 sheets to print to this file"},
					&cli.Int64Flag{Name: "tenant", Usage: "the tenant (system admins)"},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					req := controlplane.VoucherBatchRequest{TenantID: cmd.Int64("tenant"), PlanID: cmd.Int64("plan"), Count: cmd.Int("count"),
						Length: cmd.Int("length"), Prefix: cmd.String("prefix"), ValidDays: cmd.Int("valid-days"), Note: cmd.String("note")}
					if cmd.String("price") != "" {
						price, err := shillings(cmd, "price")
						if err != nil {
							return err
						}
						req.Price = &price
					}
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					b, err := f.c.GenerateVouchers(ctx, req)
					if err != nil {
						return err
					}
					if file := cmd.String("pdf"); file != "" {
						if err := savePDF(ctx, f, b.ID, file); err != nil {
							return fmt.Errorf("batch %d generated; %w", b.ID, err)
						}
					}
					if f.json {
						return f.out.printJSON(b)
					}
					_, err = fmt.Fprintf(f.out, "batch %d: %d vouchers of %s at %s, %s\n", b.ID, b.Count, b.PlanName, b.Price, expiry(b.ExpiresAt))
					if err == nil && cmd.String("pdf") != "" {
						_, err = fmt.Fprintf(f.out, "printable sheets in %s\n", cmd.String("pdf"))
					}
					return err
				},
			},
			{
				Name:  "list",
				Usage: "list vouchers with their codes and states",
				Flags: fieldFlags(
					&cli.Int64Flag{Name: "batch", Usage: "only this batch"},
					&cli.Int64Flag{Name: "plan", Usage: "only this plan"},
					&cli.StringFlag{Name: "status", Usage: "unused, active, used, expired or revoked"},
					&cli.StringFlag{Name: "code", Usage: "the voucher with this code (as printed)"},
					&cli.Int64Flag{Name: "tenant", Usage: "the tenant (system admins)"},
					&cli.IntFlag{Name: "limit", Value: 100},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					p, err := f.c.Vouchers(ctx, cmd.Int64("tenant"), controlplane.VoucherFilter{BatchID: cmd.Int64("batch"), PlanID: cmd.Int64("plan"),
						Status: controlplane.VoucherStatus(cmd.String("status")), Code: cmd.String("code"), Limit: cmd.Int("limit")})
					if err != nil {
						return err
					}
					return printPage(f, p, "ID\tCODE\tBATCH\tPLAN\tPRICE\tSTATUS\tUSE BY\tREDEEMED\tENDS\tDEVICE", "vouchers", func(v controlplane.Voucher) []string {
						return []string{strconv.FormatInt(v.ID, 10), v.Code, strconv.FormatInt(v.BatchID, 10), v.PlanName, v.Price.String(), string(v.Status),
							when(v.ExpiresAt), when(v.RedeemedAt), when(v.EndsAt), dash(v.RedeemedBy)}
					})
				},
			},
			{
				Name:  "batches",
				Usage: "list voucher batches with how many are unused, active, used, expired and revoked",
				Flags: fieldFlags(
					&cli.Int64Flag{Name: "tenant", Usage: "the tenant (system admins)"},
					&cli.IntFlag{Name: "limit", Value: 100},
				),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					p, err := f.c.VoucherBatches(ctx, cmd.Int64("tenant"), cmd.Int("limit"), 0)
					if err != nil {
						return err
					}
					return printPage(f, p, "ID\tCREATED\tPLAN\tPRICE\tCOUNT\tUNUSED\tACTIVE\tUSED\tEXPIRED\tREVOKED\tUSE BY", "batches", func(b controlplane.VoucherBatch) []string {
						return []string{strconv.FormatInt(b.ID, 10), when(&b.CreatedAt), b.PlanName, b.Price.String(), strconv.Itoa(b.Count),
							strconv.Itoa(b.Unused), strconv.Itoa(b.Active), strconv.Itoa(b.Used), strconv.Itoa(b.Expired), strconv.Itoa(b.Revoked), when(b.ExpiresAt)}
					})
				},
			},
			{
				Name:      "pdf",
				Usage:     "save the printable A4 sheets of a batch's unused vouchers",
				ArgsUsage: "BATCH-ID FILE",
				Flags:     fieldFlags(),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.NArg() != 2 {
						return fmt.Errorf("usage: sitepulse vouchers pdf BATCH-ID FILE")
					}
					id, err := strconv.ParseInt(cmd.Args().Get(0), 10, 64)
					if err != nil || id <= 0 {
						return fmt.Errorf("batch id %q: want a positive integer", cmd.Args().Get(0))
					}
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					if err := savePDF(ctx, f, id, cmd.Args().Get(1)); err != nil {
						return err
					}
					_, err = fmt.Fprintf(f.errOut, "printable sheets in %s\n", cmd.Args().Get(1))
					return err
				},
			},
			{
				Name:      "revoke",
				Usage:     "revoke an unused or active voucher (tenant admins); an active one's device is cut off",
				ArgsUsage: "VOUCHER-ID",
				Flags:     fieldFlags(),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					id, err := strconv.ParseInt(cmd.Args().First(), 10, 64)
					if err != nil || id <= 0 {
						return fmt.Errorf("voucher id %q: want a positive integer", cmd.Args().First())
					}
					f, err := newField(cmd)
					if err != nil {
						return err
					}
					v, err := f.c.RevokeVoucher(ctx, id)
					if err != nil {
						return err
					}
					if f.json {
						return f.out.printJSON(v)
					}
					_, err = fmt.Fprintf(f.out, "voucher %d (%s): %s\n", v.ID, v.Code, v.Status)
					return err
				},
			},
		},
	}
}

// savePDF downloads batch id's sheets into file.
func savePDF(ctx context.Context, f *field, id int64, file string) error {
	pdf, err := f.c.VoucherBatchPDF(ctx, id)
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
		return fmt.Errorf("save the PDF: %w", err)
	}
	return nil
}

// expiry says until when unused vouchers can be redeemed.
func expiry(t *time.Time) string {
	if t == nil {
		return "no expiry"
	}
	return "use by " + when(t)
}
