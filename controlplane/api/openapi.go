package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
)

// openapiFS holds the hand-written OpenAPI 3.1 document in parts, one per
// area (core.json holds the header and the first areas; each further file
// adds its paths and component schemas), so areas change without editing
// one shared file.
//
//go:embed openapi/*.json
var openapiFS embed.FS

// OpenAPI is the assembled OpenAPI 3.1 document of this API. A test checks
// it against the registered routes and the Go types it describes.
var OpenAPI = mustAssembleOpenAPI()

func mustAssembleOpenAPI() []byte {
	b, err := assembleOpenAPI(openapiFS)
	if err != nil {
		panic(err)
	}
	return b
}

// assembleOpenAPI merges openapi/core.json with the other parts: their
// "paths" and "components" maps are added, and a name defined twice is an
// error.
func assembleOpenAPI(fsys fs.FS) ([]byte, error) {
	names, err := fs.Glob(fsys, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var doc map[string]any
	raw, err := fs.ReadFile(fsys, "openapi/core.json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("openapi/core.json: %w", err)
	}
	for _, name := range names {
		if name == "openapi/core.json" {
			continue
		}
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var part map[string]any
		if err := json.Unmarshal(raw, &part); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := mergeInto(doc, part, name, 0); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// mergeInto adds part's "paths" and "components.*" entries to doc.
func mergeInto(doc, part map[string]any, name string, depth int) error {
	for k, v := range part {
		sub, ok := v.(map[string]any)
		if !ok || (depth == 0 && k != "paths" && k != "components") {
			return fmt.Errorf("%s: only paths and components may be added, not %q", name, k)
		}
		dst, _ := doc[k].(map[string]any)
		if dst == nil {
			dst = map[string]any{}
			doc[k] = dst
		}
		if depth == 0 && k == "components" {
			if err := mergeInto(dst, sub, name, 1); err != nil {
				return err
			}
			continue
		}
		for kk, vv := range sub {
			if _, dup := dst[kk]; dup {
				return fmt.Errorf("%s: %s %q is already defined", name, k, kk)
			}
			dst[kk] = vv
		}
	}
	return nil
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(OpenAPI)))
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(OpenAPI)
	return nil
}
