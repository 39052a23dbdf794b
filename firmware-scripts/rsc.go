package firmwarescripts

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
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
//	command args…                   (add, set, remove, start, stop, move, …)
//	:if ([:len [find k=v…]] OP N) do={ statement }
//	:for VAR from=A to=B do={ statement }
//	:delay DURATION                 (1s, 500ms, 2)
//
// where OP is =, !=, > or <, an argument is key=value, and set, remove,
// start, stop and move may take [find k=v…] as the items to act on (one
// sentence per item, as RouterOS applies the command to each); a command
// without it (set on a settings menu such as /container/config) is sent
// as is. A value may be a literal, "quoted", a $variable, or
// [:pick [find k=v…] N] (the N-th found .id, "" past the end).
//
// A quoted string takes RouterOS's escapes and $variables (see unquote),
// and a line ending in a backslash continues on the next, as in
// RouterOS's export, so a long string (a hotspot page) can span lines.
//
// In [find], yes and no become the API's true and false.
//
// A command whose [find] matches nothing sends nothing (RouterOS does
// nothing either), so the router checks its name and arguments only when
// something matches; the scripts are tested on a router where they do.
// Query keys in [find] are not checked by RouterOS's API at all (an
// unknown key matches nothing); the simulator test checks them itself.
type Interpreter struct {
	R    Runner
	Vars map[string]string // overrides of :local values, for tests
	// Sleep runs :delay; nil means time.Sleep. Tests pass one that
	// advances a fake clock.
	Sleep func(time.Duration)
	// Sent records every sentence, in order.
	Sent [][]string

	menu   string
	locals map[string]string
}

// maxLoop bounds a :for so a script bug cannot hang a test.
const maxLoop = 10000

// Run interprets src line by line.
func (in *Interpreter) Run(src string) error {
	in.menu = ""
	in.locals = map[string]string{}
	for _, l := range logicalLines(src) {
		if err := in.line(l.text); err != nil {
			return fmt.Errorf("line %d %q: %w", l.n, l.text, err)
		}
	}
	return nil
}

// A logicalLine is one statement: a physical line, or several joined by
// continuation, numbered by its first physical line.
type logicalLine struct {
	n    int
	text string
}

// logicalLines splits src into statements, dropping blank lines and
// comments. A line that ends in an unescaped backslash continues on the
// next one, whose leading blanks are dropped: how RouterOS's export wraps
// long lines, also inside a quoted string.
func logicalLines(src string) []logicalLine {
	var out []logicalLine
	var cur strings.Builder
	start := 0
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if cur.Len() > 0 {
			line = strings.TrimLeft(line, " \t")
		} else {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			start = n + 1
		}
		trailing := len(line) - len(strings.TrimRight(line, "\\"))
		if trailing%2 == 1 {
			cur.WriteString(line[:len(line)-1])
			continue
		}
		cur.WriteString(line)
		out = append(out, logicalLine{start, cur.String()})
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, logicalLine{start, cur.String()})
	}
	return out
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
		return in.ifStmt(toks)
	case toks[0] == ":for":
		return in.forStmt(toks)
	case toks[0] == ":delay":
		if len(toks) != 2 {
			return fmt.Errorf(":delay wants one duration")
		}
		d, err := parseDelay(toks[1])
		if err != nil {
			return err
		}
		if in.Sleep != nil {
			in.Sleep(d)
		} else {
			time.Sleep(d)
		}
		return nil
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

// block returns the statement inside do={ … }.
func block(tok string) (string, error) {
	if !strings.HasPrefix(tok, "do={") || !strings.HasSuffix(tok, "}") {
		return "", fmt.Errorf("want do={ … }, got %q", tok)
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(tok, "do={"), "}")), nil
}

// ifStmt runs :if ([:len [find …]] OP N) do={ … }.
func (in *Interpreter) ifStmt(toks []string) error {
	if len(toks) != 3 {
		return fmt.Errorf("unsupported :if form")
	}
	body, err := block(toks[2])
	if err != nil {
		return err
	}
	ok, err := in.cond(toks[1])
	if err != nil || !ok {
		return err
	}
	return in.line(body)
}

// cond evaluates ([:len [find …]] OP N).
func (in *Interpreter) cond(c string) (bool, error) {
	c = strings.TrimSpace(c)
	inner, ok := strings.CutPrefix(c, "([:len [find ")
	if !ok || !strings.HasSuffix(inner, ")") {
		return false, fmt.Errorf("unsupported :if condition %q", c)
	}
	query, rest, ok := strings.Cut(strings.TrimSuffix(inner, ")"), "]] ")
	if !ok {
		return false, fmt.Errorf("unsupported :if condition %q", c)
	}
	op, num, ok := strings.Cut(rest, " ")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if !ok || err != nil {
		return false, fmt.Errorf("unsupported :if condition %q", c)
	}
	ids, err := in.find(query)
	if err != nil {
		return false, err
	}
	switch op {
	case "=":
		return len(ids) == n, nil
	case "!=":
		return len(ids) != n, nil
	case ">":
		return len(ids) > n, nil
	case "<":
		return len(ids) < n, nil
	}
	return false, fmt.Errorf("unsupported :if operator %q", op)
}

// forStmt runs :for VAR from=A to=B do={ … } with VAR set each round.
func (in *Interpreter) forStmt(toks []string) error {
	if len(toks) != 5 || !strings.HasPrefix(toks[2], "from=") || !strings.HasPrefix(toks[3], "to=") {
		return fmt.Errorf("unsupported :for form")
	}
	from, err1 := strconv.Atoi(strings.TrimPrefix(toks[2], "from="))
	to, err2 := strconv.Atoi(strings.TrimPrefix(toks[3], "to="))
	if err1 != nil || err2 != nil || to-from >= maxLoop {
		return fmt.Errorf("unsupported :for bounds %s %s", toks[2], toks[3])
	}
	body, err := block(toks[4])
	if err != nil {
		return err
	}
	for i := from; i <= to; i++ {
		in.locals[toks[1]] = strconv.Itoa(i)
		if err := in.line(body); err != nil {
			return err
		}
	}
	return nil
}

// parseDelay reads a RouterOS :delay argument: "1s", "500ms", or bare
// seconds.
func parseDelay(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad :delay %q", s)
	}
	return d, nil
}

// find prints the current menu with the query and returns the .ids.
func (in *Interpreter) find(query string) ([]string, error) {
	var qt []string // [find] with no condition finds every item
	if strings.TrimSpace(query) != "" {
		var err error
		if qt, err = tokenize(query); err != nil {
			return nil, err
		}
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
		words = append(words, "?"+k+"="+apiBool(val))
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

// apiBool turns the script spelling of a boolean in a [find] condition
// (running=yes) into the one API queries compare with (running=true):
// RouterOS parses the value by the property's type, the API prints
// booleans as true/false. No script searches a text property for "yes".
func apiBool(v string) string {
	switch v {
	case "yes":
		return "true"
	case "no":
		return "false"
	}
	return v
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
		return in.unquote(v)
	case strings.HasPrefix(v, "[:pick [find "):
		// [:pick [find …] N]
		inner := strings.TrimSuffix(strings.TrimPrefix(v, "[:pick [find "), "]")
		query, num, ok := strings.Cut(inner, "] ")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if !ok || err != nil || n < 0 {
			return "", fmt.Errorf("unsupported value %s", v)
		}
		ids, err := in.find(query)
		if err != nil {
			return "", err
		}
		if n >= len(ids) {
			return "", nil
		}
		return ids[n], nil
	case strings.HasPrefix(v, "["):
		return "", fmt.Errorf("unsupported value %s", v)
	default:
		return v, nil
	}
}

// unquote reads a "quoted" string as RouterOS does: \" \\ \$ \? \n \r
// \t, \_ (a space) and \HH (a byte in hex) are escapes, and $name is
// the variable's value. An unescaped $( or $[ (RouterOS would evaluate an
// expression there) is refused, so a page with $(var) in a script must
// write \$(var).
func (in *Interpreter) unquote(s string) (string, error) {
	if len(s) < 2 || !strings.HasSuffix(s, `"`) {
		return "", fmt.Errorf("unterminated string %s", s)
	}
	var b strings.Builder
	body := s[1 : len(s)-1]
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			i++
			switch e := body[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '_':
				b.WriteByte(' ')
			case '"', '\\', '$', '?':
				b.WriteByte(e)
			default:
				if i+1 < len(body) && isHex(e) && isHex(body[i+1]) {
					n, _ := strconv.ParseUint(body[i:i+2], 16, 8)
					b.WriteByte(byte(n))
					i++
					continue
				}
				return "", fmt.Errorf("unknown escape \\%c in %s", e, s)
			}
		case c == '$':
			j := i + 1
			for j < len(body) && (isAlnum(body[j]) || body[j] == '_') {
				j++
			}
			if j == i+1 {
				return "", fmt.Errorf("unescaped $ in %s (write \\$ for a literal $)", s)
			}
			v, ok := in.locals[body[i+1:j]]
			if !ok {
				return "", fmt.Errorf("undefined variable $%s", body[i+1:j])
			}
			b.WriteString(v)
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
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
