package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestComposeFile(t *testing.T) {
	var c struct {
		Services map[string]struct {
			Image       string
			Command     []string
			Environment map[string]string
			DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
			Ports       []string
			Healthcheck *struct{ Test []string }
		}
		Volumes map[string]any
	}
	readYAML(t, "compose/compose.yaml", &c)
	for _, name := range []string{"postgres", "mqtt", "sitepulse-1", "sitepulse-2"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("service %s missing", name)
		}
	}
	for _, name := range []string{"sitepulse-1", "sitepulse-2"} {
		s := c.Services[name]
		for _, env := range []string{"SITEPULSE_DATABASE_URL", "SITEPULSE_MQTT_URL", "SITEPULSE_PUSHER_SECRET", "SITEPULSE_HTTP_ADDR"} {
			if s.Environment[env] == "" {
				t.Errorf("%s: %s not set", name, env)
			}
		}
		if !strings.HasPrefix(s.Environment["SITEPULSE_DATABASE_URL"], "postgres://") {
			t.Errorf("%s: database is not PostgreSQL", name)
		}
		for _, dep := range []string{"postgres", "mqtt"} {
			if s.DependsOn[dep].Condition != "service_healthy" {
				t.Errorf("%s: does not wait for healthy %s", name, dep)
			}
		}
		if len(s.Ports) != 1 {
			t.Errorf("%s: ports %v", name, s.Ports)
		}
	}
	if c.Services["sitepulse-1"].Ports[0] == c.Services["sitepulse-2"].Ports[0] {
		t.Error("replicas publish the same host port")
	}
	for _, name := range []string{"postgres", "mqtt"} {
		if c.Services[name].Healthcheck == nil {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	if _, err := os.Stat("compose/mosquitto.conf"); err != nil {
		t.Fatal(err)
	}
	// The broker starts only after mqtt-init wrote the control plane's
	// password, and gets the ACL.
	if c.Services["mqtt"].DependsOn["mqtt-init"].Condition != "service_completed_successfully" {
		t.Error("mqtt does not wait for mqtt-init")
	}
	raw, err := os.ReadFile("compose/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "./acl:/mosquitto/config/acl:ro") {
		t.Error("the ACL is not mounted into the broker")
	}
	// Every variable compose insists on is in .env.example.
	env, err := os.ReadFile("compose/.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z_]+):\?`).FindAllStringSubmatch(string(raw), -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `=`).Match(env) {
			t.Errorf(".env.example does not set %s", m[1])
		}
	}
}

func TestKubernetesManifests(t *testing.T) {
	b, err := os.ReadFile("kubernetes/sitepulse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]map[string]any{}
	var deployments []map[string]any // the web replicas and the jobs process
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if doc == nil {
			continue
		}
		for _, f := range []string{"apiVersion", "kind", "metadata"} {
			if doc[f] == nil {
				t.Fatalf("document without %s: %v", f, doc)
			}
		}
		kinds[doc["kind"].(string)] = doc
		if doc["kind"] == "Deployment" {
			deployments = append(deployments, doc)
		}
	}
	for _, k := range []string{"Deployment", "Service", "Secret"} {
		if kinds[k] == nil {
			t.Fatalf("no %s", k)
		}
	}
	var web map[string]any
	for _, dep := range deployments {
		if dig(t, dep, "metadata")["name"] == "sitepulse" {
			web = dep
		}
		spec := dig(t, dep, "spec", "template", "spec")
		containers := spec["containers"].([]any)
		c := containers[0].(map[string]any)
		for _, probe := range []string{"readinessProbe", "livenessProbe"} {
			path := dig(t, c, probe, "httpGet")["path"]
			if path != "/readyz" && path != "/healthz" {
				t.Errorf("%s path %v", probe, path)
			}
		}
		res := dig(t, c, "resources")
		if res["requests"] == nil || res["limits"] == nil {
			t.Error("resources need requests and limits")
		}
		envFrom := c["envFrom"].([]any)
		if dig(t, envFrom[0].(map[string]any), "secretRef")["name"] != dig(t, kinds["Secret"], "metadata")["name"] {
			t.Error("the Deployment does not read the Secret")
		}
	}
	if web == nil {
		t.Fatal("no Deployment named sitepulse")
	}
	secret := dig(t, kinds["Secret"], "stringData")
	for _, k := range []string{"SITEPULSE_DATABASE_URL", "SITEPULSE_MQTT_URL", "SITEPULSE_PUSHER_SECRET"} {
		if secret[k] == nil {
			t.Errorf("Secret lacks %s", k)
		}
	}
	sel := dig(t, kinds["Service"], "spec", "selector")
	labels := dig(t, web, "spec", "template", "metadata", "labels")
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("Service selector %s=%v does not match the pods", k, v)
		}
	}
}

func TestSystemdUnits(t *testing.T) {
	units, _ := filepath.Glob("systemd/*.service")
	if len(units) != 2 {
		t.Fatalf("units: %v", units)
	}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "User=sitepulse", "KillSignal=SIGTERM", "ExecStart=/usr/local/bin/"} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("%s lacks %s", u, want)
			}
		}
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: checked the units' contents only")
		return
	}
	// verify resolves ExecStart binaries and the User; give it a root with stand-ins.
	for _, u := range units {
		out, err := exec.Command(sa, "verify", "--man=no", u).CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			// The binaries are not installed on a build machine; everything
			// else systemd reports is a real problem.
			if line == "" || strings.Contains(line, "is not executable") || strings.Contains(line, "No such file or directory") || strings.Contains(line, "Command /usr/local/bin/") {
				continue
			}
			t.Errorf("%s: %s", u, line)
		}
		_ = err
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func dig(t *testing.T, m map[string]any, path ...string) map[string]any {
	t.Helper()
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			t.Fatalf("no %s in %v", p, path)
		}
		m = next
	}
	return m
}
