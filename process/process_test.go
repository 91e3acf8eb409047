package process_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/flowtest"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/process"
	"github.com/wharfedi/wharf/transports/folder"
)

const load204 = `ISA*00*          *00*          *ZZ*WHARF          *ZZ*ACME           *260716*1200*U*00401*000000077*0*T*>~
GS*SM*WHARF*ACME*20260716*1200*77*X*004010~
ST*204*0001~
B2**SCAC**SHIP123**PP~
B2A*00~
MS3*SCAC*B**T~
N7**VAN123~
S5*1*CL~
N1*SH*SHIPPER CORP*1*123456789~
L3*100*G~
SE*9*0001~
GE*1*77~
IEA*1*000000077~
`

func ack997(gs06, ak9 string) string {
	return `ISA*00*          *00*          *ZZ*ACME           *ZZ*WHARF          *260716*1300*U*00401*0000001` + gs06 + `*0*T*>~
GS*FA*ACME*WHARF*20260716*1300*1` + gs06 + `*X*004010~
ST*997*0001~
AK1*SM*` + gs06 + `~
AK2*204*0001~
AK5*` + ak9 + `~
AK9*` + ak9 + `*1*1*` + map[string]string{"A": "1", "R": "0"}[ak9] + `~
SE*6*0001~
GE*1*1` + gs06 + `~
IEA*1*0000001` + gs06 + `~
`
}

func events(t *testing.T, st store.Store, id string) string {
	t.Helper()
	evs, err := st.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(string(e.Kind) + ": " + e.Detail + "\n")
	}
	return b.String()
}

func TestAcknowledgmentsReconcileAndOverdue(t *testing.T) {
	// One clock for the archive, the store and the processor.
	var clock time.Time
	now := func() time.Time { return clock }
	flowtest.ForEachDB(t, archive.Options{Now: now}, nil, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		st, a := e.Store, e.Archive
		clock = time.Date(2026, 7, 16, 12, 0, 0, 0, time.UTC)
		p := &process.Processor{Archive: a, Store: st, Now: now,
			Policy: func(string) process.Policy { return process.Policy{AckTimeout: 4 * time.Hour} }}
		put := func(body string, dir store.Direction) string {
			e, err := a.Put(ctx, strings.NewReader(body), archive.Meta{Partner: "acme", Direction: dir, Transport: "sftp", RemoteName: "x.edi"})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Process(ctx, e.ID); err != nil {
				t.Fatalf("process: %v", err)
			}
			return e.ID
		}

		// Sent: group 77 awaits the partner's 997.
		sent := put(load204, store.Outbound)
		if ev := events(t, st, sent); !strings.Contains(ev, "awaiting_ack: 1 functional group(s) sent") || !strings.Contains(ev, "expected by 2026-07-16T16:00:00Z") {
			t.Fatalf("sent message events:\n%s", ev)
		}
		// The partner accepts it.
		ack := put(ack997("77", "A"), store.Inbound)
		if ev := events(t, st, sent); !strings.Contains(ev, "ack_accepted: 997 from the partner (message "+ack+"): group SM 77 accepted; 1 of 1 set(s) accepted") {
			t.Fatalf("sent message after the 997:\n%s", ev)
		}
		if ev := events(t, st, ack); !strings.Contains(ev, "reconciled: acknowledgments read: 1 group ack(s)") || strings.Contains(ev, "exception") {
			t.Fatalf("ack message events:\n%s", ev)
		}

		// A second group, rejected; a third never acknowledged.
		rej := put(strings.ReplaceAll(load204, "77", "78"), store.Outbound)
		put(ack997("78", "R"), store.Inbound)
		if ev := events(t, st, rej); !strings.Contains(ev, "ack_rejected") || !strings.Contains(ev, "rejected sets: 204 0001") {
			t.Fatalf("rejected group:\n%s", ev)
		}
		late := put(strings.ReplaceAll(load204, "77", "79"), store.Outbound)
		if n, err := p.CheckOverdue(ctx); n != 0 || err != nil {
			t.Fatalf("overdue before the timeout: %d %v", n, err)
		}
		clock = clock.Add(5 * time.Hour)
		if n, err := p.CheckOverdue(ctx); n != 1 || err != nil {
			t.Fatalf("overdue after the timeout: %d %v", n, err)
		}
		if ev := events(t, st, late); !strings.Contains(ev, "ack_overdue: exception: no acknowledgment from acme for group SM 79") {
			t.Fatalf("overdue group:\n%s", ev)
		}
		if n, _ := p.CheckOverdue(ctx); n != 0 {
			t.Fatalf("an overdue group was raised twice")
		}

		// A 997 for a group Wharf never sent is an exception.
		stray := put(ack997("55", "A"), store.Inbound)
		if ev := events(t, st, stray); !strings.Contains(ev, "exception: acknowledgment matches nothing Wharf sent to acme: 997 for group SM 55") {
			t.Fatalf("stray ack:\n%s", ev)
		}

		// Each of those is one entry in the exceptions queue, owned by IT.
		open, err := st.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, e := range open {
			got[e.Reason] = e.MessageID
			if e.Owner != store.OwnerIT || e.PartnerID != "acme" || e.Detail == "" {
				t.Fatalf("exception %+v", e)
			}
		}
		if len(open) != 3 || got["ack_overdue"] != late || got["ack_unmatched"] != stray || got["ack_rejected"] != rej {
			t.Fatalf("exceptions queue: %v", got)
		}
	})
}

// TestAckControlNumbers: each 997 takes the partner's next ISA13 and GS06
// (allocated together), never one another 997 had.
func TestAckControlNumbers(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, nil, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		st, a := e.Store, e.Archive
		p := &process.Processor{Archive: a, Store: st}
		var got []string
		for i, ctl := range []string{"77", "78", "79"} {
			e, err := a.Put(ctx, strings.NewReader(strings.ReplaceAll(load204, "77", ctl)), archive.Meta{Partner: "acme", Transport: "sftp", RemoteName: fmt.Sprintf("f%d.edi", i)})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Process(ctx, e.ID); err != nil {
				t.Fatal(err)
			}
			acks, err := st.SearchMessages(ctx, store.MessageFilter{Direction: store.Outbound, Key: e.ID})
			if err != nil || len(acks) != 1 {
				t.Fatalf("997 of %s: %v %v", e.ID, acks, err)
			}
			rc, _, err := a.Get(ctx, acks[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			segs := strings.Split(string(b), "~")
			isa, gs := strings.Split(segs[0], "*"), strings.Split(strings.TrimSpace(segs[1]), "*")
			got = append(got, isa[13]+"/"+gs[6])
		}
		if want := "[000000001/1 000000002/2 000000003/3]"; fmt.Sprint(got) != want {
			t.Fatalf("997 ISA13/GS06: %v, want %s", got, want)
		}
		if n, err := st.NextCounter(ctx, "acme", "gs06"); err != nil || n != 4 {
			t.Fatalf("next gs counter: %d %v", n, err)
		}
	})
}

// TestAckNamesDistinct: a partner that uploads the same file name again,
// the second time a duplicate interchange, finds two distinct files in its
// outbound/: the 997 of the first and the TA1 rejecting the second. A third
// upload under that name (a new interchange) gets a 997 named apart too.
func TestAckNamesDistinct(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"acme"}, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		p := &process.Processor{Archive: e.Archive, Store: e.Store}
		upload := func(body string) string {
			en, err := e.Archive.Put(ctx, strings.NewReader(body), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: "inbound/load.edi"})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Process(ctx, en.ID); err != nil {
				t.Fatal(err)
			}
			// A retried job finds its acknowledgment under the same name.
			if err := p.Process(ctx, en.ID); err != nil {
				t.Fatal(err)
			}
			return en.ID
		}
		outbound := func() map[string]string {
			ws, err := e.Gateway.Waiting(ctx, "acme", "sftp")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, w := range ws {
				if _, dup := got[w.Name]; dup {
					t.Fatalf("outbound/ lists %s twice: %+v", w.Name, ws)
				}
				got[w.Name] = e.Bytes(t, w.MessageID)
			}
			return got
		}
		upload(load204)
		second := upload(load204) // the same interchange again: a duplicate
		got := outbound()
		if len(got) != 2 {
			t.Fatalf("outbound/ holds %d files, want the 997 and the TA1: %v", len(got), got)
		}
		if !strings.Contains(got["997_load.edi"], "ST*997*") {
			t.Fatalf("997_load.edi is not the 997: %v", got)
		}
		var ta1 string
		for name, body := range got {
			if name != "997_load.edi" {
				ta1 = name
				if !strings.HasPrefix(name, "TA1_load.") || !strings.HasSuffix(name, ".edi") || !strings.Contains(body, "TA1*000000077*") || strings.Contains(body, "ST*997*") {
					t.Fatalf("the duplicate's acknowledgment %s:\n%s", name, body)
				}
			}
		}
		if ev := events(t, e.Store, second); !strings.Contains(ev, "acknowledgment TA1 archived") || !strings.Contains(ev, ta1) {
			t.Fatalf("duplicate's events:\n%s", ev)
		}
		upload(strings.ReplaceAll(load204, "000000077", "000000078"))
		if got := outbound(); len(got) != 3 {
			t.Fatalf("outbound/ after a third upload of load.edi: %v", got)
		}
	})
}

// TestRejectedFileSaysWhy: a file rejected by validation says why where
// people look: the "validated" event lists the checker's messages with
// their positions, a WARN log line names the partner, file, message and
// first reason, and one exception (x12_rejected) joins the queue, however
// often the message is processed.
func TestRejectedFileSaysWhy(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"acme"}, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		var logs strings.Builder
		p := &process.Processor{Archive: e.Archive, Store: e.Store, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		bad := strings.Replace(load204, "SE*9*0001~", "SE*47*0001~", 1)
		en, err := e.Archive.Put(ctx, strings.NewReader(bad), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: "inbound/load.edi"})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // a retried job or a replay: still one exception
			if err := p.Process(ctx, en.ID); err != nil {
				t.Fatal(err)
			}
		}
		m, err := e.Store.GetMessage(ctx, en.ID)
		if err != nil || m.Status != "rejected" {
			t.Fatalf("message: %+v %v", m, err)
		}
		ev := events(t, e.Store, en.ID)
		var validated string
		for _, line := range strings.Split(ev, "\nvalidated: ")[1:] {
			validated = line
		}
		for _, want := range []string{"0 accepted, 1 rejected", `SE01 is "47", 9 segments counted`, "interchange 000000077, group 77, set 0001", "SE at set position 9"} {
			if !strings.Contains(validated, want) {
				t.Errorf("the validated event lacks %q:\n%s", want, ev)
			}
		}
		if !strings.Contains(ev, "exception: x12_rejected (exception ") {
			t.Errorf("no exception event:\n%s", ev)
		}
		open, err := e.Store.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, MessageID: en.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 1 {
			t.Fatalf("%d open exceptions for the rejected file, want 1: %+v", len(open), open)
		}
		x := open[0]
		if x.Reason != "x12_rejected" || x.Owner != store.OwnerOperations || x.PartnerID != "acme" ||
			!strings.Contains(x.Detail, "inbound/load.edi") || !strings.Contains(x.Detail, `SE01 is "47"`) {
			t.Errorf("exception %+v", x)
		}
		var warn string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, "rejected") {
				warn = l
				break
			}
		}
		for _, want := range []string{"partner=acme", "file=inbound/load.edi", "message=" + en.ID, `SE01 is \"47\"`} {
			if !strings.Contains(warn, want) {
				t.Errorf("the WARN line lacks %s: %q\nlog:\n%s", want, warn, logs.String())
			}
		}
	})
}

// TestValidatedIssuesBounded: a file with many problems lists the first
// ten in its "validated" event and counts the rest.
func TestValidatedIssuesBounded(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"acme"}, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		p := &process.Processor{Archive: e.Archive, Store: e.Store}
		i := strings.Index(load204, "ST*")
		set := strings.Replace(load204[i:strings.Index(load204, "GE*")], "SE*9*", "SE*47*", 1)
		var sets strings.Builder
		for n := 1; n <= 15; n++ {
			sets.WriteString(strings.ReplaceAll(set, "*0001~", fmt.Sprintf("*%04d~", n)))
		}
		body := load204[:i] + sets.String() + "GE*15*77~\nIEA*1*000000077~\n"
		en, err := e.Archive.Put(ctx, strings.NewReader(body), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: "many.edi"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Process(ctx, en.ID); err != nil {
			t.Fatal(err)
		}
		ev := events(t, e.Store, en.ID)
		if n := strings.Count(ev, "SE01 is"); n != 10+1 { // ten listed, the first again in the exception event
			t.Errorf("SE01 errors shown %d times, want 11:\n%s", n, ev)
		}
		if !strings.Contains(ev, "0 accepted, 15 rejected") || !strings.Contains(ev, "... and 5 more") {
			t.Errorf("events:\n%s", ev)
		}
	})
}

// The completion a job puts in the context (store.WithFinal) commits in the
// transaction that records the outcome, after the status: a crash cannot
// complete the job without its outcome, nor leave the outcome with a job
// that runs again. It runs once per Process call, also for a file of
// acknowledgments (whose last transaction is a later one).
func TestCompletionCommitsWithTheOutcome(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"acme"}, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		p := &process.Processor{Archive: e.Archive, Store: e.Store}
		for _, c := range []struct{ name, body string }{
			{"204", load204},
			{"997", strings.Replace(ack997("77", "A"), "000000077", "000000078", -1)},
		} {
			en, err := e.Archive.Put(ctx, strings.NewReader(c.body), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: "inbound/" + c.name + ".edi"})
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			cctx := store.WithFinal(ctx, func(ctx context.Context, tx store.Tx) error {
				calls++
				m, err := tx.GetMessage(ctx, en.ID)
				if err != nil {
					return err
				}
				if m.Status == lifecycle.StatusReceived {
					t.Errorf("%s: the completion ran before the outcome was recorded", c.name)
				}
				return nil
			})
			if err := p.Process(cctx, en.ID); err != nil {
				t.Fatal(err)
			}
			if calls != 1 {
				t.Errorf("%s: completion ran %d times, want once", c.name, calls)
			}
		}
	})
}

// A 997 carried by an interchange rejected as a duplicate (the same ISA13
// again: TA1 note 025) is not applied: the group it names keeps the
// disposition of the first 997 (issue 18 #9).
func TestAckInRejectedInterchangeNotApplied(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, nil, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		p := &process.Processor{Archive: e.Archive, Store: e.Store}
		put := func(body string, dir store.Direction, name string) string {
			en, err := e.Archive.Put(ctx, strings.NewReader(body), archive.Meta{Partner: "acme", Direction: dir, Transport: "sftp", RemoteName: name})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Process(ctx, en.ID); err != nil {
				t.Fatalf("process: %v", err)
			}
			return en.ID
		}
		sent := put(load204, store.Outbound, "out.edi")
		put(ack997("77", "A"), store.Inbound, "ack1.edi")
		// The same interchange control number again, now rejecting group 77.
		dup := put(ack997("77", "R"), store.Inbound, "ack2.edi")
		ev := events(t, e.Store, sent)
		if strings.Contains(ev, "ack_rejected") || !strings.Contains(ev, "ack_accepted") {
			t.Fatalf("the duplicate interchange's 997 was applied to the sent group:\n%s", ev)
		}
		dev := events(t, e.Store, dup)
		if !strings.Contains(dev, "1 not applied because the interchange carrying them was rejected: 997 for group SM 77 (interchange 000000177)") {
			t.Fatalf("the duplicate's history does not say its 997 was not applied:\n%s", dev)
		}
		// Its sets are counted as rejected with it (not "1 accepted, 0 rejected").
		if !strings.Contains(dev, "1 set(s): 0 accepted, 1 rejected") {
			t.Fatalf("the duplicate's validated event miscounts its sets:\n%s", dev)
		}
	})
}

// A carrier's 214, 990 and 210 are found by the shipment they are about
// (the document's shipment_id), not only by their PRO, BOL and control
// numbers (issue 19 #3).
func TestMappedDocumentsIndexedByShipment(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"acme"}, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		p := &process.Processor{Archive: e.Archive, Store: e.Store, Profile: func(string) *mapping.Profile { return mapping.DefaultProfile() }}
		for _, set := range []string{"990", "214", "210"} {
			b, err := os.ReadFile("../testdata/x12/004010/" + set + ".edi")
			if err != nil {
				t.Fatal(err)
			}
			en, err := e.Archive.Put(ctx, bytes.NewReader(b), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: "inbound/" + set + ".edi"})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Process(ctx, en.ID); err != nil {
				t.Fatal(err)
			}
		}
		found, err := e.Store.SearchMessages(ctx, store.MessageFilter{Key: "666555"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, m := range found {
			got[m.RemoteName] = true
		}
		for _, set := range []string{"990", "214", "210"} {
			if !got["inbound/"+set+".edi"] {
				t.Errorf("the %s is not found by its shipment 666555 (found %v)", set, got)
			}
		}
	})
}

// downStore is a store whose database stopped answering message reads.
type downStore struct{ store.Store }

func (downStore) GetMessage(ctx context.Context, id string) (*store.Message, error) {
	return nil, fmt.Errorf("store: message %s: failed to connect: connection refused", id)
}

func (downStore) GetMessageEntry(ctx context.Context, id string) (*store.Message, *store.ArchiveEntry, []byte, error) {
	return nil, nil, nil, fmt.Errorf("store: message %s: failed to connect: connection refused", id)
}

// A message the database cannot read now (an outage) is a retryable
// failure, not a permanent one: a permanent failure cancels the process
// job, which left the message "received" for good after a PostgreSQL
// outage (faults.TestPostgresOutage). Only a message that is gone is.
func TestProcessOutageIsRetryable(t *testing.T) {
	blobs, err := archive.NewFS(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	e := flowtest.Open(t, "SQLite", archive.Options{Blobs: blobs}, "acme")
	ctx := context.Background()
	en, err := e.Archive.Put(ctx, strings.NewReader(load204), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: "inbound/204.edi"})
	if err != nil {
		t.Fatal(err)
	}
	// The same archive over a store that cannot be reached.
	downArchive, err := archive.New(downStore{e.Store}, archive.Options{Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	down := &process.Processor{Archive: downArchive, Store: downStore{e.Store}}
	if err := down.Process(ctx, en.ID); err == nil || lifecycle.IsPermanent(err) {
		t.Fatalf("database down: got %v, want a retryable error", err)
	}
	up := &process.Processor{Archive: e.Archive, Store: e.Store}
	if err := up.Process(ctx, "01a00000-0000-7000-8000-000000000000"); !lifecycle.IsPermanent(err) {
		t.Fatalf("a message that does not exist: got %v, want a permanent error", err)
	}
	if err := up.Process(ctx, en.ID); err != nil {
		t.Fatalf("once the database answers: %v", err)
	}
}

// A file received from a folder gets its 997 written to the partner's
// outbound folder by processing itself (delivery.Engine.SendNow), recorded
// delivered in the transaction that records the file's outcome, with no
// delivery job; when that send fails, the same transaction hands the 997 to
// a delivery job instead, and the file's outcome is recorded all the same.
func TestAcknowledgmentSentWithTheOutcome(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 7, 16, 12, 0, 0, 0, time.UTC) }
	flowtest.ForEachDB(t, archive.Options{Now: now}, nil, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		out := t.TempDir()
		var routes delivery.Registry
		routes.Register("folder", func(ctx context.Context, partner string) (delivery.Sender, error) {
			f, err := folder.New(out)
			if err != nil {
				return nil, err
			}
			return &delivery.PutSender{Transport: f, Where: "folder " + out}, nil
		})
		eng := &delivery.Engine{Archive: e.Archive, Store: e.Store, Routes: &routes}
		var enqueued []string
		p := &process.Processor{Archive: e.Archive, Store: e.Store, Now: now,
			SendNow: eng.SendNow, Inline: func(tr string) bool { return tr == "folder" },
			Enqueue: func(ctx context.Context, tx store.Tx, id string) error { enqueued = append(enqueued, id); return nil }}
		process1 := func(name, body string) (in *store.Message, ack *store.Message) {
			t.Helper()
			en, err := e.Archive.Put(ctx, strings.NewReader(body), archive.Meta{Partner: "acme", Transport: "folder", RemoteName: name})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Process(ctx, en.ID); err != nil {
				t.Fatal(err)
			}
			in, _ = e.Store.GetMessage(ctx, en.ID)
			acks, err := e.Store.SearchMessages(ctx, store.MessageFilter{Key: en.ID, Direction: store.Outbound})
			if err != nil || len(acks) != 1 {
				t.Fatalf("acknowledgments of %s: %v, %v", name, acks, err)
			}
			return in, acks[0]
		}

		in, ack := process1("LOAD1.edi", load204)
		if in.Status != lifecycle.StatusProcessed || ack.Status != lifecycle.StatusDelivered {
			t.Fatalf("file %s, its 997 %s; want processed and delivered", in.Status, ack.Status)
		}
		if b, err := os.ReadFile(out + "/997_LOAD1.edi"); err != nil || e.Bytes(t, ack.ID) != string(b) {
			t.Fatalf("997 in the outbound folder: %v (%d bytes)", err, len(b))
		}
		if ev := events(t, e.Store, ack.ID); !strings.Contains(ev, "delivered: sent with the outcome of message "+in.ID+", over folder") {
			t.Errorf("997 history:\n%s", ev)
		}
		if len(enqueued) != 0 {
			t.Errorf("delivery jobs enqueued: %v", enqueued)
		}

		// The partner's folder is gone: the 997 goes to a delivery job.
		os.RemoveAll(out)
		in, ack = process1("LOAD2.edi", strings.ReplaceAll(load204, "000000077", "000000078"))
		if in.Status != lifecycle.StatusProcessed || ack.Status != lifecycle.StatusWaiting {
			t.Fatalf("file %s, its 997 %s; want processed and waiting", in.Status, ack.Status)
		}
		if len(enqueued) != 1 || enqueued[0] != ack.ID {
			t.Errorf("delivery jobs enqueued: %v, want the 997 %s", enqueued, ack.ID)
		}
	})
}
