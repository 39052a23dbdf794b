package api

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
)

func TestAssembleOpenAPI(t *testing.T) {
	core := `{"openapi":"3.1.0","paths":{"/a":{"get":{}}},"components":{"schemas":{"A":{}}}}`
	t.Run("merges paths and schemas", func(t *testing.T) {
		b, err := assembleOpenAPI(fstest.MapFS{
			"openapi/core.json": {Data: []byte(core)},
			"openapi/more.json": {Data: []byte(`{"paths":{"/b":{"post":{}}},"components":{"schemas":{"B":{}},"parameters":{"P":{}}}}`)},
		})
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Paths      map[string]any
			Components map[string]map[string]any
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Paths) != 2 || len(doc.Components["schemas"]) != 2 || len(doc.Components["parameters"]) != 1 {
			t.Fatalf("merged %s", b)
		}
	})
	for name, part := range map[string]string{
		"duplicate path":   `{"paths":{"/a":{"post":{}}}}`,
		"duplicate schema": `{"components":{"schemas":{"A":{}}}}`,
		"header field":     `{"info":{"title":"x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := assembleOpenAPI(fstest.MapFS{
				"openapi/core.json": {Data: []byte(core)},
				"openapi/x.json":    {Data: []byte(part)},
			})
			if err == nil || !strings.Contains(err.Error(), "openapi/x.json") {
				t.Fatalf("err %v, want one naming openapi/x.json", err)
			}
		})
	}
}
