package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleAdminInChromium drives the console's archive filters and
// paging and its administration pages (access: tokens and users; the
// audit log) in headless Chromium, against a real `wharf serve` fed with
// `wharf archive put`: an admin filters by status and file name, pages
// back, creates a token (shown once, and it works), revokes it (and it
// stops working), adds an operator, reads the audit log; the operator
// then finds no administration.
func TestConsoleAdminInChromium(t *testing.T) {
	ctx, _ := browserCtx(t)
	art := artifactDir(t)
	t.Logf("screenshots in %s", art)
	dir := t.TempDir()
	srv, _, cli := consoleServer(t, dir, "schedules:\n  - name: hourly-verify\n    cron: \"@hourly\"\n    job: archive.verify\n")
	cli("partner", "add", "acme", "--name", "ACME Freight", "--x12-id", "ZZ:ACME")
	for _, f := range []string{"004010/850.edi", "004010/856.edi", "004010/810.edi"} {
		p, err := filepath.Abs(corpusFile(f))
		if err != nil {
			t.Fatal(err)
		}
		cli("archive", "put", "--partner", "acme", p)
	}
	note := filepath.Join(dir, "scan-of-a-fax.txt")
	os.WriteFile(note, []byte("PO 4711: please ship 12 pallets\n"), 0o600)
	cli("archive", "put", "--partner", "acme", note)
	waitFor(t, "processing", func() bool {
		done := 0
		for _, e := range searchArchive(t, dir) {
			if e.Status != "received" {
				done++
			}
		}
		return done >= 4
	})
	admin := strings.Fields(cli("token", "create", "--role", "admin", "--name", "e2e-admin"))[0]

	shot := func(name string) chromedp.Action[chromedp.Void] { return screenshot(art, name) }
	// landed waits until the browser shows a page whose URL contains
	// want, fully loaded: a submitted form's answer, not the form's page.
	landed := func(want string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for {
				loc, err := chromedp.Location()(ctx, tg)
				if err == nil && strings.Contains(loc, want) {
					if done, err := chromedp.Evaluate[bool](`document.readyState === "complete"`)(ctx, tg); err == nil && done {
						return nil
					}
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("the browser did not land on a page with %q in its URL (last %q): %w", want, loc, ctx.Err())
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	rows := func(text string) int { return strings.Count(text, "Download") }
	base := srv.http
	var text, older string

	// Sign in as the admin; filter the archive by status, then by file name.
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#signin-token`)),
		chromedp.SendKeys(chromedp.ID(`token`), admin),
		chromedp.Submit(chromedp.ID(`token`)),
		chromedp.WaitVisible(chromedp.CSS(`.tiles`)),
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/messages"]`)),
		chromedp.WaitVisible(chromedp.ID(`filter-status`)),
		chromedp.SetValue(chromedp.ID(`filter-status`), "unrecognized"),
		chromedp.Submit(chromedp.ID(`filter-status`)),
		landed("status=unrecognized"),
		chromedp.WaitVisible(chromedp.CSS(`main table`)),
		textOf(`main table`, &text),
		shot("01-archive-status-filter"),
	)
	if err != nil {
		t.Fatalf("archive status filter: %v", err)
	}
	if rows(text) != 1 || !strings.Contains(text, "scan-of-a-fax.txt") {
		t.Fatalf("status unrecognized should list the note alone:\n%s", text)
	}
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID(`filter-status`), ""),
		chromedp.SendKeys(chromedp.ID(`filter-filename`), "856.edi"),
		chromedp.Submit(chromedp.ID(`filter-filename`)),
		landed("filename=856.edi"),
		chromedp.WaitVisible(chromedp.CSS(`main table`)),
		textOf(`main table`, &text),
		shot("02-archive-filename-filter"),
	)
	if err != nil {
		t.Fatalf("archive file name filter: %v", err)
	}
	if rows(text) != 1 || !strings.Contains(text, "856.edi") {
		t.Fatalf("file name 856.edi should list one file:\n%s", text)
	}
	// Paging: two per page, then the older page, then back.
	var first string
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/ui/messages?partner=acme&direction=in&limit=2"),
		chromedp.WaitVisible(chromedp.ID(`page-older`)),
		textOf(`main table`, &first),
		shot("03-archive-page-1"),
		chromedp.Click(chromedp.ID(`page-older`)),
		landed("before_id="),
		chromedp.WaitVisible(chromedp.ID(`page-newest`)),
		textOf(`main table`, &older),
		shot("04-archive-page-2"),
	)
	if err != nil {
		t.Fatalf("archive paging: %v", err)
	}
	if rows(first) != 2 || rows(older) != 2 || first == older {
		t.Fatalf("pages of two: first\n%s\nolder\n%s", first, older)
	}

	// Access: create a token (shown once), use it, revoke it.
	var secret string
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/access"]`)),
		chromedp.WaitVisible(chromedp.ID(`token-create`)),
		chromedp.SendKeys(chromedp.ID(`token-name`), "nightly-report"),
		chromedp.SetValue(chromedp.ID(`token-role`), "auditor"),
		chromedp.Submit(chromedp.ID(`token-name`)),
		chromedp.WaitVisible(chromedp.ID(`new-token-value`)),
		textOf(`#new-token-value`, &secret),
		shot("05-access-token-created"),
	)
	if err != nil {
		t.Fatalf("create a token: %v", err)
	}
	me := func(tok string) int {
		req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if !strings.HasPrefix(secret, "wharf_") || me(secret) != 200 {
		t.Fatalf("the token the console showed (%q) does not work", secret)
	}
	id := strings.SplitN(strings.TrimPrefix(secret, "wharf_"), "_", 2)[0]
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/ui/access"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-token="`+id+`"] button.revoke`)),
		chromedp.Click(chromedp.CSS(`tr[data-token="`+id+`"] button.revoke`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash-ok`)),
		textOf(`main`, &text),
		shot("06-access-token-revoked"),
	)
	if err != nil {
		t.Fatalf("revoke the token: %v", err)
	}
	if !strings.Contains(text, "revoked") || strings.Contains(text, secret) || me(secret) != 401 {
		t.Fatalf("after revoking, the page says:\n%s", text)
	}
	// Add an operator.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID(`user-name`), "olga"),
		chromedp.SetValue(chromedp.ID(`user-role`), "operator"),
		chromedp.SendKeys(chromedp.ID(`user-password`), "operator password 456"),
		chromedp.Submit(chromedp.ID(`user-password`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-user="olga"]`)),
		textOf(`main`, &text),
		shot("07-access-user-added"),
	)
	if err != nil {
		t.Fatalf("add a user: %v", err)
	}
	if !strings.Contains(text, "olga can sign in with role operator") {
		t.Fatalf("after adding olga:\n%s", text)
	}

	// The audit log has all of it.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/audit"]`)),
		chromedp.WaitVisible(chromedp.ID(`audit`)),
		textOf(`#audit`, &text),
		shot("08-audit"),
	)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	for _, want := range []string{"token_created", "token " + id, "token_revoked", "user_set", "user olga, role operator", "console_login"} {
		if !strings.Contains(text, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, text)
		}
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#audit-filter input[name="kind"]`), "token_"),
		chromedp.Submit(chromedp.CSS(`#audit-filter input[name="kind"]`)),
		landed("kind=token_"),
		chromedp.WaitVisible(chromedp.ID(`audit`)),
		textOf(`#audit`, &text),
		shot("09-audit-filtered"),
	)
	if err != nil {
		t.Fatalf("audit filter: %v", err)
	}
	if strings.Contains(text, "user_set") || !strings.Contains(text, "token_revoked") {
		t.Errorf("the audit log filtered by token_ shows:\n%s", text)
	}

	// Run a schedule by hand.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/schedules"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-schedule="hourly-verify"] button.run-now`)),
		chromedp.Click(chromedp.CSS(`tr[data-schedule="hourly-verify"] button.run-now`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash-ok`)),
		textOf(`main`, &text),
		shot("10-schedule-run-now"),
	)
	if err != nil {
		t.Fatalf("run a schedule: %v", err)
	}
	if !strings.Contains(text, "hourly-verify started by hand") || !strings.Contains(text, "schedule hourly-verify") {
		t.Fatalf("after Run now, the schedules page says:\n%s", text)
	}

	// The operator signs in: no administration for that role.
	var nav string
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.me button`)),
		chromedp.WaitVisible(chromedp.ID(`signin-password`)),
		chromedp.SendKeys(chromedp.ID(`user`), "olga"),
		chromedp.SendKeys(chromedp.ID(`password`), "operator password 456"),
		chromedp.Submit(chromedp.ID(`password`)),
		chromedp.WaitVisible(chromedp.CSS(`.tiles`)),
		textOf(`header nav`, &nav),
		chromedp.Navigate(base+"/ui/access"),
		chromedp.WaitVisible(chromedp.CSS(`main`)),
		textOf(`main`, &text),
		shot("11-access-refused-to-operator"),
	)
	if err != nil {
		t.Fatalf("operator: %v", err)
	}
	if strings.Contains(nav, "Access") || strings.Contains(nav, "Audit") || !strings.Contains(text, "needs admin") {
		t.Fatalf("an operator is offered administration: nav %q, page:\n%s", nav, text)
	}
	srv.stop(t)
}
