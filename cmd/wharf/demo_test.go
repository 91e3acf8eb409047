package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
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
