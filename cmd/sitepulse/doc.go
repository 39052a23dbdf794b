// Command sitepulse is the SitePulse control plane: it serves the REST
// API, the Pusher-protocol realtime hub and the embedded MQTT broker the
// agents publish to, over one store (SQLite by default, PostgreSQL with
// --database-url).
//
// Subcommands:
//
//	sitepulse serve     run the control plane until SIGINT or SIGTERM
//	sitepulse migrate   apply database migrations and exit
//	sitepulse version   print the build version
//
// Every flag has a SITEPULSE_* environment fallback (--http-addr reads
// SITEPULSE_HTTP_ADDR, and so on). The wiring lives in Main so that
// end-to-end tests start exactly what production runs, on port 0 in a
// temporary directory.
package main
