package cliflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Set is a flag.FlagSet whose flags have environment fallbacks and whose
// usage lists them in groups. Register flags on the embedded FlagSet,
// calling Group before each group's flags.
type Set struct {
	*flag.FlagSet

	// Description is printed under DESCRIPTION: in the help; "" omits it.
	Description string

	name, summary string
	env           func(flagName string) string
	groups        []string            // in the order Group was called
	members       map[string][]string // group → flag names
	grouped       map[string]bool     // flag names already in a group
}

// New returns a Set for the command name ("sitepulse-agent run") with a
// one-line summary. env maps a flag name to its environment variable; ""
// means the flag has none. Parse errors return (flag.ContinueOnError) and
// usage goes to w.
func New(name, summary string, env func(flagName string) string, w io.Writer) *Set {
	s := &Set{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), name: name, summary: summary, env: env,
		members: map[string][]string{}, grouped: map[string]bool{}}
	s.SetOutput(w)
	s.Usage = func() { s.PrintUsage(s.Output()) }
	return s
}

// Group starts a group: the flags registered from now until the next Group
// call are listed under its heading.
func (s *Set) Group(heading string) {
	s.closeGroup()
	s.groups = append(s.groups, heading)
}

// closeGroup assigns the flags registered since the last Group call to it
// (or to an unnamed group first, if flags came before any Group).
func (s *Set) closeGroup() {
	var fresh []string
	s.VisitAll(func(f *flag.Flag) {
		if !s.grouped[f.Name] {
			fresh = append(fresh, f.Name)
			s.grouped[f.Name] = true
		}
	})
	if len(fresh) == 0 {
		return
	}
	heading := ""
	if len(s.groups) > 0 {
		heading = s.groups[len(s.groups)-1]
	} else {
		s.groups = append(s.groups, "")
	}
	s.members[heading] = append(s.members[heading], fresh...)
}

// Parse sets each flag whose environment variable lookup finds, then parses
// args, so that the command line wins. It returns flag.ErrHelp after
// printing the usage for -h or --help, and every bad environment value
// joined, each naming its variable.
func (s *Set) Parse(args []string, lookup func(name string) (string, bool)) error {
	var errs []error
	s.VisitAll(func(f *flag.Flag) {
		name := s.env(f.Name)
		if name == "" {
			return
		}
		if v, ok := lookup(name); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return s.FlagSet.Parse(args)
}

// PrintUsage writes the help in urfave/cli v3's shape: NAME, USAGE,
// DESCRIPTION and OPTIONS, each flag as
// "--name type  usage (default: x) [$ENV]".
func (s *Set) PrintUsage(w io.Writer) {
	s.closeGroup()
	fmt.Fprintf(w, "NAME:\n   %s - %s\n\nUSAGE:\n   %s [options]\n\n", s.name, s.summary, s.name)
	if s.Description != "" {
		fmt.Fprintf(w, "DESCRIPTION:\n%s\n\n", indent(s.Description))
	}
	type line struct{ left, right string }
	var width int
	sections := make([][]line, len(s.groups))
	for i, g := range s.groups {
		for _, name := range s.members[g] {
			f := s.Lookup(name)
			typ, usage := flag.UnquoteUsage(f)
			left := "--" + f.Name
			if typ != "" {
				left += " " + typ
			}
			right := usage
			if d := defaultText(f, typ); d != "" {
				right += " (default: " + d + ")"
			}
			if env := s.env(f.Name); env != "" {
				right += " [$" + env + "]"
			}
			width = max(width, len(left))
			sections[i] = append(sections[i], line{left, right})
		}
	}
	help := line{"--help, -h", "show help"}
	width = max(width, len(help.left))
	fmt.Fprintf(w, "OPTIONS:\n")
	for i, g := range s.groups {
		if g != "" {
			fmt.Fprintf(w, "   %s\n\n", g)
		}
		for _, l := range sections[i] {
			fmt.Fprintf(w, "   %-*s  %s\n", width, l.left, l.right)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "   %-*s  %s\n", width, help.left, help.right)
}

// defaultText is a flag's default as urfave/cli shows it: quoted for
// strings, nothing for a zero value.
func defaultText(f *flag.Flag, typ string) string {
	switch f.DefValue {
	case "", "0", "0s", "false":
		return ""
	}
	if typ == "string" {
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "   " + l
		}
	}
	return strings.Join(lines, "\n")
}
