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

// TestTokenCreatePartner: --partner mints a partner token with its scopes;
// an unknown partner or scope, --scope without --partner, or --partner with
// another role are refused before anything is recorded.
func TestTokenCreatePartner(t *testing.T) {
	data := "--data=" + t.TempDir()
	if _, errs, code := runIn(t, "partner", "add", "acme", data); code != 0 {
		t.Fatalf("partner add: %d %q", code, errs)
	}
	out, errs, code := runIn(t, "token", "create", "--partner", "acme", "--scope", "shipments:read, documents:write", "--name", "acme-portal", data)
	tok := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(tok, "wharf_") || !strings.Contains(errs, "for partner acme with scopes shipments:read,documents:write") {
		t.Fatalf("create: %d %q %q", code, out, errs)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--partner", "acme"}, 2, "needs at least one scope"},
		{[]string{"--partner", "acme", "--scope", "shipments:delete"}, 2, `scope "shipments:delete"`},
		{[]string{"--partner", "acme", "--scope", "orders:read", "--role", "admin"}, 2, "leave out --role admin"},
		{[]string{"--role", "auditor", "--scope", "orders:read"}, 2, "--scope needs --partner"},
		{[]string{"--partner", "globex", "--scope", "orders:read"}, 1, `"globex" is not a partner`},
	} {
		if _, errs, code := runIn(t, append(append([]string{"token", "create"}, c.args...), data)...); code != c.code || !strings.Contains(errs, c.want) {
			t.Fatalf("%v: %d %q, want %d %q", c.args, code, errs, c.code, c.want)
		}
	}
	out, _, code = runIn(t, "token", "list", data)
	if code != 0 || !strings.Contains(out, "partner acme (shipments:read,documents:write)") || strings.Count(out, "wharf_") != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("list: %d %q", code, out)
	}
	if out, _, code = runIn(t, "token", "list", "--json", data); code != 0 || !strings.Contains(out, `"partner":"acme"`) || !strings.Contains(out, `"scopes":["shipments:read","documents:write"]`) {
		t.Fatalf("list --json: %d %q", code, out)
	}
}
