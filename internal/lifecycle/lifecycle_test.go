package lifecycle

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"
)

func TestTransitions(t *testing.T) {
	for _, c := range []struct {
		from, to Status
		ok       bool
	}{
		// Inbound: processing.
		{StatusReceived, StatusProcessed, true},
		{StatusReceived, StatusRejected, true},
		{StatusReceived, StatusUnrecognized, true},
		// Inbound: replay re-processes.
		{StatusProcessed, StatusRejected, true},
		{StatusRejected, StatusProcessed, true},
		{StatusUnrecognized, StatusProcessed, true},
		{StatusProcessed, StatusProcessed, true},
		{StatusProcessed, StatusDelivered, false},
		{StatusProcessed, StatusReceived, false},
		// Outbound from received or waiting.
		{StatusReceived, StatusDelivered, true},
		{StatusReceived, StatusDeadLetter, true},
		{StatusReceived, StatusAwaitingMDN, true},
		{StatusReceived, StatusFailed, true},
		{StatusReceived, StatusRemoved, true},
		{StatusWaiting, StatusDelivered, true},
		{StatusWaiting, StatusRemoved, true},
		{StatusWaiting, StatusDeadLetter, true},
		{StatusWaiting, StatusAwaitingMDN, true},
		{StatusWaiting, StatusFailed, true},
		{StatusWaiting, StatusProcessed, false}, // waiting is outbound only
		{StatusWaiting, StatusReceived, false},
		{StatusReceived, StatusWaiting, false},
		// AS2 async MDN.
		{StatusAwaitingMDN, StatusDelivered, true},
		{StatusAwaitingMDN, StatusFailed, true},
		{StatusAwaitingMDN, StatusDeadLetter, true},
		{StatusAwaitingMDN, StatusAwaitingMDN, true},
		{StatusAwaitingMDN, StatusRemoved, false},
		{StatusDeadLetter, StatusDelivered, true}, // a late async MDN
		{StatusDeadLetter, StatusFailed, true},
		{StatusDeadLetter, StatusReceived, true}, // a replay re-runs its delivery
		{StatusDeadLetter, StatusDeadLetter, false},
		// Final.
		{StatusDelivered, StatusReceived, false},
		{StatusDelivered, StatusDelivered, false},
		{StatusDelivered, StatusFailed, false},
		{StatusRemoved, StatusDelivered, false},
		{StatusFailed, StatusDelivered, false},
		{StatusFailed, StatusAwaitingMDN, false},
		// Unknown statuses go nowhere.
		{"", StatusReceived, false},
		{"nope", StatusDelivered, false},
		{StatusReceived, "nope", false},
	} {
		if got := CanTransition(c.from, c.to); got != c.ok {
			t.Errorf("CanTransition(%q, %q) = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}

// Every status is reachable from an initial one, and every transition
// leads to a known status.
func TestEveryStatusReachable(t *testing.T) {
	seen := map[Status]bool{}
	var queue []Status
	for _, s := range statuses {
		if s.Initial() {
			seen[s] = true
			queue = append(queue, s)
		}
	}
	if len(queue) != 2 {
		t.Fatalf("initial statuses %v, want received and waiting", queue)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range Next(s) {
			if !n.Valid() {
				t.Errorf("%s -> %q: not a status", s, n)
			}
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	for _, s := range statuses {
		if !seen[s] {
			t.Errorf("status %s cannot be reached from an initial status", s)
		}
	}
	for from := range transitions {
		if !from.Valid() {
			t.Errorf("transitions from unknown status %q", from)
		}
	}
}

// Terminal statuses have no way out, except where the code allows one:
// replay re-processes an inbound message, and a late async AS2 MDN settles
// a dead letter.
func TestTerminalStatuses(t *testing.T) {
	exits := map[Status][]Status{
		StatusProcessed:    {StatusProcessed, StatusRejected, StatusUnrecognized},
		StatusRejected:     {StatusProcessed, StatusRejected, StatusUnrecognized},
		StatusUnrecognized: {StatusProcessed, StatusRejected, StatusUnrecognized},
		StatusDeadLetter:   {StatusDelivered, StatusFailed, StatusReceived},
		StatusDelivered:    nil,
		StatusRemoved:      nil,
		StatusFailed:       nil,
	}
	for _, s := range statuses {
		want, terminal := exits[s]
		if s.Terminal() != terminal {
			t.Errorf("%s: Terminal() = %v, want %v", s, s.Terminal(), terminal)
		}
		if !terminal {
			if len(Next(s)) == 0 {
				t.Errorf("%s is not terminal but has no way out", s)
			}
			continue
		}
		got := Next(s)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("terminal %s: ways out %v, want %v", s, got, want)
		}
	}
	for _, s := range statuses {
		if s.Initial() && s.Terminal() {
			t.Errorf("%s is both initial and terminal", s)
		}
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range statuses {
		got, err := ParseStatus(string(s))
		if err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "Delivered", "delivered ", "dead-letter", "pending", "purged", "awaiting_ack", "mdn-sent", "open"} {
		if s, err := ParseStatus(bad); err == nil {
			t.Errorf("ParseStatus(%q) = %q, want an error", bad, s)
		}
	}
	if got := Statuses(); len(got) != len(statuses) {
		t.Fatalf("Statuses() = %v", got)
	}
	seen := map[Status]bool{}
	for _, s := range statuses {
		if seen[s] {
			t.Errorf("status %s listed twice", s)
		}
		seen[s] = true
	}
}

func TestEventKinds(t *testing.T) {
	seen := map[EventKind]bool{}
	for _, k := range eventKinds {
		if seen[k] {
			t.Errorf("event kind %s listed twice", k)
		}
		seen[k] = true
		if got, err := ParseEventKind(string(k)); err != nil || got != k {
			t.Errorf("ParseEventKind(%q) = %q, %v", k, got, err)
		}
	}
	for _, bad := range []string{"", "Received", "ack_", "forged", "processed"} {
		if k, err := ParseEventKind(bad); err == nil {
			t.Errorf("ParseEventKind(%q) = %q, want an error", bad, k)
		}
	}
	// Each ack verdict has its event; no ack has none.
	for _, a := range []AckStatus{AckAccepted, AckAcceptedWithErrors, AckPartiallyAccepted, AckRejected, AckOverdue} {
		if k := a.Event(); !k.Valid() || k != EventKind("ack_"+string(a)) {
			t.Errorf("%q.Event() = %q", a, k)
		}
	}
	if k := AckNone.Event(); k != "" {
		t.Errorf("AckNone.Event() = %q", k)
	}
	if !AckNone.Awaited() || !AckOverdue.Awaited() || AckAccepted.Awaited() || AckRejected.Awaited() {
		t.Error("Awaited: only none and overdue are awaited")
	}
}

// Every Status and EventKind constant declared in lifecycle.go is in its
// list (so Valid, ParseStatus and ParseEventKind know it).
func TestConstantsListed(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "lifecycle.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			id, ok := vs.Type.(*ast.Ident)
			if !ok {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					t.Fatalf("constant of type %s is not a literal", id.Name)
				}
				s, _ := strconv.Unquote(lit.Value)
				switch id.Name {
				case "Status":
					n[id.Name]++
					if !Status(s).Valid() {
						t.Errorf("status %q is not in statuses", s)
					}
				case "EventKind":
					n[id.Name]++
					if !EventKind(s).Valid() {
						t.Errorf("event kind %q is not in eventKinds", s)
					}
				}
			}
		}
	}
	if n["Status"] != len(statuses) || n["EventKind"] != len(eventKinds) {
		t.Errorf("declared %d statuses and %d event kinds, listed %d and %d", n["Status"], n["EventKind"], len(statuses), len(eventKinds))
	}
}

func TestPermanent(t *testing.T) {
	cause := errors.New("no route")
	err := Permanent(cause)
	if !IsPermanent(err) || !errors.Is(err, ErrPermanent) || !errors.Is(err, cause) {
		t.Fatalf("Permanent(%v) = %v: loses a cause", cause, err)
	}
	if err.Error() != "permanent failure: no route" {
		t.Errorf("message %q", err)
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	if Permanent(err) != err {
		t.Error("Permanent wraps a permanent error again")
	}
	wrapped := fmt.Errorf("deliver m1: %w", fmt.Errorf("%w: partner gone", ErrPermanent))
	if !IsPermanent(wrapped) {
		t.Error("a wrapped ErrPermanent is not permanent")
	}
	if IsPermanent(cause) || IsPermanent(nil) {
		t.Error("a plain error is permanent")
	}
}

func TestIsError(t *testing.T) {
	var got []Status
	for _, s := range statuses {
		if s.IsError() {
			got = append(got, s)
			if !s.Terminal() {
				t.Errorf("error status %s is not terminal", s)
			}
		}
	}
	if want := []Status{StatusRejected, StatusDeadLetter, StatusFailed}; !slices.Equal(got, want) {
		t.Errorf("error statuses %v, want %v", got, want)
	}
}
