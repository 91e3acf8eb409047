package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// chromiumPath is Debian's Chromium (apt-get install -y chromium).
const chromiumPath = "/usr/bin/chromium"

// artifactDir is where the console test keeps its screenshots:
// $WHARF_TEST_ARTIFACTS/<test> when set (CI uploads it), else a temporary folder.
func artifactDir(t *testing.T) string {
	if root := os.Getenv("WHARF_TEST_ARTIFACTS"); root != "" {
		dir := filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// browserCtx starts headless Chromium with a fresh profile and no network
// of its own (nothing but the server under test).
func browserCtx(t *testing.T) (context.Context, string) {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		testenv.Missing(t, "Chromium", "apt-get install -y chromium", err)
	}
	downloads := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		on := true
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &on})
		return err
	})); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx, downloads
}

// TestConsoleInChromium drives the console in headless Chromium against a
// real `wharf serve` whose data came in through real paths: corpus files
// put with `wharf archive put`, an outbound file whose delivery fails.
func TestConsoleInChromium(t *testing.T) {
	ctx, downloads := browserCtx(t)
	art := artifactDir(t)
	t.Logf("screenshots in %s", art)

	dir := t.TempDir()
	// One schedule, so the schedules page has a last and next run to show.
	cfg := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfg, []byte("schedules:\n  - name: hourly-verify\n    cron: \"@hourly\"\n    job: archive.verify\n"), 0o600)
	env := []string{"WHARF_CONFIG=" + cfg}
	srv := startServer(t, dir, env)
	cli := func(args ...string) string {
		t.Helper()
		out, code := runCLI(t, dir, env, args...)
		if code != 0 {
			t.Fatalf("wharf %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	corpus := func(name string) string {
		p, err := filepath.Abs(corpusFile(name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cli("partner", "add", "acme", "--name", "ACME Freight", "--x12-id", "ZZ:ACME")
	cli("archive", "put", "--partner", "acme", corpus("004010/850.edi"))
	note := filepath.Join(dir, "scan-of-a-fax.txt")
	os.WriteFile(note, []byte("PO 4711: please ship 12 pallets\n"), 0o600)
	cli("archive", "put", "--partner", "acme", note)
	// Outbound over the SFTP client, but acme has no push folder: the
	// delivery fails and dead-letters.
	cli("archive", "put", "--partner", "acme", "--direction", "out", "--transport", "sftp-client", corpus("004010/810.edi"))
	search := func() []archived {
		t.Helper()
		var res []archived
		for _, line := range strings.Split(cli("archive", "search", "--json"), "\n") {
			var a archived
			if strings.HasPrefix(line, "{") {
				if err := json.Unmarshal([]byte(line), &a); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				res = append(res, a)
			}
		}
		return res
	}
	var invoice, note850 archived
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("archive at the end: %s\nserver log:\n%s", last, srv.logs)
		}
	}()
	waitFor(t, "processing and the failed delivery", func() bool {
		done := 0
		defer func() { last = fmt.Sprint(search()) }()
		for _, e := range search() {
			switch {
			case e.Filename == "810.edi" && e.Status == "dead_letter":
				invoice = e
				done++
			case e.Filename == "850.edi" && e.Status == "processed":
				note850 = e
				done++
			case e.Filename == "scan-of-a-fax.txt" && e.Status == "unrecognized":
				done++
			}
		}
		return done == 3
	})
	// The dead letter is an entry of the exceptions queue, raised by the delivery engine.
	var excID string
	withStore(t, filepath.Join(dir, "wharf-data"), func(st store.Store) {
		ex, err := st.ListExceptions(context.Background(), store.ExceptionFilter{MessageID: invoice.ID, Reason: "delivery"})
		if err != nil || len(ex) != 1 {
			t.Fatalf("the dead letter's exception: %v %+v", err, ex)
		}
		excID = ex[0].ID
	})
	opTok := strings.TrimSpace(cli("token", "create", "--role", "operator", "--name", "e2e-operator"))
	opTok = strings.Fields(opTok)[0]
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("auditor password 123\n"), 0o600)
	cli("user", "add", "audrey", "--role", "auditor", "--password-file", pw)

	shot := func(name string) chromedp.Action[chromedp.Void] { return screenshot(art, name) }
	base := srv.http
	var text string

	// Sign in with the operator's token.
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#signin-token`)),
		shot("01-signin"),
		chromedp.SendKeys(chromedp.ID(`token`), opTok),
		chromedp.Submit(chromedp.ID(`token`)),
		chromedp.WaitVisible(chromedp.CSS(`.tiles`)),
		textOf(`main`, &text),
		shot("02-overview"),
	)
	if err != nil {
		t.Fatalf("sign in: %v\n%s", err, srv.logs)
	}
	if !strings.Contains(text, "acme") || !strings.Contains(text, "stuck documents") {
		t.Fatalf("overview lacks the partner or the stuck tile:\n%s", text)
	}

	// Open a stuck document: the file that is not X12.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/ui/stuck"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.stuck-row`)),
		textOf(`main`, &text),
		shot("03-stuck"),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"received, not mapped", "scan-of-a-fax.txt", "mapped, not delivered", "810.edi", "dead_letter"} {
		if !strings.Contains(text, want) {
			t.Fatalf("stuck page lacks %q:\n%s", want, text)
		}
	}
	err = chromedp.Do(ctx,
		chromedp.Click(`//a[contains(@class,"open-doc")][text()="scan-of-a-fax.txt"]`),
		chromedp.WaitVisible(chromedp.CSS(`#sha256`)),
		textOf(`main`, &text),
		shot("04-stuck-document"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Stuck: received, not mapped") || !strings.Contains(text, "not X12") {
		t.Fatalf("stuck document page does not say why:\n%s", text)
	}
	// Why, next to the file's content.
	if !strings.Contains(text, "Why Wharf does not read this file") || !strings.Contains(text, "PO 4711: please ship 12 pallets") ||
		!strings.Contains(text, "unrecognized") {
		t.Fatalf("the unrecognized file's page does not show why next to its content:\n%s", text)
	}

	// Open the trace of a business key of the purchase order.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/ui/messages/"+note850.ID),
		chromedp.WaitVisible(chromedp.CSS(`#sha256`)),
		chromedp.Click(chromedp.CSS(`table.compact a`)),
		chromedp.WaitVisible(chromedp.ID(`timeline`)),
		textOf(`main`, &text),
		shot("05-trace"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "received") || !strings.Contains(text, "acme") {
		t.Fatalf("trace lacks the message's history:\n%s", text)
	}
	if !strings.Contains(text, "Canonical documents about it") { // the section shows only when documents concern the key
		t.Fatalf("trace lacks the canonical order:\n%s", text)
	}

	// Replay the failed delivery.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/ui/messages/"+invoice.ID),
		chromedp.WaitVisible(chromedp.ID(`replay`)),
		textOf(`main`, &text),
		shot("06-failed-delivery"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`window.confirm = () => true; true`)(ctx, tg)
			return err
		}),
		chromedp.Click(chromedp.CSS(`#replay button`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash-ok`)),
		textOf(`main`, &text),
		shot("07-replayed"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Replayed") || !strings.Contains(text, invoice.ID) {
		t.Fatalf("replay page does not name the original:\n%s", text)
	}
	// The dead letter's delivery re-runs on the same message and, the
	// push folder still missing, dead-letters again: no second message.
	waitFor(t, "the replayed delivery dead-lettered again", func() bool {
		n := 0
		withStore(t, filepath.Join(dir, "wharf-data"), func(st store.Store) {
			evs, err := st.Events(context.Background(), invoice.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.Kind == "dead_letter" {
					n++
				}
			}
		})
		return n == 2
	})
	for _, e := range search() {
		if e.Filename == invoice.Filename && e.ID != invoice.ID {
			t.Fatalf("the replay of a dead letter added message %s", e.ID)
		}
	}
	if out := cli("archive", "events", invoice.ID); !strings.Contains(out, "delivery re-run from the archived bytes") {
		t.Fatalf("the dead letter's history does not show the replay:\n%s", out)
	}

	// The exception: comment and resolve it, as the operator.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/ui/exceptions"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/exceptions/`+excID+`"]`)),
		shot("08-exceptions-open"),
		chromedp.Click(chromedp.CSS(`a[href="/ui/exceptions/`+excID+`"]`)),
		chromedp.WaitVisible(chromedp.ID(`comment`)),
		chromedp.SendKeys(chromedp.ID(`comment`), "replayed after the push folder was configured"),
		chromedp.Click(chromedp.CSS(`button[formaction$="/resolve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash-ok`)),
		textOf(`main`, &text),
		shot("09-exception-resolved"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "resolved") || !strings.Contains(text, "replayed after the push folder") || !strings.Contains(text, "e2e-operator") {
		t.Fatalf("exception page after resolve:\n%s", text)
	}

	// Sign out; sign in as an auditor with a password; download an original.
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.me button`)),
		chromedp.WaitVisible(chromedp.ID(`signin-password`)),
		chromedp.SendKeys(chromedp.ID(`user`), "audrey"),
		chromedp.SendKeys(chromedp.ID(`password`), "auditor password 123"),
		chromedp.Submit(chromedp.ID(`password`)),
		chromedp.WaitVisible(chromedp.CSS(`.tiles`)),
		chromedp.Navigate(base+"/ui/messages?partner=acme&direction=in"),
		chromedp.WaitVisible(chromedp.ID(`verify`)),
		shot("10-archive-auditor"),
		chromedp.Navigate(base+"/ui/messages/"+note850.ID),
		chromedp.WaitVisible(chromedp.ID(`download`)),
		textOf(`main`, &text),
		shot("11-message-auditor"),
		chromedp.Click(chromedp.ID(`download`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "Replay delivery") || strings.Contains(text, "Re-run processing") {
		t.Fatalf("an auditor is offered a replay:\n%s", text)
	}
	var guid string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("the download did not complete: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			guid = ev.GUID
			break
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("the download was cancelled")
		}
	}
	got, err := os.ReadFile(filepath.Join(downloads, guid))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(got)
	want, _ := os.ReadFile(corpusFile("004010/850.edi"))
	if hex.EncodeToString(sum[:]) != note850.SHA256 || string(got) != string(want) {
		t.Fatalf("downloaded %d bytes with sha256 %x; archived sha256 %s", len(got), sum, note850.SHA256)
	}

	// The auditor runs verify.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/ui/messages"),
		chromedp.Click(chromedp.CSS(`#verify button`)),
		chromedp.WaitVisible(chromedp.ID(`verify-result`)),
		textOf(`#verify-result`, &text),
		shot("12-verify"),
		chromedp.Navigate(base+"/ui/exceptions?status=resolved"),
		chromedp.WaitVisible(chromedp.CSS(`.filters`)),
		shot("13-exceptions-auditor"),
		chromedp.Navigate(base+"/ui/partners"),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)),
		shot("14-partners"),
		chromedp.Navigate(base+"/ui/schedules"),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)),
		shot("15-schedules"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Archive intact") {
		t.Fatalf("verify: %s", text)
	}
	// Every action above is in the audit log.
	audit := auditKinds(t, dir)
	for _, k := range []string{"console_login", "replay", "exception.resolve", "download", "archive_verify", "console_logout"} {
		if !audit[k] {
			t.Errorf("no %s audit event (have %v)", k, audit)
		}
	}
	srv.stop(t)
}

func auditKinds(t *testing.T, dir string) map[string]bool {
	t.Helper()
	kinds := map[string]bool{}
	withStore(t, filepath.Join(dir, "wharf-data"), func(st store.Store) {
		evs, err := st.AuditEvents(context.Background(), "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			kinds[e.Kind] = true
		}
	})
	return kinds
}

// screenshot saves the page as art/NAME.png (the console tests' artifacts).
func screenshot(art, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(art, name+".png"), buf, 0o644)
	})
}

// textOf reads the text of the first element sel matches into dst.
func textOf(sel string, dst *string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Text(chromedp.CSS(sel))(ctx, tg)
		*dst = v
		return err
	})
}

// consoleServer starts `wharf serve` in dir with the configuration yaml
// (its log printed if the test fails) and returns it, its environment and
// a runner of CLI commands against it that fails the test on a non-zero exit.
func consoleServer(t *testing.T, dir, yaml string) (*serveProc, []string, func(args ...string) string) {
	t.Helper()
	cfg := filepath.Join(dir, "wharf.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"WHARF_CONFIG=" + cfg}
	srv := startServer(t, dir, env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", srv.logs)
		}
	})
	cli := func(args ...string) string {
		t.Helper()
		out, code := runCLI(t, dir, env, args...)
		if code != 0 {
			t.Fatalf("wharf %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	return srv, env, cli
}
