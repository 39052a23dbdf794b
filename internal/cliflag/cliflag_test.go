package cliflag

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func newTestSet(w *bytes.Buffer) (*Set, *string, *time.Duration, *bool) {
	s := New("tool run", "run the tool", func(n string) string {
		if n == "secret-less" {
			return ""
		}
		return "TOOL_" + strings.ToUpper(strings.ReplaceAll(n, "-", "_"))
	}, w)
	s.Group("Network")
	addr := s.String("listen-addr", "127.0.0.1:80", "where to listen")
	every := s.Duration("every", 10*time.Second, "how often")
	s.Group("Logging")
	debug := s.Bool("debug", false, "log more")
	s.Int("secret-less", 0, "a flag without an environment variable")
	return s, addr, every, debug
}

func TestHelpShape(t *testing.T) {
	var buf bytes.Buffer
	s, _, _, _ := newTestSet(&buf)
	if err := s.Parse([]string{"--help"}, func(string) (string, bool) { return "", false }); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: got %v, want flag.ErrHelp", err)
	}
	got := buf.String()
	for _, want := range []string{
		"NAME:\n   tool run - run the tool\n",
		"USAGE:\n   tool run [options]\n",
		"OPTIONS:\n   Network\n\n",
		"   --listen-addr string  where to listen (default: \"127.0.0.1:80\") [$TOOL_LISTEN_ADDR]\n",
		"   --every duration      how often (default: 10s) [$TOOL_EVERY]\n",
		"\n   Logging\n\n   --debug               log more [$TOOL_DEBUG]\n",
		"   --secret-less int     a flag without an environment variable\n",
		"   --help, -h            show help\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("help lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "Network") > strings.Index(got, "Logging") {
		t.Errorf("groups out of order:\n%s", got)
	}
}

func TestEnvFallback(t *testing.T) {
	env := map[string]string{"TOOL_LISTEN_ADDR": "0.0.0.0:81", "TOOL_EVERY": "1s", "TOOL_DEBUG": "true", "TOOL_SECRET_LESS": "x"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var buf bytes.Buffer
	s, addr, every, debug := newTestSet(&buf)
	if err := s.Parse([]string{"-every", "2s"}, lookup); err != nil {
		t.Fatal(err)
	}
	if *addr != "0.0.0.0:81" || *every != 2*time.Second || !*debug {
		t.Errorf("got addr %q every %v debug %v; want the env's addr and debug, the flag's every", *addr, *every, *debug)
	}
	env["TOOL_EVERY"] = "soon"
	s, _, _, _ = newTestSet(&buf)
	if err := s.Parse(nil, lookup); err == nil || !strings.Contains(err.Error(), `TOOL_EVERY="soon"`) {
		t.Errorf("bad env value: got %v", err)
	}
}
