package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/wharfedi/wharf/internal/store"
)

// oneOf reports whether the value of command name's --flag is one of
// valid; when it is not, it prints a usage error listing them (the caller
// returns 2).
func oneOf(stderr io.Writer, name, flag, value string, valid ...string) bool {
	if slices.Contains(valid, value) {
		return true
	}
	usageError(stderr, name, "--%s %q: use %s", flag, value, orList(valid))
	return false
}

// orList is "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// resolveID returns the full ID of kind that arg is or begins (an ID
// prefix, as 'wharf archive events 0199ab12' takes it), or an error that
// says there is none, or names the IDs an ambiguous prefix begins.
func resolveID(ctx context.Context, q store.IDQueries, kind store.IDKind, arg string) (string, error) {
	id, err := store.ResolveID(ctx, q, kind, arg)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("no %s ID is or begins with %q", kind, arg)
	}
	return id, err
}
