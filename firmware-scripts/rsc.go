package firmwarescripts

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.rsc
var scripts embed.FS

// Scripts returns the embedded scripts by file name, in import order.
func Scripts() (map[string]string, []string, error) {
	entries, err := fs.Glob(scripts, "*.rsc")
	if err != nil {
		return nil, nil, fmt.Errorf("list scripts: %w", err)
	}
	sort.Strings(entries)
	out := make(map[string]string, len(entries))
	for _, name := range entries {
		b, err := scripts.ReadFile(name)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		}
		out[name] = string(b)
	}
	return out, entries, nil
}

// Runner sends one API sentence to a router and returns the reply rows.
// A RouterOS !trap must come back as an error.
type Runner interface {
	Run(sentence ...string) ([]map[string]string, error)
}

// Interpreter runs the script subset the SitePulse scripts use:
//
//	# comment
//	:local NAME VALUE
//	/menu path                      (sets the current menu)
//	/menu path command args…        (one-off command in another menu)
//	command args…                   (add, set, remove, start, stop, …)
//	:if ([:len [find k=v…]] = 0) do={ command args… }
//
// where an argument is key=value, and set/remove/start/stop may take
// [find k=v…] as the items to act on. Values may be "quoted" and may be
// $variables.
type Interpreter struct {
	R    Runner
	Vars map[string]string // overrides of :local values, for tests
	// Sent records every sentence, in order.
	Sent [][]string

	menu   string
	locals map[string]string
}

// Run interprets src line by line.
func (in *Interpreter) Run(src string) error {
	in.menu = ""
	in.locals = map[string]string{}
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := in.line(line); err != nil {
			return fmt.Errorf("line %d %q: %w", n+1, line, err)
		}
	}
	return nil
}

func (in *Interpreter) line(line string) error {
	toks, err := tokenize(line)
	if err != nil {
		return err
	}
	switch {
	case toks[0] == ":local" || toks[0] == ":global":
		if len(toks) != 3 {
			return fmt.Errorf(":local wants a name and a value")
		}
		v, err := in.value(toks[2])
		if err != nil {
			return err
		}
		if o, ok := in.Vars[toks[1]]; ok {
			v = o
		}
		in.locals[toks[1]] = v
		return nil
	case toks[0] == ":if":
		return in.ifMissing(toks)
	case strings.HasPrefix(toks[0], "/"):
		// A menu path is every leading word up to the first that is a command.
		i := 1
		for i < len(toks) && isMenuWord(toks[i]) {
			i++
		}
		menu := strings.TrimPrefix(strings.Join(toks[:i], "/"), "/")
		menu = "/" + strings.ReplaceAll(menu, "//", "/")
		if i == len(toks) {
			in.menu = menu
			return nil
		}
		saved := in.menu
		in.menu = menu
		defer func() { in.menu = saved }()
		return in.command(toks[i:])
	default:
		return in.command(toks)
	}
}

// isMenuWord tells a menu path word ("group" in "/user group") from a
// command or argument.
func isMenuWord(w string) bool {
	if strings.ContainsAny(w, "=[]{}$\"") {
		return false
	}
	switch w {
	case "add", "set", "remove", "print", "enable", "disable", "start", "stop", "move":
		return false
	}
	return true
}

func (in *Interpreter) ifMissing(toks []string) error {
	// :if ([:len [find …]] = 0) do={ … }
	if len(toks) != 3 || !strings.HasPrefix(toks[2], "do={") {
		return fmt.Errorf("unsupported :if form")
	}
	cond := strings.TrimSpace(toks[1])
	if !strings.HasPrefix(cond, "([:len [find ") || !strings.HasSuffix(cond, "]] = 0)") {
		return fmt.Errorf("unsupported :if condition %q", cond)
	}
	query := strings.TrimSuffix(strings.TrimPrefix(cond, "([:len [find "), "]] = 0)")
	ids, err := in.find(query)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return nil
	}
	body := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(toks[2], "do={"), "}"))
	return in.line(body)
}

// find prints the current menu with the query and returns the .ids.
func (in *Interpreter) find(query string) ([]string, error) {
	qt, err := tokenize(query)
	if err != nil {
		return nil, err
	}
	words := []string{in.menu + "/print", "=.proplist=.id"}
	for _, t := range qt {
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, fmt.Errorf("find: %q is not key=value", t)
		}
		val, err := in.value(v)
		if err != nil {
			return nil, err
		}
		words = append(words, "?"+k+"="+val)
	}
	rows, err := in.send(words)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r[".id"])
	}
	return ids, nil
}

func (in *Interpreter) command(toks []string) error {
	if in.menu == "" {
		return fmt.Errorf("command %q outside a menu", toks[0])
	}
	cmd := toks[0]
	args := toks[1:]
	var ids []string
	targeted := false
	if len(args) > 0 && strings.HasPrefix(args[0], "[find") {
		q := strings.TrimSuffix(strings.TrimPrefix(args[0], "[find"), "]")
		var err error
		if ids, err = in.find(strings.TrimSpace(q)); err != nil {
			return err
		}
		targeted = true
		args = args[1:]
	}
	words := []string{in.menu + "/" + cmd}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("argument %q is not key=value", a)
		}
		val, err := in.value(v)
		if err != nil {
			return err
		}
		words = append(words, "="+k+"="+val)
	}
	if !targeted {
		_, err := in.send(words)
		return err
	}
	// RouterOS applies the command to every found item; none is a no-op.
	for _, id := range ids {
		if _, err := in.send(append([]string{words[0], "=.id=" + id}, words[1:]...)); err != nil {
			return err
		}
	}
	return nil
}

func (in *Interpreter) send(words []string) ([]map[string]string, error) {
	in.Sent = append(in.Sent, words)
	rows, err := in.R.Run(words...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(words, " "), err)
	}
	return rows, nil
}

// value resolves a literal, "quoted" string or $variable.
func (in *Interpreter) value(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, "$"):
		val, ok := in.locals[v[1:]]
		if !ok {
			return "", fmt.Errorf("undefined variable %s", v)
		}
		return val, nil
	case strings.HasPrefix(v, `"`):
		return unquote(v)
	default:
		return v, nil
	}
}

func unquote(s string) (string, error) {
	if len(s) < 2 || !strings.HasSuffix(s, `"`) {
		return "", fmt.Errorf("unterminated string %s", s)
	}
	var b strings.Builder
	body := s[1 : len(s)-1]
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) {
			i++
		}
		b.WriteByte(body[i])
	}
	return b.String(), nil
}

// tokenize splits a line on spaces outside quotes, brackets and braces.
// key="a b" stays one token; so do [find …] and do={ … }.
func tokenize(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	depth, inQuote := 0, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote:
			cur.WriteByte(c)
			if c == '\\' && i+1 < len(line) {
				i++
				cur.WriteByte(line[i])
			} else if c == '"' {
				inQuote = false
			}
			continue
		case c == '"':
			inQuote = true
		case c == '[' || c == '{' || c == '(':
			depth++
		case c == ']' || c == '}' || c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced %q", c)
			}
		case (c == ' ' || c == '\t') && depth == 0:
			if cur.Len() > 0 {
				toks = append(toks, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteByte(c)
	}
	if inQuote || depth != 0 {
		return nil, fmt.Errorf("unbalanced quotes or brackets")
	}
	if cur.Len() > 0 {
		toks = append(toks, cur.String())
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty line")
	}
	return toks, nil
}
