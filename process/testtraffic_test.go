package process_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/flowtest"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/process"
	wsync "github.com/wharfedi/wharf/sync"
)

// routed is a sync Sender that archives nothing and remembers each send.
type routed struct{ sent []*wsync.Outbound }

func (r *routed) Send(_ context.Context, o *wsync.Outbound) (string, error) {
	r.sent = append(r.sent, o)
	return "", nil
}

// withUsage returns the 850 of the corpus with ISA15 set to usage and
// interchange control number ctl.
func withUsage(t *testing.T, usage, ctl string) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/x12/004010/850.edi")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "*000004850*0*P*", "*"+ctl+"*0*"+usage+"*", 1)
	s = strings.Replace(s, "IEA*1*000004850~", "IEA*1*"+ctl+"~", 1)
	if !strings.Contains(s, "*"+usage+"*>~") {
		t.Fatal("the corpus 850 changed: ISA15 not found")
	}
	return s
}

// An interchange with ISA15 T, and every file of a partner marked test,
// is validated, acknowledged and mapped, but changes no business object
// and takes no production route; the message is marked test.
func TestTestTrafficAcknowledgedButNotApplied(t *testing.T) {
	clock := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	flowtest.ForEachDB(t, archive.Options{Now: now}, []string{"acme", "sandbox"}, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		snd := &routed{}
		// As the application does, from one partner setting (test: true).
		rules := &wsync.Rules{TestPartners: map[string]bool{"sandbox": true}, Routes: []wsync.Route{
			{Name: "to-wms", On: "order.created", To: "wms", Send: "json"},
		}}
		eng := &wsync.Engine{Store: e.Store, Rules: rules, Sender: snd, Now: now}
		p := &process.Processor{Archive: e.Archive, Store: e.Store, Now: now,
			Profile: func(string) *mapping.Profile { return mapping.DefaultProfile() },
			Emit:    eng.Apply,
			Test:    func(partner string) bool { return partner == "sandbox" }}
		run := func(partner, body string) *store.Message {
			t.Helper()
			en, err := e.Archive.Put(ctx, strings.NewReader(body), archive.Meta{Partner: partner, Direction: store.Inbound, Transport: "sftp", RemoteName: "inbound/850.edi"})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Process(ctx, en.ID); err != nil {
				t.Fatal(err)
			}
			m, err := e.Store.GetMessage(ctx, en.ID)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		acks := func(partner string) int {
			t.Helper()
			out, err := e.Store.SearchMessages(ctx, store.MessageFilter{PartnerID: partner, Direction: store.Outbound})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, m := range out {
				if strings.HasPrefix(m.RemoteName, "997_") || strings.Contains(m.RemoteName, "/997_") {
					n++
				}
			}
			return n
		}
		// testAcks counts the partner's 997s marked test in the archive.
		testAcks := func(partner string) int {
			t.Helper()
			out, err := e.Store.SearchMessages(ctx, store.MessageFilter{PartnerID: partner, Direction: store.Outbound, Traffic: store.TrafficTest})
			if err != nil {
				t.Fatal(err)
			}
			return len(out)
		}
		order := func() bool {
			t.Helper()
			_, err := e.Store.GetSyncObject(ctx, "order", "PO-48213")
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}
		isTest := func(m *store.Message) bool {
			t.Helper()
			keys, err := e.Store.MessageKeys(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			return store.IsTest(keys)
		}

		// ISA15 T: acknowledged, mapped, nothing applied or routed.
		m := run("acme", withUsage(t, "T", "000000901"))
		if m.Status != "processed" || acks("acme") != 1 {
			t.Fatalf("test interchange: status %s, %d 997s (want processed and one 997)", m.Status, acks("acme"))
		}
		if !strings.Contains(events(t, e.Store, m.ID), "mapped") {
			t.Fatalf("test interchange not mapped:\n%s", events(t, e.Store, m.ID))
		}
		if order() || len(snd.sent) != 0 {
			t.Fatalf("test interchange changed production: order exists %v, %d routed", order(), len(snd.sent))
		}
		if !isTest(m) || testAcks("acme") != 1 {
			t.Fatalf("the test interchange (marked %v) or its 997 (%d marked) is not marked test in the archive", isTest(m), testAcks("acme"))
		}
		if got, _ := e.Store.SearchMessages(ctx, store.MessageFilter{Traffic: store.TrafficTest, Direction: store.Inbound}); len(got) != 1 || got[0].ID != m.ID {
			t.Fatalf("archive search for test traffic: %d messages", len(got))
		}

		// A partner marked test: its production interchange is test traffic too.
		m = run("sandbox", withUsage(t, "P", "000000902"))
		if acks("sandbox") != 1 || testAcks("sandbox") != 1 || order() || len(snd.sent) != 0 || !isTest(m) {
			t.Fatalf("test partner: %d 997s, order %v, %d routed, marked test %v", acks("sandbox"), order(), len(snd.sent), isTest(m))
		}

		// The same order in production: applied and routed.
		m = run("acme", withUsage(t, "P", "000000903"))
		if acks("acme") != 2 || testAcks("acme") != 1 || !order() || len(snd.sent) != 1 || snd.sent[0].Test || isTest(m) {
			t.Fatalf("production: %d 997s, order %v, %d routed, marked test %v", acks("acme"), order(), len(snd.sent), isTest(m))
		}

		// The trace of the order shows the test files apart.
		tr, err := wsync.Trace(ctx, e.Store, "PO-48213")
		if err != nil {
			t.Fatal(err)
		}
		var tests, prods int
		for _, tm := range tr.Messages {
			if tm.Direction != store.Inbound {
				continue
			}
			if tm.Test {
				tests++
			} else {
				prods++
			}
		}
		if tests != 2 || prods != 1 {
			t.Fatalf("trace: %d test and %d production files (want 2 and 1)", tests, prods)
		}
		marked := 0
		for _, en := range tr.Timeline {
			if strings.HasPrefix(en.What, "[test] ") {
				marked++
			}
		}
		if marked == 0 {
			t.Fatal("the trace's timeline does not mark test traffic")
		}
	})
}
