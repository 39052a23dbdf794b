package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// A query is the compiled form of a print command's ?-words: a small stack
// program evaluated once per row. RouterOS evaluates the words in order, each
// pushing a boolean or manipulating the stack (?#), and a row matches when
// every value left on the stack is true.
type query struct {
	ops []queryOp
}

type queryOpKind int

const (
	qEq queryOpKind = iota
	qHas
	qHasNot
	qLess
	qGreater
	qStack
)

type queryOp struct {
	kind  queryOpKind
	name  string
	value string
	stack string // for qStack: the characters after "?#"
}

// parseQuery compiles query words (each starting with '?'). It rejects
// words RouterOS would not understand, so clients see a trap instead of a
// silently wrong result.
func parseQuery(words []string) (*query, error) {
	q := &query{}
	for _, w := range words {
		if !strings.HasPrefix(w, "?") {
			return nil, fmt.Errorf("not a query word: %q", w)
		}
		body := w[1:]
		switch {
		case strings.HasPrefix(body, "#"):
			ops := body[1:]
			for _, c := range ops {
				if !strings.ContainsRune("|&!.0123456789", c) {
					return nil, fmt.Errorf("unknown query operation %q", c)
				}
			}
			q.ops = append(q.ops, queryOp{kind: qStack, stack: ops})
		case strings.HasPrefix(body, "<"), strings.HasPrefix(body, ">"):
			name, value, ok := strings.Cut(body[1:], "=")
			if !ok || name == "" {
				return nil, fmt.Errorf("comparison query needs name=value: %q", w)
			}
			kind := qLess
			if body[0] == '>' {
				kind = qGreater
			}
			q.ops = append(q.ops, queryOp{kind: kind, name: name, value: value})
		case strings.HasPrefix(body, "-"):
			name := body[1:]
			if name == "" || strings.Contains(name, "=") {
				return nil, fmt.Errorf("absence query needs a bare name: %q", w)
			}
			q.ops = append(q.ops, queryOp{kind: qHasNot, name: name})
		default:
			// "?=name=value" is the long form of "?name=value".
			body = strings.TrimPrefix(body, "=")
			name, value, hasValue := strings.Cut(body, "=")
			if name == "" {
				return nil, fmt.Errorf("empty query: %q", w)
			}
			if hasValue {
				q.ops = append(q.ops, queryOp{kind: qEq, name: name, value: value})
			} else {
				q.ops = append(q.ops, queryOp{kind: qHas, name: name})
			}
		}
	}
	return q, nil
}

// match evaluates the query against one row. A nil or empty query matches
// everything. Popping an empty stack yields true, the neutral "no condition".
func (q *query) match(row map[string]string) bool {
	if q == nil || len(q.ops) == 0 {
		return true
	}
	var st []bool
	pop := func() bool {
		if len(st) == 0 {
			return true
		}
		v := st[len(st)-1]
		st = st[:len(st)-1]
		return v
	}
	for _, op := range q.ops {
		switch op.kind {
		case qEq:
			v, ok := row[op.name]
			st = append(st, ok && v == op.value)
		case qHas:
			_, ok := row[op.name]
			st = append(st, ok)
		case qHasNot:
			_, ok := row[op.name]
			st = append(st, !ok)
		case qLess, qGreater:
			v, ok := row[op.name]
			if !ok {
				st = append(st, false)
				continue
			}
			c := compareValues(v, op.value)
			st = append(st, (op.kind == qLess && c < 0) || (op.kind == qGreater && c > 0))
		case qStack:
			s := op.stack
			for i := 0; i < len(s); i++ {
				switch c := s[i]; c {
				case '|':
					a, b := pop(), pop()
					st = append(st, a || b)
				case '&':
					a, b := pop(), pop()
					st = append(st, a && b)
				case '!':
					st = append(st, !pop())
				case '.':
					v := pop()
					st = append(st, v, v)
				default:
					// A run of digits pushes a copy of the value at that
					// position, counted from the top of the stack (0 = top).
					j := i
					for j < len(s) && s[j] >= '0' && s[j] <= '9' {
						j++
					}
					n, err := strconv.Atoi(s[i:j])
					i = j - 1
					if err != nil || n >= len(st) {
						st = append(st, true)
						continue
					}
					st = append(st, st[len(st)-1-n])
				}
			}
		}
	}
	for _, v := range st {
		if !v {
			return false
		}
	}
	return true
}

// compareValues orders two RouterOS values: as numbers when both are
// numbers, as IDs when both are *HEX, as durations when both are durations,
// otherwise as strings.
func compareValues(a, b string) int {
	if x, err := strconv.ParseFloat(a, 64); err == nil {
		if y, err := strconv.ParseFloat(b, 64); err == nil {
			return cmpFloat(x, y)
		}
	}
	if x, ok := parseID(a); ok {
		if y, ok := parseID(b); ok {
			return cmpFloat(float64(x), float64(y))
		}
	}
	if x, err := parseDuration(a); err == nil {
		if y, err := parseDuration(b); err == nil {
			return cmpFloat(float64(x), float64(y))
		}
	}
	return strings.Compare(a, b)
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
