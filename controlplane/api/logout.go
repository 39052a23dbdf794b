package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sitepulse/sitepulse/controlplane"
)

// PlaintextRevoker is implemented by stores that can revoke the token a
// request was authenticated with. Logout needs it: Authenticate does not
// say which token id matched, and the plaintext is stored only as a hash.
// Errors: EUNAUTHORIZED if the token is unknown.
type PlaintextRevoker interface {
	RevokeTokenPlaintext(ctx context.Context, plaintext string) error
}

// revokeCurrentToken revokes the bearer token of r.
func (s *Server) revokeCurrentToken(r *http.Request, p controlplane.Principal) error {
	rv, ok := s.store.(PlaintextRevoker)
	if !ok {
		return controlplane.Errorf(controlplane.EUNAVAILABLE,
			"logout is not supported by this store; revoke the token with DELETE /api/v1/tokens/{id}")
	}
	tok, _ := bearer(r)
	if err := rv.RevokeTokenPlaintext(r.Context(), tok); err != nil {
		return fmt.Errorf("logout user %d: %w", p.UserID, err)
	}
	return nil
}
