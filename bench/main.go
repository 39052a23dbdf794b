package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sitepulse/sitepulse/bench/harness"
)

// Row is one figure of the report.
type Row struct {
	Section string  `json:"section"`
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	// Text replaces Value in the table (e.g. "skipped: no PostgreSQL").
	Text    string `json:"text,omitempty"`
	Command string `json:"command"`
	Note    string `json:"note,omitempty"`
}

// Report is the JSON written to bench/results.
type Report struct {
	Date        string   `json:"date"`
	Quick       bool     `json:"quick"`
	GoVersion   string   `json:"go_version"`
	CPUs        int      `json:"cpus"`
	MemTotalGiB float64  `json:"mem_total_gib"`
	LoadBefore  string   `json:"loadavg_before"`
	LoadAfter   string   `json:"loadavg_after"`
	Duration    string   `json:"duration"`
	Rows        []Row    `json:"rows"`
	Errors      []string `json:"errors,omitempty"`
}

// env is what every section gets.
type env struct {
	ctx   context.Context
	quick bool
	root  string
	tmp   string
	bins  harness.Binaries
	log   *slog.Logger
	rep   *Report
}

func (e *env) add(r Row) {
	e.rep.Rows = append(e.rep.Rows, r)
	v := r.Text
	if v == "" {
		v = fmtValue(r.Value) + " " + r.Unit
	}
	fmt.Fprintf(os.Stderr, "bench: %s / %s: %s\n", r.Section, r.Name, v)
}

func (e *env) fail(section string, err error) {
	msg := fmt.Sprintf("%s: %v", section, err)
	e.rep.Errors = append(e.rep.Errors, msg)
	fmt.Fprintln(os.Stderr, "bench: ERROR", msg)
}

func main() {
	quick := flag.Bool("quick", os.Getenv("BENCH_QUICK") != "", "small sizes for a smoke run (also BENCH_QUICK=1)")
	only := flag.String("only", "", "comma-separated sections: e2e,broker,fanout,idle,agent,outbox,polling,scale,billing,webhooks,notify,radius (default all)")
	out := flag.String("out", "", "results directory (default bench/results in the module; '-' = do not write)")
	flag.Parse()
	if err := run(*quick, *only, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(quick bool, only, out string) error {
	start := time.Now()
	ctx := context.Background()
	raiseNoFile()
	root, err := harness.ModuleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "sitepulse-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	_ = os.Chmod(tmp, 0o755)
	rep := &Report{Date: start.UTC().Format(time.RFC3339), Quick: quick, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		MemTotalGiB: memTotalGiB(), LoadBefore: loadavg()}
	fmt.Fprintf(os.Stderr, "bench: building binaries (load average %s)\n", rep.LoadBefore)
	bins, err := harness.Build(ctx, root, filepath.Join(tmp, "bin"))
	if err != nil {
		return err
	}
	e := &env{ctx: ctx, quick: quick, root: root, tmp: tmp, bins: bins, rep: rep,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	sections := []struct {
		name string
		fn   func(*env) error
	}{
		{"e2e", benchE2E}, {"broker", benchBroker}, {"fanout", benchFanout}, {"idle", benchIdle}, {"agent", benchAgent},
		{"outbox", benchOutbox}, {"polling", benchPolling}, {"scale", benchScale}, {"billing", benchBilling}, {"webhooks", benchWebhooks}, {"notify", benchNotify}, {"radius", benchRadius},
	}
	want := map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			want[s] = true
		}
	}
	for _, s := range sections {
		if len(want) > 0 && !want[s.name] {
			continue
		}
		t0 := time.Now()
		fmt.Fprintf(os.Stderr, "bench: == %s (load average %s)\n", s.name, loadavg())
		if err := s.fn(e); err != nil {
			e.fail(s.name, err)
		}
		fmt.Fprintf(os.Stderr, "bench: == %s took %v\n", s.name, time.Since(t0).Round(time.Second))
	}
	rep.LoadAfter = loadavg()
	rep.Duration = time.Since(start).Round(time.Second).String()
	printTable(os.Stdout, rep)
	if out == "-" {
		return nil
	}
	if out == "" {
		out = filepath.Join(root, "bench", "results")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	name := start.UTC().Format("2006-01-02")
	if quick {
		name += "-quick"
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(out, name+".json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s in %v\n", path, rep.Duration)
	if len(rep.Errors) > 0 {
		return fmt.Errorf("%d sections failed", len(rep.Errors))
	}
	return nil
}

func printTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "\nSitePulse benchmarks, %s, %d CPUs, %.0f GiB, %s, load average before %s, after %s, took %s%s\n\n",
		rep.Date, rep.CPUs, rep.MemTotalGiB, rep.GoVersion, rep.LoadBefore, rep.LoadAfter, rep.Duration, map[bool]string{true: " (BENCH_QUICK)"}[rep.Quick])
	fmt.Fprintln(w, "| section | measurement | result | command | note |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rep.Rows {
		v := r.Text
		if v == "" {
			v = fmtValue(r.Value) + " " + r.Unit
		}
		fmt.Fprintf(w, "| %s | %s | %s | `%s` | %s |\n", r.Section, r.Name, v, r.Command, r.Note)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "\nERROR %s\n", e)
	}
}

func fmtValue(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func memTotalGiB() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb float64
			fmt.Sscan(rest, &kb)
			return kb / (1 << 20)
		}
	}
	return 0
}

// raiseNoFile lifts the soft open-files limit to the hard one: 10k
// WebSocket clients need 10k descriptors here and 10k in the server (a
// child, which inherits the limit).
func raiseNoFile() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// percentile of sorted durations, p in [0,1].
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	if !sort.SliceIsSorted(d, func(i, j int) bool { return d[i] < d[j] }) {
		slices.Sort(d)
	}
	i := int(p * float64(len(d)-1))
	return d[i]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// pick returns full or, in quick mode, q.
func pick[T any](e *env, full, q T) T {
	if e.quick {
		return q
	}
	return full
}

// startServer starts `sitepulse serve` on SQLite (dbURL "") or the given
// PostgreSQL database with a fixture of n routers.
func startServer(e *env, name, dbURL string, n int) (*harness.Server, harness.Fixture, error) {
	dir := filepath.Join(e.tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, harness.Fixture{}, err
	}
	srv, err := harness.NewServer(e.bins.Server, dir, dbURL)
	if err != nil {
		return nil, harness.Fixture{}, err
	}
	fx, err := harness.Setup(e.ctx, srv.DataDir, dbURL, n)
	if err != nil {
		return nil, fx, err
	}
	if err := srv.Start(e.ctx); err != nil {
		return nil, fx, fmt.Errorf("%w (log %s)", err, srv.LogPath)
	}
	return srv, fx, nil
}
