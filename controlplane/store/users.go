package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

const userColumns = `id, tenant_id, email, name, role, disabled, created_at, last_login_at`

func scanUser(sc interface{ Scan(...any) error }) (controlplane.User, error) {
	var u controlplane.User
	var tenant sql.NullInt64
	var last sql.NullTime
	err := sc.Scan(&u.ID, &tenant, &u.Email, &u.Name, &u.Role, &u.Disabled, &u.CreatedAt, &last)
	u.TenantID, u.CreatedAt, u.LastLoginAt = tenant.Int64, u.CreatedAt.UTC(), timePtr(last)
	return u, err
}

// normalizeEmail trims and lower-cases an address; it is stored so, and
// unique in that form.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func validateUser(u controlplane.User) error {
	switch {
	case !u.Role.Valid():
		return controlplane.Errorf(controlplane.EINVALID, "role %q is unknown", u.Role)
	case u.Role == controlplane.RoleSystemAdmin && u.TenantID != 0:
		return controlplane.Errorf(controlplane.EINVALID, "a system admin belongs to no tenant")
	case u.Role != controlplane.RoleSystemAdmin && u.TenantID == 0:
		return controlplane.Errorf(controlplane.EINVALID, "role %s needs a tenant", u.Role)
	case len(u.Name) > protocol.MaxFieldLen:
		return controlplane.Errorf(controlplane.EINVALID, "name longer than %d bytes", protocol.MaxFieldLen)
	}
	return nil
}

// CreateUser adds u (ID and CreatedAt are ignored) with password. The email
// is stored trimmed and lower-cased. ECONFLICT if another user has the
// email, EINVALID for a bad email, role or tenant/role combination,
// ENOTFOUND if the tenant does not exist.
func (s *Store) CreateUser(ctx context.Context, u controlplane.User, password string) (controlplane.User, error) {
	if err := checkNewUser(&u); err != nil {
		return controlplane.User{}, err
	}
	hash, err := s.HashPassword(password)
	if err != nil {
		return controlplane.User{}, err
	}
	var created controlplane.User
	err = s.Write(ctx, func(tx *Tx) (err error) {
		created, err = tx.CreateUser(ctx, u, hash)
		return err
	})
	return created, err
}

// CreateUser adds u in tx with a password hash from Store.HashPassword,
// so that what the new user causes (a welcome email) commits with it.
// Errors as Store.CreateUser.
func (tx *Tx) CreateUser(ctx context.Context, u controlplane.User, hash string) (controlplane.User, error) {
	if err := checkNewUser(&u); err != nil {
		return controlplane.User{}, err
	}
	var created controlplane.User
	err := tx.t.savepoint(ctx, func() (err error) {
		created, err = scanUser(tx.t.queryRow(ctx, `INSERT INTO users (tenant_id, email, name, role, password_hash, disabled, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+userColumns,
			nullID(u.TenantID), u.Email, u.Name, string(u.Role), hash, u.Disabled, tx.t.now))
		return err
	})
	switch {
	case isUniqueViolation(err):
		return controlplane.User{}, controlplane.Errorf(controlplane.ECONFLICT, "a user with email %s exists", u.Email)
	case isForeignKeyViolation(err):
		return controlplane.User{}, notFound("tenant", u.TenantID)
	case err != nil:
		return controlplane.User{}, fmt.Errorf("create user: %w", err)
	}
	return created, nil
}

// checkNewUser normalizes u's email and validates u.
func checkNewUser(u *controlplane.User) error {
	u.Email = normalizeEmail(u.Email)
	if at := strings.IndexByte(u.Email, '@'); at < 1 || at == len(u.Email)-1 || len(u.Email) > 254 {
		return controlplane.Errorf(controlplane.EINVALID, "email is not an address")
	}
	return validateUser(*u)
}

// getUser returns user id if it lies within scope.
func getUser(ctx context.Context, tx *dbtx, scope, id int64) (controlplane.User, error) {
	var w where
	w.add("id = ?", id)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	u, err := scanUser(tx.queryRow(ctx, `SELECT `+userColumns+` FROM users`+w.sql(), w.args...))
	if errors.Is(err, sql.ErrNoRows) {
		return controlplane.User{}, notFound("user", id)
	}
	return u, err
}

// GetUser returns user id. ENOTFOUND if unknown or outside scope (a tenant
// scope never sees system admins).
func (s *Store) GetUser(ctx context.Context, scope, id int64) (controlplane.User, error) {
	u, err := read(ctx, s, func(tx *dbtx) (controlplane.User, error) { return getUser(ctx, tx, scope, id) })
	if err != nil {
		return controlplane.User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// ListUsers returns the users within scope by id.
func (s *Store) ListUsers(ctx context.Context, scope int64) ([]controlplane.User, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	us, err := read(ctx, s, func(tx *dbtx) ([]controlplane.User, error) {
		return queryAll(ctx, tx, scanUser, `SELECT `+userColumns+` FROM users`+w.sql()+` ORDER BY id`, w.args...)
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// UpdateUser changes the name, role and disabled flag of user u.ID; other
// fields are ignored (the tenant never changes). ENOTFOUND if unknown or
// outside scope, EINVALID for a role that does not fit the user's tenant.
func (s *Store) UpdateUser(ctx context.Context, scope int64, u controlplane.User) (controlplane.User, error) {
	updated, err := write(ctx, s, func(tx *dbtx) (controlplane.User, error) {
		cur, err := getUser(ctx, tx, scope, u.ID)
		if err != nil {
			return controlplane.User{}, err
		}
		cur.Name, cur.Role, cur.Disabled = u.Name, u.Role, u.Disabled
		if err := validateUser(cur); err != nil {
			return controlplane.User{}, err
		}
		return scanUser(tx.queryRow(ctx, `UPDATE users SET name = $1, role = $2, disabled = $3 WHERE id = $4 RETURNING `+userColumns,
			cur.Name, string(cur.Role), cur.Disabled, cur.ID))
	})
	if err != nil {
		return controlplane.User{}, fmt.Errorf("update user %d: %w", u.ID, err)
	}
	return updated, nil
}

// SetPassword replaces a user's password. ENOTFOUND if unknown, EINVALID if
// empty. Existing API tokens stay valid; revoke them separately.
func (s *Store) SetPassword(ctx context.Context, userID int64, password string) error {
	if password == "" {
		return controlplane.Errorf(controlplane.EINVALID, "password is required")
	}
	hash, err := hashPassword(password, s.iterations)
	if err != nil {
		return err
	}
	_, err = write(ctx, s, func(tx *dbtx) (struct{}, error) {
		res, err := tx.exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
		if err != nil {
			return struct{}{}, err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = notFound("user", userID)
		}
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	return nil
}

// errBadLogin is the one answer to every failed login, so that a caller
// cannot tell an unknown email from a wrong password or a disabled user.
var errBadLogin = controlplane.Errorf(controlplane.EUNAUTHORIZED, "wrong email or password")

// CheckPassword returns the user with email if password matches and the
// user is enabled; EUNAUTHORIZED otherwise. An unknown email still costs one
// hash computation, so response times do not reveal which emails exist.
func (s *Store) CheckPassword(ctx context.Context, email, password string) (controlplane.User, error) {
	type row struct {
		u    controlplane.User
		hash string
	}
	r, err := read(ctx, s, func(tx *dbtx) (row, error) {
		var r row
		var tenant sql.NullInt64
		var last sql.NullTime
		err := tx.queryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE lower(email) = $1`, normalizeEmail(email)).
			Scan(&r.u.ID, &tenant, &r.u.Email, &r.u.Name, &r.u.Role, &r.u.Disabled, &r.u.CreatedAt, &last, &r.hash)
		r.u.TenantID, r.u.CreatedAt, r.u.LastLoginAt = tenant.Int64, r.u.CreatedAt.UTC(), timePtr(last)
		return r, err
	})
	if errors.Is(err, sql.ErrNoRows) {
		checkPasswordHash(s.dummyHash, password)
		return controlplane.User{}, errBadLogin
	}
	if err != nil {
		return controlplane.User{}, fmt.Errorf("check password: %w", err)
	}
	ok, err := checkPasswordHash(r.hash, password)
	if err != nil && !errors.Is(err, errBadHash) {
		return controlplane.User{}, err
	}
	// A malformed hash (or none: a user who never set a password) fails
	// like a wrong password.
	if !ok || r.u.Disabled {
		return controlplane.User{}, errBadLogin
	}
	return r.u, nil
}

// CountUsers returns how many users exist, so that the first start can
// bootstrap a system admin.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	n, err := read(ctx, s, func(tx *dbtx) (int, error) {
		var n int
		err := tx.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
		return n, err
	})
	if err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// TokenPrefix starts every API token, so that leaked tokens are easy to
// recognize (secret scanners) and to tell from agent secrets.
const TokenPrefix = "spt_"

const tokenColumns = `id, user_id, name, created_at, expires_at, last_used_at, revoked_at`

func scanToken(sc interface{ Scan(...any) error }) (controlplane.Token, error) {
	var t controlplane.Token
	var exp, used, rev sql.NullTime
	err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.CreatedAt, &exp, &used, &rev)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = t.CreatedAt.UTC(), timePtr(exp), timePtr(used), timePtr(rev)
	return t, err
}

// CreateToken issues an API token for user userID that expires after ttl
// (0: never). It returns the plaintext, which is not stored and cannot be
// shown again. ENOTFOUND if the user does not exist.
func (s *Store) CreateToken(ctx context.Context, userID int64, name string, ttl time.Duration) (string, controlplane.Token, error) {
	if ttl < 0 {
		return "", controlplane.Token{}, controlplane.Errorf(controlplane.EINVALID, "token lifetime is negative")
	}
	if len(name) > protocol.MaxFieldLen {
		return "", controlplane.Token{}, controlplane.Errorf(controlplane.EINVALID, "token name longer than %d bytes", protocol.MaxFieldLen)
	}
	plain, err := newSecret(TokenPrefix)
	if err != nil {
		return "", controlplane.Token{}, err
	}
	tok, err := write(ctx, s, func(tx *dbtx) (controlplane.Token, error) {
		var exp *time.Time
		if ttl > 0 {
			e := tx.now.Add(ttl)
			exp = &e
		}
		return scanToken(tx.queryRow(ctx, `INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+tokenColumns, userID, name, secretHash(plain), tx.now, nullTime(exp)))
	})
	if isForeignKeyViolation(err) {
		return "", controlplane.Token{}, notFound("user", userID)
	}
	if err != nil {
		return "", controlplane.Token{}, fmt.Errorf("create token for user %d: %w", userID, err)
	}
	return plain, tok, nil
}

// Authenticate returns the principal of an API token. EUNAUTHORIZED if the
// token is unknown, revoked or expired, or its user is disabled. It records
// last_used_at at most once a minute, so busy clients do not turn every
// request into a write.
func (s *Store) Authenticate(ctx context.Context, plaintext string) (controlplane.Principal, error) {
	bad := controlplane.Errorf(controlplane.EUNAUTHORIZED, "invalid or expired token")
	if !strings.HasPrefix(plaintext, TokenPrefix) {
		return controlplane.Principal{}, bad
	}
	type row struct {
		p       controlplane.Principal
		tokenID int64
		exp     sql.NullTime
		used    sql.NullTime
		revoked bool
		off     bool
	}
	// Lookup by hash: the database compares digests of a secret, not the
	// secret, so timing reveals nothing useful.
	r, err := read(ctx, s, func(tx *dbtx) (row, error) {
		var r row
		var tenant sql.NullInt64
		var rev sql.NullTime
		err := tx.queryRow(ctx, `SELECT t.id, t.expires_at, t.last_used_at, t.revoked_at,
				u.id, u.tenant_id, u.role, u.email, u.name, u.disabled
			FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1`, secretHash(plaintext)).
			Scan(&r.tokenID, &r.exp, &r.used, &rev, &r.p.UserID, &tenant, &r.p.Role, &r.p.Email, &r.p.Name, &r.off)
		r.p.TenantID, r.revoked = tenant.Int64, rev.Valid
		return r, err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return controlplane.Principal{}, bad
	}
	if err != nil {
		return controlplane.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	now := dbTime(s.now())
	if r.revoked || r.off || (r.exp.Valid && !now.Before(r.exp.Time)) {
		return controlplane.Principal{}, bad
	}
	if !r.used.Valid || now.Sub(r.used.Time) >= time.Minute {
		_, err := write(ctx, s, func(tx *dbtx) (sql.Result, error) {
			return tx.exec(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, now, r.tokenID)
		})
		if err != nil {
			// Bookkeeping only: the token is valid, so let the request
			// through and say why the timestamp is stale.
			s.log.Warn("record token use", "token_id", r.tokenID, "err", err)
		}
	}
	return r.p, nil
}

// ListTokens returns a user's tokens by id, revoked and expired ones
// included.
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]controlplane.Token, error) {
	ts, err := read(ctx, s, func(tx *dbtx) ([]controlplane.Token, error) {
		return queryAll(ctx, tx, scanToken, `SELECT `+tokenColumns+` FROM api_tokens WHERE user_id = $1 ORDER BY id`, userID)
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens of user %d: %w", userID, err)
	}
	return ts, nil
}

// RevokeToken revokes token tokenID of user userID. Revoking a revoked
// token is a no-op that keeps the first revocation time. ENOTFOUND if the
// user has no such token.
func (s *Store) RevokeToken(ctx context.Context, userID, tokenID int64) error {
	_, err := write(ctx, s, func(tx *dbtx) (struct{}, error) {
		var id int64
		err := tx.queryRow(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1)
			WHERE id = $2 AND user_id = $3 RETURNING id`, tx.now, tokenID, userID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return struct{}{}, notFound("token", tokenID)
		}
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", tokenID, err)
	}
	return nil
}
