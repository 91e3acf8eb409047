package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// source remembers the line of every value in the decoded file, by field
// path, and the problems check found.
type source struct {
	file  string
	lines map[string]int
	errs  Errors
}

// fail records a problem at node n.
func (s *source) fail(n *yaml.Node, path, format string, args ...any) {
	s.errs = append(s.errs, &Error{File: s.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)})
}

func typeOf(v any) reflect.Type { return reflect.TypeOf(v).Elem() }

// line returns the line of path, or of its nearest ancestor that is in the file.
func (s *source) line(path string) int {
	for p := path; p != ""; {
		if l, ok := s.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// check walks the YAML node against the Go type, recording lines and
// every key the type does not have and value of the wrong shape (strict
// decoding with positions) in s.errs.
func (s *source) check(n *yaml.Node, t reflect.Type, path string) {
	if path != "" {
		s.lines[path] = n.Line
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Kind != yaml.ScalarNode || n.Tag != "!!null" {
				s.fail(n, path, "expected a mapping (key: value), got %s", kindName(n))
			}
			return
		}
		fields := map[string]reflect.StructField{}
		var known []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			fields[name] = f
			known = append(known, name)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			f, ok := fields[k.Value]
			if !ok {
				s.fail(k, child, "unknown key %q (known keys here: %s)", k.Value, strings.Join(known, ", "))
				continue
			}
			if seen[k.Value] {
				s.fail(k, child, "key given twice")
				continue
			}
			seen[k.Value] = true
			s.check(v, f.Type, child)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Kind != yaml.ScalarNode || n.Tag != "!!null" {
				s.fail(n, path, "expected a list, got %s", kindName(n))
			}
			return
		}
		for i, c := range n.Content {
			s.check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if n.Kind != yaml.ScalarNode || n.Tag != "!!null" {
				s.fail(n, path, "expected a mapping (key: value), got %s", kindName(n))
			}
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := path + "." + k.Value
			if seen[k.Value] {
				s.fail(k, child, "key given twice")
				continue
			}
			seen[k.Value] = true
			s.check(v, t.Elem(), child)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			s.fail(n, path, "expected a single value, got %s", kindName(n))
		} else if t.Kind() == reflect.Int && n.Tag != "!!int" {
			s.fail(n, path, "expected a whole number, got %q", n.Value)
		} else if t.Kind() == reflect.Bool && n.Tag != "!!bool" {
			s.fail(n, path, "expected true or false, got %q", n.Value)
		}
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("%q", n.Value)
}
