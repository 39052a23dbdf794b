package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// serve --help groups its flags under headings as sitepulse-agent's and
// sitepulse-sim's help do (urfave/cli categories): every flag sits under
// its heading, with its double-dash name and its [$SITEPULSE_…] variable.
func TestServeHelpIsGroupedLikeURFaveCLI(t *testing.T) {
	var out, errw bytes.Buffer
	if err := newCLI(&out, &errw).Run(context.Background(), []string{"sitepulse", "serve", "--help"}); err != nil {
		t.Fatalf("serve --help: %v\n%s", err, errw.String())
	}
	help := out.String()
	last := -1
	for _, heading := range []string{"USAGE:\n   sitepulse serve [options]\n", "OPTIONS:\n", "   --help, -h",
		"   Database\n\n", "   First start\n\n", "   HTTP\n\n", "   Jobs\n\n", "   MQTT\n\n", "   Realtime\n\n",
		"GLOBAL OPTIONS:\n"} {
		i := strings.Index(help, heading)
		if i < last {
			t.Errorf("help lacks %q after the previous heading:\n%s", heading, help)
		}
		last = i
	}

	// section maps each flag line to the heading above it.
	section := map[string]string{}
	heading := ""
	// A repeatable flag shows as "--name string [ --name string ]".
	flagLine := regexp.MustCompile(`^   --([a-z-]+)( [a-z]+)?( \[ --[a-z-]+ [a-z]+ \])?  .*\[\$(SITEPULSE_[A-Z_]+)\]$`)
	for _, line := range strings.Split(help, "\n") {
		if h, ok := strings.CutPrefix(line, "   "); ok && h != "" && !strings.HasPrefix(h, "-") && !strings.HasPrefix(h, " ") {
			heading = h
		}
		if line == "GLOBAL OPTIONS:" {
			heading = "GLOBAL OPTIONS"
		}
		if m := flagLine.FindStringSubmatch(line); m != nil {
			if want := "SITEPULSE_" + strings.ToUpper(strings.ReplaceAll(m[1], "-", "_")); m[4] != want {
				t.Errorf("--%s names $%s, want $%s", m[1], m[4], want)
			}
			section[m[1]] = heading
		}
	}
	for name, want := range map[string]string{
		"data-dir": "Database", "database-url": "Database",
		"admin-email": "First start", "admin-password": "First start",
		"http-addr": "HTTP", "shutdown-timeout": "HTTP",
		"command-ttl": "Jobs", "job-workers": "Jobs", "stale-after": "Jobs",
		"mqtt-addr": "MQTT", "mqtt-url": "MQTT", "mqtt-tls-cert": "MQTT", "public-mqtt-url": "MQTT",
		"pusher-key": "Realtime", "pusher-secret-file": "Realtime", "pusher-client-events": "Realtime",
		"pusher-webhook-url": "Realtime", "pusher-webhook-events": "Realtime",
		"log-level": "GLOBAL OPTIONS", "log-format": "GLOBAL OPTIONS",
	} {
		if got := section[name]; got != want {
			t.Errorf("--%s is under %q, want %q (or its line lacks [$SITEPULSE_…]):\n%s", name, got, want, help)
		}
	}
	for _, cmd := range newCLI(&out, &errw).Commands {
		if cmd.Name != "serve" {
			continue
		}
		for _, f := range cmd.Flags {
			if name := f.Names()[0]; section[name] == "" || section[name] == "GLOBAL OPTIONS" {
				t.Errorf("--%s is under no heading", name)
			}
		}
	}
}
