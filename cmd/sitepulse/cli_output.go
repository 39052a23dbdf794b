package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sitepulse/sitepulse/client"
	"github.com/sitepulse/sitepulse/controlplane"
)

// output prints the field-tech commands' answers: tables for people,
// JSON for scripts.
type output struct{ io.Writer }

func (o output) printJSON(v any) error {
	enc := json.NewEncoder(o)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (o output) table(header string, rows [][]string) error {
	tw := tabwriter.NewWriter(o, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// event prints one realtime event as a JSON line (watch --json).
func (o output) event(ev client.Frame) error {
	return json.NewEncoder(o).Encode(map[string]any{"event": ev.Event, "data": ev.Data})
}

// printPage prints one page of a list command: the page as JSON, or a
// table of row(item) under header and a "N of TOTAL noun" line.
func printPage[T any](f *field, p controlplane.Page[T], header, noun string, row func(T) []string) error {
	if f.json {
		return f.out.printJSON(p)
	}
	rows := make([][]string, 0, len(p.Data))
	for _, v := range p.Data {
		rows = append(rows, row(v))
	}
	if err := f.out.table(header, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(f.out, "%d of %d %s\n", len(p.Data), p.Total, noun)
	return err
}

func ago(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return time.Since(*t).Round(time.Second).String() + " ago"
}
