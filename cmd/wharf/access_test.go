package main

import (
	"strings"
	"testing"
)

func TestTokenAndUserCommands(t *testing.T) {
	data := "--data=" + t.TempDir()
	out, errs, code := runIn(t, "token", "create", "--role", "auditor", "--name", "audit", data)
	tok := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(tok, "wharf_") || strings.Count(tok, "\n") != 0 || !strings.Contains(errs, "shown only now") {
		t.Fatalf("create: %d %q %q", code, out, errs)
	}
	id := strings.Split(tok, "_")[1]
	if _, errs, code := runIn(t, "token", "create", "--role", "root", data); code != 2 || !strings.Contains(errs, "use admin, operator or auditor") {
		t.Fatalf("bad role: %d %q", code, errs)
	}
	if out, _, code := runIn(t, "token", "list", data); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "valid") || strings.Contains(out, tok) {
		t.Fatalf("list (must not show the secret): %d %q", code, out)
	}
	if out, _, code := runIn(t, "token", "revoke", id[:3], data); code != 0 || !strings.Contains(out, "token "+id+" revoked") {
		t.Fatalf("revoke: %d %q", code, out)
	}
	if out, _, code := runIn(t, "token", "list", "--json", data); code != 0 || !strings.Contains(out, `"revoked_at":"20`) {
		t.Fatalf("list --json after revoke: %d %q", code, out)
	}
	if _, errs, code := runIn(t, "token", "revoke", "nope", data); code != 1 || !strings.Contains(errs, "wharf token list") {
		t.Fatalf("revoke unknown: %d %q", code, errs)
	}
	if out, errs, code := runWith(t, "a long enough password\n", "user", "add", "ann", "--role", "operator", data); code != 0 || !strings.Contains(out, "ann") {
		t.Fatalf("user add: %d %q %q", code, out, errs)
	}
	if _, errs, code := runWith(t, "short\n", "user", "add", "bob", "--role", "operator", data); code != 1 || !strings.Contains(errs, "at least 12") {
		t.Fatalf("short password: %d %q", code, errs)
	}
	if out, _, code := runIn(t, "user", "list", data); code != 0 || !strings.Contains(out, "ann") || !strings.Contains(out, "operator") {
		t.Fatalf("user list: %d %q", code, out)
	}
}
