package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/web"
)

// TestDemo plays `wharf demo` end to end, in process: the ERP's folder
// drop, the carrier over SFTP, the warehouse over AS2, the invoicing
// platform over a signed webhook and HTTP, with the late proof of delivery
// and the charge dispute. It needs no outside service: every peer is a
// simulated system speaking the real protocol to the real server.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs a whole server (about 10 s)")
	}
	// Port 0: the demo binds any free ports before it writes its
	// configuration (a port picked here and bound later could be taken
	// by another test in between).
	t.Setenv("WHARF_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("WHARF_SFTP_ADDR", "127.0.0.1:0")
	dir := t.TempDir()
	// WHARF_DATA is honoured like by every command: the server, the
	// simulated warehouse (which reads Wharf's AS2 certificate there) and
	// the commands the demo prints all use the same folder.
	data := filepath.Join(t.TempDir(), "elsewhere")
	t.Setenv("WHARF_DATA", data)
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	code := run(ctx, []string{"demo", "--dir", dir, "--timeout", "60s"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		log, _ := os.ReadFile(filepath.Join(dir, "wharf.log"))
		t.Fatalf("wharf demo exit %d\nstdout:\n%s\nstderr:\n%s\nserver log (end):\n%s", code, out.String(), errb.String(), lastLines(string(log), 40))
	}
	s := out.String()
	for _, want := range []string{
		"billing HELD until its proof of delivery",
		"SH-1002 became a DISPUTE exception",
		"SH-1001: billing released",
		"The whole flow completed.",
		"Objects: 2 orders, 2 shipments, 2 invoices",
		"Open exceptions: 1",
		"wharf demo --serve",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	// With NATS here (the project machines run it) the milestones went
	// there, all of them; without it the demo said so and ran.
	if strings.Contains(s, "Events: publishing the milestones to NATS") {
		if !regexp.MustCompile(`Events published to NATS: [1-9][0-9]* \(stream wharf-demo\), 0 pending`).MatchString(s) {
			t.Errorf("the demo's events did not all reach NATS:\n%s", s)
		}
	} else if !strings.Contains(s, "Events: no NATS server at") {
		t.Errorf("the demo says nothing about its events:\n%s", s)
	}
	// The ERP got its files, byte for byte what the layouts say.
	got, _ := filepath.Glob(filepath.Join(dir, "erp/import/invoice-posting_*.csv"))
	if len(got) != 2 {
		t.Fatalf("invoice postings for the ERP: %v", got)
	}
	b, _ := os.ReadFile(got[0])
	if !strings.HasPrefix(strings.ReplaceAll(string(b), "\r\n", "\n"), "invoice,order,date,total\nINV-100") {
		t.Fatalf("invoice posting:\n%s", b)
	}
	// The trace of the disputed shipment: its order, invoice, every message
	// and the canonical documents in them, the dispute.
	var tout, terr bytes.Buffer
	if code := run(ctx, []string{"trace", "--config", filepath.Join(dir, "wharf.yaml"), "--json", "SH-1002"}, strings.NewReader(""), &tout, &terr); code != 0 {
		t.Fatalf("trace: exit %d: %s", code, terr.String())
	}
	var tr struct {
		Objects  []struct{ Kind, Key, State string }
		Messages []struct {
			Documents []struct{ Type string }
		}
		Exceptions []struct{ Reason string }
	}
	if err := json.Unmarshal(tout.Bytes(), &tr); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, m := range tr.Messages {
		for _, d := range m.Documents {
			types[d.Type] = true
		}
	}
	if len(tr.Objects) != 3 || len(tr.Exceptions) != 1 || tr.Exceptions[0].Reason != "dispute" {
		t.Fatalf("trace of SH-1002: %+v", tr)
	}
	for _, want := range []string{"order", "shipment", "warehouse_order", "tender_response", "ship_confirmation", "shipment_status", "freight_invoice", "invoice"} {
		if !types[want] {
			t.Errorf("trace of SH-1002 lacks a %s document (has %v)", want, types)
		}
	}
	// Archive search by the order's PO finds every file about its
	// shipment, the carrier's 990, 214s and 210 included (they name only
	// the shipment); the trace of SH-1001 shows none of SH-1002's
	// exceptions, although the 210 carries both.
	var sout, serr bytes.Buffer
	if code := run(ctx, []string{"archive", "search", "--config", filepath.Join(dir, "wharf.yaml"), "--key", "PO-77001", "--limit", "1000"}, strings.NewReader(""), &sout, &serr); code != 0 {
		t.Fatalf("archive search: exit %d: %s", code, serr.String())
	}
	for _, want := range []string{"inbound/990_accept.x12", "inbound/214_delivered.x12", "inbound/214_SH-1001_pod.x12", "inbound/210_invoices.x12", "945-1.x12",
		"invoice_INV-1001.json", "customer-invoice_INV-1001_", "bill_SH-1001_", "tender-status_SH-1001_"} {
		if !strings.Contains(sout.String(), want) {
			t.Errorf("archive search by PO-77001 misses %s:\n%s", want, sout.String())
		}
	}
	tout.Reset()
	if code := run(ctx, []string{"trace", "--config", filepath.Join(dir, "wharf.yaml"), "--json", "SH-1001"}, strings.NewReader(""), &tout, &terr); code != 0 {
		t.Fatalf("trace: exit %d: %s", code, terr.String())
	}
	tr.Exceptions = nil
	if err := json.Unmarshal(tout.Bytes(), &tr); err != nil || len(tr.Exceptions) != 0 {
		t.Errorf("trace of SH-1001: %v, exceptions %+v, want none (the dispute is SH-1002's)", err, tr.Exceptions)
	}
	// Everything Wharf sent ACME (997s and 204s) carries its own ISA13:
	// one sequence of control numbers per partner.
	_, st, a := openConfigured(t, filepath.Join(dir, "wharf.yaml"))
	sent, _ := st.SearchMessages(ctx, store.MessageFilter{PartnerID: "acme", Direction: store.Outbound})
	isa13 := map[string]string{}
	for _, m := range sent {
		rc, _, err := a.Get(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		f := strings.Split(string(b), "*")
		if len(f) < 14 || f[0] != "ISA" {
			continue
		}
		if other, dup := isa13[f[13]]; dup {
			t.Errorf("ISA13 %s sent to ACME twice: %s and %s", f[13], other, m.RemoteName)
		}
		isa13[f[13]] = m.RemoteName
	}
	if len(isa13) < 5 {
		t.Fatalf("only %d X12 interchanges sent to ACME: %v", len(isa13), isa13)
	}
	// Nothing of the demo is rejected, and the partners' X12 files (the
	// carrier's 990, 214 and 210 over SFTP, the 3PL's 945s over AS2) are
	// clean X12 of the version they name: no envelope warning (an empty
	// GS08 was TA1 note 024 on every one of them), no warning at all.
	msgs, err := st.SearchMessages(ctx, store.MessageFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	partnerFiles := map[string]int{}
	for _, m := range msgs {
		if m.Status == lifecycle.StatusRejected {
			t.Errorf("message %s (%s, %s) was rejected", m.ID, m.PartnerID, m.RemoteName)
		}
		if m.Direction != store.Inbound || m.Format != "x12" {
			continue
		}
		partnerFiles[m.PartnerID]++
		evs, err := st.Events(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if strings.Contains(ev.Detail, "[code 024]") || ev.Kind == lifecycle.EventValidated && strings.Contains(ev.Detail, "with warnings") {
				t.Errorf("%s's %s (message %s) has a warning: %s: %s", m.PartnerID, m.RemoteName, m.ID, ev.Kind, ev.Detail)
			}
		}
	}
	if partnerFiles["acme"] < 4 || partnerFiles["wms"] < 1 {
		t.Errorf("X12 files from the partners: %v, want 4 or more from the carrier and the 3PL's 945s", partnerFiles)
	}
	// Once the flow completed, every message reached a final status its
	// kind allows (AS2 evidence included: raw requests and MDNs are
	// settled), and nothing is stuck: not when it completed, not an hour
	// later, when every step has had more than its time.
	var last time.Time
	for _, m := range msgs {
		if !m.Status.Terminal() {
			t.Errorf("message %s (%s, %s %s over %s) is still %s", m.ID, m.PartnerID, m.Direction, m.RemoteName, m.Transport, m.Status)
		}
		if m.ReceivedAt.After(last) {
			last = m.ReceivedAt
		}
	}
	for _, at := range []time.Time{last, last.Add(time.Hour)} {
		ws, err := web.New(web.Options{Store: st, Archive: a, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		stuck, err := ws.Stuck(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range stuck {
			t.Errorf("stuck %s after the last message: %s %s (%s, %s over %s, %s): %s", at.Sub(last), d.Stage, d.MessageID, d.Partner, d.Filename, d.Transport, d.Status, d.Reason)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "wharf.db")); err != nil {
		t.Errorf("the demo's database is not in WHARF_DATA: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "wharf-data")); !os.IsNotExist(err) {
		t.Errorf("the demo wrote a data folder of its own although WHARF_DATA is set: %v", err)
	}
	// A second demo with the same data refuses to mix its data with the first.
	errb.Reset()
	if code := run(ctx, []string{"demo", "--dir", t.TempDir()}, strings.NewReader(""), &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "data folder "+data+" already holds data; unset WHARF_DATA or point it at an empty folder") {
		t.Fatalf("second demo on the same data: exit %d, %s", code, errb.String())
	}
}

// TestDemoPortInUse: with the HTTP port taken (another wharf on 8080),
// the demo says which port is busy and what to change, before it writes
// anything else (it used to fail on a missing AS2 certificate).
func TestDemoPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	t.Setenv("WHARF_HTTP_ADDR", busy.Addr().String())
	t.Setenv("WHARF_SFTP_ADDR", "127.0.0.1:0")
	t.Setenv("WHARF_DATA", "")
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"demo", "--dir", t.TempDir()}, strings.NewReader(""), &out, &errb)
	want := "cannot listen for HTTP on " + busy.Addr().String() + ": address already in use (is another wharf running? change http.addr or WHARF_HTTP_ADDR)"
	if code != 1 || !strings.Contains(errb.String(), want) || strings.Contains(errb.String()+out.String(), "certificate") {
		t.Fatalf("demo with the HTTP port in use: exit %d\nstdout:\n%s\nstderr:\n%s\nwant %q", code, out.String(), errb.String(), want)
	}
}
