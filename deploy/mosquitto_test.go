package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/sitepulse/sitepulse/controlplane/cluster/clustertest"
)

// TestComposeBrokerACL runs Debian's Mosquitto with the compose
// deployment's ACL file and a password file made the way mqtt-init and
// add-agent.sh make it: an agent reaches only its own topics, the control
// plane reaches every router's, and nobody gets in without a password.
func TestComposeBrokerACL(t *testing.T) {
	passwd, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mosquitto_passwd not installed (apt-get install -y mosquitto): %v", err)
		}
		t.Skip("mosquitto_passwd not installed")
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwords")
	for i, u := range [][2]string{{"sitepulse-cp", "cp-pass"}, {"r1", "sps_one"}, {"r2", "sps_two"}} {
		args := []string{"-b", pw, u[0], u[1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(passwd, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v %s", err, out)
		}
	}
	acl, err := filepath.Abs("compose/acl")
	if err != nil {
		t.Fatal(err)
	}
	// The deployment's settings, with the listeners and paths of this test.
	conf, err := os.ReadFile("compose/mosquitto.conf")
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(conf), "\n") {
		if regexp.MustCompile(`^(allow_anonymous|per_listener_settings|max_packet_size)\b`).MatchString(l) {
			keep = append(keep, l)
		}
	}
	if len(keep) != 3 || !strings.Contains(string(conf), "acl_file /mosquitto/config/acl") {
		t.Fatalf("compose/mosquitto.conf changed shape: %q", keep)
	}
	brokerURL := clustertest.StartMosquittoConfig(t, func(port int) string {
		return strings.Join(keep, "\n") + fmt.Sprintf("\npassword_file %s\nacl_file %s\npersistence false\nlistener %d 127.0.0.1\n", pw, acl, port)
	})

	connect := func(user, pass string) (mqtt.Client, error) {
		o := mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(user).SetUsername(user).SetPassword(pass).SetAutoReconnect(false)
		c := mqtt.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(5 * time.Second) {
			return nil, fmt.Errorf("connect %s: timeout", user)
		}
		if err := tok.Error(); err != nil {
			return nil, err
		}
		t.Cleanup(func() { c.Disconnect(0) })
		return c, nil
	}
	if _, err := connect("r1", "wrong"); err == nil {
		t.Error("wrong password accepted")
	}
	if _, err := connect("", ""); err == nil {
		t.Error("anonymous client accepted")
	}
	cp, err := connect("sitepulse-cp", "cp-pass")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := connect("r1", "sps_one")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	sub := func(c mqtt.Client, filter string) {
		t.Helper()
		tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() })
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", filter, tok.Error())
		}
	}
	sub(cp, "$share/sitepulse/sp/v1/+/events")
	sub(r1, "sp/v1/r1/cmd")
	sub(r1, "sp/v1/r2/cmd") // accepted by MQTT 3.1.1, but nothing may arrive
	pub := func(c mqtt.Client, topic string) {
		t.Helper()
		if tok := c.Publish(topic, 1, false, "{}"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	pub(r1, "sp/v1/r2/events") // spoofing another router: dropped by the ACL
	pub(cp, "sp/v1/r2/cmd")    // for r2 only
	pub(r1, "sp/v1/r1/events")
	pub(cp, "sp/v1/r1/cmd")
	var seen []string
	for len(seen) < 2 {
		select {
		case topic := <-got:
			seen = append(seen, topic)
		case <-time.After(5 * time.Second):
			t.Fatalf("received %v, want r1's events and r1's command", seen)
		}
	}
	select {
	case topic := <-got:
		seen = append(seen, topic)
	case <-time.After(300 * time.Millisecond):
	}
	want := map[string]bool{"sp/v1/r1/events": true, "sp/v1/r1/cmd": true}
	for _, topic := range seen {
		if !want[topic] {
			t.Errorf("delivered %s, which the ACL should have stopped (all: %v)", topic, seen)
		}
		delete(want, topic)
	}
	if len(want) != 0 {
		t.Errorf("not delivered: %v (all: %v)", want, seen)
	}
}
