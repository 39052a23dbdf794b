package store

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/protocol"
)

// SecretPrefix starts every agent secret, so that leaked secrets are easy
// to recognize and to tell from API tokens.
const SecretPrefix = "sps_"

const routerColumns = `id, tenant_id, name, site, status, router_connected, identity, routeros_version,
	agent_version, board, last_seq, last_seen_at, resources, created_at, epoch,
	auth_mode, radius_version, radius_agent_version, radius_agent_count, radius_agent_at`

func scanRouter(sc interface{ Scan(...any) error }) (controlplane.Router, error) {
	var r controlplane.Router
	var lastSeq int64
	var seen sql.NullTime
	var res sql.NullString
	var head, agent, count int64
	var agentAt sql.NullTime
	err := sc.Scan(&r.ID, &r.TenantID, &r.Name, &r.Site, &r.Status, &r.RouterConnected, &r.Identity, &r.RouterOSVersion,
		&r.AgentVersion, &r.Board, &lastSeq, &seen, &res, &r.CreatedAt, &r.Epoch,
		&r.AuthMode, &head, &agent, &count, &agentAt)
	if err != nil {
		return controlplane.Router{}, err
	}
	radiusStatus(&r, head, agent, count, agentAt)
	r.LastSeq, r.LastSeenAt, r.CreatedAt = uint64(lastSeq), timePtr(seen), r.CreatedAt.UTC()
	if res.Valid && res.String != "" {
		r.Resources = new(protocol.Resources)
		if err := json.Unmarshal([]byte(res.String), r.Resources); err != nil {
			return controlplane.Router{}, fmt.Errorf("router %s resources: %w", r.ID, err)
		}
	}
	return r, nil
}

// resourcesJSON returns r as a query argument: JSON text, or NULL for nil.
func resourcesJSON(r *protocol.Resources) (any, error) {
	if r == nil {
		return nil, nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// newRouterID returns "r" and 12 random lowercase hex digits.
func newRouterID() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random router id: %w", err)
	}
	return "r" + hex.EncodeToString(b), nil
}

// getRouter returns router id if it lies within scope; lock takes the row
// lock on PostgreSQL for a read-modify-write.
func getRouter(ctx context.Context, tx *dbtx, scope int64, id string, lock bool) (controlplane.Router, error) {
	var w where
	w.add("id = ?", id)
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	q := `SELECT ` + routerColumns + ` FROM routers` + w.sql()
	if lock {
		q += tx.forUpdate()
	}
	r, err := scanRouter(tx.queryRow(ctx, q, w.args...))
	if errors.Is(err, sql.ErrNoRows) {
		return controlplane.Router{}, notFound("router", id)
	}
	return r, err
}

func validateRouterText(name, site string) error {
	if strings.TrimSpace(name) == "" || len(name) > protocol.MaxFieldLen {
		return controlplane.Errorf(controlplane.EINVALID, "router name must be 1 to %d bytes", protocol.MaxFieldLen)
	}
	if len(site) > protocol.MaxFieldLen {
		return controlplane.Errorf(controlplane.EINVALID, "site longer than %d bytes", protocol.MaxFieldLen)
	}
	return nil
}

// CreateRouter enrolls a router of tenantID in status pending. It returns
// the agent secret, which is stored only as a hash and cannot be shown
// again. ENOTFOUND if the tenant does not exist.
func (s *Store) CreateRouter(ctx context.Context, tenantID int64, name, site string) (controlplane.Router, string, error) {
	return s.CreateRouterMode(ctx, tenantID, name, site, protocol.AuthLocal)
}

// CreateRouterMode is CreateRouter with the router's authentication mode
// (protocol.AuthLocal or protocol.AuthRadius; EINVALID otherwise).
func (s *Store) CreateRouterMode(ctx context.Context, tenantID int64, name, site, mode string) (controlplane.Router, string, error) {
	name, site = strings.TrimSpace(name), strings.TrimSpace(site)
	if err := validateRouterText(name, site); err != nil {
		return controlplane.Router{}, "", err
	}
	if mode == "" {
		mode = protocol.AuthLocal
	}
	if err := validAuthMode(mode); err != nil {
		return controlplane.Router{}, "", err
	}
	secret, err := newSecret(SecretPrefix)
	if err != nil {
		return controlplane.Router{}, "", err
	}
	// 48 random bits make a collision unlikely, not impossible: retry.
	for attempt := 0; ; attempt++ {
		id, err := newRouterID()
		if err != nil {
			return controlplane.Router{}, "", err
		}
		r, err := write(ctx, s, func(tx *dbtx) (controlplane.Router, error) {
			return scanRouter(tx.queryRow(ctx, `INSERT INTO routers (id, tenant_id, name, site, secret_hash, status, created_at, auth_mode)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+routerColumns,
				id, tenantID, name, site, secretHash(secret), controlplane.RouterPending, tx.now, mode))
		})
		switch {
		case isUniqueViolation(err) && attempt < 3:
			continue
		case isForeignKeyViolation(err):
			return controlplane.Router{}, "", notFound("tenant", tenantID)
		case err != nil:
			return controlplane.Router{}, "", fmt.Errorf("create router: %w", err)
		}
		return r, secret, nil
	}
}

// GetRouter returns router id. ENOTFOUND if unknown or outside scope.
func (s *Store) GetRouter(ctx context.Context, scope int64, id string) (controlplane.Router, error) {
	r, err := read(ctx, s, func(tx *dbtx) (controlplane.Router, error) { return getRouter(ctx, tx, scope, id, false) })
	if err != nil {
		return controlplane.Router{}, fmt.Errorf("get router %s: %w", id, err)
	}
	return r, nil
}

// ListRouters returns the routers within scope, by tenant and name.
func (s *Store) ListRouters(ctx context.Context, scope int64) ([]controlplane.Router, error) {
	var w where
	if scope != 0 {
		w.add("tenant_id = ?", scope)
	}
	rs, err := read(ctx, s, func(tx *dbtx) ([]controlplane.Router, error) {
		return queryAll(ctx, tx, scanRouter, `SELECT `+routerColumns+` FROM routers`+w.sql()+` ORDER BY tenant_id, name, id`, w.args...)
	})
	if err != nil {
		return nil, fmt.Errorf("list routers: %w", err)
	}
	return rs, nil
}

// RotateRouterSecret replaces a router's agent secret and returns the new
// one; the old one stops working at once (connected agents keep their
// session until they reconnect). ENOTFOUND if unknown or outside scope,
// ECONFLICT if the router is revoked: revocation is final.
func (s *Store) RotateRouterSecret(ctx context.Context, scope int64, id string) (string, error) {
	secret, err := newSecret(SecretPrefix)
	if err != nil {
		return "", err
	}
	_, err = write(ctx, s, func(tx *dbtx) (struct{}, error) {
		r, err := getRouter(ctx, tx, scope, id, true)
		if err != nil {
			return struct{}{}, err
		}
		if r.Status == controlplane.RouterRevoked {
			return struct{}{}, controlplane.Errorf(controlplane.ECONFLICT, "router %s is revoked", id)
		}
		_, err = tx.exec(ctx, `UPDATE routers SET secret_hash = $1 WHERE id = $2`, secretHash(secret), id)
		return struct{}{}, err
	})
	if err != nil {
		return "", fmt.Errorf("rotate secret of router %s: %w", id, err)
	}
	return secret, nil
}

// RevokeRouter revokes a router's credential for good: status revoked,
// secret cleared, events and status refused from then on. Revoking again is
// a no-op. ENOTFOUND if unknown or outside scope.
func (s *Store) RevokeRouter(ctx context.Context, scope int64, id string) (controlplane.Router, error) {
	r, err := write(ctx, s, func(tx *dbtx) (controlplane.Router, error) {
		if _, err := getRouter(ctx, tx, scope, id, true); err != nil {
			return controlplane.Router{}, err
		}
		return scanRouter(tx.queryRow(ctx, `UPDATE routers SET status = $1, secret_hash = '', router_connected = $2
			WHERE id = $3 RETURNING `+routerColumns, controlplane.RouterRevoked, false, id))
	})
	if err != nil {
		return controlplane.Router{}, fmt.Errorf("revoke router %s: %w", id, err)
	}
	return r, nil
}

// VerifyRouterSecret returns router id if secret is its current agent
// secret. EUNAUTHORIZED if the router is unknown or revoked or the secret
// does not match; the digests are compared in constant time.
func (s *Store) VerifyRouterSecret(ctx context.Context, id, secret string) (controlplane.Router, error) {
	type row struct {
		r    controlplane.Router
		hash string
	}
	got, err := read(ctx, s, func(tx *dbtx) (row, error) {
		var h string
		if err := tx.queryRow(ctx, `SELECT secret_hash FROM routers WHERE id = $1`, id).Scan(&h); err != nil {
			return row{}, err
		}
		r, err := getRouter(ctx, tx, 0, id, false)
		return row{r, h}, err
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return controlplane.Router{}, fmt.Errorf("verify router %s: %w", id, err)
	}
	want := got.hash
	if want == "" {
		// Unknown or revoked: compare anyway, against a digest nothing
		// hashes to, so that the answer takes as long.
		want = strings.Repeat("0", 64)
	}
	match := subtle.ConstantTimeCompare([]byte(secretHash(secret)), []byte(want)) == 1
	if !match || got.hash == "" || got.r.Status == controlplane.RouterRevoked {
		return controlplane.Router{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "bad router credentials")
	}
	return got.r, nil
}

// SetRouterStatus applies an agent's status message: state, router
// connection, agent version, and identity, board, RouterOS version and
// resources when present. A message older than the last applied one (by
// st.TS) is ignored, since retained and redelivered messages arrive out of
// order. changed reports whether anything a dashboard shows differs.
// EINVALID for an invalid message, ENOTFOUND for an unknown router,
// EUNAUTHORIZED for a revoked one.
func (s *Store) SetRouterStatus(ctx context.Context, st *protocol.Status) (controlplane.Router, bool, error) {
	if err := st.Validate(); err != nil {
		return controlplane.Router{}, false, controlplane.Errorf(controlplane.EINVALID, "status: %v", err)
	}
	type result struct {
		r       controlplane.Router
		changed bool
	}
	res, err := write(ctx, s, func(tx *dbtx) (result, error) {
		cur, err := getRouter(ctx, tx, 0, st.Router, true)
		if err != nil {
			return result{}, err
		}
		if cur.Status == controlplane.RouterRevoked {
			return result{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "router %s is revoked", st.Router)
		}
		var last sql.NullTime
		if err := tx.queryRow(ctx, `SELECT last_status_at FROM routers WHERE id = $1`, st.Router).Scan(&last); err != nil {
			return result{}, err
		}
		ts := dbTime(st.TS)
		if last.Valid && ts.Before(last.Time) {
			return result{cur, false}, nil
		}
		next := cur
		next.Status = controlplane.RouterOffline
		if st.State == protocol.StateOnline {
			next.Status = controlplane.RouterOnline
		}
		next.RouterConnected = st.RouterConnected
		if st.AgentVersion != "" {
			next.AgentVersion = st.AgentVersion
		}
		if st.Resources != nil {
			applyResources(&next, st.Resources)
		}
		now := tx.now
		next.LastSeenAt = &now
		resJSON, err := resourcesJSON(next.Resources)
		if err != nil {
			return result{}, err
		}
		_, err = tx.exec(ctx, `UPDATE routers SET status = $1, router_connected = $2, agent_version = $3, identity = $4,
			routeros_version = $5, board = $6, resources = $7, last_status_at = $8, last_seen_at = $9 WHERE id = $10`,
			next.Status, next.RouterConnected, next.AgentVersion, next.Identity, next.RouterOSVersion, next.Board,
			resJSON, ts, now, next.ID)
		if err != nil {
			return result{}, err
		}
		changed := next.Status != cur.Status || next.RouterConnected != cur.RouterConnected ||
			next.AgentVersion != cur.AgentVersion || next.Identity != cur.Identity ||
			next.RouterOSVersion != cur.RouterOSVersion || next.Board != cur.Board ||
			!reflect.DeepEqual(next.Resources, cur.Resources)
		return result{next, changed}, nil
	})
	if err != nil {
		return controlplane.Router{}, false, fmt.Errorf("set status of router %s: %w", st.Router, err)
	}
	return res.r, res.changed, nil
}

// applyResources copies a resources reading onto r, including the
// identity fields it carries when they are known.
func applyResources(r *controlplane.Router, res *protocol.Resources) {
	c := *res
	r.Resources = &c
	if res.Identity != "" {
		r.Identity = res.Identity
	}
	if res.Version != "" {
		r.RouterOSVersion = res.Version
	}
	if res.Board != "" {
		r.Board = res.Board
	}
}
