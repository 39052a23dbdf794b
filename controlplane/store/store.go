package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Dialect names returned by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// SQLiteFile is the database file name under Options.DataDir.
const SQLiteFile = "sitepulse.db"

// DefaultPasswordIterations is the PBKDF2-SHA256 work factor used when
// Options.PasswordIterations is 0 (OWASP's 2023 recommendation).
const DefaultPasswordIterations = 600_000

// Options configure Open.
type Options struct {
	// DataDir holds the SQLite file (SQLiteFile) when DatabaseURL is empty.
	// It is created if missing. Empty means the current directory.
	DataDir string
	// DatabaseURL selects PostgreSQL (postgres:// or postgresql://) via pgx.
	// Empty means SQLite under DataDir.
	DatabaseURL string
	// Logger receives migration and maintenance messages; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests inject it to expire tokens
	// and stamp rows without sleeping.
	Now func() time.Time
	// PasswordIterations is the PBKDF2 iteration count for new password
	// hashes; 0 means DefaultPasswordIterations. Existing hashes keep the
	// count they were made with.
	PasswordIterations int
	// SQLiteReaders is the size of SQLite's read-only connection pool;
	// 0 means DefaultSQLiteReaders. PostgreSQL reads use the one pool.
	SQLiteReaders int
}

// DefaultSQLiteReaders is the read pool size when Options.SQLiteReaders is
// 0: reads are short, and a few connections keep dashboards and scrapes
// from queueing behind one another.
const DefaultSQLiteReaders = 4

// Store is the control plane's database. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	// rdb serves the reads that run outside a transaction (read). On
	// SQLite it is a pool of query_only connections beside db's single
	// writer connection: WAL lets them read the last committed state
	// while a write transaction holds the writer, so GETs, metrics and
	// dashboards never queue behind ApplyBatch. On PostgreSQL it is db.
	rdb        *sql.DB
	pool       *pgxpool.Pool // nil on SQLite
	dialect    string
	log        *slog.Logger
	now        func() time.Time
	iterations int
	// dummyHash is checked when a login names no user, so that an unknown
	// email costs as much time as a wrong password.
	dummyHash string
}

// Open connects to the database chosen by o and applies pending
// migrations.
func Open(ctx context.Context, o Options) (*Store, error) {
	s := &Store{log: o.Logger, now: o.Now, iterations: o.PasswordIterations}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.iterations <= 0 {
		s.iterations = DefaultPasswordIterations
	}
	var path string // of the SQLite file
	switch {
	case strings.HasPrefix(o.DatabaseURL, "postgres://"), strings.HasPrefix(o.DatabaseURL, "postgresql://"):
		cfg, err := pgxpool.ParseConfig(o.DatabaseURL)
		if err != nil {
			// The parse error may quote the URL, password included.
			return nil, errors.New("open store: invalid PostgreSQL URL")
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open store: postgres pool: %w", err)
		}
		s.pool = pool
		s.db = stdlib.OpenDBFromPool(pool)
		s.rdb = s.db
		s.dialect = DialectPostgres
	case o.DatabaseURL != "":
		return nil, controlplane.Errorf(controlplane.EINVALID, "database URL must start with postgres:// or postgresql://")
	default:
		dir := o.DataDir
		if dir == "" {
			dir = "."
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		path = filepath.Join(dir, SQLiteFile)
		db, err := sql.Open("sqlite", sqliteDSN(path))
		if err != nil {
			return nil, fmt.Errorf("open store: sqlite: %w", err)
		}
		// One connection: SQLite has one writer anyway, the connection
		// serializes every transaction in this process (ApplyBatch relies
		// on it), and River's SQLite driver needs exactly one.
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
		s.db = db
		s.dialect = DialectSQLite
	}
	if err := s.connect(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if s.dialect == DialectSQLite {
		// After the writer has switched the file to WAL and migrated it.
		if err := s.openReaders(ctx, path, o.SQLiteReaders); err != nil {
			s.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	h, err := hashPassword("not a password", 1)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	// Made cheaply, then given the real work factor: verifying it costs as
	// much as verifying a real hash.
	s.dummyHash = strings.Replace(h, "$1$", fmt.Sprintf("$%d$", s.iterations), 1)
	return s, nil
}

// sqliteDSN returns the modernc DSN for path. Times are written as integer
// Unix microseconds and read back as time.Time from TIMESTAMP columns, which
// keeps them ordered and exact; every transaction begins IMMEDIATE so that
// a read-then-write (ApplyBatch) never fails to upgrade its lock when
// another process holds the file.
func sqliteDSN(path string) string {
	q := url.Values{}
	// busy_timeout first: switching a new file to WAL takes a lock that
	// another process opening it at the same moment must wait for.
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	q.Set("_time_integer_format", "unix_micro")
	q.Set("_inttotime", "1")
	return "file:" + path + "?" + q.Encode()
}

// sqliteReadDSN returns the DSN of the read pool's connections: the same
// time encoding as the writer's, query_only so that a write sent there by
// mistake fails instead of taking the write lock, and deferred (plain)
// transactions, since IMMEDIATE would take it too. The file is already in
// WAL mode (it is persistent), which is what lets readers and the writer
// proceed together.
func sqliteReadDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	q.Set("_txlock", "deferred")
	q.Set("_time_integer_format", "unix_micro")
	q.Set("_inttotime", "1")
	return "file:" + path + "?" + q.Encode()
}

// openReaders opens SQLite's read pool (Store.rdb) of n connections.
func (s *Store) openReaders(ctx context.Context, path string, n int) error {
	if n <= 0 {
		n = DefaultSQLiteReaders
	}
	rdb, err := sql.Open("sqlite", sqliteReadDSN(path))
	if err != nil {
		return fmt.Errorf("sqlite readers: %w", err)
	}
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxIdleTime(0)
	rdb.SetConnMaxLifetime(0)
	if err := rdb.PingContext(ctx); err != nil {
		rdb.Close()
		return fmt.Errorf("sqlite readers: %w", err)
	}
	s.rdb = rdb
	return nil
}

// connect makes the first connection. On SQLite it retries while the file
// is busy: SQLite answers "PRAGMA journal_mode=WAL" with SQLITE_BUSY without
// consulting busy_timeout when another process is initializing the same
// new file, which happens when replicas or `sitepulse migrate` start
// together.
func (s *Store) connect(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := s.Ping(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close closes the database.
func (s *Store) Close() error {
	if s.rdb != nil && s.rdb != s.db {
		s.rdb.Close()
	}
	err := s.db.Close()
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// Dialect returns DialectSQLite or DialectPostgres.
func (s *Store) Dialect() string { return s.dialect }

// DB returns the underlying database, for River and tests. On SQLite it has
// exactly one connection, the writer: never hold a transaction on it while
// calling a Store method that writes, which would wait for that connection
// forever. (Store reads use ReadDB's pool; inside a transaction they do not
// see its uncommitted writes.)
func (s *Store) DB() *sql.DB { return s.db }

// ReadDB returns the pool for reads outside a transaction (metrics,
// dashboards): on SQLite read-only connections beside DB's single writer,
// which see committed data without waiting for a write transaction; on
// PostgreSQL the same pool as DB. Never write through it.
func (s *Store) ReadDB() *sql.DB { return s.rdb }

// PgxPool returns the pgx pool behind DB on PostgreSQL (River's riverpgxv5
// driver needs it), or nil on SQLite.
func (s *Store) PgxPool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers (readiness probe).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.dialect, err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// dbtx runs the statements of one store call: in a transaction for write,
// directly on the database for read. Functions taking a *dbtx compose into
// larger transactions.
type dbtx struct {
	q       querier
	dialect string
	now     time.Time // the call's clock reading, so one call stamps one time
	// stmts caches statements prepared in this transaction. Only SQLite
	// uses it: modernc prepares every statement anew, while pgx already
	// caches prepared statements per connection.
	stmts map[string]*sql.Stmt
}

func (t *dbtx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.q.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	t.stmts[query] = st
	return st, nil
}

// Keys of the PostgreSQL advisory locks taken by xactLock: arbitrary
// constants shared by every SitePulse replica, kept here so none collide.
const (
	lockMigrate      int64 = 7405150001
	lockRouterSweeps int64 = 7405150002
)

// xactLock serializes the callers of key across replicas until the
// transaction ends: a transaction advisory lock on PostgreSQL. SQLite needs
// none, its single writer already runs write transactions one at a time.
func (t *dbtx) xactLock(ctx context.Context, key int64) error {
	if t.dialect != DialectPostgres {
		return nil
	}
	_, err := t.exec(ctx, `SELECT pg_advisory_xact_lock($1)`, key)
	return err
}

func (t *dbtx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.stmts != nil {
		st, err := t.stmt(ctx, query)
		if err != nil {
			return nil, err
		}
		return st.ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, query, args...)
}

func (t *dbtx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if t.stmts != nil {
		st, err := t.stmt(ctx, query)
		if err != nil {
			return nil, err
		}
		return st.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, query, args...)
}

// queryRow runs a query expected to return at most one row.
func (t *dbtx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if t.stmts != nil {
		st, err := t.stmt(ctx, query)
		if err == nil {
			return st.QueryRowContext(ctx, args...)
		}
		// Fall through: the unprepared query reports the same error
		// through Row.Scan.
	}
	return t.q.QueryRowContext(ctx, query, args...)
}

// forUpdate returns the row-lock clause for SELECTs that guard a
// read-modify-write. SQLite has none: its single writer connection and
// IMMEDIATE transactions serialize writers already.
func (t *dbtx) forUpdate() string {
	if t.dialect == DialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// read runs fn outside a transaction, on the read pool: it sees what was
// committed, never waits for a write transaction, and must not write.
func read[T any](ctx context.Context, s *Store, fn func(*dbtx) (T, error)) (T, error) {
	return fn(&dbtx{q: s.rdb, dialect: s.dialect, now: dbTime(s.now())})
}

// write runs fn in a transaction and commits if it returns no error. The
// deferred rollback also ends the transaction when fn panics (the API
// recovers handler panics): otherwise it would keep SQLite's only
// connection, and with a caller context that is never cancelled every later
// store call would wait for it forever. The panic goes on after the
// rollback.
func write[T any](ctx context.Context, s *Store, fn func(*dbtx) (T, error)) (v T, err error) {
	var zero T
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return zero, fmt.Errorf("begin: %w", err)
	}
	t := &dbtx{q: tx, dialect: s.dialect, now: dbTime(s.now())}
	if s.dialect == DialectSQLite {
		t.stmts = make(map[string]*sql.Stmt)
	}
	committed := false
	defer func() {
		for _, st := range t.stmts {
			st.Close()
		}
		if !committed {
			tx.Rollback()
		}
	}()
	v, err = fn(t)
	if err != nil {
		return zero, err
	}
	committed = true // after Commit the transaction is over, whatever it returns
	if err := tx.Commit(); err != nil {
		return zero, fmt.Errorf("commit: %w", err)
	}
	return v, nil
}

// dbTime normalizes t to what both dialects store: UTC, microseconds.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTime converts an optional time for a query argument.
func nullTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return dbTime(*t)
}

// timePtr converts a scanned nullable time.
func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// nullID converts a tenant or actor id, where 0 means none, to NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// isUniqueViolation reports whether err is a unique or primary key
// violation on either dialect.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKeyViolation reports whether err is a foreign key violation on
// either dialect.
func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// notFound returns the ENOTFOUND error used for missing rows and rows of
// another tenant alike.
func notFound(what string, id any) error {
	return controlplane.Errorf(controlplane.ENOTFOUND, "%s %v not found", what, id)
}
