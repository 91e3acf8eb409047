package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// source remembers the line of every value in the decoded file, by field path.
type source struct {
	file  string
	lines map[string]int
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
// refusing keys the type does not have (strict decoding with positions).
func (s *source) check(n *yaml.Node, t reflect.Type, path string) error {
	if path != "" {
		s.lines[path] = n.Line
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return &Error{File: s.file, Line: n.Line, Field: path, Msg: fmt.Sprintf("expected a mapping (key: value), got %s", kindName(n))}
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
				return &Error{File: s.file, Line: k.Line, Field: child, Msg: fmt.Sprintf("unknown key %q (known keys here: %s)", k.Value, strings.Join(known, ", "))}
			}
			if seen[k.Value] {
				return &Error{File: s.file, Line: k.Line, Field: child, Msg: "key given twice"}
			}
			seen[k.Value] = true
			if err := s.check(v, f.Type, child); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return &Error{File: s.file, Line: n.Line, Field: path, Msg: fmt.Sprintf("expected a list, got %s", kindName(n))}
		}
		for i, c := range n.Content {
			if err := s.check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return &Error{File: s.file, Line: n.Line, Field: path, Msg: fmt.Sprintf("expected a mapping (key: value), got %s", kindName(n))}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := path + "." + k.Value
			if seen[k.Value] {
				return &Error{File: s.file, Line: k.Line, Field: child, Msg: "key given twice"}
			}
			seen[k.Value] = true
			if err := s.check(v, t.Elem(), child); err != nil {
				return err
			}
		}
	default:
		if n.Kind != yaml.ScalarNode {
			return &Error{File: s.file, Line: n.Line, Field: path, Msg: fmt.Sprintf("expected a single value, got %s", kindName(n))}
		}
		if t.Kind() == reflect.Int && n.Tag != "!!int" {
			return &Error{File: s.file, Line: n.Line, Field: path, Msg: fmt.Sprintf("expected a whole number, got %q", n.Value)}
		}
	}
	return nil
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
