package api

import (
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

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req controlplane.LoginRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.metrics.logins.WithLabelValues("invalid").Inc()
		s.writeError(w, r, err)
		return
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	switch {
	case email == "":
		s.metrics.logins.WithLabelValues("invalid").Inc()
		s.writeError(w, r, invalid("email", "required"))
		return
	case req.Password == "":
		s.metrics.logins.WithLabelValues("invalid").Inc()
		s.writeError(w, r, invalid("password", "required"))
		return
	}
	ip := clientIP(r)
	if ok, wait := s.login.allow(ip + "|" + email); !ok {
		s.metrics.logins.WithLabelValues("rate_limited").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.writeError(w, r, controlplane.Errorf(controlplane.ERATELIMIT, "too many login attempts; retry in %d s", int(wait.Seconds())+1))
		return
	}
	u, err := s.store.CheckPassword(r.Context(), email, req.Password)
	if err != nil {
		if controlplane.ErrorCode(err) == controlplane.EUNAUTHORIZED {
			s.metrics.logins.WithLabelValues("unauthorized").Inc()
			err = controlplane.Errorf(controlplane.EUNAUTHORIZED, "invalid email or password")
		}
		s.writeError(w, r, err)
		return
	}
	plain, tok, err := s.store.CreateToken(r.Context(), u.ID, "login from "+ip, s.opts.LoginTTL)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	if ri, ok := r.Context().Value(requestKey).(*requestInfo); ok {
		ri.userID = u.ID
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, controlplane.LoginResponse{Token: plain, ExpiresAt: tok.ExpiresAt, User: u})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	if err := s.revokeCurrentToken(r, p); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	u, err := s.store.GetUser(r.Context(), p.Scope(), p.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := controlplane.MeResponse{User: u}
	if u.TenantID != 0 {
		t, err := s.store.GetTenant(r.Context(), p.Scope(), u.TenantID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		resp.Tenant = &t
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	toks, err := s.store.ListTokens(r.Context(), p.UserID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]controlplane.TokenInfo, 0, len(toks))
	for _, t := range toks {
		out = append(out, tokenInfo(t))
	}
	writeJSON(w, http.StatusOK, controlplane.List[controlplane.TokenInfo]{Data: out})
}

// maxTokenTTLDays bounds API tokens to ten years: "forever" is spelled 0.
const maxTokenTTLDays = 3650

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	var req controlplane.CreateTokenRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if err := checkName("name", req.Name, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.TTLDays < 0 || req.TTLDays > maxTokenTTLDays {
		s.writeError(w, r, invalid("ttl_days", "must be between 0 (never expires) and %d", maxTokenTTLDays))
		return
	}
	plain, tok, err := s.store.CreateToken(r.Context(), p.UserID, req.Name, time.Duration(req.TTLDays)*24*time.Hour)
	s.audit(r, p, p.TenantID, "token.create", "token:"+strconv.FormatInt(tok.ID, 10), err, "name "+req.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/api/v1/tokens/"+strconv.FormatInt(tok.ID, 10))
	writeJSON(w, http.StatusCreated, controlplane.CreateTokenResponse{TokenInfo: tokenInfo(tok), Token: plain})
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request, p controlplane.Principal) {
	id, err := pathInt(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	err = s.store.RevokeToken(r.Context(), p.UserID, id)
	s.audit(r, p, p.TenantID, "token.revoke", "token:"+strconv.FormatInt(id, 10), err, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
