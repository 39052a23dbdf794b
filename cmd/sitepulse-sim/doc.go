// Command sitepulse-sim runs the RouterOS API simulator from package sim as
// a standalone process for demos, chaos tests and browser tests: a RouterOS
// API on --api-addr with a seeded hotspot/PPP scenario, an optional loopback
// HTTP control API on --control-addr, and signals (SIGHUP drops every API
// connection, SIGUSR1 reboots, SIGINT/SIGTERM stop).
package main
