package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/store"
)

// consoleDriver holds what a console test in Chromium does over and over.
type consoleDriver struct {
	t   *testing.T
	ctx context.Context
	art string
}

func (d *consoleDriver) shot(name string) chromedp.Action[chromedp.Void] {
	return screenshot(d.art, name)
}

func (d *consoleDriver) textOf(sel string, dst *string) chromedp.Action[chromedp.Void] {
	return textOf(sel, dst)
}

// waitText waits until the element sel shows want (a form's answer, not
// the page the form was on).
func (d *consoleDriver) waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var last string
		for {
			if v, err := chromedp.Evaluate[string](`(function(){var e=document.querySelector(`+"`"+sel+"`"+`);return e?e.innerText:""})()`)(ctx, tg); err == nil {
				last = v
				if strings.Contains(v, want) {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s never showed %q (last %q): %w", sel, want, last, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

func (d *consoleDriver) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	if err := chromedp.Do(d.ctx, actions...); err != nil {
		d.t.Fatalf("%s: %v", what, err)
	}
}

// onPage loads url, then runs the actions. A node found, then gone before
// chromedp acted on it (the document replaced under it: "No node with
// given id found", seen once in CI) runs the step once more from the page.
func (d *consoleDriver) onPage(what, url string, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	all := append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(url)}, actions...)
	err := chromedp.Do(d.ctx, all...)
	if err != nil && strings.Contains(err.Error(), "No node with given id found") {
		d.t.Logf("%s: %v; once more from the page", what, err)
		err = chromedp.Do(d.ctx, all...)
	}
	if err != nil {
		d.t.Fatalf("%s: %v", what, err)
	}
}

// selfSignedPEM is a throwaway AS2 certificate expiring at notAfter.
func selfSignedPEM(t *testing.T, cn string, notAfter time.Time) string {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn}, NotBefore: notAfter.AddDate(-2, 0, 0), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestConsolePartnersInChromium drives partners administration in
// headless Chromium against a real `wharf serve`: the configuration's
// partner is shown read-only with where it comes from; an admin creates a
// partner with an SSH key and an AS2 certificate (its expiry shown), the
// partner logs in over SFTP with OpenSSH; the admin disables it and its
// login is refused, enables it and it logs in again; an edit is saved; a
// duplicate is refused on the form; a schedule is paused and resumed; an
// auditor is offered no changes.
func TestConsolePartnersInChromium(t *testing.T) {
	requireTool(t, "sftp", "apt-get install openssh-client")
	ctx, _ := browserCtx(t)
	d := &consoleDriver{t: t, ctx: ctx, art: artifactDir(t)}
	t.Logf("screenshots in %s", d.art)
	dir := t.TempDir()
	sshKey(t, filepath.Join(dir, "bolt_key"))
	srv, _, cli := consoleServer(t, dir, "partners:\n  - id: acme\n    name: ACME Freight\n    x12_ids: [\"ZZ:ACME\"]\n"+
		"schedules:\n  - name: hourly-verify\n    cron: \"@hourly\"\n    job: archive.verify\n")
	admin := strings.Fields(cli("token", "create", "--role", "admin", "--name", "e2e-admin"))[0]
	auditor := strings.Fields(cli("token", "create", "--role", "auditor", "--name", "e2e-auditor"))[0]
	pub, _ := os.ReadFile(filepath.Join(dir, "bolt_key.pub"))
	cert := selfSignedPEM(t, "Bolt AS2", time.Date(2031, 1, 31, 0, 0, 0, 0, time.UTC))
	sftpc := newSFTPClient(t, dir, srv)
	login := func() (string, bool) { return sftpc.run("bolt", filepath.Join(dir, "bolt_key"), "ls") }
	base := srv.http
	var text string

	d.do("sign in and list partners",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#signin-token`)),
		chromedp.SendKeys(chromedp.ID(`token`), admin),
		chromedp.Submit(chromedp.ID(`token`)),
		chromedp.WaitVisible(chromedp.CSS(`.tiles`)),
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/partners"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-partner="acme"]`)),
		d.textOf(`#partners`, &text),
		d.shot("01-partners"),
	)
	if !strings.Contains(text, "config file") || !strings.Contains(text, "enabled") {
		t.Fatalf("the configuration's partner is not marked as such:\n%s", text)
	}
	d.do("the configuration's partner is read-only",
		chromedp.Click(chromedp.CSS(`tr[data-partner="acme"] a[href="/ui/partners/acme"]`)),
		chromedp.WaitVisible(chromedp.ID(`read-only-note`)),
		d.textOf(`main`, &text),
		d.shot("02-partner-from-config"),
	)
	if cfg := filepath.Join(dir, "wharf.yaml"); !strings.Contains(text, cfg) || strings.Contains(text, "Save") {
		t.Fatalf("the read-only page does not name %s, or offers an edit:\n%s", cfg, text)
	}

	// Create bolt with an SSH key and an AS2 certificate.
	d.do("create a partner",
		chromedp.Navigate(base+"/ui/partners"),
		chromedp.WaitVisible(chromedp.ID(`partner-new`)),
		chromedp.Click(chromedp.ID(`partner-new`)),
		chromedp.WaitVisible(chromedp.ID(`partner-form`)),
		chromedp.SendKeys(chromedp.ID(`partner-id`), "bolt"),
		chromedp.SendKeys(chromedp.ID(`partner-name`), "Bolt Logistics"),
		chromedp.SetValue(chromedp.ID(`partner-x12`), "ZZ:BOLT\n"),
		chromedp.SetValue(chromedp.ID(`partner-keys`), string(pub)),
		chromedp.SendKeys(chromedp.ID(`partner-as2`), "BOLT AS2"),
		chromedp.SetValue(chromedp.ID(`partner-certs-pem`), cert),
		d.shot("03-partner-new-form"),
		chromedp.Click(chromedp.ID(`partner-save`)),
		d.waitText(`.flash-ok`, "created"),
		chromedp.WaitVisible(chromedp.ID(`partner-certs`)),
		d.textOf(`main`, &text),
		d.shot("04-partner-created"),
	)
	for _, want := range []string{"Partner bolt created", "ZZ:BOLT", "SHA256:", "BOLT AS2", "CN=Bolt AS2", "2031-01-31"} {
		if !strings.Contains(text, want) {
			t.Errorf("the new partner's page lacks %q:\n%s", want, text)
		}
	}
	if out, ok := login(); !ok {
		t.Fatalf("bolt cannot log in with its key:\n%s", out)
	}

	// A session that stays: the sessions page shows it with its upload.
	live := holdSFTP(t, dir, srv, "bolt", filepath.Join(dir, "bolt_key"))
	f, err := live.Create("inbound/note.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("a note from bolt\n"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	d.do("live sessions",
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/sessions"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#sessions tr[data-partner="bolt"]`)),
		d.textOf(`#sessions`, &text),
		d.shot("05-sftp-sessions"),
	)
	if !strings.Contains(text, "bolt") || !strings.Contains(text, "127.0.0.1:") || !strings.Contains(text, "SHA256:") || !strings.Contains(text, "17 B") {
		t.Fatalf("the sessions page does not show bolt's session and upload:\n%s", text)
	}

	// Disable: the live session ends, the login is refused; enable: it
	// logs in again.
	d.do("disable the partner",
		chromedp.Navigate(base+"/ui/partners/bolt"),
		chromedp.WaitVisible(chromedp.CSS(`#partner-toggle button`)),
		chromedp.Click(chromedp.CSS(`#partner-toggle button`)),
		d.waitText(`.flash-ok`, "disabled"),
		d.textOf(`main`, &text),
		d.shot("06-partner-disabled"),
	)
	if !strings.Contains(text, "Partner bolt disabled") || !strings.Contains(text, "disabled since") {
		t.Fatalf("after Disable the page says:\n%s", text)
	}
	if out, ok := login(); ok {
		t.Fatalf("a disabled partner logged in:\n%s", out)
	}
	if _, err := live.ReadDir("inbound"); err == nil {
		t.Fatal("the disabled partner's live session still answers")
	}
	d.onPage("no sessions left", base+"/ui/sessions",
		chromedp.WaitVisible(chromedp.ID(`sessions`)),
		d.textOf(`#sessions`, &text),
		d.shot("07-sftp-sessions-ended"),
	)
	if strings.Contains(text, "bolt") {
		t.Fatalf("the disabled partner's session is still listed:\n%s", text)
	}
	d.do("the list shows it disabled",
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/partners"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-partner="bolt"] button.enable`)),
		d.textOf(`tr[data-partner="bolt"]`, &text),
		d.shot("08-partners-one-disabled"),
		chromedp.Click(chromedp.CSS(`tr[data-partner="bolt"] button.enable`)),
		d.waitText(`.flash-ok`, "enabled"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-partner="bolt"] button.disable`)),
	)
	if !strings.Contains(text, "disabled") {
		t.Fatalf("the list does not show bolt disabled: %s", text)
	}
	if out, ok := login(); !ok {
		t.Fatalf("bolt cannot log in once enabled again:\n%s", out)
	}

	// Edit, then a duplicate refused on the form.
	d.onPage("edit the partner", base+"/ui/partners/bolt",
		chromedp.WaitVisible(chromedp.ID(`partner-form`)),
		chromedp.SetValue(chromedp.ID(`partner-name`), "Bolt Logistics GmbH"),
		chromedp.Click(chromedp.ID(`partner-save`)),
		d.waitText(`.flash-ok`, "saved"),
		d.textOf(`h1`, &text),
	)
	if !strings.Contains(text, "Bolt Logistics GmbH") {
		t.Fatalf("after the edit the title is %q", text)
	}
	d.do("a duplicate is refused",
		chromedp.Navigate(base+"/ui/partners/new"),
		chromedp.WaitVisible(chromedp.ID(`partner-form`)),
		chromedp.SendKeys(chromedp.ID(`partner-id`), "bolt"),
		chromedp.Click(chromedp.ID(`partner-save`)),
		d.waitText(`.flash-bad`, "Not created"),
		d.textOf(`.flash-bad`, &text),
		d.shot("09-partner-duplicate-refused"),
	)
	if !strings.Contains(text, "exists already") {
		t.Fatalf("the duplicate's refusal says %q", text)
	}
	// Pause a schedule, then resume it.
	d.do("pause a schedule",
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/schedules"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-schedule="hourly-verify"] button.pause`)),
		chromedp.Click(chromedp.CSS(`tr[data-schedule="hourly-verify"] button.pause`)),
		d.waitText(`.flash-ok`, "paused"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-schedule="hourly-verify"] button.resume`)),
		d.textOf(`tr[data-schedule="hourly-verify"]`, &text),
		d.shot("11-schedule-paused"),
	)
	if !strings.Contains(text, "paused") || !strings.Contains(text, "skipped while paused") {
		t.Fatalf("the paused schedule's row: %s", text)
	}
	withStore(t, filepath.Join(dir, "wharf-data"), func(st store.Store) {
		ps, err := st.SchedulePauses(context.Background())
		if err != nil || !strings.HasPrefix(ps["hourly-verify"].By, "token:") {
			t.Fatalf("the pause in the database: %+v %v", ps, err)
		}
	})
	d.do("resume it",
		chromedp.Click(chromedp.CSS(`tr[data-schedule="hourly-verify"] button.resume`)),
		d.waitText(`.flash-ok`, "resumed"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-schedule="hourly-verify"] button.pause`)),
		d.textOf(`tr[data-schedule="hourly-verify"]`, &text),
		d.shot("12-schedule-resumed"),
	)
	if !strings.Contains(text, "running") {
		t.Fatalf("the resumed schedule's row: %s", text)
	}
	// An auditor sees partners but is offered no change.
	d.do("auditor",
		chromedp.Click(chromedp.CSS(`.me button`)),
		chromedp.WaitVisible(chromedp.CSS(`#signin-token`)),
		chromedp.SendKeys(chromedp.ID(`token`), auditor),
		chromedp.Submit(chromedp.ID(`token`)),
		chromedp.WaitVisible(chromedp.CSS(`.tiles`)),
		chromedp.Navigate(base+"/ui/partners/bolt"),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)),
		d.textOf(`main`, &text),
		d.shot("10-partner-as-auditor"),
	)
	if strings.Contains(text, "Disable") || strings.Contains(text, "Save") || !strings.Contains(text, "CN=Bolt AS2") {
		t.Fatalf("an auditor's partner page:\n%s", text)
	}
	srv.stop(t)
	withStore(t, filepath.Join(dir, "wharf-data"), func(st store.Store) {
		evs, err := st.AuditEvents(context.Background(), "", 500)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, e := range evs {
			kinds[e.Kind]++
		}
		for _, want := range []string{"partner_created", "partner_disabled", "partner_enabled", "partner_updated", "sftp_login_refused", "schedule_paused", "schedule_resumed"} {
			if kinds[want] == 0 {
				t.Errorf("the audit log lacks %s: %v", want, kinds)
			}
		}
	})
}

// holdSFTP logs in to the server's SFTP listener as user with the private
// key file and keeps the session open until the test ends.
func holdSFTP(t *testing.T, dir string, srv *serveProc, user, keyFile string) *sftp.Client {
	t.Helper()
	hk, err := os.ReadFile(filepath.Join(dir, "wharf-data", "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	host, err := ssh.ParsePrivateKey(hk)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.ParsePrivateKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", srv.sftp, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.FixedHostKey(host.PublicKey()), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestConsolePreviewInChromium: a message's page previews its content next
// to the download, in headless Chromium against a real `wharf serve`: an
// X12 file one segment per row indented by envelope, a CSV file (sent to
// the partner) as a table with its quoted fields whole; the traffic page
// charts both per hour.
func TestConsolePreviewInChromium(t *testing.T) {
	ctx, _ := browserCtx(t)
	d := &consoleDriver{t: t, ctx: ctx, art: artifactDir(t)}
	t.Logf("screenshots in %s", d.art)
	dir := t.TempDir()
	srv, _, cli := consoleServer(t, dir, "partners:\n  - id: acme\n    x12_ids: [\"ZZ:ACME\"]\n")
	edi, _ := filepath.Abs(corpusFile("004010/850.edi"))
	csvFile, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "csv", "orders.csv"))
	cli("archive", "put", "--partner", "acme", edi)
	// The CSV is one Wharf sends (acme has no CSV layout to read one with).
	cli("archive", "put", "--partner", "acme", "--direction", "out", "--transport", "sftp", csvFile)
	var ids map[string]string
	waitFor(t, "processing", func() bool {
		ids = map[string]string{}
		for _, e := range searchArchive(t, dir) {
			if e.Direction == "out" || e.Status != "received" {
				ids[e.Filename] = e.ID
			}
		}
		return ids["850.edi"] != "" && ids["orders.csv"] != ""
	})
	admin := strings.Fields(cli("token", "create", "--role", "auditor", "--name", "e2e-auditor"))[0]
	var text string
	d.do("sign in and preview the X12 file",
		chromedp.Navigate(srv.http+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#signin-token`)),
		chromedp.SendKeys(chromedp.ID(`token`), admin),
		chromedp.Submit(chromedp.ID(`token`)),
		chromedp.WaitVisible(chromedp.CSS(`.tiles`)),
		chromedp.Navigate(srv.http+"/ui/messages/"+ids["850.edi"]),
		chromedp.WaitVisible(chromedp.ID(`preview-link`)),
		chromedp.Click(chromedp.ID(`preview-link`)),
		chromedp.WaitVisible(chromedp.ID(`preview-rows`)),
		d.textOf(`#preview`, &text),
		d.shot("01-preview-x12"),
	)
	for _, want := range []string{"X12, one segment per row", "ISA*00*", "GS*PO*ACME*WHARF", "ST*850*0001~", "BEG*00*SA*PO-48213**20260309~", "IEA*1*"} {
		if !strings.Contains(text, want) {
			t.Errorf("the X12 preview lacks %q:\n%s", want, text)
		}
	}
	var indent string
	d.do("the envelope is indented",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, err := chromedp.Evaluate[string](`[...document.querySelectorAll("#preview-rows tr")].slice(0,4).map(r => getComputedStyle(r.cells[1]).paddingLeft).join(",")`)(ctx, tg)
			indent = v
			return err
		}),
	)
	if indent != "8px,24px,40px,56px" {
		t.Errorf("ISA, GS, ST and BEG are indented %s", indent)
	}
	d.do("preview the CSV file",
		chromedp.Navigate(srv.http+"/ui/messages/"+ids["orders.csv"]),
		chromedp.WaitVisible(chromedp.ID(`preview-table`)),
		d.textOf(`#preview`, &text),
		d.shot("02-preview-csv"),
	)
	for _, want := range []string{"CSV, delimiter ,", "order_no", "Acme Hardware, Inc.", `Hex bolt 1/2" zinc, box of 100`} {
		if !strings.Contains(text, want) {
			t.Errorf("the CSV preview lacks %q:\n%s", want, text)
		}
	}
	// The traffic charts: acme's two files, over 24 hours and 7 days.
	var bars int
	d.do("traffic charts",
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/charts"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.chart-card[data-partner="acme"] svg.hourly`)),
		d.textOf(`.chart-card[data-partner="acme"] h2`, &text),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, err := chromedp.Evaluate[int](`document.querySelectorAll('.chart-card[data-partner="acme"] svg.hourly rect').length`)(ctx, tg)
			bars = v
			return err
		}),
		d.shot("03-charts-24h"),
		chromedp.SetValue(chromedp.ID(`charts-window`), "7d"),
		chromedp.Submit(chromedp.ID(`charts-window`)),
		d.waitText(`#charts-filter`, "since"),
		chromedp.WaitVisible(chromedp.CSS(`.chart-card[data-partner="acme"] svg.hourly`)),
		d.shot("04-charts-7d"),
	)
	if !strings.Contains(text, "1 in · 2 out") || !strings.Contains(text, "mean latency") || bars < 2 { // out: the CSV and the 997 for the 850
		t.Errorf("acme's charts: heading %q, %d bars", text, bars)
	}

	// Test traffic: the same 850 as a test interchange (ISA15 T, its own
	// control number) carries a badge on its page and is what the archive's
	// traffic filter keeps.
	raw, err := os.ReadFile(edi)
	if err != nil {
		t.Fatal(err)
	}
	isa := strings.SplitN(string(raw), "*", 17)
	oldCtl := isa[13]
	isa[13], isa[15] = "000000777", "T"
	testEDI := filepath.Join(dir, "850-test.edi")
	os.WriteFile(testEDI, []byte(strings.Replace(strings.Join(isa, "*"), "IEA*1*"+oldCtl, "IEA*1*000000777", 1)), 0o644)
	cli("archive", "put", "--partner", "acme", testEDI)
	var testID string
	waitFor(t, "the test interchange processed", func() bool {
		for _, e := range searchArchive(t, dir) {
			if e.Filename == "850-test.edi" && e.Status != "received" {
				testID = e.ID
			}
		}
		return testID != ""
	})
	var badge, listed string
	d.do("test traffic is marked",
		chromedp.Navigate(srv.http+"/ui/messages/"+testID),
		chromedp.WaitVisible(chromedp.ID(`test-badge`)),
		d.textOf(`#test-badge`, &badge),
		d.shot("05-test-traffic-message"),
		chromedp.Navigate(srv.http+"/ui/messages?traffic=test"),
		chromedp.WaitVisible(chromedp.ID(`filter-traffic`)),
		d.textOf(`main`, &listed),
		d.shot("06-test-traffic-archive"),
	)
	if badge != "test" || !strings.Contains(listed, "850-test.edi") || strings.Contains(listed, "orders.csv") {
		t.Errorf("test traffic: badge %q; the archive filtered to test traffic:\n%s", badge, listed)
	}
	srv.stop(t)
}
