package config

import (
	"cmp"
	"errors"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Errors is every problem found in a configuration, in the order of the
// file's lines (problems from the environment last). Load and Validate
// return one when they find more than one problem; errors.As finds each
// *Error through Unwrap.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// add appends err's problems: an *Error, an Errors, or any other error
// (kept as the message of an *Error without a position).
func (es *Errors) add(err error) {
	var one *Error
	var many Errors
	switch {
	case err == nil:
	case errors.As(err, &many):
		*es = append(*es, many...)
	case errors.As(err, &one):
		*es = append(*es, one)
	default:
		*es = append(*es, &Error{Msg: err.Error()})
	}
}

// err returns nil for no problem, the *Error for one, else the problems
// sorted by file position (the environment's after the file's), each once.
func (es Errors) err() error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	es = slices.Clone(es)
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.Line, b.Line))
	})
	es = slices.CompactFunc(es, func(a, b *Error) bool { return *a == *b })
	if len(es) == 1 {
		return es[0]
	}
	return es
}

// rank orders problems: the file's first, then the environment's.
func rank(e *Error) int {
	if e.File == "environment" {
		return 1
	}
	return 0
}

var yamlLineRe = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// syntaxError turns a YAML parse error of b into an *Error on the line
// that is wrong. The parser names the line where the enclosing block
// starts ("line 1: did not find expected '-' indicator" for a key indented
// wrongly on line 4); the first prefix of the file that fails to parse
// with the same message ends on the line that is wrong.
func syntaxError(path string, b []byte, err error) *Error {
	m := yamlLineRe.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: path, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	lines := strings.SplitAfter(string(b), "\n")
	fails := func(n int) bool { // the first n lines fail as the whole file does
		var doc yaml.Node
		pm := yamlLineRe.FindStringSubmatch(errText(yaml.Unmarshal([]byte(strings.Join(lines[:n], "")), &doc)))
		return pm != nil && pm[2] == msg
	}
	// Once the wrong line is in, every longer prefix fails the same way:
	// the parser stops there. A binary search keeps this cheap for long files.
	if n := len(lines) - line + 1; n > 0 {
		if i := sort.Search(n, func(i int) bool { return fails(line + i) }); i < n {
			line += i
		}
	}
	if msg == "did not find expected key" || msg == "did not find expected '-' indicator" || strings.HasPrefix(msg, "mapping values are not allowed") {
		msg += " (check the indentation of this line against the lines above it)"
	}
	return &Error{File: path, Line: line, Msg: msg}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
