package firmwarescripts

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// memRouter is a hand-written in-memory stand-in used only to test the
// interpreter's translation; the scripts themselves run against the
// simulator in sim_test.go.
type memRouter struct {
	items map[string][]map[string]string // menu → rows
	next  int
}

func (m *memRouter) Run(words ...string) ([]map[string]string, error) {
	cmd := words[0]
	i := strings.LastIndex(cmd, "/")
	menu, verb := cmd[:i], cmd[i+1:]
	attrs := map[string]string{}
	var query [][2]string
	for _, w := range words[1:] {
		switch w[0] {
		case '=':
			k, v, _ := strings.Cut(w[1:], "=")
			attrs[k] = v
		case '?':
			k, v, _ := strings.Cut(w[1:], "=")
			query = append(query, [2]string{k, v})
		}
	}
	switch verb {
	case "add":
		m.next++
		attrs[".id"] = fmt.Sprintf("*%X", m.next)
		m.items[menu] = append(m.items[menu], attrs)
		return nil, nil
	case "print":
		var out []map[string]string
	rows:
		for _, r := range m.items[menu] {
			for _, q := range query {
				if r[q[0]] != q[1] {
					continue rows
				}
			}
			out = append(out, map[string]string{".id": r[".id"]})
		}
		return out, nil
	case "set", "remove":
		for j, r := range m.items[menu] {
			if r[".id"] == attrs[".id"] {
				if verb == "remove" {
					m.items[menu] = append(m.items[menu][:j], m.items[menu][j+1:]...)
					return nil, nil
				}
				for k, v := range attrs {
					r[k] = v
				}
				return nil, nil
			}
		}
		return nil, fmt.Errorf("no such item")
	}
	return nil, nil
}

func TestInterpreterTranslatesToSentences(t *testing.T) {
	src := `
# comment
:local g "my group"
:local addr 10.0.0.0/24
/user group
:if ([:len [find name=$g]] = 0) do={ add name=$g policy="read,api" }
set [find name=$g] comment="x y"
/ip service set [find name=api] address=$addr
add name=other
`
	r := &memRouter{items: map[string][]map[string]string{"/ip/service": {{".id": "*A", "name": "api"}}}}
	in := &Interpreter{R: r}
	if err := in.Run(src); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"/user/group/print", "=.proplist=.id", "?name=my group"},
		{"/user/group/add", "=name=my group", "=policy=read,api"},
		{"/user/group/print", "=.proplist=.id", "?name=my group"},
		{"/user/group/set", "=.id=*1", "=comment=x y"},
		{"/ip/service/print", "=.proplist=.id", "?name=api"},
		{"/ip/service/set", "=.id=*A", "=address=10.0.0.0/24"},
		{"/user/group/add", "=name=other"},
	}
	if !reflect.DeepEqual(in.Sent, want) {
		t.Fatalf("sentences:\n got %q\nwant %q", in.Sent, want)
	}
	// Running again adds nothing new: the :if guard finds the group.
	in.Sent = nil
	if err := in.Run(src); err != nil {
		t.Fatal(err)
	}
	if got := len(r.items["/user/group"]); got != 3 { // my group + other twice (unguarded)
		t.Fatalf("groups after second run: got %d, want 3", got)
	}
}

func TestInterpreterErrors(t *testing.T) {
	for name, src := range map[string]string{
		"undefined variable": "/user\nadd name=$nope",
		"outside menu":       "add name=x",
		"unbalanced":         `/user add name="x`,
		"bad argument":       "/user add justaword",
		"unsupported if":     "/user\n:if (true) do={ add name=x }",
	} {
		t.Run(name, func(t *testing.T) {
			in := &Interpreter{R: &memRouter{items: map[string][]map[string]string{}}}
			if err := in.Run(src); err == nil {
				t.Fatalf("no error for %q", src)
			}
		})
	}
}

func TestScriptsParseAndHaveVariablesFirst(t *testing.T) {
	all, names, err := Scripts()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 4 {
		t.Fatalf("got %d scripts, want at least 4", len(names))
	}
	for _, name := range names {
		seenCommand := false
		for _, l := range logicalLines(all[name]) {
			line := l.text
			if strings.HasPrefix(line, ":local") && seenCommand {
				t.Errorf("%s: variable after the first command: %q", name, line)
			}
			if !strings.HasPrefix(line, ":local") {
				seenCommand = true
			}
			if _, err := tokenize(line); err != nil {
				t.Errorf("%s: %q: %v", name, line, err)
			}
		}
	}
}

func TestInterpreterLoopsDelayAndPick(t *testing.T) {
	src := `
/ip firewall filter
:if ([:len [find action=drop]] > 0) do={ move [find comment=mine] destination=[:pick [find action=drop] 0] }
:if ([:len [find action=drop]] != 2) do={ add comment=never }
:for i from=1 to=3 do={ :if ([:len [find action=drop]] > 1) do={ :delay 500ms } }
:delay 2
remove [find]
`
	r := &memRouter{items: map[string][]map[string]string{"/ip/firewall/filter": {
		{".id": "*1", "action": "accept"}, {".id": "*2", "action": "drop"}, {".id": "*3", "action": "drop"},
		{".id": "*4", "comment": "mine"},
	}}}
	var slept []time.Duration
	in := &Interpreter{R: r, Sleep: func(d time.Duration) { slept = append(slept, d) }}
	if err := in.Run(src); err != nil {
		t.Fatal(err)
	}
	var moves, removes [][]string
	for _, s := range in.Sent {
		switch s[0] {
		case "/ip/firewall/filter/move":
			moves = append(moves, s)
		case "/ip/firewall/filter/remove":
			removes = append(removes, s)
		case "/ip/firewall/filter/add":
			t.Errorf("guarded add sent: %q", s)
		}
	}
	if want := [][]string{{"/ip/firewall/filter/move", "=.id=*4", "=destination=*2"}}; !reflect.DeepEqual(moves, want) {
		t.Errorf("move: got %q, want %q", moves, want)
	}
	if got, want := slept, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second}; !reflect.DeepEqual(got, want) {
		t.Errorf("delays: got %v, want %v", got, want)
	}
	if len(removes) != 4 {
		t.Errorf("remove [find] sent %d removes, want 4 (every item)", len(removes))
	}
	if got := in.locals["i"]; got != "3" {
		t.Errorf(":for variable after the loop: got %q, want 3", got)
	}

	// yes/no in [find] become the API's booleans.
	in = &Interpreter{R: &memRouter{items: map[string][]map[string]string{}}}
	if err := in.Run("/container\nstart [find comment=yes2 running=yes stopped=no]"); err != nil {
		t.Fatal(err)
	}
	if got, want := in.Sent[0], []string{"/container/print", "=.proplist=.id", "?comment=yes2", "?running=true", "?stopped=false"}; !reflect.DeepEqual(got, want) {
		t.Errorf("boolean find: got %q, want %q", got, want)
	}

	// Past the end, :pick is empty.
	in = &Interpreter{R: &memRouter{items: map[string][]map[string]string{}}}
	if err := in.Run("/ip firewall filter\nadd comment=[:pick [find action=drop] 0]"); err != nil {
		t.Fatal(err)
	}
	if got, want := in.Sent[len(in.Sent)-1], []string{"/ip/firewall/filter/add", "=comment="}; !reflect.DeepEqual(got, want) {
		t.Errorf(":pick past the end: got %q, want %q", got, want)
	}
}

func TestInterpreterRejectsUnsupportedSyntax(t *testing.T) {
	for name, src := range map[string]string{
		"if operator":     "/user\n:if ([:len [find name=x]] >= 0) do={ add name=x }",
		"if without do":   "/user\n:if ([:len [find name=x]] = 0) else={ add name=x }",
		"for bounds":      "/user\n:for i from=1 to=100000 do={ :delay 1s }",
		"for form":        "/user\n:for i in=1 do={ :delay 1s }",
		"bad delay":       ":delay soon",
		"other bracket":   "/user\nadd name=[:len [find]]",
		"pick index":      "/user\nadd name=[:pick [find] x]",
		"delay arguments": ":delay 1s 2s",
	} {
		t.Run(name, func(t *testing.T) {
			in := &Interpreter{R: &memRouter{items: map[string][]map[string]string{}}, Sleep: func(time.Duration) {}}
			if err := in.Run(src); err == nil {
				t.Fatalf("no error for %q", src)
			}
		})
	}
}

// TestInterpreterStringsAndContinuation covers what the hotspot pages
// need: RouterOS's escapes, $variables inside strings, and long strings
// wrapped over several lines with a trailing backslash.
func TestInterpreterStringsAndContinuation(t *testing.T) {
	src := `
:local host "cp.example.com"
:local page "<a href=\"https://$host/p\">\$(mac)</a>\n\
    second\tline\_with\?\\ and \41\
  end"
/file
add name="hotspot/$host.html" contents=$page
`
	r := &memRouter{items: map[string][]map[string]string{}}
	in := &Interpreter{R: r}
	if err := in.Run(src); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"/file/add", "=name=hotspot/cp.example.com.html",
		"=contents=<a href=\"https://cp.example.com/p\">$(mac)</a>\nsecond\tline with?\\ and Aend"}}
	if !reflect.DeepEqual(in.Sent, want) {
		t.Fatalf("sentences:\n got %q\nwant %q", in.Sent, want)
	}
	for name, src := range map[string]string{
		"unescaped $(":     `:local p "$(mac)"`,
		"undefined in str": `:local p "x $nope"`,
		"unknown escape":   `:local p "\q"`,
	} {
		if err := (&Interpreter{R: r}).Run(src); err == nil {
			t.Errorf("%s: no error for %s", name, src)
		}
	}
}
