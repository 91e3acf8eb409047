package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/testenv"
)

// demoServer is `wharf demo --serve` running as a process: the demo's
// whole flow has run through the real server, which keeps serving.
type demoServer struct {
	base, admin string // the console's URL, the admin token the demo printed
	dir         string
	logs        *testenv.Buffer
}

var (
	demoURLLine   = regexp.MustCompile(`open (http://\S+?)/ and sign in with the token`)
	demoTokenLine = regexp.MustCompile(`^\s+(wharf_\S+)\s*$`)
)

// startDemo runs `wharf demo --serve` in dir and waits until the flow has
// completed and the server is kept running; it is stopped when the test ends.
func startDemo(t *testing.T, dir string, env []string) *demoServer {
	t.Helper()
	cmd := exec.Command(wharfBinary(t), "demo", "--serve", "--dir", dir, "--timeout", "60s")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"WHARF_HTTP_ADDR=127.0.0.1:0", "WHARF_SFTP_ADDR=127.0.0.1:0", "WHARF_DATA=", "WHARF_DATABASE_URL="}, env...)...)
	logs := &testenv.Buffer{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var base string
		for sc.Scan() {
			line := sc.Text()
			logs.Write([]byte(line + "\n"))
			if m := demoURLLine.FindStringSubmatch(line); m != nil {
				base = m[1]
			} else if m := demoTokenLine.FindStringSubmatch(line); m != nil && base != "" {
				found <- [2]string{base, m[1]}
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(45 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	select {
	case a := <-found:
		return &demoServer{base: a[0], admin: a[1], dir: dir, logs: logs}
	case err := <-exited:
		t.Fatalf("wharf demo --serve exited before serving (%v):\n%s", err, logs)
	case <-time.After(4 * time.Minute):
		t.Fatalf("wharf demo --serve not serving after 4 minutes:\n%s", logs)
	}
	return nil
}

// apiCall is one request of the contract test: the operation it exercises
// (method and path template of the document) and the status it must get.
type apiCall struct {
	method, path, template string
	token                  string
	body, contentType      string
	want                   int
}

// TestAPIAnswersMatchTheDocument checks the API against its own OpenAPI
// document, on a real server with data made by the real flow: `wharf demo
// --serve` (the ERP's folder, the carrier over SFTP, the warehouse over
// AS2, the invoicing platform over HTTP, a disputed freight invoice) on
// SQLite. It calls every operation the document lists, with IDs from that
// flow, and checks each answer: its status is documented for the operation
// (no falling back to default), its content type is the documented one,
// and its body validates against the documented schema (closed objects:
// a field the document does not list fails too). Refusals are called as
// well (bad filters, unknown IDs, missing and wrong tokens, roles too low,
// the lockout) and checked the same way. Every operation must have been
// answered with its documented success at least once.
func TestAPIAnswersMatchTheDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo (about 15 s)")
	}
	dir := t.TempDir()
	const partnerToken = "contract-test-invoicing-token-0123456789"
	srv := startDemo(t, dir, []string{"WHARF_DEMO_INVOICING_TOKEN=" + partnerToken})
	defer func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "wharf.log"))
			t.Logf("demo output:\n%s\nserver log (end):\n%s", srv.logs, lastLines(string(log), 40))
		}
	}()
	cfg := filepath.Join(dir, "wharf.yaml")
	token := func(role string) string {
		t.Helper()
		out, code := runCLI(t, dir, []string{"WHARF_DATA=", "WHARF_DATABASE_URL="}, "token", "create", "--config", cfg, "--role", role, "--name", "contract-"+role)
		if code != 0 {
			t.Fatalf("token create --role %s: exit %d\n%s", role, code, out)
		}
		return strings.Fields(out)[0]
	}
	auditor, operator, admin := token("auditor"), token("operator"), srv.admin

	// The document, as the server serves it.
	resp, err := http.Get(srv.base + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc := &oaDoc{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc.root); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if servers, _ := doc.root["servers"].([]any); len(servers) == 0 {
		t.Error("the document names no servers")
	}

	// exercised[method path][status]: what the calls covered; concrete:
	// a path each operation answered with success.
	exercised := map[string]map[int]bool{}
	concrete := map[string]string{}
	call := func(c apiCall) any {
		t.Helper()
		if c.template == "" {
			c.template, _, _ = strings.Cut(c.path, "?")
		}
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, err := http.NewRequest(c.method, srv.base+c.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		if c.body != "" {
			ct := c.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		what := fmt.Sprintf("%s %s", c.method, c.path)
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d: %s", what, resp.StatusCode, c.want, b)
			return nil
		}
		key := c.method + " " + c.template
		if exercised[key] == nil {
			exercised[key] = map[int]bool{}
		}
		exercised[key][resp.StatusCode] = true
		if resp.StatusCode < 300 {
			concrete[key], _, _ = strings.Cut(c.path, "?")
		}
		op, err := doc.operation(c.method, c.template)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return nil
		}
		r, err := doc.response(op, resp.StatusCode)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return nil
		}
		content, _ := r["content"].(map[string]any)
		got, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		media, ok := content[got].(map[string]any)
		if !ok {
			t.Errorf("%s: Content-Type %q, the document says %v", what, got, sortedKeys(content))
			return nil
		}
		if got != "application/json" {
			return b
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s: not JSON: %v\n%s", what, err, b)
			return nil
		}
		schema, _ := media["schema"].(map[string]any)
		if schema == nil {
			t.Errorf("%s: the document gives no schema for %d", what, resp.StatusCode)
			return nil
		}
		if errs := doc.validate(schema, v, "$"); len(errs) > 0 {
			if len(errs) > 10 {
				errs = append(errs[:10], fmt.Sprintf("... and %d more", len(errs)-10))
			}
			t.Errorf("%s: the answer (%d) does not match the document:\n  %s", what, resp.StatusCode, strings.Join(errs, "\n  "))
		}
		return v
	}
	// list returns the objects of a list answer's field.
	list := func(v any, field string) []map[string]any {
		m, _ := v.(map[string]any)
		items, _ := m[field].([]any)
		var out []map[string]any
		for _, it := range items {
			if o, ok := it.(map[string]any); ok {
				out = append(out, o)
			}
		}
		return out
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }

	// Successes, with what the flow made.
	call(apiCall{method: "GET", path: "/api/v1/openapi.json", want: 200})
	call(apiCall{method: "GET", path: "/api/v1/me", token: auditor, want: 200})
	call(apiCall{method: "GET", path: "/api/v1/overview", token: auditor, want: 200})
	call(apiCall{method: "GET", path: "/api/v1/overview/daily", token: auditor, want: 200})
	if ps := list(call(apiCall{method: "GET", path: "/api/v1/overview/hourly?window=24h", token: auditor, want: 200}), "partners"); len(ps) == 0 {
		t.Error("the hourly traffic lists no partner")
	}
	call(apiCall{method: "GET", path: "/api/v1/overview/hourly?window=7d&partner=acme", token: auditor, want: 200})
	call(apiCall{method: "GET", path: "/api/v1/stuck", token: auditor, want: 200})
	if ps := list(call(apiCall{method: "GET", path: "/api/v1/partners", token: auditor, want: 200}), "partners"); len(ps) == 0 {
		t.Error("no partners listed")
	}
	call(apiCall{method: "GET", path: "/api/v1/partners/acme", template: "/api/v1/partners/{id}", token: auditor, want: 200})
	msgs := list(call(apiCall{method: "GET", path: "/api/v1/messages?limit=1000", token: auditor, want: 200}), "messages")
	var in, out map[string]any
	for _, m := range msgs {
		switch {
		case in == nil && str(m, "direction") == "in" && str(m, "status") == "processed" && str(m, "partner") == "acme":
			in = m
		case out == nil && str(m, "direction") == "out" && str(m, "status") == "delivered" && str(m, "transport") == "folder":
			out = m
		}
	}
	if in == nil || out == nil {
		t.Fatalf("the demo's archive lacks a processed inbound file from acme or an outbound file delivered to a folder: %v", msgs)
	}
	inID, outID := str(in, "id"), str(out, "id")
	since, _, _ := strings.Cut(str(in, "received_at"), "T") // a date alone, as the CLI takes it
	if got := list(call(apiCall{method: "GET", path: "/api/v1/messages?partner=acme&direction=in&status=processed,rejected&since=" + since + "&limit=50", token: auditor, want: 200}), "messages"); len(got) == 0 {
		t.Error("the filtered search found nothing")
	}
	call(apiCall{method: "GET", path: "/api/v1/messages/" + inID, template: "/api/v1/messages/{id}", token: auditor, want: 200})
	call(apiCall{method: "GET", path: "/api/v1/messages/" + inID + "/events", template: "/api/v1/messages/{id}/events", token: auditor, want: 200})
	if pv, _ := call(apiCall{method: "GET", path: "/api/v1/messages/" + inID + "/preview", template: "/api/v1/messages/{id}/preview", token: auditor, want: 200}).(map[string]any); str(pv, "kind") == "" {
		t.Errorf("preview: %v", pv)
	}
	content, _ := call(apiCall{method: "GET", path: "/api/v1/messages/" + inID + "/content", template: "/api/v1/messages/{id}/content", token: auditor, want: 200}).([]byte)
	if sum := sha256.Sum256(content); hex.EncodeToString(sum[:]) != str(in, "sha256") {
		t.Errorf("the content's sha256 is not the message's %s", str(in, "sha256"))
	}
	tr, _ := call(apiCall{method: "GET", path: "/api/v1/traces/SH-1002", template: "/api/v1/traces/{key}", token: auditor, want: 200}).(map[string]any)
	docs := 0
	for _, m := range list(tr, "messages") {
		ds, _ := m["documents"].([]any)
		docs += len(ds)
	}
	if docs == 0 || len(list(tr, "objects")) == 0 || len(list(tr, "exceptions")) == 0 {
		t.Errorf("the trace of SH-1002 lacks objects, exceptions or canonical documents: %v", tr)
	}
	if js := list(call(apiCall{method: "GET", path: "/api/v1/jobs?state=completed,retryable&limit=20", token: auditor, want: 200}), "jobs"); len(js) == 0 {
		t.Error("no completed jobs listed")
	}
	ss := list(call(apiCall{method: "GET", path: "/api/v1/schedules", token: auditor, want: 200}), "schedules")
	if len(ss) == 0 {
		t.Fatal("no schedules listed")
	}
	run, _ := call(apiCall{method: "POST", path: "/api/v1/schedules/" + str(ss[0], "name") + "/run", template: "/api/v1/schedules/{name}/run", token: operator, want: 200}).(map[string]any)
	if str(run, "schedule") != str(ss[0], "name") {
		t.Errorf("run %s by hand: %v", str(ss[0], "name"), run)
	}
	paused, _ := call(apiCall{method: "POST", path: "/api/v1/schedules/" + str(ss[0], "name") + "/pause", template: "/api/v1/schedules/{name}/pause", token: operator, want: 200}).(map[string]any)
	if paused["paused_at"] == nil || !strings.HasPrefix(str(paused, "paused_by"), "token:") {
		t.Errorf("paused schedule: %v", paused)
	}
	if resumed, _ := call(apiCall{method: "POST", path: "/api/v1/schedules/" + str(ss[0], "name") + "/resume", template: "/api/v1/schedules/{name}/resume", token: operator, want: 200}).(map[string]any); resumed["paused_at"] != nil {
		t.Errorf("resumed schedule: %v", resumed)
	}
	if cs := list(call(apiCall{method: "GET", path: "/api/v1/certificates", token: auditor, want: 200}), "certificates"); len(cs) == 0 {
		t.Error("no AS2 certificates listed")
	}
	call(apiCall{method: "POST", path: "/api/v1/archive/verify?skip_blobs=false", token: auditor, want: 200})
	xs := list(call(apiCall{method: "GET", path: "/api/v1/exceptions?status=all&owner=operations&limit=10", token: auditor, want: 200}), "exceptions")
	var xID string
	for _, x := range xs {
		if str(x, "reason") == "dispute" && str(x, "message_id") != "" {
			xID = str(x, "id")
		}
	}
	if xID == "" {
		t.Fatalf("no dispute exception about a message: %v", xs)
	}
	xPath := "/api/v1/exceptions/" + xID
	call(apiCall{method: "GET", path: xPath, template: "/api/v1/exceptions/{id}", token: auditor, want: 200})
	for _, a := range []struct{ action, body string }{
		{"comment", `{"comment": "asked the carrier"}`},
		{"resolve", `{"comment": "the carrier credited the difference"}`},
		{"reopen", ``},
		{"retry", ``},
		{"replay", `{"comment": "once more"}`},
		{"dismiss", `{"comment": "settled outside Wharf"}`},
	} {
		call(apiCall{method: "POST", path: xPath + "/" + a.action, template: "/api/v1/exceptions/{id}/" + a.action, token: operator, body: a.body, want: 200})
	}
	call(apiCall{method: "POST", path: "/api/v1/messages/" + inID + "/replay", template: "/api/v1/messages/{id}/replay", token: operator, want: 200})
	call(apiCall{method: "POST", path: "/api/v1/messages/" + outID + "/replay", template: "/api/v1/messages/{id}/replay", token: operator, want: 200})
	call(apiCall{method: "POST", path: "/api/v1/inbound/invoicing?filename=contract.txt", template: "/api/v1/inbound/{partner}", token: partnerToken,
		body: "a note from the contract test\n", contentType: "text/plain", want: 201})
	// Paging and the file name filter.
	page1, _ := call(apiCall{method: "GET", path: "/api/v1/messages?limit=2", token: auditor, want: 200}).(map[string]any)
	next, _ := page1["next"].(map[string]any)
	if next == nil {
		t.Fatalf("a full page without next: %v", page1)
	}
	page2 := list(call(apiCall{method: "GET", path: "/api/v1/messages?limit=2&before=" + url.QueryEscape(str(next, "before")) + "&before_id=" + str(next, "before_id"), token: auditor, want: 200}), "messages")
	if len(page2) == 0 || str(page2[0], "id") == str(list(page1, "messages")[1], "id") {
		t.Errorf("the next page does not follow the first: %v then %v", page1, page2)
	}
	if got := list(call(apiCall{method: "GET", path: "/api/v1/messages?filename=" + url.QueryEscape(str(in, "filename")), token: auditor, want: 200}), "messages"); len(got) == 0 || str(got[0], "filename") != str(in, "filename") {
		t.Errorf("filename=%s found %v", str(in, "filename"), got)
	}
	// Partners administration: a database partner is created, edited,
	// disabled and enabled; the demo's partners come from its
	// configuration file and are read-only.
	if p, _ := call(apiCall{method: "POST", path: "/api/v1/partners", token: admin, want: 201,
		body: `{"id": "contract-co", "name": "Contract Co", "x12_ids": ["ZZ:CONTRACTCO"], "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC9zzgc16E+9TDf6d0Y+6VZ4t3dgMWQpniUXbQs1DdqW contract"]}`}).(map[string]any); str(p, "id") != "contract-co" {
		t.Errorf("created partner: %v", p)
	}
	call(apiCall{method: "PUT", path: "/api/v1/partners/contract-co", template: "/api/v1/partners/{id}", token: admin, body: `{"name": "Contract Company", "x12_ids": ["ZZ:CONTRACTCO"]}`, want: 200})
	if p, _ := call(apiCall{method: "POST", path: "/api/v1/partners/contract-co/disable", template: "/api/v1/partners/{id}/disable", token: operator, want: 200}).(map[string]any); p["disabled_at"] == nil {
		t.Errorf("disabled partner without disabled_at: %v", p)
	}
	call(apiCall{method: "POST", path: "/api/v1/partners/contract-co/enable", template: "/api/v1/partners/{id}/enable", token: operator, want: 200})
	call(apiCall{method: "GET", path: "/api/v1/sftp/sessions", token: auditor, want: 200})
	// A disabled partner's inbound HTTP is refused with its right token;
	// enabled again, it is archived.
	call(apiCall{method: "POST", path: "/api/v1/partners/invoicing/disable", template: "/api/v1/partners/{id}/disable", token: operator, want: 200})
	call(apiCall{method: "POST", path: "/api/v1/inbound/invoicing?filename=refused.txt", template: "/api/v1/inbound/{partner}", token: partnerToken,
		body: "sent while disabled\n", contentType: "text/plain", want: 403})
	call(apiCall{method: "POST", path: "/api/v1/partners/invoicing/enable", template: "/api/v1/partners/{id}/enable", token: operator, want: 200})
	call(apiCall{method: "POST", path: "/api/v1/inbound/invoicing?filename=accepted.txt", template: "/api/v1/inbound/{partner}", token: partnerToken,
		body: "sent once enabled\n", contentType: "text/plain", want: 201})
	// Business objects: every kind listed and its newest read. The demo's
	// flow has no inventory report: an operator submits one as a canonical
	// document for the invoicing platform (inventory has no owner in the
	// demo), and the list is read once processing has applied it.
	if d, _ := call(apiCall{method: "POST", path: "/api/v1/documents?partner=invoicing", token: operator,
		body: `{"type": "inventory_balance", "version": "1", "report_id": "INV-CONTRACT-1", "items": [{"item": {"ids": [{"type": "sku", "value": "HB-1020"}]}, "quantities": [{"type": "on_hand", "value": "10", "unit": "case"}]}]}`,
		want: 201}).(map[string]any); str(d, "id") == "" || str(d, "partner") != "invoicing" {
		t.Errorf("submitted document: %v", d)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		req, _ := http.NewRequest("GET", srv.base+"/api/v1/inventory", nil)
		req.Header.Set("Authorization", "Bearer "+auditor)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "INV-CONTRACT-1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the posted inventory report was never applied: %d %s", resp.StatusCode, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, kind := range []string{"orders", "shipments", "invoices", "inventory"} {
		objs := list(call(apiCall{method: "GET", path: "/api/v1/" + kind + "?limit=1", token: auditor, want: 200}), "objects")
		if len(objs) == 0 {
			t.Errorf("no %s listed", kind)
			continue
		}
		d, _ := call(apiCall{method: "GET", path: "/api/v1/" + kind + "/" + url.PathEscape(str(objs[0], "key")), template: "/api/v1/" + kind + "/{key}", token: auditor, want: 200}).(map[string]any)
		if d["document"] == nil || len(list(d, "history")) == 0 {
			t.Errorf("%s %s without its current canonical document or history: %v", kind, str(objs[0], "key"), d)
		}
	}
	if held := list(call(apiCall{method: "GET", path: "/api/v1/shipments?held=false&overdue=false&partner=acme&updated_since=2026-01-01", token: auditor, want: 200}), "objects"); len(held) == 0 {
		t.Error("no shipment of acme without a hold")
	}
	// A partner token: acme's own shipments, nothing of another partner.
	ptok, pcode := runCLI(t, dir, []string{"WHARF_DATA=", "WHARF_DATABASE_URL="}, "token", "create", "--config", cfg, "--partner", "acme", "--scope", "shipments:read,messages:read", "--name", "contract-acme")
	if pcode != 0 {
		t.Fatalf("token create --partner acme: exit %d\n%s", pcode, ptok)
	}
	acmeTok := strings.Fields(ptok)[0]
	if me, _ := call(apiCall{method: "GET", path: "/api/v1/me", token: acmeTok, want: 200}).(map[string]any); str(me, "partner") != "acme" {
		t.Errorf("me of acme's token: %v", me)
	}
	for _, o := range list(call(apiCall{method: "GET", path: "/api/v1/shipments", token: acmeTok, want: 200}), "objects") {
		if systems, _ := o["data"].(map[string]any)["systems"].(map[string]any); len(systems) > 1 {
			t.Errorf("acme's token sees other systems of %s: %v", str(o, "key"), systems)
		}
	}
	for _, m := range list(call(apiCall{method: "GET", path: "/api/v1/messages", token: acmeTok, want: 200}), "messages") {
		if str(m, "partner") != "acme" {
			t.Errorf("acme's token sees a message of %s", str(m, "partner"))
		}
	}
	for _, c := range []apiCall{
		{method: "GET", path: "/api/v1/shipments?partner=bigretail", want: 403},
		{method: "GET", path: "/api/v1/orders", want: 403},
		{method: "GET", path: "/api/v1/overview", want: 403},
		{method: "GET", path: "/api/v1/traces/SH-1002", template: "/api/v1/traces/{key}", want: 403},
		{method: "GET", path: "/api/v1/invoices/INV-1001", template: "/api/v1/invoices/{key}", want: 403},
	} {
		c.token = acmeTok
		if m, _ := call(c).(map[string]any); !strings.Contains(str(m, "error"), "scope") && !strings.Contains(str(m, "error"), "bound to partner") {
			t.Errorf("%s %s: a partner token's refusal names no scope: %v", c.method, c.path, m)
		}
	}
	// Administration.
	created, _ := call(apiCall{method: "POST", path: "/api/v1/tokens", token: admin, body: `{"name": "contract-monitoring", "role": "auditor"}`, want: 201}).(map[string]any)
	newTok, newID := str(created, "token"), str(created, "id")
	if !strings.HasPrefix(newTok, "wharf_"+newID+"_") {
		t.Fatalf("created token: %v", created)
	}
	call(apiCall{method: "GET", path: "/api/v1/me", token: newTok, want: 200})
	call(apiCall{method: "GET", path: "/api/v1/tokens", token: admin, want: 200})
	call(apiCall{method: "POST", path: "/api/v1/tokens/" + newID + "/revoke", template: "/api/v1/tokens/{id}/revoke", token: admin, want: 200})
	call(apiCall{method: "PUT", path: "/api/v1/users/contract-ann", template: "/api/v1/users/{name}", token: admin, body: `{"role": "operator", "password": "a long enough passphrase"}`, want: 200})
	if us := list(call(apiCall{method: "GET", path: "/api/v1/users", token: admin, want: 200}), "users"); len(us) == 0 {
		t.Error("no users listed")
	}
	if evs := list(call(apiCall{method: "GET", path: "/api/v1/audit?limit=50", token: admin, want: 200}), "audit"); len(evs) == 0 {
		t.Error("no audit events listed")
	}

	// Refusals: each is documented for its operation, with the error's shape.
	for _, c := range []apiCall{
		{method: "GET", path: "/api/v1/messages?partnr=acme", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/messages?status=bogus", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/messages?since=yesterday", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/messages?since=2026-12-04&until=2026-12-01", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/messages?before_id=x", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/messages?limit=0", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/jobs?state=bogus", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/overview/hourly?window=1y", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/exceptions?status=bogus", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/exceptions?owner=nobody", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/me?verbose=1", token: auditor, want: 400},
		{method: "POST", path: "/api/v1/archive/verify?skip_blobs=maybe", token: auditor, want: 400},
		{method: "POST", path: xPath + "/resolve", template: "/api/v1/exceptions/{id}/resolve", token: operator, body: `{}`, want: 400},
		{method: "POST", path: xPath + "/comment", template: "/api/v1/exceptions/{id}/comment", token: operator, body: `{"note": "x"}`, want: 400},
		{method: "POST", path: "/api/v1/inbound/invoicing", template: "/api/v1/inbound/{partner}", token: partnerToken, body: `{"not json`, want: 400},
		{method: "GET", path: "/api/v1/messages/nope", template: "/api/v1/messages/{id}", token: auditor, want: 404},
		{method: "GET", path: "/api/v1/shipments/NO-SUCH", template: "/api/v1/shipments/{key}", token: auditor, want: 404},
		{method: "GET", path: "/api/v1/orders/NO-SUCH", template: "/api/v1/orders/{key}", token: auditor, want: 404},
		{method: "GET", path: "/api/v1/invoices/NO-SUCH", template: "/api/v1/invoices/{key}", token: auditor, want: 404},
		{method: "GET", path: "/api/v1/inventory/NO-SUCH", template: "/api/v1/inventory/{key}", token: auditor, want: 404},
		{method: "GET", path: "/api/v1/shipments?held=maybe", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/orders?updated_since=yesterday", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/invoices?before_key=x", token: auditor, want: 400},
		{method: "GET", path: "/api/v1/inventory?limit=0", token: auditor, want: 400},
		{method: "POST", path: "/api/v1/documents?partner=invoicing", token: operator, body: `{"type": "order", "version": "1"}`, want: 400},
		{method: "POST", path: "/api/v1/documents", token: operator, body: `{"type": "order", "version": "1", "order_number": "X"}`, want: 400},
		{method: "POST", path: "/api/v1/documents?partner=invoicing", token: auditor, body: `{}`, want: 403},
		{method: "GET", path: "/api/v1/messages/nope/content", template: "/api/v1/messages/{id}/content", token: auditor, want: 404},
		{method: "GET", path: "/api/v1/partners/nope", template: "/api/v1/partners/{id}", token: auditor, want: 404},
		{method: "GET", path: "/api/v1/exceptions/nope", template: "/api/v1/exceptions/{id}", token: auditor, want: 404},
		{method: "POST", path: "/api/v1/messages/" + inID + "/replay", template: "/api/v1/messages/{id}/replay", token: auditor, want: 403},
		{method: "POST", path: xPath + "/reopen", template: "/api/v1/exceptions/{id}/reopen", token: auditor, want: 403},
		{method: "GET", path: "/api/v1/audit", token: operator, want: 403},
		{method: "POST", path: "/api/v1/tokens", token: admin, body: `{"name": "x", "role": "root"}`, want: 400},
		{method: "POST", path: "/api/v1/tokens", token: admin, body: `{"name": "x", "role": "auditor", "expires": "never"}`, want: 400},
		{method: "PUT", path: "/api/v1/users/bob", template: "/api/v1/users/{name}", token: admin, body: `{"role": "auditor", "password": "short"}`, want: 400},
		{method: "POST", path: "/api/v1/tokens/ffffffff/revoke", template: "/api/v1/tokens/{id}/revoke", token: admin, want: 404},
		{method: "GET", path: "/api/v1/tokens", token: operator, want: 403},
		{method: "POST", path: "/api/v1/partners", token: admin, body: `{"id": "contract-co"}`, want: 409},
		{method: "POST", path: "/api/v1/partners", token: admin, body: `{"id": "x", "x12_ids": ["ACME"]}`, want: 400},
		{method: "POST", path: "/api/v1/partners", token: operator, body: `{"id": "x"}`, want: 403},
		{method: "PUT", path: "/api/v1/partners/acme", template: "/api/v1/partners/{id}", token: admin, body: `{"name": "ACME"}`, want: 409},
		{method: "PUT", path: "/api/v1/partners/nope", template: "/api/v1/partners/{id}", token: admin, body: `{"name": "x"}`, want: 404},
		{method: "PUT", path: "/api/v1/partners/contract-co", template: "/api/v1/partners/{id}", token: admin, body: `{"name": 7}`, want: 400},
		{method: "POST", path: "/api/v1/partners/nope/disable", template: "/api/v1/partners/{id}/disable", token: operator, want: 404},
		{method: "POST", path: "/api/v1/partners/acme/enable", template: "/api/v1/partners/{id}/enable", token: auditor, want: 403},
		{method: "POST", path: "/api/v1/schedules/no-such-schedule/run", template: "/api/v1/schedules/{name}/run", token: operator, want: 404},
		{method: "POST", path: "/api/v1/schedules/sync-sla/run", template: "/api/v1/schedules/{name}/run", token: auditor, want: 403},
		{method: "POST", path: "/api/v1/schedules/no-such-schedule/pause", template: "/api/v1/schedules/{name}/pause", token: operator, want: 404},
		{method: "POST", path: "/api/v1/schedules/sync-sla/resume", template: "/api/v1/schedules/{name}/resume", token: auditor, want: 403},
		{method: "POST", path: "/api/v1/tokens", token: operator, body: `{"name": "x", "role": "admin"}`, want: 403},
		{method: "GET", path: "/api/v1/me", token: newTok, want: 401},
		{method: "GET", path: "/api/v1/stuck", want: 401},
		{method: "GET", path: "/api/v1/me", token: "wharf_00000000_not-a-token", want: 401},
		{method: "POST", path: "/api/v1/inbound/invoicing", template: "/api/v1/inbound/{partner}", token: "wrong", body: "x", contentType: "text/plain", want: 401},
	} {
		v := call(c)
		if m, ok := v.(map[string]any); ok && c.want == 400 && strings.Contains(c.path, "?") && str(m, "hint") == "" {
			t.Errorf("%s %s: a bad filter refused without a hint: %v", c.method, c.path, m)
		}
	}
	// Unknown IDs in every path.
	for _, c := range []apiCall{
		{method: "GET", path: "/api/v1/messages/nope/events", template: "/api/v1/messages/{id}/events"},
		{method: "GET", path: "/api/v1/messages/nope/preview", template: "/api/v1/messages/{id}/preview"},
		{method: "POST", path: "/api/v1/messages/nope/replay", template: "/api/v1/messages/{id}/replay"},
		{method: "GET", path: "/api/v1/traces/NO-SUCH-KEY", template: "/api/v1/traces/{key}"},
		{method: "POST", path: "/api/v1/exceptions/nope/comment", template: "/api/v1/exceptions/{id}/comment", body: `{"comment": "x"}`},
		{method: "POST", path: "/api/v1/exceptions/nope/retry", template: "/api/v1/exceptions/{id}/retry"},
	} {
		c.token, c.want = admin, 404
		call(c)
	}
	// Every operation that needs a token: without one it is 401, with a
	// query parameter it does not take 400 (checked before the handler
	// acts, so a POST does nothing).
	for key, path := range concrete {
		method, template, _ := strings.Cut(key, " ")
		op, _ := doc.operation(method, template)
		if sec, _ := op["security"].([]any); len(sec) == 0 || strings.Contains(template, "/inbound/") {
			continue
		}
		call(apiCall{method: method, path: path, template: template, want: 401})
		call(apiCall{method: method, path: path + "?no_such_filter=1", template: template, token: admin, want: 400})
	}
	// The hints name the valid values.
	if m, _ := call(apiCall{method: "GET", path: "/api/v1/jobs?state=bogus", token: auditor, want: 400}).(map[string]any); !strings.Contains(str(m, "hint"), "completed") {
		t.Errorf("the hint for a bad job state does not list the states: %v", m)
	}
	if m, _ := call(apiCall{method: "GET", path: "/api/v1/messages?partnr=acme", token: auditor, want: 400}).(map[string]any); !strings.Contains(str(m, "hint"), "partner") {
		t.Errorf("the hint for an unknown parameter does not list the route's: %v", m)
	}
	// Last, as it locks this address out of every authenticated route:
	// wrong tokens until the lockout answers 429.
	for i := 0; ; i++ {
		want := 401
		if i == 10 {
			want = 429
		}
		c := apiCall{method: "GET", path: "/api/v1/me", token: fmt.Sprintf("wharf_0000000%d_guess", i%10), want: want}
		req, _ := http.NewRequest("GET", srv.base+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 {
			c.want = 429
			call(c)
			break
		}
		if i == 12 {
			t.Fatalf("no lockout after %d wrong tokens (last status %d)", i+1, resp.StatusCode)
		}
	}

	// Every operation was answered with its documented success.
	paths, _ := doc.root["paths"].(map[string]any)
	var missed, errorsNotSeen []string
	for _, p := range sortedKeys(paths) {
		item, _ := paths[p].(map[string]any)
		for _, method := range sortedKeys(item) {
			op, _ := item[method].(map[string]any)
			key := strings.ToUpper(method) + " " + p
			rs, _ := op["responses"].(map[string]any)
			for _, code := range sortedKeys(rs) {
				var n int
				if _, err := fmt.Sscan(code, &n); err != nil {
					continue
				}
				switch {
				case n < 300 && !exercised[key][n]:
					missed = append(missed, fmt.Sprintf("%s (%d)", key, n))
				case n >= 400 && !exercised[key][n]:
					errorsNotSeen = append(errorsNotSeen, fmt.Sprintf("%s %d", key, n))
				}
			}
		}
	}
	if len(missed) > 0 {
		t.Errorf("operations never answered with their documented success: %s", strings.Join(missed, "; "))
	}
	sort.Strings(errorsNotSeen)
	t.Logf("documented refusals this test does not provoke (%d): %s", len(errorsNotSeen), strings.Join(errorsNotSeen, "; "))
}

// The validator must fail what does not match: a test of the test.
func TestSchemaValidatorRefusesMismatches(t *testing.T) {
	doc := &oaDoc{}
	dec := json.NewDecoder(strings.NewReader(`{"components": {"schemas": {
		"Kind": {"type": "string", "enum": ["a", "b"]},
		"Thing": {"type": "object", "additionalProperties": false, "required": ["id", "at", "n", "kinds"],
			"properties": {"id": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
				"n": {"type": "integer", "minimum": 1}, "kinds": {"type": "array", "items": {"$ref": "#/components/schemas/Kind"}},
				"last": {"allOf": [{"$ref": "#/components/schemas/Kind"}], "nullable": true}}}}}}`))
	dec.UseNumber()
	if err := dec.Decode(&doc.root); err != nil {
		t.Fatal(err)
	}
	thing := map[string]any{"$ref": "#/components/schemas/Thing"}
	for _, c := range []struct {
		json string
		want string // "" for valid
	}{
		{`{"id": "x", "at": "2026-12-04T10:00:00Z", "n": 2, "kinds": ["a"], "last": null}`, ""},
		{`{"id": "x", "at": "2026-12-04T10:00:00Z", "n": 2, "kinds": ["a"], "last": "b"}`, ""},
		{`{"id": "x", "at": "2026-12-04T10:00:00Z", "n": 2}`, `required property "kinds"`},
		{`{"id": "x", "at": "2026-12-04T10:00:00Z", "n": 2, "kinds": null}`, "null where"},
		{`{"id": "x", "at": "2026-12-04T10:00:00Z", "n": 2, "kinds": ["c"]}`, "is not one of"},
		{`{"id": "x", "at": "2026-12-04", "n": 2, "kinds": []}`, "not a date-time"},
		{`{"id": "x", "at": "2026-12-04T10:00:00Z", "n": 2.5, "kinds": []}`, "not a integer"},
		{`{"id": "x", "at": "2026-12-04T10:00:00Z", "n": 0, "kinds": []}`, "below the minimum"},
		{`{"id": 7, "at": "2026-12-04T10:00:00Z", "n": 2, "kinds": []}`, "where a string"},
		{`{"id": "x", "at": "2026-12-04T10:00:00Z", "n": 2, "kinds": [], "extra": 1}`, `property "extra" is not in the document`},
		{`{"id": "x", "at": "2026-12-04T10:00:00Z", "n": 2, "kinds": [{"a": 1}]}`, "where one of"},
		{`[]`, "where an object"},
	} {
		var v any
		d := json.NewDecoder(strings.NewReader(c.json))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		errs := strings.Join(doc.validate(thing, v, "$"), "\n")
		if (c.want == "") != (errs == "") || !strings.Contains(errs, c.want) {
			t.Errorf("%s: got %q, want %q", c.json, errs, c.want)
		}
	}
	if errs := doc.validate(map[string]any{"oneOf": []any{}}, "x", "$"); len(errs) == 0 {
		t.Error("a keyword the validator does not check passed")
	}
}

// TestOpenAPIDocumentLints runs an OpenAPI linter, @redocly/cli with its
// strict recommended rules (every warning an error), on the document
// `wharf serve` serves. Without the linter it skips naming the npm
// command; under CI=true it fails.
func TestOpenAPIDocumentLints(t *testing.T) {
	redocly := testenv.Redocly(t)
	dir := t.TempDir()
	srv := startServer(t, dir, nil)
	resp, err := http.Get(srv.http + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %d %s", resp.StatusCode, b)
	}
	doc := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(doc, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(redocly, "lint", "--extends=recommended-strict", "--format=stylish", doc)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redocly lint --extends=recommended-strict: %v\n%s", err, out)
	}
	t.Logf("redocly lint: %s", lastLines(string(out), 3))
}
