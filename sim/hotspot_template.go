package sim

import (
	"embed"
	"strings"
)

//go:embed hotspotpages/*
var hotspotPages embed.FS

// defaultPageNames are the pages a fresh hotspot directory holds, as
// /ip hotspot setup creates them (the subset the simulator plays).
var defaultPageNames = []string{"login.html", "alogin.html", "status.html", "logout.html", "md5.js"}

// defaultPage returns the simulator's built-in page name ("" if none):
// what the HTTP side serves when the html directory lacks it.
func defaultPage(name string) string {
	b, err := hotspotPages.ReadFile("hotspotpages/" + name)
	if err != nil {
		return ""
	}
	return string(b)
}

// renderPage substitutes RouterOS's servlet page variables in page:
// $(name) is the variable's value (empty if unknown), and
// $(if name) … $(elif name) … $(else) … $(endif) keep the first branch
// whose condition holds, where a condition is a name (true when not empty)
// or name == 'value' / name != 'value'. Conditionals nest. Like RouterOS,
// values are inserted as they are, without HTML escaping.
func renderPage(page string, vars map[string]string) string {
	type frame struct {
		parent, on, taken bool // parent emitting; this branch emitting; a branch was taken
	}
	var stack []frame
	emitting := func() bool { return len(stack) == 0 || stack[len(stack)-1].on }
	var b strings.Builder
	for {
		i := strings.Index(page, "$(")
		if i < 0 {
			break
		}
		j := strings.IndexByte(page[i:], ')')
		if j < 0 {
			break
		}
		if emitting() {
			b.WriteString(page[:i])
		}
		dir := strings.TrimSpace(page[i+2 : i+j])
		page = page[i+j+1:]
		word, rest, _ := strings.Cut(dir, " ")
		switch word {
		case "if":
			p := emitting()
			c := p && pageCond(rest, vars)
			stack = append(stack, frame{parent: p, on: c, taken: c})
		case "elif":
			if n := len(stack); n > 0 {
				f := &stack[n-1]
				f.on = f.parent && !f.taken && pageCond(rest, vars)
				f.taken = f.taken || f.on
			}
		case "else":
			if n := len(stack); n > 0 {
				f := &stack[n-1]
				f.on = f.parent && !f.taken
				f.taken = true
			}
		case "endif":
			if n := len(stack); n > 0 {
				stack = stack[:n-1]
			}
		default:
			if emitting() {
				b.WriteString(vars[dir])
			}
		}
	}
	if emitting() {
		b.WriteString(page)
	}
	return b.String()
}

// pageCond evaluates an $(if …) condition.
func pageCond(c string, vars map[string]string) bool {
	c = strings.TrimSpace(c)
	for _, op := range []string{"==", "!="} {
		if name, val, ok := strings.Cut(c, op); ok {
			val = strings.TrimSpace(val)
			if len(val) >= 2 && (val[0] == '\'' || val[0] == '"') && val[len(val)-1] == val[0] {
				val = val[1 : len(val)-1]
			}
			eq := vars[strings.TrimSpace(name)] == val
			return eq == (op == "==")
		}
	}
	return vars[c] != ""
}

// octalEscape renders bytes the way RouterOS fills $(chap-id) and
// $(chap-challenge): every byte as a backslash and three octal digits, a
// JavaScript string literal body that md5.js's hexMD5 hashes as the raw
// bytes.
func octalEscape(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		s.WriteByte('\\')
		s.WriteByte('0' + c>>6)
		s.WriteByte('0' + (c>>3)&7)
		s.WriteByte('0' + c&7)
	}
	return s.String()
}
