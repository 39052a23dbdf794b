//go:build !race

package e2e

// raceEnabled: the binaries under test are built without -race, like the
// test binary itself.
const raceEnabled = false
