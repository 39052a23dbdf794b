package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// OpenAPI is the hand-written OpenAPI 3.1 document of this API. A test
// checks it against the registered routes and the Go types it describes.
//
//go:embed openapi.json
var OpenAPI []byte

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(OpenAPI)))
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(OpenAPI)
	return nil
}
