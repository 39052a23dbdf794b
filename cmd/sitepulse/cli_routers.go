package main

import (
	"context"

	"github.com/urfave/cli/v3"
)

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
				rs, err := f.c.Routers(ctx)
				if err != nil {
					return err
				}
				if f.json {
					return f.out.printJSON(rs)
				}
				rows := make([][]string, 0, len(rs))
				for _, r := range rs {
					conn := "no"
					if r.RouterConnected {
						conn = "yes"
					}
					rows = append(rows, []string{r.ID, r.Name, r.Site, r.Status, conn, r.Identity, r.RouterOSVersion, ago(r.LastSeenAt)})
				}
				return f.out.table("ID\tNAME\tSITE\tSTATUS\tROUTEROS API\tIDENTITY\tVERSION\tLAST SEEN", rows)
			},
		}},
	}
}
