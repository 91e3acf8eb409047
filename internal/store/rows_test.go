package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/lifecycle"
)

// TestRowsWait checks how a PostgreSQL transaction holds insertLater's
// rows: one multi-row INSERT per statement, sent before the first
// statement that names the table, or at the end; a statement that does not
// name it leaves the rows waiting.
func TestRowsWait(t *testing.T) {
	const evHead = `INSERT INTO message_events (message_id, at, kind, detail) VALUES `
	p := &pgTxQ{}
	for i := range 3 {
		p.rows.add(fmt.Sprint("append event to message m", i), evHead, "", [][]any{{fmt.Sprint("m", i), "at", "kind", "detail"}})
	}
	p.rows.add("add keys to message m0", insertKeysHead, onConflictNothing, [][]any{{"m0", "po", "1"}, {"m0", "bol", "2"}})

	p.due(`UPDATE messages SET status = $1 WHERE id = $2`)
	if len(p.later) != 0 || len(p.rows.groups) != 2 {
		t.Fatalf("a statement that names neither table: %d writes sent, %d statements of rows waiting; want 0 and 2", len(p.later), len(p.rows.groups))
	}
	p.due(`SELECT id, kind FROM message_events WHERE message_id = $1`)
	if len(p.later) != 1 || len(p.rows.groups) != 1 {
		t.Fatalf("a statement that reads the events: %d writes sent, %d waiting; want the events' INSERT sent, the keys waiting", len(p.later), len(p.rows.groups))
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
		p.rows.add("add keys to message m1", insertKeysHead, onConflictNothing, [][]any{{"m1", "po", fmt.Sprint(i)}})
	}
	p.due("")
	if len(p.rows.groups) != 0 || len(p.later) != 3 {
		t.Fatalf("at the end: %d statements of rows waiting, %d writes; want none and 3 (events, 16 keys, 5 keys)", len(p.rows.groups), len(p.later))
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

	p.rows.add("append event to message m9", evHead, "", [][]any{{"m9", "at", "kind", "detail"}})
	p.rollback(t.Context())
	if len(p.rows.groups) != 0 || len(p.later) != 0 {
		t.Fatalf("after a rollback: %d waiting, %d writes", len(p.rows.groups), len(p.later))
	}
}

// TestGroupCommitWaitingRows queues callers of one SQLite group commit
// whose rows wait (insertLater) and checks that each caller's rows are
// written at the end of its own function, in its savepoint: a caller
// whose rows fail gets their error, named, and loses its other writes;
// the others commit theirs.
func TestGroupCommitWaitingRows(t *testing.T) {
	ctx := context.Background()
	s := openGroupStore(t)
	m := &Message{PartnerID: "acme", Direction: Inbound}
	if err := s.InsertMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s, nil)
	appendTo := func(id string, kinds ...string) error {
		return s.WithTx(ctx, func(tx Tx) error {
			for _, k := range kinds {
				if err := tx.AppendEvent(ctx, &Event{MessageID: id, Kind: lifecycle.EventKind(k)}); err != nil {
					return err
				}
			}
			_, err := tx.NextCounter(ctx, "acme", "calls") // a write of the caller's own
			return err
		})
	}
	errs := make(chan error, 3)
	go func() { errs <- appendTo(m.ID, "a1", "a2") }()
	waitFor(t, func() bool { return queued(s) == 1 })
	go func() { errs <- appendTo("no-such-message", "b1") }()
	waitFor(t, func() bool { return queued(s) == 2 })
	go func() { errs <- appendTo(m.ID, "c1") }()
	waitFor(t, func() bool { return queued(s) == 3 })
	if err := release(); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for range 3 {
		if err := <-errs; err != nil {
			failed++
			if !strings.Contains(err.Error(), "append event to message no-such-message") {
				t.Errorf("the failing caller's error %v, want its rows named", err)
			}
		}
	}
	if failed != 1 {
		t.Fatalf("%d callers failed, want the one whose event names no message", failed)
	}
	evs, err := s.Events(ctx, m.ID)
	if err != nil || len(evs) != 3 || evs[0].Kind != "a1" || evs[1].Kind != "a2" || evs[2].Kind != "c1" {
		t.Fatalf("events %+v %v, want a1 a2 c1", evs, err)
	}
	if n, err := s.NextCounter(ctx, "acme", "calls"); err != nil || n != 3 {
		t.Fatalf("next counter %d %v, want 3: the failing caller's draw rolled back with its rows", n, err)
	}
}
