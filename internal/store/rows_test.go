package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestRowsWait checks how a PostgreSQL transaction holds insertLater's
// rows: one multi-row INSERT per statement, sent before the first
// statement that names the table, or at the end; a statement that does not
// name it leaves the rows waiting.
func TestRowsWait(t *testing.T) {
	const evHead = `INSERT INTO message_events (message_id, at, kind, detail) VALUES `
	p := &pgTxQ{}
	for i := range 3 {
		p.addRows(fmt.Sprint("append event to message m", i), evHead, "", [][]any{{fmt.Sprint("m", i), "at", "kind", "detail"}})
	}
	p.addRows("add keys to message m0", insertKeysHead, onConflictNothing, [][]any{{"m0", "po", "1"}, {"m0", "bol", "2"}})

	p.due(`UPDATE messages SET status = $1 WHERE id = $2`)
	if len(p.later) != 0 || len(p.rows) != 2 {
		t.Fatalf("a statement that names neither table: %d writes sent, %d statements of rows waiting; want 0 and 2", len(p.later), len(p.rows))
	}
	p.due(`SELECT id, kind FROM message_events WHERE message_id = $1`)
	if len(p.later) != 1 || len(p.rows) != 1 {
		t.Fatalf("a statement that reads the events: %d writes sent, %d waiting; want the events' INSERT sent, the keys waiting", len(p.later), len(p.rows))
	}
	ev := p.later[0]
	if want := evHead + "($1, $2, $3, $4), ($5, $6, $7, $8), ($9, $10, $11, $12)"; ev.sql != want {
		t.Errorf("events' INSERT:\n%s\nwant\n%s", ev.sql, want)
	}
	if len(ev.args) != 12 || ev.args[0] != "m0" || ev.args[8] != "m2" {
		t.Errorf("events' arguments: %v", ev.args)
	}
	if ev.label != "store: append event to message m0 (and 2 more)" {
		t.Errorf("events' label %q", ev.label)
	}

	// More rows than one statement takes: 16 at once, then the rest.
	for i := range 19 {
		p.addRows("add keys to message m1", insertKeysHead, onConflictNothing, [][]any{{"m1", "po", fmt.Sprint(i)}})
	}
	p.due("")
	if len(p.rows) != 0 || len(p.later) != 3 {
		t.Fatalf("at the end: %d statements of rows waiting, %d writes; want none and 3 (events, 16 keys, 5 keys)", len(p.rows), len(p.later))
	}
	for i, n := range []int{16, 5} {
		l := p.later[1+i]
		if got := strings.Count(l.sql, "("); got != n+1 || !strings.HasSuffix(l.sql, onConflictNothing) || len(l.args) != 3*n {
			t.Errorf("keys' INSERT %d: %d rows, %d arguments, want %d rows: %s", i, got-1, len(l.args), n, l.sql)
		}
	}
	if !slices.Equal(p.later[1].args[:3], []any{"m0", "po", "1"}) {
		t.Errorf("keys in the order they were added: %v", p.later[1].args[:6])
	}

	p.addRows("append event to message m9", evHead, "", [][]any{{"m9", "at", "kind", "detail"}})
	p.rollback(t.Context())
	if len(p.rows) != 0 || len(p.later) != 0 {
		t.Fatalf("after a rollback: %d waiting, %d writes", len(p.rows), len(p.later))
	}
}
