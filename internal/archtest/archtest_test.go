package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// pkg is the part of `go list -json` output these tests read.
type pkg struct {
	ImportPath   string
	Dir          string
	Name         string
	Doc          string
	Standard     bool
	DepOnly      bool
	GoFiles      []string
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

type graph struct {
	module string
	pkgs   map[string]*pkg // every package in the module and its dependencies
	own    []*pkg          // the module's packages, sorted by import path
}

var (
	loadOnce sync.Once
	loaded   *graph
	loadErr  error
)

// load lists the whole module with its dependencies, once per test binary.
func load(t *testing.T) *graph {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = list() })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	for _, p := range loaded.own {
		if p.Error != nil {
			t.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
	}
	return loaded
}

// list runs go list from the module root: the test runs in its own
// package directory, where ./... would mean only this package.
func list() (*graph, error) {
	gomod, err := goCmd(".", "env", "GOMOD")
	if err != nil {
		return nil, err
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	module, err := goCmd(root, "list", "-m")
	if err != nil {
		return nil, err
	}
	out, err := goCmd(root, "list", "-e", "-deps", "-json", "./...")
	if err != nil {
		return nil, err
	}

	g := &graph{module: strings.TrimSpace(string(module)), pkgs: map[string]*pkg{}}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		g.pkgs[p.ImportPath] = p
		if !p.DepOnly && g.inModule(p.ImportPath) {
			g.own = append(g.own, p)
		}
	}
	slices.SortFunc(g.own, func(a, b *pkg) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	if len(g.own) == 0 {
		return nil, fmt.Errorf("go list found no packages in %s", g.module)
	}
	return g, nil
}

func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func (g *graph) inModule(path string) bool {
	return path == g.module || strings.HasPrefix(path, g.module+"/")
}

// rel turns an import path into a module-relative one ("agent/outbox").
func (g *graph) rel(path string) string {
	return strings.TrimPrefix(strings.TrimPrefix(path, g.module), "/")
}

// under reports whether module-relative path rel is dir or inside it.
func under(rel, dir string) bool {
	return rel == dir || strings.HasPrefix(rel, dir+"/")
}

// standard reports whether path is in the standard library. Packages that
// go list resolved say so themselves; an unresolved path (a test import of
// a package nothing else uses) counts as standard if its first element has
// no dot, as the go command itself decides.
func (g *graph) standard(path string) bool {
	if p, ok := g.pkgs[path]; ok {
		return p.Standard
	}
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// uses returns what p depends on: every transitive dependency of its
// non-test code, plus the direct imports of its tests.
func uses(p *pkg) []string {
	all := slices.Concat(p.Deps, p.TestImports, p.XTestImports)
	slices.Sort(all)
	return slices.Compact(all)
}

func TestProtocolImportsStandardLibraryOnly(t *testing.T) {
	g := load(t)
	seen := false
	for _, p := range g.own {
		if !under(g.rel(p.ImportPath), "protocol") {
			continue
		}
		seen = true
		// Direct imports suffice: the standard library imports nothing
		// else, so if these are clean the whole closure is.
		for _, d := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			if g.inModule(d) && under(g.rel(d), "protocol") {
				continue // its own packages, and protocol_test importing protocol
			}
			if !g.standard(d) {
				t.Errorf("%s imports %s: protocol may import only the standard library", g.rel(p.ImportPath), d)
			}
		}
	}
	if !seen {
		t.Fatal("no protocol package found")
	}
}

func TestAgentAndControlPlaneStayApart(t *testing.T) {
	g := load(t)
	rules := []struct{ from, forbidden string }{
		{"agent", "controlplane"},
		{"controlplane", "agent"},
	}
	for _, r := range rules {
		for _, p := range g.own {
			if !under(g.rel(p.ImportPath), r.from) {
				continue
			}
			for _, d := range uses(p) {
				if g.inModule(d) && under(g.rel(d), r.forbidden) {
					t.Errorf("%s depends on %s: %s and %s never import each other (ARCHITECTURE.md)",
						g.rel(p.ImportPath), g.rel(d), r.from, r.forbidden)
				}
			}
		}
	}
}

// The simulator is what agent and control-plane tests run against, so it
// must not depend on either (its own command, if it has one, may wire it
// to them). Its tests may: they are not part of what others import.
func TestSimulatorIndependent(t *testing.T) {
	g := load(t)
	for _, p := range g.own {
		rel := g.rel(p.ImportPath)
		if !under(rel, "sim") || under(rel, "sim/cmd") {
			continue
		}
		for _, d := range p.Deps {
			if g.inModule(d) && (under(g.rel(d), "agent") || under(g.rel(d), "controlplane")) {
				t.Errorf("%s depends on %s: sim may import only protocol outside sim/cmd", rel, g.rel(d))
			}
		}
	}
}

// STYLE.md: a package comment on every package, in one doc.go, so that a
// reader knows where to look and godoc does not glue several together. A
// package of a single file (a small command) may keep it in that file.
func TestEveryPackageHasDocComment(t *testing.T) {
	g := load(t)
	for _, p := range g.own {
		rel := g.rel(p.ImportPath)
		if len(p.GoFiles) == 0 {
			// Only test files (or none for this platform): there is no
			// package for a doc comment to describe.
			continue
		}
		if p.Doc == "" {
			t.Errorf("%s has no package doc comment; add one in doc.go", rel)
			continue
		}
		if len(p.GoFiles) == 1 {
			continue
		}
		var withDoc []string
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				continue
			}
			if f.Doc != nil {
				withDoc = append(withDoc, name)
			}
		}
		if !slices.Equal(withDoc, []string{"doc.go"}) {
			t.Errorf("%s has its package comment in %v; want it in doc.go only", rel, withDoc)
		}
	}
}
