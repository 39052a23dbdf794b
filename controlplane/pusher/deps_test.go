package pusher

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// The Pusher server knows nothing of SitePulse's domain: of controlplane it
// uses only the error vocabulary (codes, Error, HTTPStatus), so that the
// channel policy and payloads stay in controlplane/fanout.
func TestUsesOnlyTheControlPlaneErrorVocabulary(t *testing.T) {
	allowed := map[string]bool{"Errorf": true, "ErrorCode": true, "ErrorMessage": true, "HTTPStatus": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(p, "github.com/sitepulse/sitepulse/") && p != "github.com/sitepulse/sitepulse/controlplane" {
				t.Errorf("%s imports %s", name, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "controlplane" {
				if n := sel.Sel.Name; !allowed[n] && !strings.HasPrefix(n, "E") {
					t.Errorf("%s: uses controlplane.%s, not part of the error vocabulary", fset.Position(sel.Pos()), n)
				}
			}
			return true
		})
	}
}
