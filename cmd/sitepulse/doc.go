// Command sitepulse is the SitePulse control plane: it serves the REST
// API, the Pusher-protocol realtime hub and the embedded MQTT broker the
// agents publish to, over one store (SQLite by default, PostgreSQL with
// --database-url).
//
// Server subcommands:
//
//	sitepulse serve     run the control plane until SIGINT or SIGTERM
//	sitepulse migrate   apply database migrations and exit
//	sitepulse version   print the build version
//
// On its first start (a store without users) serve creates one system
// admin: --admin-email / SITEPULSE_ADMIN_EMAIL (default admin@localhost)
// with the password in SITEPULSE_ADMIN_PASSWORD, or a generated one
// printed once to standard output.
//
// Field-tech subcommands talk to a running control plane's REST API and
// realtime hub through package client, with the token `sitepulse login`
// keeps (cli_*.go): login, logout, routers, sessions, kick, hotspot-user,
// ppp-secret and commands.
//
// Every flag has a SITEPULSE_* environment fallback (--http-addr reads
// SITEPULSE_HTTP_ADDR, and so on). The wiring lives in Main (main.go,
// provisioning.go, cluster.go) so that end-to-end tests start exactly what
// production runs, on port 0 in a temporary directory.
package main
