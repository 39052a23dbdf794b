package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/sitepulse/sitepulse/internal/logfilter"
)

// migrateRiver applies River's own migrations (its job, queue and leader
// tables) with River's migrator, after the store's. River's tables land in
// the connection's search_path schema, like the store's.
//
// On PostgreSQL, River's versions cannot share one transaction (one adds an
// enum value that a later statement uses), so River's migrator runs each in
// its own, over the database/sql driver, while a session advisory lock on
// a separate connection keeps replicas that start together from racing.
// On SQLite the whole run is one IMMEDIATE transaction, which serializes
// migrators by itself.
func (s *Store) migrateRiver(ctx context.Context) error {
	cfg := &rivermigrate.Config{Logger: s.riverLogger()}
	var err error
	switch s.dialect {
	case DialectPostgres:
		err = s.migrateRiverPostgres(ctx, cfg)
	default:
		_, err = write(ctx, s, func(tx *dbtx) (struct{}, error) {
			m, err := rivermigrate.New(riversqlite.New(s.db), cfg)
			if err != nil {
				return struct{}{}, err
			}
			// One transaction is what makes concurrent migrators safe on
			// SQLite, and River's SQLite versions have no statement that
			// needs its own (unlike PostgreSQL's enum change).
			//lint:ignore SA1019 see above
			res, err := m.MigrateTx(ctx, tx.q.(*sql.Tx), rivermigrate.DirectionUp, nil)
			s.logRiverMigrations(res)
			return struct{}{}, err
		})
	}
	if err != nil {
		return fmt.Errorf("migrate river %s: %w", s.dialect, err)
	}
	return nil
}

func (s *Store) migrateRiverPostgres(ctx context.Context, cfg *rivermigrate.Config) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// A different key from Migrate's transaction lock: that one is free
	// again by now, and this one is held across several transactions.
	const lockKey = 7405150002
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return err
	}
	defer func() {
		// Unlock even when ctx is done, or the pooled connection would
		// keep the lock.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, lockKey); err != nil {
			conn.Conn().Close(uctx)
		}
	}()
	m, err := rivermigrate.New(riverdatabasesql.New(s.db), cfg)
	if err != nil {
		return err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	s.logRiverMigrations(res)
	return err
}

func (s *Store) logRiverMigrations(res *rivermigrate.MigrateResult) {
	if res == nil {
		return
	}
	for _, v := range res.Versions {
		s.log.Info("applied river migration", "dialect", s.dialect, "version", v.Version, "name", v.Name)
	}
}

// riverLogger is River's migrator logger: the store's, at warn and above,
// since River logs every step at info.
func (s *Store) riverLogger() *slog.Logger {
	return slog.New(logfilter.MinLevel(s.log.Handler(), slog.LevelWarn))
}
