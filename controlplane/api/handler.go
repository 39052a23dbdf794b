package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Pagination bounds.
const (
	defaultLimit = 50
	maxLimit     = 500
	maxNameLen   = 200
)

// pageParams reads limit and offset from a query string.
func pageParams(q url.Values) (limit, offset int, err error) {
	limit, offset = defaultLimit, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, invalid("limit", "must be an integer from 1 to %d", maxLimit)
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, invalid("offset", "must be a non-negative integer")
		}
		offset = n
	}
	return limit, offset, nil
}

// listPage answers one page of a tenant-scoped list. It reads limit and
// offset, then the rest of the filter with parse, then the scope, lists
// with list and writes a Page; the first error is returned, unanswered.
func listPage[F, T any](w http.ResponseWriter, r *http.Request,
	parse func(q url.Values, limit, offset int) (F, error),
	scope func() (int64, error),
	list func(ctx context.Context, scope int64, f F) ([]T, int, error),
) error {
	q := r.URL.Query()
	limit, offset, err := pageParams(q)
	if err != nil {
		return err
	}
	f, err := parse(q, limit, offset)
	if err != nil {
		return err
	}
	sc, err := scope()
	if err != nil {
		return err
	}
	data, total, err := list(r.Context(), sc, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, controlplane.Page[T]{Data: nonNil(data), Total: total, Limit: limit, Offset: offset})
	return nil
}

// listScope is the tenant a list or figure is limited to: the caller's
// scope, narrowed by an optional tenant_id query parameter. A system admin
// may name any tenant; anyone else only their own (another id answers 404,
// as for every other resource of another tenant).
func listScope(r *http.Request, p controlplane.Principal) (int64, error) {
	v := r.URL.Query().Get("tenant_id")
	if v == "" {
		return p.Scope(), nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, invalid("tenant_id", "must be a positive integer")
	}
	if !p.IsSystemAdmin() && id != p.TenantID {
		return 0, controlplane.Errorf(controlplane.ENOTFOUND, "no tenant %d", id)
	}
	return id, nil
}

// pathInt reads a numeric path wildcard.
func pathInt(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, invalid(name, "must be a positive integer")
	}
	return n, nil
}

// checkName validates a human-readable name or label.
func checkName(field, v string, required bool) error {
	switch {
	case v == "" && required:
		return invalid(field, "required")
	case !utf8.ValidString(v):
		return invalid(field, "must be valid UTF-8")
	case utf8.RuneCountInString(v) > maxNameLen:
		return invalid(field, "must be at most %d characters", maxNameLen)
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			return invalid(field, "must not contain control characters")
		}
	}
	return nil
}

// audit records an admin change with its actor and result. It runs even
// when the change failed (result is then the error code) and outlives a
// client that hung up. The change itself has already committed, so a
// failing audit write is logged rather than failing the request.
func (s *Server) audit(r *http.Request, p controlplane.Principal, tenantID int64, action, target string, err error, detail string) {
	e := controlplane.AuditEntry{
		TenantID: tenantID,
		ActorID:  p.UserID,
		Actor:    p.Email,
		Action:   action,
		Target:   target,
		Result:   resultOf(err),
		Detail:   detail,
		At:       s.now(),
	}
	if aerr := s.store.Audit(context.WithoutCancel(r.Context()), e); aerr != nil {
		s.log.ErrorContext(r.Context(), "write audit entry",
			slog.String("request_id", requestID(r.Context())),
			slog.String("action", action),
			slog.Any("err", aerr))
	}
}

// requireManage answers 403 unless p may manage users and routers.
func requireManage(p controlplane.Principal) error {
	if !p.CanManage() {
		return forbidden("role %s may not manage users or routers", p.Role)
	}
	return nil
}
