package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/web"
)

// cliActor names the command line in audit events.
func cliActor() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("token "+args[0], stderr)
	var role, name, partner, scope *string
	var asJSON *bool
	want := 0
	switch args[0] {
	case "create":
		role = fs.String("role", "", "admin, operator or auditor (required unless --partner)")
		name = fs.String("name", "", "who or what uses the token (shown in lists and audit events)")
		partner = fs.String("partner", "", "bind the token to this partner ID: it sees only that partner's data, through the routes of its --scope")
		scope = fs.String("scope", "", "with --partner, comma-separated: "+strings.Join(store.Scopes, ", "))
	case "list":
		asJSON = fs.Bool("json", false, "JSON Lines output")
	case "revoke":
		want = 1
	default:
		return usageError(stderr, "token", "unknown subcommand %q", args[0])
	}
	pos, code, ok := parseCmd(fs, args[1:], want, stderr)
	if !ok {
		return code
	}
	var scopes []string
	if partner != nil && *partner != "" {
		if *role != "" && *role != store.RolePartner {
			return usageError(stderr, "token create", "--partner makes a partner token: leave out --role %s", *role)
		}
		*role = store.RolePartner
		for _, sc := range strings.Split(*scope, ",") {
			if sc = strings.TrimSpace(sc); sc != "" {
				scopes = append(scopes, sc)
			}
		}
		if err := store.ValidScopes(scopes); err != nil {
			return usageError(stderr, "token create", "--scope: %s", strings.TrimPrefix(err.Error(), "store: "))
		}
	} else if scope != nil && *scope != "" {
		return usageError(stderr, "token create", "--scope needs --partner: only partner tokens have scopes")
	} else if role != nil && !oneOf(stderr, "token create", "role", *role, store.Roles...) {
		return 2
	}
	_, st, err := common.openStore(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer st.Close()
	switch args[0] {
	case "create":
		if *role == store.RolePartner {
			tok, t, err := web.MintPartnerToken(ctx, st, *partner, scopes, *name)
			if errors.Is(err, store.ErrNotFound) {
				return fail(stderr, fmt.Errorf("partner %q is not a partner (see 'wharf partner list')", *partner))
			}
			if err != nil {
				return fail(stderr, err)
			}
			_ = st.AppendAudit(ctx, &store.AuditEvent{Actor: cliActor(), Kind: "token_created",
				Detail: fmt.Sprintf("token %s (%s), role partner, partner %s, scopes %s", t.ID, t.Name, t.Partner, strings.Join(t.Scopes, ","))})
			fmt.Fprintln(stdout, tok)
			fmt.Fprintf(stderr, "token %s created for partner %s with scopes %s; it is shown only now: keep it secret (revoke with 'wharf token revoke %s')\n",
				t.ID, t.Partner, strings.Join(t.Scopes, ","), t.ID)
			return 0
		}
		tok, t, err := web.MintToken(ctx, st, *role, *name)
		if err != nil {
			return fail(stderr, err)
		}
		_ = st.AppendAudit(ctx, &store.AuditEvent{Actor: cliActor(), Kind: "token_created", Detail: fmt.Sprintf("token %s (%s), role %s", t.ID, t.Name, t.Role)})
		fmt.Fprintln(stdout, tok)
		fmt.Fprintf(stderr, "token %s created with role %s; it is shown only now: keep it secret (revoke with 'wharf token revoke %s')\n", t.ID, t.Role, t.ID)
	case "list":
		ts, err := st.ListTokens(ctx)
		if err != nil {
			return fail(stderr, err)
		}
		if *asJSON {
			for _, t := range ts {
				m := map[string]any{"id": t.ID, "name": t.Name, "role": t.Role, "created_at": t.CreatedAt.Format(time.RFC3339), "last_used_at": nil, "revoked_at": nil}
				if t.Partner != "" {
					m["partner"], m["scopes"] = t.Partner, t.Scopes
				}
				if !t.LastUsedAt.IsZero() {
					m["last_used_at"] = t.LastUsedAt.Format(time.RFC3339)
				}
				if !t.RevokedAt.IsZero() {
					m["revoked_at"] = t.RevokedAt.Format(time.RFC3339)
				}
				if code := printJSON(stdout, stderr, m); code != 0 {
					return code
				}
			}
			return 0
		}
		if len(ts) == 0 {
			fmt.Fprintln(stderr, "no tokens (create one with 'wharf token create --role auditor --name NAME')")
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tLAST USED\tSTATE")
		for _, t := range ts {
			used, state := "never", "valid"
			if !t.LastUsedAt.IsZero() {
				used = t.LastUsedAt.Format(time.RFC3339)
			}
			if !t.RevokedAt.IsZero() {
				state = "revoked " + t.RevokedAt.Format(time.RFC3339)
			}
			role := t.Role
			if t.Partner != "" {
				role = "partner " + t.Partner + " (" + strings.Join(t.Scopes, ",") + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, role, t.CreatedAt.Format(time.RFC3339), used, state)
		}
		tw.Flush()
	case "revoke":
		id, err := resolveID(ctx, st, store.TokenIDs, pos[0])
		if err != nil {
			return fail(stderr, fmt.Errorf("%v (see 'wharf token list')", err))
		}
		if err := st.RevokeToken(ctx, id); err != nil {
			return fail(stderr, err)
		}
		_ = st.AppendAudit(ctx, &store.AuditEvent{Actor: cliActor(), Kind: "token_revoked", Detail: "token " + id})
		fmt.Fprintf(stdout, "token %s revoked: the API and console refuse it from now on\n", id)
	}
	return 0
}

func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if args[0] != "add" && args[0] != "list" {
		return usageError(stderr, "user", "unknown subcommand %q", args[0])
	}
	fs, common := newFlags("user "+args[0], stderr)
	role := fs.String("role", "", "admin, operator or auditor (required)")
	pwFile := fs.String("password-file", "", "read the password from this file (first line); default: stdin")
	want := 1
	if args[0] == "list" {
		want = 0
	}
	pos, code, ok := parseCmd(fs, args[1:], want, stderr)
	if !ok {
		return code
	}
	var pw string
	if args[0] == "add" {
		if !oneOf(stderr, "user add", "role", *role, store.Roles...) {
			return 2
		}
		var r io.Reader = stdin
		if *pwFile != "" {
			f, err := os.Open(*pwFile)
			if err != nil {
				return fail(stderr, fmt.Errorf("--password-file: %v", err))
			}
			defer f.Close()
			r = f
		} else if f, ok := stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprint(stderr, "password (at least 12 characters; shown as you type — pipe it or use --password-file to avoid that): ")
			}
		}
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fail(stderr, fmt.Errorf("read password: %v", err))
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	_, st, err := common.openStore(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer st.Close()
	if args[0] == "list" {
		us, err := st.ListUsers(ctx)
		if err != nil {
			return fail(stderr, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tUPDATED")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.Format(time.RFC3339), u.UpdatedAt.Format(time.RFC3339))
		}
		tw.Flush()
		return 0
	}
	hash, err := web.HashPassword(pw)
	if err != nil {
		return fail(stderr, fmt.Errorf("user add %s: %v", pos[0], err))
	}
	u := &store.User{Name: pos[0], Role: *role, PasswordHash: hash}
	if err := st.UpsertUser(ctx, u); err != nil {
		return fail(stderr, err)
	}
	_ = st.AppendAudit(ctx, &store.AuditEvent{Actor: cliActor(), Kind: "user_set", Detail: fmt.Sprintf("user %s, role %s", u.Name, u.Role)})
	fmt.Fprintf(stdout, "user %s can sign in to the console with role %s\n", u.Name, u.Role)
	return 0
}
