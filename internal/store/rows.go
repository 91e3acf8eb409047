package store

import (
	"context"
	"fmt"
	"strings"
)

// waitingRows are the rows of insertLater waiting in a transaction: those
// of one statement (one table) become one multi-row INSERT when a statement
// names their table (strings.Contains: a statement that might read them
// sees them), or when the transaction's writer's turn ends (PostgreSQL:
// the COMMIT or a flush; SQLite: the end of the caller's function in the
// group commit, inside its savepoint). Only rows of tables that nothing
// references and whose own keys do not cascade wait so (a DELETE of the
// message they name fails either way, before them or at them), and no
// trigger reads them.
type waitingRows struct {
	groups []*rowGroup // in the order of their first row
}

// rowGroup are the waiting rows of one statement.
type rowGroup struct {
	head, tail, table string
	labels            []string
	rows              [][]any
}

func (w *waitingRows) add(label, head, tail string, rows [][]any) {
	for _, g := range w.groups {
		if g.head == head && g.tail == tail {
			g.labels = append(g.labels, label)
			g.rows = append(g.rows, rows...)
			return
		}
	}
	w.groups = append(w.groups, &rowGroup{head: head, tail: tail, table: insertTable(head), labels: []string{label}, rows: rows})
}

// insertTable is the table of an INSERT's head ("INSERT INTO t (...").
func insertTable(head string) string {
	t := strings.TrimPrefix(head, "INSERT INTO ")
	if i := strings.IndexAny(t, " ("); i > 0 {
		t = t[:i]
	}
	return t
}

// take removes the rows that statement q may see (every one when q is
// "") and returns their INSERTs, labelled by the first row's label.
func (w *waitingRows) take(q string) []laterStmt {
	if len(w.groups) == 0 {
		return nil
	}
	var out []laterStmt
	kept := w.groups[:0]
	for _, g := range w.groups {
		if q != "" && !strings.Contains(q, g.table) {
			kept = append(kept, g)
			continue
		}
		label := "store: " + g.labels[0]
		if len(g.labels) > 1 {
			label = fmt.Sprintf("store: %s (and %d more)", g.labels[0], len(g.labels)-1)
		}
		for rows := g.rows; len(rows) > 0; {
			sql, args, n := rowsSQL(g.head, g.tail, rows)
			out = append(out, laterStmt{label: label, sql: sql, args: args})
			rows = rows[n:]
		}
	}
	clear(w.groups[len(kept):])
	w.groups = kept
	return out
}

// drop forgets the waiting rows (their transaction or savepoint rolls back).
func (w *waitingRows) drop() {
	clear(w.groups)
	w.groups = w.groups[:0]
}

// snapshot is what waits now, for restore.
func (w *waitingRows) snapshot() []rowGroup {
	if len(w.groups) == 0 {
		return nil
	}
	s := make([]rowGroup, len(w.groups))
	for i, g := range w.groups {
		s[i] = *g // the slices keep their length: rows added later are not in it
	}
	return s
}

// restore makes what waited at a snapshot wait again, and only that: a
// savepoint rolled back, with the rows it added and those it sent.
func (w *waitingRows) restore(s []rowGroup) {
	w.drop()
	for i := range s {
		g := s[i]
		w.groups = append(w.groups, &g)
	}
}

// flushRows runs the waiting rows that q may see (every one for "") in a
// SQLite transaction.
func (s *sqliteTxQ) flushRows(ctx context.Context, q string) error {
	for _, l := range s.rows.take(q) {
		x, err := s.on(ctx, l.sql)
		if err == nil {
			_, err = x.exec(ctx, l.sql, l.args...)
		}
		if err != nil {
			// The caller's other waiting rows go with these, and its
			// function fails at its end even if it ignores this error.
			s.rows.drop()
			err = fmt.Errorf("%s: %w", l.label, sqliteTranslate(err))
			if s.err == nil {
				s.err = err
			}
			return err
		}
	}
	return nil
}
