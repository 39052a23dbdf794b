//go:build race

package e2e

// raceEnabled: the binaries under test are built with -race as well, so
// they share the build cache with `go test -race ./...` and get its checks.
const raceEnabled = true
