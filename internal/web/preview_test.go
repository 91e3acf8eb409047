package web

import (
	"context"
	"encoding/json"
	"html"
	"os"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// A message's preview: X12 one segment per row, indented by envelope,
// with the segment its validation's warning names marked; CSV and TSV as
// tables with their quoted fields whole; text as is; nothing of a binary
// file; a large file's start only. The API answers the same preview the
// console shows next to the download.
func TestPreview(t *testing.T) {
	f := newFixture(t, testenv.OpenStore(t, "SQLite"))
	ctx := context.Background()
	get := signIn(t, f.st, f.srv.URL, store.RoleAuditor)
	put := func(name string, body []byte, events ...*store.Event) string {
		t.Helper()
		e, err := f.a.Put(ctx, strings.NewReader(string(body)), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: name})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.st.SetMessageStatus(ctx, e.ID, lifecycle.StatusProcessed); err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			ev.MessageID = e.ID
			if err := f.st.AppendEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		return e.ID
	}
	preview := func(id string) Preview {
		t.Helper()
		resp, b := f.call("GET", "/api/v1/messages/"+id+"/preview", store.RoleAuditor, nil)
		var pv Preview
		if err := json.Unmarshal(b, &pv); err != nil || resp.StatusCode != 200 {
			t.Fatalf("preview: %d %v %s", resp.StatusCode, err, b)
		}
		return pv
	}
	read := func(p string) []byte {
		b, err := os.ReadFile("../../testdata/" + p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	x12 := read("x12/004010/850.edi")
	warn := "X12: 1 interchange(s), 1 group(s), 1 set(s): 1 accepted, 0 rejected\nwarning: x12: interchange 000004850, group 4850, set 0001, segment 4 (BEG at set position 2), element 5: date in the past"
	id := put("850.edi", x12, &store.Event{Kind: lifecycle.EventValidated, Detail: warn})
	pv := preview(id)
	if pv.Kind != "x12" || pv.Unit != "segment" || pv.Truncated || len(pv.Rows) != strings.Count(string(x12), "~") || len(pv.Reasons) != 1 {
		t.Fatalf("x12 preview: %+v", pv)
	}
	for i, want := range []struct {
		prefix string
		depth  int
	}{{"ISA*", 0}, {"GS*PO", 1}, {"ST*850", 2}, {"BEG*00", 3}} {
		if r := pv.Rows[i]; !strings.HasPrefix(r.Text, want.prefix) || r.Depth != want.depth || r.N != i+1 || r.Marked != (i == 3) {
			t.Errorf("row %d: %+v, want %s at depth %d", i+1, r, want.prefix, want.depth)
		}
	}
	if last := pv.Rows[len(pv.Rows)-1]; !strings.HasPrefix(last.Text, "IEA*") || last.Depth != 0 {
		t.Errorf("last row: %+v", last)
	}
	code, page := get("/ui/messages/" + id)
	page = html.UnescapeString(page)
	if code != 200 || !strings.Contains(page, `id="preview"`) || !strings.Contains(page, `<tr class="d3 marked"><th>4</th><td><code>BEG*00*SA*PO-48213**20260309~</code>`) ||
		!strings.Contains(page, "date in the past") || !strings.Contains(page, `href="#preview"`) {
		t.Fatalf("the message page's preview:\n%s", page)
	}

	id = put("orders.csv", read("csv/orders.csv"))
	pv = preview(id)
	if pv.Kind != "csv" || pv.Delimiter != "," || len(pv.Table) < 3 || pv.Table[0].Cells[0] != "order_no" || pv.Table[1].Cells[3] != "Acme Hardware, Inc." ||
		pv.Table[1].Cells[12] != `Hex bolt 1/2" zinc, box of 100` || pv.Table[1].N != 2 {
		t.Fatalf("csv preview: %+v", pv)
	}
	if code, page := get("/ui/messages/" + id); code != 200 || !strings.Contains(html.UnescapeString(page), `<td class="head">order_no</td>`) {
		t.Fatalf("the message page's csv preview:\n%s", page)
	}
	pv = preview(put("inventory-snapshot.tsv", read("csv/inventory-snapshot.tsv")))
	if pv.Kind != "csv" || pv.Delimiter != "tab" || pv.Table[1].Cells[6] != "1,240" {
		t.Fatalf("tsv preview: %+v", pv)
	}
	mapped := &store.Event{Kind: lifecycle.EventParsed, Detail: "text"}
	pv = preview(put("note.txt", []byte("PO 4711: please ship\r\n12 pallets\n"), mapped))
	if pv.Kind != "text" || len(pv.Rows) != 2 || pv.Rows[0].Text != "PO 4711: please ship" || pv.Rows[1].Text != "12 pallets" {
		t.Fatalf("text preview: %+v", pv)
	}
	pv = preview(put("scan.pdf", []byte("%PDF-1.7\n\x00\x01\x02binary")))
	if pv.Kind != "binary" || len(pv.Rows) != 0 || len(pv.Table) != 0 {
		t.Fatalf("binary preview: %+v", pv)
	}
	big := strings.Repeat("ninety-nine bottles of EDI on the wall\n", 2000) // 78 000 bytes
	pv = preview(put("big.txt", []byte(big)))
	if pv.Kind != "text" || !pv.Truncated || pv.Shown != previewBytes || pv.Size != int64(len(big)) || len(pv.Rows) != previewRows {
		t.Fatalf("large file: kind %s truncated %v shown %d size %d rows %d", pv.Kind, pv.Truncated, pv.Shown, pv.Size, len(pv.Rows))
	}
	if resp, _ := f.call("GET", "/api/v1/messages/nope/preview", store.RoleAuditor, nil); resp.StatusCode != 404 {
		t.Fatalf("unknown message: %d", resp.StatusCode)
	}
}
