package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"
)

// Role is one part of the control plane a serve process runs.
type Role string

// The roles of serve --roles.
const (
	// RoleAPI is the REST API, the dashboard and the captive portal.
	RoleAPI Role = "api"
	// RoleIngest is the MQTT broker (or the --mqtt-url cluster client) and
	// ingest.
	RoleIngest Role = "ingest"
	// RoleRealtime is the Pusher hub (WebSocket, channel auth, HTTP API)
	// and the fan-out onto it.
	RoleRealtime Role = "realtime"
	// RoleJobs is the River workers of every queue and the periodic jobs.
	RoleJobs Role = "jobs"
)

// AllRoles lists every role, the default of --roles.
var AllRoles = []Role{RoleAPI, RoleIngest, RoleRealtime, RoleJobs}

// Roles is the set of roles a process runs. The zero value means all.
type Roles []Role

// Has reports whether r includes role (every role when r is empty).
func (r Roles) Has(role Role) bool {
	return len(r) == 0 || slices.Contains(r, role)
}

// String is the comma-separated list of r's roles.
func (r Roles) String() string {
	if len(r) == 0 {
		r = AllRoles
	}
	s := make([]string, len(r))
	for i, x := range r {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}

// parseRoles reads --roles values (each may be comma-separated). Unknown and
// empty sets are errors naming the known roles.
func parseRoles(values []string) (Roles, error) {
	var out Roles
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if !slices.Contains(AllRoles, Role(p)) {
				return nil, fmt.Errorf("--roles: unknown role %q (known: %s)", p, Roles(AllRoles))
			}
			if !slices.Contains(out, Role(p)) {
				out = append(out, Role(p))
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--roles: no role given (known: %s)", Roles(AllRoles))
	}
	return out, nil
}

// checkRoles refuses the role sets this version cannot run. Two kinds of
// process exist:
//
//   - api, ingest and realtime together, with or without jobs: without
//     jobs it inserts jobs in its transactions and runs none;
//   - jobs alone (a worker node), which runs River's workers and periodic
//     jobs on the shared database. It needs the external broker
//     (externalURL, --mqtt-url): its jobs deliver router commands there
//     (a publish-only cluster client, which joins no shared ingest
//     subscription), and the changes they commit reach the dashboards
//     through the relay to the realtime nodes. The embedded broker of
//     another process cannot be reached, so without --mqtt-url it is
//     refused rather than run with commands that never leave it.
func checkRoles(r Roles, externalURL string) error {
	if r.Has(RoleAPI) && r.Has(RoleIngest) && r.Has(RoleRealtime) {
		return nil
	}
	if slices.Equal(r, Roles{RoleJobs}) {
		if externalURL == "" {
			return errors.New("--roles=jobs needs --mqtt-url (the external broker the api,ingest,realtime nodes use): a jobs node delivers router commands and relays its changes to the dashboards through it")
		}
		return nil
	}
	return fmt.Errorf("--roles=%s: not supported: api, ingest and realtime run together in one process (--roles=api,ingest,realtime, which only inserts jobs), and jobs runs with them or alone (--roles=jobs)", r)
}

// jobsOnly reports whether r is a worker node's --roles=jobs.
func (r Roles) jobsOnly() bool { return len(r) > 0 && !r.Has(RoleAPI) }

// parseQueueWorkers reads --queue-workers values such as
// "notifications=8,webhooks=4". Queue names are checked against the
// queues provisioning knows when it starts (provisioning.Options.QueueWorkers).
func parseQueueWorkers(values []string) (map[string]int, error) {
	out := map[string]int{}
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			q, n, ok := strings.Cut(p, "=")
			q = strings.TrimSpace(q)
			if !ok || q == "" {
				return nil, fmt.Errorf("--queue-workers %q: want QUEUE=N", p)
			}
			w, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil || w < 1 {
				return nil, fmt.Errorf("--queue-workers %q: want a worker count of at least 1", p)
			}
			if _, dup := out[q]; dup {
				return nil, fmt.Errorf("--queue-workers: queue %s given twice", q)
			}
			out[q] = w
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// roleFlags select what a serve process runs.
func roleFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "roles", Category: "Jobs", Value: []string{Roles(AllRoles).String()}, Usage: "parts this process runs: api, ingest, realtime, jobs (River workers); api,ingest,realtime only inserts jobs, which a process with jobs on the same database runs; jobs alone is a worker node (needs --mqtt-url)", Sources: cli.EnvVars("SITEPULSE_ROLES")},
		&cli.StringSliceFlag{Name: "queue-workers", Category: "Jobs", Usage: "per-queue worker counts overriding --job-workers, e.g. provisioning=8,payments=2", Sources: cli.EnvVars("SITEPULSE_QUEUE_WORKERS")},
	}
}

// roleOptions reads roleFlags.
func roleOptions(cmd *cli.Command) (Roles, map[string]int, error) {
	r, err := parseRoles(cmd.StringSlice("roles"))
	if err != nil {
		return nil, nil, err
	}
	q, err := parseQueueWorkers(cmd.StringSlice("queue-workers"))
	return r, q, err
}

// jobsCheck is /readyz's informational "jobs" entry: whether this process
// runs River's workers or only inserts jobs. It never makes the process
// unready.
func (m *Main) jobsCheck() string {
	if m.Config.Roles.Has(RoleJobs) {
		return "running"
	}
	return "insert-only"
}
