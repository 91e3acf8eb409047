package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// IDKind names a kind of row people refer to by ID on the command line:
// messages, exceptions, API tokens.
type IDKind string

// The kinds of ID [ResolveID] accepts a prefix of.
const (
	MessageIDs   IDKind = "message"
	ExceptionIDs IDKind = "exception"
	TokenIDs     IDKind = "token"
)

var idTables = map[IDKind]string{MessageIDs: "messages", ExceptionIDs: "exceptions", TokenIDs: "api_tokens"}

// IDQueries find rows by a prefix of their ID, part of [Queries].
type IDQueries interface {
	// MatchIDs returns [s] when s is the ID of a row of kind; else, in
	// order, at most limit IDs of kind that begin with s. An exact ID is
	// found through the primary key; a prefix reads every ID of the table.
	MatchIDs(ctx context.Context, kind IDKind, s string, limit int) ([]string, error)
}

// MatchIDs implements IDQueries.
func (s *queries) MatchIDs(ctx context.Context, kind IDKind, prefix string, limit int) ([]string, error) {
	table, ok := idTables[kind]
	if !ok {
		return nil, fmt.Errorf("store: match ids: %w: kind %q", ErrInvalid, kind)
	}
	op := "match " + string(kind) + " ids"
	var id string
	err := s.q.queryRow(ctx, `SELECT id FROM `+table+` WHERE id = $1`, prefix).Scan(&id)
	if err == nil {
		return []string{id}, nil
	}
	if !errors.Is(s.translate(err), ErrNotFound) {
		return nil, s.err(op, err)
	}
	// substr, not LIKE or a range: it has no wildcards to escape and needs
	// no byte-order collation, the same on SQLite and PostgreSQL.
	rows, err := s.q.query(ctx, `SELECT id FROM `+table+` WHERE substr(id, 1, $2) = $1 ORDER BY id LIMIT $3`,
		prefix, len([]rune(prefix)), limit)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return nil, s.err(op, err)
		}
		out = append(out, id)
	}
	return out, s.err(op, rows.Err())
}

// AmbiguousIDError: a prefix begins more than one ID.
type AmbiguousIDError struct {
	Kind       IDKind
	Prefix     string
	Candidates []string // the first few, in order
	More       bool     // there are more than Candidates
}

func (e *AmbiguousIDError) Error() string {
	more := ""
	if e.More {
		more = ", ..."
	}
	return fmt.Sprintf("%s ID %q is ambiguous: it begins %s%s; give more of the ID", e.Kind, e.Prefix, strings.Join(e.Candidates, ", "), more)
}

// Unwrap makes an ambiguous prefix an ErrInvalid.
func (e *AmbiguousIDError) Unwrap() error { return ErrInvalid }

// ResolveID returns the ID of kind that s is, or the only one s begins.
// The error wraps ErrNotFound when s is neither; it is an
// *AmbiguousIDError when s begins several.
func ResolveID(ctx context.Context, q IDQueries, kind IDKind, s string) (string, error) {
	const show = 5
	if s == "" {
		return "", fmt.Errorf("%s ID: %w: empty", kind, ErrInvalid)
	}
	ids, err := q.MatchIDs(ctx, kind, s, show+1)
	switch {
	case err != nil:
		return "", err
	case len(ids) == 0:
		return "", fmt.Errorf("no %s ID is or begins with %q: %w", kind, s, ErrNotFound)
	case len(ids) > 1:
		return "", &AmbiguousIDError{Kind: kind, Prefix: s, Candidates: ids[:min(len(ids), show)], More: len(ids) > show}
	}
	return ids[0], nil
}
