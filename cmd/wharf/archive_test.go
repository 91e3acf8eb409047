package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

func TestArchiveCLI(t *testing.T) {
	for _, db := range []string{"SQLite", "Postgres"} {
		t.Run(db, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			t.Setenv("WHARF_DATABASE_URL", "")
			t.Setenv("WHARF_ARCHIVE_URL", "")
			if db == "Postgres" {
				t.Setenv("WHARF_DATABASE_URL", testenv.Postgres(t))
			}
			testArchiveCLI(t, dir, data)
		})
	}
}

func testArchiveCLI(t *testing.T, dir, data string) {
	file := filepath.Join(dir, "po 1.edi")
	content := "ISA*00*~GS*PO~ST*850*0001~\r\n\x00\xff"
	os.WriteFile(file, []byte(content), 0o600)

	if _, errs, code := runIn(t, "archive", "put", "--partner", "acme", file, "--data", data); code != 1 || !strings.Contains(errs, `partner "acme" is not registered`) {
		t.Fatalf("unknown partner: %d %q", code, errs)
	}
	if _, errs, code := runIn(t, "partner", "add", "acme", "--data", data); code != 0 {
		t.Fatal(errs)
	}
	out, errs, code := runIn(t, "archive", "put", "--partner", "acme", "--transport", "sftp", file, "--data", data, "--json")
	if code != 0 {
		t.Fatalf("put: %d %s", code, errs)
	}
	var e entryOut
	if err := json.Unmarshal([]byte(out), &e); err != nil || e.ID == "" || e.Filename != "po 1.edi" || e.Size != int64(len(content)) || e.Transport != "sftp" {
		t.Fatalf("put output %q: %v", out, err)
	}
	out, _, code = runIn(t, "archive", "put", "--partner", "acme", "--direction", "out", file, "--data", data)
	if code != 0 || !strings.Contains(out, "duplicate") {
		t.Fatalf("second put: %d %q", code, out)
	}
	// get: byte for byte.
	out, errs, code = runIn(t, "archive", "get", e.ID, "--data", data)
	if code != 0 || out != content {
		t.Fatalf("get: %d %q %q", code, out, errs)
	}
	if _, errs, code := runIn(t, "archive", "get", "nope", "--data", data); code != 1 || !strings.Contains(errs, `no message ID is or begins with "nope"`) {
		t.Fatalf("get missing: %d %q", code, errs)
	}
	// An ID may be shortened while it stays unique; both messages were
	// received within the same second, so their IDs (UUIDv7) begin alike.
	if out, errs, code := runIn(t, "archive", "get", e.ID[:30], "--data", data); code != 0 || out != content {
		t.Fatalf("get by a unique prefix: %d %q %q", code, out, errs)
	}
	if _, errs, code := runIn(t, "archive", "events", e.ID[:4], "--data", data); code != 1 || !strings.Contains(errs, "is ambiguous") || !strings.Contains(errs, e.ID) {
		t.Fatalf("events by an ambiguous prefix: %d %q", code, errs)
	}
	if _, errs, code := runIn(t, "archive", "get", "--data", data); code != 2 || !strings.Contains(errs, "wharf archive get: missing ID\nusage: wharf archive get ID\n") {
		t.Fatalf("get without ID: %d %q", code, errs)
	}
	// search: newest first, JSON Lines with the contract's fields.
	out, _, code = runIn(t, "archive", "search", "--partner", "acme", "--json", "--data", data)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("search: %d %q", code, out)
	}
	var first map[string]any
	json.Unmarshal([]byte(lines[0]), &first)
	for _, f := range []string{"id", "partner", "direction", "received_at", "size", "sha256", "filename", "status"} {
		if _, ok := first[f]; !ok {
			t.Errorf("search --json lacks %q: %s", f, lines[0])
		}
	}
	if first["direction"] != "out" || first["duplicate_of"] != e.ID {
		t.Fatalf("newest first / duplicate flag: %s", lines[0])
	}
	if out, _, _ := runIn(t, "archive", "search", "--since", "2000-01-01T00:00:00Z", "--until", "2001-01-01T00:00:00Z", "--data", data); out != "" {
		t.Fatalf("time window: %q", out)
	}
	if _, errs, code := runIn(t, "archive", "search", "--since", "yesterday", "--data", data); code != 2 || !strings.Contains(errs, "RFC 3339") {
		t.Fatalf("bad --since: %d %q", code, errs)
	}
	// A date alone, as the API takes it.
	if out, errs, code := runIn(t, "archive", "search", "--since", "2000-01-01", "--until", "2001-01-01", "--data", data); code != 0 || out != "" {
		t.Fatalf("--since as a date: %d %q %q", code, out, errs)
	}
	for _, args := range [][]string{
		{"exceptions", "list", "--status", "bogus", "use open, resolved, dismissed or all"},
		{"exceptions", "list", "--owner", "bogus", "use it or operations"},
		{"archive", "search", "--direction", "sideways", "use in or out"},
		{"archive", "put", "--partner", "acme", "--direction", "sideways", file, "use in or out"},
		{"token", "create", "--role", "root", "use admin, operator or auditor"},
	} {
		hint := args[len(args)-1]
		if _, errs, code := runIn(t, append(args[:len(args)-1], "--data", data)...); code != 2 || !strings.Contains(errs, hint) || !strings.Contains(errs, "usage: wharf ") {
			t.Errorf("%s: %d %q", strings.Join(args, " "), code, errs)
		}
	}
	// Exceptions by a shortened ID.
	var x store.Exception
	withStore(t, data, func(st store.Store) {
		x = store.Exception{Reason: "mapping", Detail: "test", PartnerID: "acme", MessageID: e.ID}
		if _, err := st.RaiseException(context.Background(), &x); err != nil {
			t.Fatal(err)
		}
	})
	if out, errs, code := runIn(t, "exceptions", "comment", x.ID[:30], "--comment", "looking", "--data", data); code != 0 || !strings.Contains(out, "exception "+x.ID+": comment") {
		t.Fatalf("exceptions comment by a prefix: %d %q %q", code, out, errs)
	}
	if out, errs, code := runIn(t, "exceptions", "show", x.ID[:30], "--data", data); code != 0 || !strings.Contains(out, "looking") {
		t.Fatalf("exceptions show by a prefix: %d %q %q", code, out, errs)
	}
	// --key finds messages by a business key attached later.
	withStore(t, data, func(st store.Store) {
		if err := st.AddMessageKeys(context.Background(), e.ID, []store.Key{{Kind: "po", Value: "PO-77"}}); err != nil {
			t.Fatal(err)
		}
	})
	out, _, _ = runIn(t, "archive", "search", "--key", "PO-77", "--data", data)
	if !strings.Contains(out, e.ID) || strings.Count(out, "\n") != 2 {
		t.Fatalf("search --key: %q", out)
	}
	// --traffic: test traffic only, or none of it; the table notes it.
	withStore(t, data, func(st store.Store) {
		if err := st.AddMessageKeys(context.Background(), e.ID, []store.Key{store.KeyTest}); err != nil {
			t.Fatal(err)
		}
	})
	if out, errs, code := runIn(t, "archive", "search", "--traffic", "test", "--json", "--data", data); code != 0 ||
		strings.Count(out, "\n") != 1 || !strings.Contains(out, e.ID) || !strings.Contains(out, `"test":true`) {
		t.Fatalf("search --traffic test: %d %q %q", code, out, errs)
	}
	if out, _, _ := runIn(t, "archive", "search", "--traffic", "production", "--data", data); strings.Contains(out, "\n"+e.ID+" ") || strings.Count(out, "\n") != 2 {
		t.Fatalf("search --traffic production: %q", out)
	}
	if out, _, _ := runIn(t, "archive", "search", "--data", data); !strings.Contains(out, "  test\n") && !strings.Contains(out, "  test duplicate") {
		t.Fatalf("search does not note test traffic: %q", out)
	}
	if _, errs, code := runIn(t, "archive", "search", "--traffic", "staging", "--data", data); code != 2 || !strings.Contains(errs, "use test or production") {
		t.Fatalf("search --traffic staging: %d %q", code, errs)
	}
	// events, oldest first.
	out, _, code = runIn(t, "archive", "events", e.ID, "--json", "--data", data)
	if code != 0 || !strings.Contains(strings.Split(out, "\n")[0], `"kind":"received"`) {
		t.Fatalf("events: %d %q", code, out)
	}
	// put queued the processing of each entry (outbound X12 is recorded
	// for matching the partner's acknowledgments), the inbound one included.
	withStore(t, data, func(st store.Store) {
		if err := st.BeatInstance(context.Background(), &store.Instance{ID: "test"}); err != nil {
			t.Fatal(err)
		}
		ids, err := st.ClaimProcessing(context.Background(), "test", 10)
		if err != nil || len(ids) != 2 || !slices.Contains(ids, store.ProcessingClaim{MessageID: e.ID, First: true}) {
			t.Fatalf("messages due for processing: %v %v, want 2 with %s", ids, err, e.ID)
		}
	})
	// verify: intact, then broken.
	out, errs, code = runIn(t, "archive", "verify", "--data", data)
	if code != 0 || !strings.Contains(out, "archive intact: 2 entries") {
		t.Fatalf("verify: %d %q %q", code, out, errs)
	}
	// The index keeps a file this small (archive.inline_kb): its row is
	// replaced (a trigger refuses to change one in place).
	key := "sha256/" + e.SHA256[:2] + "/" + e.SHA256
	if e.Blob != "db:"+key {
		t.Fatalf("blob %q, want the index's db:%s", e.Blob, key)
	}
	withStore(t, data, func(st store.Store) {
		if err := st.DeleteArchiveBlob(context.Background(), key); err != nil {
			t.Fatal(err)
		}
		if err := st.PutArchiveBlob(context.Background(), key, []byte("tampered")); err != nil {
			t.Fatal(err)
		}
	})
	_, errs, code = runIn(t, "archive", "verify", "--data", data)
	if code != 1 || !strings.Contains(errs, "first broken entry: entry 1 (message "+e.ID+")") {
		t.Fatalf("verify tampered: %d %q", code, errs)
	}
	if _, errs, code := runIn(t, "archive", "get", e.ID, "--data", data); code != 1 || !strings.Contains(errs, "NOT the original") {
		t.Fatalf("get tampered: %d %q", code, errs)
	}
	// usage errors.
	for _, args := range [][]string{{"archive"}, {"archive", "frob"}, {"archive", "put", file}, {"archive", "get"}, {"archive", "put", "--partner", "acme", "--direction", "up", file}} {
		if _, _, code := runIn(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func withStore(t *testing.T, data string, f func(st store.Store)) {
	t.Helper()
	dsn := os.Getenv("WHARF_DATABASE_URL")
	if dsn == "" {
		dsn = filepath.Join(data, "wharf.db")
	}
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f(st)
}
