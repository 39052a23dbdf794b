package api

import (
	"net/http"

	"github.com/sitepulse/sitepulse/controlplane"
)

func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request, _ controlplane.Principal) error {
	var c controlplane.ClientConfig
	if s.opts.Pusher.Key != "" {
		pc := s.opts.Pusher
		c.Pusher = &pc
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}
