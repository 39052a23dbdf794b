package api

import (
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Password bounds. The upper one keeps the KDF's input sane.
const (
	minPasswordLen = 12
	maxPasswordLen = 256
)

// userTenant resolves the {id} of a /tenants/{id}/users path to a tenant
// the caller may see (404 otherwise) and then requires the manage role
// (403), in that order so that another tenant's existence never leaks.
func (s *Server) userTenant(r *http.Request, p controlplane.Principal) (int64, error) {
	tid, err := pathInt(r, "id")
	if err != nil {
		return 0, err
	}
	if _, err := s.store.GetTenant(r.Context(), p.Scope(), tid); err != nil {
		return 0, err
	}
	if err := requireManage(p); err != nil {
		return 0, err
	}
	return tid, nil
}

// userPath resolves a /tenants/{id}/users/{user_id} path as userTenant
// does and reads the user id.
func (s *Server) userPath(r *http.Request, p controlplane.Principal) (tid, uid int64, err error) {
	if tid, err = s.userTenant(r, p); err != nil {
		return 0, 0, err
	}
	uid, err = pathInt(r, "user_id")
	return tid, uid, err
}

func checkRole(p controlplane.Principal, role controlplane.Role) error {
	switch {
	case !role.Valid():
		return invalid("role", "must be one of tenant_admin, technician, viewer")
	case role == controlplane.RoleSystemAdmin && !p.IsSystemAdmin():
		return forbidden("only system admins may grant system_admin")
	case role == controlplane.RoleSystemAdmin:
		// System admins belong to no tenant; this path creates tenant users.
		return invalid("role", "system_admin users belong to no tenant; choose tenant_admin, technician or viewer")
	}
	return nil
}

func checkEmail(email string) error {
	if email == "" {
		return invalid("email", "required")
	}
	// ParseAddress also accepts "Name <a@b>"; only the bare address is wanted.
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		return invalid("email", "must be a plain address like name@example.com")
	}
	return nil
}

func checkPassword(pw string) error {
	switch {
	case pw == "":
		return invalid("password", "required")
	case len(pw) < minPasswordLen:
		return invalid("password", "must be at least %d characters", minPasswordLen)
	case len(pw) > maxPasswordLen:
		return invalid("password", "must be at most %d bytes", maxPasswordLen)
	}
	return nil
}

func userTarget(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	tid, err := s.userTenant(r, p)
	if err != nil {
		return err
	}
	us, err := s.store.ListUsers(r.Context(), tid)
	if err != nil {
		return err
	}
	if err := s.withFailedLogins(r.Context(), p, us); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, controlplane.List[controlplane.User]{Data: nonNil(us)})
	return nil
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	tid, err := s.userTenant(r, p)
	if err != nil {
		return err
	}
	var req controlplane.CreateUserRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Email = strings.ToLower(strings.TrimSpace(req.Email))
	req.Name = strings.TrimSpace(req.Name)
	for _, err := range []error{
		checkEmail(req.Email),
		checkName("name", req.Name, true),
		checkRole(p, req.Role),
		checkPassword(req.Password),
	} {
		if err != nil {
			return err
		}
	}
	u, err := s.createUser(r.Context(), p, controlplane.User{TenantID: tid, Email: req.Email, Name: req.Name, Role: req.Role}, req.Password)
	s.audit(r, p, tid, "user.create", userTarget(u.ID), err, "email "+req.Email+" role "+string(req.Role))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/tenants/"+strconv.FormatInt(tid, 10)+"/users/"+strconv.FormatInt(u.ID, 10))
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	tid, uid, err := s.userPath(r, p)
	if err != nil {
		return err
	}
	u, err := s.store.GetUser(r.Context(), tid, uid)
	if err != nil {
		return err
	}
	us := []controlplane.User{u}
	if err := s.withFailedLogins(r.Context(), p, us); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, us[0])
	return nil
}

func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request, p controlplane.Principal) error {
	tid, uid, err := s.userPath(r, p)
	if err != nil {
		return err
	}
	var req controlplane.UpdateUserRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Name == nil && req.Role == nil && req.Disabled == nil {
		return controlplane.Errorf(controlplane.EINVALID, "nothing to update: give name, role or disabled")
	}
	u, err := s.store.GetUser(r.Context(), tid, uid)
	if err != nil {
		return err
	}
	var changes []string
	if req.Name != nil {
		name := strings.TrimSpace(*req.Name)
		if err := checkName("name", name, true); err != nil {
			return err
		}
		u.Name = name
		changes = append(changes, "name")
	}
	if req.Role != nil {
		if err := checkRole(p, *req.Role); err != nil {
			return err
		}
		if u.ID == p.UserID && *req.Role != u.Role {
			return controlplane.Errorf(controlplane.ECONFLICT, "role: you cannot change your own role")
		}
		u.Role = *req.Role
		changes = append(changes, "role "+string(u.Role))
	}
	if req.Disabled != nil {
		if u.ID == p.UserID && *req.Disabled {
			return controlplane.Errorf(controlplane.ECONFLICT, "disabled: you cannot disable your own account")
		}
		u.Disabled = *req.Disabled
		changes = append(changes, "disabled "+strconv.FormatBool(u.Disabled))
	}
	u, err = s.store.UpdateUser(r.Context(), tid, u)
	s.audit(r, p, tid, "user.update", userTarget(uid), err, strings.Join(changes, ", "))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}
