// Command demo runs SitePulse end to end on one machine: the control plane
// (`sitepulse serve` on its embedded defaults: SQLite, the embedded MQTT
// broker on 127.0.0.1:1883, HTTP on 127.0.0.1:8080), three simulated
// MikroTik routers with churning hotspot and PPPoE sessions, and a real
// agent for each. `make demo` builds the dashboard and the binaries into
// bin/ and runs it.
//
// Through the REST API it creates the tenant "Demo ISP", one user per role
// and the routers "Nairobi CBD", "Mombasa Beach" and "Kisumu Market"; each
// agent gets the secret its router's creation returned. It prints the
// dashboard URL and the logins, then a status line now and then. Mombasa
// Beach drops offline and comes back (its agent is stopped for
// --outage-for every --outage-every). SIGINT or SIGTERM stops the agents,
// the simulators and the control plane with SIGTERM, in that order, waits
// for each, and exits 0.
//
// The data directory (--dir, default ./data/demo) is wiped at start, so
// every run begins with the same fresh state; the children's logs are in
// its logs/ folder. Flags fall back to SITEPULSE_DEMO_* variables
// (--http-addr reads SITEPULSE_DEMO_HTTP_ADDR). A demo is not written as
// a program in cmd/ because it is no product: a Go program rather than a
// shell script because it supervises processes, handles signals and
// speaks JSON with nothing but Go installed.
package main
