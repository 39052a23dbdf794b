package api

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sitepulse/sitepulse/controlplane"
)

func tokenInfo(t controlplane.Token) controlplane.TokenInfo {
	return controlplane.TokenInfo{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

// clientIP is the peer address of r. Forwarded headers are not trusted:
// a reverse proxy in front would make every client one bucket, which
// errs on the side of fewer login attempts.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// LoginTracker counts failed logins and locks accounts and client
// addresses out (*authtrack.Tracker). Errors are internal.
type LoginTracker interface {
	// Locked returns until when logins for email from ip are refused;
	// zero when they are not.
	Locked(ctx context.Context, email, ip string) (time.Time, error)
	// Failed counts a failed login and returns until when logins for
	// email from ip are now refused; zero when they are not.
	Failed(ctx context.Context, email, ip string) (time.Time, error)
	// Succeeded resets u's failures and records the login.
	Succeeded(ctx context.Context, u controlplane.User, ip string) error
	// FailedLogins returns each email's failed logins in the current
	// window; emails without any may be absent.
	FailedLogins(ctx context.Context, emails []string) (map[string]int, error)
}

// withFailedLogins adds the failed login counts to us when p administers
// users (tenant and system admins) and logins are tracked.
func (s *Server) withFailedLogins(ctx context.Context, p controlplane.Principal, us []controlplane.User) error {
	if s.opts.Logins == nil || (p.Role != controlplane.RoleTenantAdmin && !p.IsSystemAdmin()) || len(us) == 0 {
		return nil
	}
	emails := make([]string, len(us))
	for i, u := range us {
		emails[i] = u.Email
	}
	n, err := s.opts.Logins.FailedLogins(ctx, emails)
	if err != nil {
		return err
	}
	for i := range us {
		c := n[strings.ToLower(us[i].Email)]
		us[i].FailedLogins = &c
	}
	return nil
}

// lockedOut answers a login refused until until: 429 with Retry-After,
// the same whether the password was right, the email known, or the
// account or the address locked.
func (s *Server) lockedOut(w http.ResponseWriter, until time.Time) error {
	s.metrics.logins.WithLabelValues("locked").Inc()
	wait := int(until.Sub(s.now()).Seconds()) + 1
	if wait < 1 {
		wait = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(wait))
	return controlplane.Errorf(controlplane.ERATELIMIT, "too many failed logins; retry in %d s", wait)
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req controlplane.LoginRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.metrics.logins.WithLabelValues("invalid").Inc()
		return err
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	switch {
	case email == "":
		s.metrics.logins.WithLabelValues("invalid").Inc()
		return invalid("email", "required")
	case req.Password == "":
		s.metrics.logins.WithLabelValues("invalid").Inc()
		return invalid("password", "required")
	}
	ip := clientIP(r)
	if ok, wait := s.login.allow(ip + "|" + email); !ok {
		s.metrics.logins.WithLabelValues("rate_limited").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return controlplane.Errorf(controlplane.ERATELIMIT, "too many login attempts; retry in %d s", int(wait.Seconds())+1)
	}
	if s.opts.Logins != nil {
		// Refused before the password is checked: a locked account
		// answers the same to the right password as to a wrong one.
		until, err := s.opts.Logins.Locked(r.Context(), email, ip)
		if err != nil {
			return err
		}
		if !until.IsZero() {
			return s.lockedOut(w, until)
		}
	}
	u, err := s.store.CheckPassword(r.Context(), email, req.Password)
	if err != nil {
		if controlplane.ErrorCode(err) != controlplane.EUNAUTHORIZED {
			return err
		}
		if s.opts.Logins != nil {
			until, ferr := s.opts.Logins.Failed(r.Context(), email, ip)
			if ferr != nil {
				return ferr
			}
			if !until.IsZero() {
				return s.lockedOut(w, until)
			}
		}
		s.metrics.logins.WithLabelValues("unauthorized").Inc()
		return controlplane.Errorf(controlplane.EUNAUTHORIZED, "invalid email or password")
	}
	if s.opts.Logins != nil {
		if err := s.opts.Logins.Succeeded(r.Context(), u, ip); err != nil {
			return err
		}
	}
	plain, tok, err := s.store.CreateToken(r.Context(), u.ID, "login from "+ip, s.opts.LoginTTL)
	if err != nil {
		return err
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	if ri, ok := r.Context().Value(requestKey).(*requestInfo); ok {
		ri.userID = u.ID
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, controlplane.LoginResponse{Token: plain, ExpiresAt: tok.ExpiresAt, User: u})
	return nil
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	if err := s.revokeCurrentToken(r, p); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	u, err := s.store.GetUser(r.Context(), p.Scope(), p.UserID)
	if err != nil {
		return err
	}
	resp := controlplane.MeResponse{User: u}
	if u.TenantID != 0 {
		t, err := s.store.GetTenant(r.Context(), p.Scope(), u.TenantID)
		if err != nil {
			return err
		}
		resp.Tenant = &t
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	toks, err := s.store.ListTokens(r.Context(), p.UserID)
	if err != nil {
		return err
	}
	out := make([]controlplane.TokenInfo, 0, len(toks))
	for _, t := range toks {
		out = append(out, tokenInfo(t))
	}
	writeJSON(w, http.StatusOK, controlplane.List[controlplane.TokenInfo]{Data: out})
	return nil
}

// maxTokenTTLDays bounds API tokens to ten years: "forever" is spelled 0.
const maxTokenTTLDays = 3650

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	var req controlplane.CreateTokenRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	if err := checkName("name", req.Name, true); err != nil {
		return err
	}
	if req.TTLDays < 0 || req.TTLDays > maxTokenTTLDays {
		return invalid("ttl_days", "must be between 0 (never expires) and %d", maxTokenTTLDays)
	}
	plain, tok, err := s.store.CreateToken(r.Context(), p.UserID, req.Name, time.Duration(req.TTLDays)*24*time.Hour)
	s.audit(r, p, p.TenantID, "token.create", "token:"+strconv.FormatInt(tok.ID, 10), err, "name "+req.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/api/v1/tokens/"+strconv.FormatInt(tok.ID, 10))
	writeJSON(w, http.StatusCreated, controlplane.CreateTokenResponse{TokenInfo: tokenInfo(tok), Token: plain})
	return nil
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	id, err := pathInt(r, "id")
	if err != nil {
		return err
	}
	err = s.store.RevokeToken(r.Context(), p.UserID, id)
	s.audit(r, p, p.TenantID, "token.revoke", "token:"+strconv.FormatInt(id, 10), err, "")
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
