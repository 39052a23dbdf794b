package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds one directory of NNNN_name.sql files per dialect.
// A migration is never edited once released; changes go in a new file.
//
//go:embed migrations
var migrationFiles embed.FS

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's migrations in version order.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations %s: %w", dialect, err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_name.sql", dir, name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migration %s/%s: version %d already used by %s", dir, name, v, prev)
		}
		seen[v] = name
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migration %s/%s: %w", dir, name, err)
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Migrate applies pending migrations, each in its own transaction together
// with its schema_migrations row, so a failed migration leaves nothing
// behind. It is idempotent and safe to run from several replicas at once:
// PostgreSQL serializes migrators on an advisory lock, SQLite on its write
// lock (transactions begin IMMEDIATE).
//
// A hand-rolled migrator rather than a library: it is this page of code,
// needs no new module in go.mod (goose, for one, brings a dozen), and both
// dialects run multi-statement files as they are.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations(s.dialect)
	if err != nil {
		return err
	}
	for _, m := range ms {
		applied, err := write(ctx, s, func(tx *dbtx) (bool, error) {
			if err := tx.xactLock(ctx, lockMigrate); err != nil {
				return false, err
			}
			// Inside the lock: concurrent CREATE TABLE IF NOT EXISTS can
			// still collide on PostgreSQL.
			if _, err := tx.q.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    BIGINT PRIMARY KEY,
				name       TEXT NOT NULL,
				applied_at TIMESTAMP NOT NULL
			)`); err != nil {
				return false, err
			}
			var n int
			if err := tx.queryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return false, err
			}
			if n > 0 {
				return false, nil
			}
			// Run the file unprepared: it holds several statements.
			if _, err := tx.q.ExecContext(ctx, m.sql); err != nil {
				return false, err
			}
			_, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, tx.now)
			return err == nil, err
		})
		if err != nil {
			return fmt.Errorf("migrate %s %04d_%s: %w", s.dialect, m.version, m.name, err)
		}
		if applied {
			s.log.Info("applied migration", "dialect", s.dialect, "version", m.version, "name", m.name)
		}
	}
	// River's job tables, by River's own migrator (see migrateRiver).
	return s.migrateRiver(ctx)
}
