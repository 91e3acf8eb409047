package web

import (
	"context"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// A rejected file's message page shows why, next to its content: the
// reasons of its last processing, its open exception, and the file one
// segment per row with the segment the reason names marked. The same for a
// CSV line, and for a file Wharf does not read.
func TestRejectedFileShownWithItsContent(t *testing.T) {
	f := newFixture(t, testenv.OpenStore(t, "SQLite"))
	ctx := context.Background()
	get := signIn(t, f.st, f.srv.URL, store.RoleAuditor)
	// As process records a rejection: the status, the validated event
	// with the checker's lines, the exception and the event naming it.
	reject := func(name, body string, status lifecycle.Status, kind lifecycle.EventKind, detail, reason string) string {
		t.Helper()
		e, err := f.a.Put(ctx, strings.NewReader(body), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: name})
		if err != nil {
			t.Fatal(err)
		}
		x := &store.Exception{Reason: reason, Owner: store.OwnerOperations, ObjectKind: "message", ObjectKey: e.ID, MessageID: e.ID, PartnerID: "acme",
			DedupeKey: reason + "/" + e.ID, Detail: "partner acme, file " + name + " was rejected"}
		err = f.st.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.SetMessageStatus(ctx, e.ID, status); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, &store.Event{MessageID: e.ID, Kind: kind, Detail: detail}); err != nil {
				return err
			}
			if _, err := tx.RaiseException(ctx, x); err != nil {
				return err
			}
			return tx.AppendEvent(ctx, &store.Event{MessageID: e.ID, Kind: lifecycle.EventException, Detail: reason + " (exception " + x.ID + "): why"})
		})
		if err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	marked := regexp.MustCompile(`<tr class="marked"><th>(\d+)</th>`)
	for _, c := range []struct {
		name, body string
		status     lifecycle.Status
		kind       lifecycle.EventKind
		detail     string
		reason     string
		want       []string
		marked     []string
	}{
		{"load.edi", "ISA*00*          *00*          *ZZ*WHARF          *ZZ*ACME           *260716*1200*U*00401*000000077*0*T*>~\nGS*SM*WHARF*ACME*20260716*1200*77*X*004010~\nST*204*0001~\nB2**SCAC**SHIP123**PP~\nSE*47*0001~\nGE*1*77~\nIEA*1*000000077~\n",
			lifecycle.StatusRejected, lifecycle.EventValidated,
			"X12: 1 interchange(s), 1 group(s), 1 set(s): 0 accepted, 1 rejected\nerror: x12: interchange 000000077, group 77, set 0001, segment 5 (SE at set position 3), element 1, offset 200: count mismatch: SE01 is \"47\", 3 segments counted [code 4]",
			"x12_rejected", []string{"Why this file was rejected", `SE01 is "47", 3 segments counted`, "one segment per row", "SE*47*0001~", `href="/ui/exceptions/`}, []string{"5"}},
		{"orders.csv", "order,po,charge\nSO-1,PO-1,100.00\nSO-2,PO-2,lots\n",
			lifecycle.StatusRejected, lifecycle.EventMapped,
			"mapping rejected the file (policy reject): 1 error(s); no documents passed on\nerror: order at line 3 (line 3, column 3 (freight_charge)): invalid value: \"lots\": not a decimal number",
			"rejected", []string{"not a decimal number", "one line per row", "SO-2,PO-2,lots"}, []string{"3"}},
		{"scan.pdf", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", lifecycle.StatusUnrecognized, lifecycle.EventParsed,
			`not X12 (no ISA segment at the start), not canonical JSON, and partner acme has no mapping.layout for CSV or fixed-width files; it starts with "%PDF-1.7"`,
			"unrecognized", []string{"Why Wharf does not read this file", "partner acme has no mapping.layout", "%PDF-1.7"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := reject(c.name, c.body, c.status, c.kind, c.detail, c.reason)
			code, body := get("/ui/messages/" + id)
			if code != 200 {
				t.Fatalf("message page: %d", code)
			}
			body = html.UnescapeString(body)
			for _, want := range c.want {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks %q:\n%s", want, body)
				}
			}
			var got []string
			for _, m := range marked.FindAllStringSubmatch(body, -1) {
				got = append(got, m[1])
			}
			if strings.Join(got, ",") != strings.Join(c.marked, ",") {
				t.Errorf("marked rows %v, want %v", got, c.marked)
			}
		})
	}
	// A processed file has no such section.
	e, err := f.a.Put(ctx, strings.NewReader("fine"), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: "fine.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetMessageStatus(ctx, e.ID, lifecycle.StatusProcessed); err != nil {
		t.Fatal(err)
	}
	if _, body := get("/ui/messages/" + e.ID); strings.Contains(body, `id="rejection"`) {
		t.Errorf("a processed message shows a rejection:\n%s", body)
	}
}
