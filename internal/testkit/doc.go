// Package testkit is the one set of test helpers the whole module shares:
// a fake clock, Eventually for conditions instead of fixed sleeps, a log
// buffer that tests search for leaks, and a runner that runs a case once per
// database dialect. Test code imports it; production code never does
// (internal/archtest enforces it).
package testkit
