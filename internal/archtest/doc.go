// Package archtest holds no code, only tests that keep the module's shape
// as ARCHITECTURE describes it: protocol depends on the standard library
// alone, agent and controlplane never import each other, sim stays free of
// both outside its command, and every package has a doc comment, in doc.go
// when the package has more than one file.
//
// The tests read the import graph from `go list`, so they see what the
// compiler sees, including test-only imports.
package archtest
