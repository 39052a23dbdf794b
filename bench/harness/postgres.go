package harness

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// PGBin is where Debian's PostgreSQL 15 server binaries live.
const PGBin = "/usr/lib/postgresql/15/bin"

// Postgres is a server to create databases on: the one named by
// SITEPULSE_TEST_DATABASE_URL, or one started here (Own) in a temp dir as
// the postgres user, which can also be restarted.
type Postgres struct {
	URL  string
	Own  bool
	dir  string
	port int
}

// OpenPostgres uses SITEPULSE_TEST_DATABASE_URL when set, else starts a
// server like .ci/run does. It fails when neither is possible.
func OpenPostgres(ctx context.Context, tmp string) (*Postgres, error) {
	if u := os.Getenv("SITEPULSE_TEST_DATABASE_URL"); u != "" {
		return &Postgres{URL: u}, nil
	}
	return StartPostgres(ctx, tmp)
}

// asPostgres runs a PostgreSQL tool as the postgres user when we are root
// (the server refuses to run as root).
func asPostgres(ctx context.Context, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, name, args...)
	}
	cmd.Dir = "/"
	return cmd
}

// StartPostgres initialises and starts a throw-away server on a free
// loopback port, with durability off as in CI.
func StartPostgres(ctx context.Context, tmp string) (*Postgres, error) {
	if _, err := os.Stat(filepath.Join(PGBin, "postgres")); err != nil {
		return nil, fmt.Errorf("no PostgreSQL server binaries in %s", PGBin)
	}
	dir := filepath.Join(tmp, "pg")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "-R", "postgres:postgres", dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown %s: %w: %s", dir, err, out)
		}
		// The postgres user must be able to reach dir.
		for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
			_ = os.Chmod(d, 0o755)
		}
	}
	if out, err := asPostgres(ctx, filepath.Join(PGBin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--no-locale").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	_, p, _ := splitHostPort(addr)
	pg := &Postgres{Own: true, dir: dir, port: p}
	if err := pg.start(ctx); err != nil {
		return nil, err
	}
	pg.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p)
	return pg, nil
}

func splitHostPort(addr string) (string, int, error) {
	u, err := url.Parse("tcp://" + addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(u.Port())
	return u.Hostname(), p, err
}

func (pg *Postgres) start(ctx context.Context) error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
		pg.port, pg.dir)
	out, err := asPostgres(ctx, filepath.Join(PGBin, "pg_ctl"), "-D", filepath.Join(pg.dir, "data"),
		"-l", filepath.Join(pg.dir, "server.log"), "-w", "-t", "60", "start", "-o", opts).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %w: %s", err, out)
	}
	return nil
}

// Restart stops the server (fast mode: connections are terminated) and
// starts it again. Only for a server started here.
func (pg *Postgres) Restart(ctx context.Context) error {
	if !pg.Own {
		return fmt.Errorf("restart: PostgreSQL at %s is not ours", pg.URL)
	}
	if out, err := asPostgres(ctx, filepath.Join(PGBin, "pg_ctl"), "-D", filepath.Join(pg.dir, "data"), "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return pg.start(ctx)
}

// Close stops a server started here.
func (pg *Postgres) Close() {
	if pg == nil || !pg.Own {
		return
	}
	_ = asPostgres(context.Background(), filepath.Join(PGBin, "pg_ctl"), "-D", filepath.Join(pg.dir, "data"), "-m", "immediate", "-w", "stop").Run()
}

// NewDatabase creates database name (dropping any old one) and returns
// its URL.
func (pg *Postgres) NewDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", redact(pg.URL), err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(pg.URL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(url)"
	}
	return u.Redacted()
}
