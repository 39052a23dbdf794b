package firmwarescripts

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
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
		for _, line := range strings.Split(all[name], "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
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
