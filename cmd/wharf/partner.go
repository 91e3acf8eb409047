package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
)

var timeNow = time.Now

func runPartner(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch args[0] {
	case "add":
		return partnerAdd(ctx, args[1:], stdout, stderr)
	case "list":
		return partnerList(ctx, args[1:], stdout, stderr)
	}
	return usageError(stderr, "partner", "unknown subcommand %q", args[0])
}

func partnerAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("partner add", stderr)
	name := fs.String("name", "", "display name")
	var x12IDs, keyFiles stringList
	fs.Var(&x12IDs, "x12-id", "interchange ID as QUALIFIER:ID, e.g. ZZ:ACME (repeatable)")
	fs.Var(&keyFiles, "sftp-key", "file with the partner's SSH public key(s) in authorized_keys format (repeatable)")
	as2ID := fs.String("as2-id", "", "the partner's AS2 name (AS2-From of what it sends)")
	var as2Certs stringList
	fs.Var(&as2Certs, "as2-cert", "file with the partner's AS2 certificate in PEM (repeatable; certificates add to those held)")
	pos, code, ok := parseCmd(fs, args, 1, stderr)
	if !ok {
		return code
	}
	id := pos[0]
	if err := store.ValidPartnerID(id); err != nil {
		return fail(stderr, errors.New(store.Reason(err)))
	}
	var ids []store.X12ID
	for _, s := range x12IDs {
		x, err := config.ParseX12ID(s)
		if err != nil {
			return fail(stderr, fmt.Errorf("--x12-id %v", err))
		}
		ids = append(ids, x)
	}
	var keys []string
	for _, f := range keyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return fail(stderr, fmt.Errorf("--sftp-key: %v", err))
		}
		n := 0
		for line := range strings.SplitSeq(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if _, _, err := store.ParseSSHKey(line); err != nil {
				return fail(stderr, fmt.Errorf("--sftp-key %s: not an SSH public key (give the .pub file, never the private key): %v", f, errors.Unwrap(err)))
			}
			keys = append(keys, line)
			n++
		}
		if n == 0 {
			return fail(stderr, fmt.Errorf("--sftp-key %s holds no public key", f))
		}
	}
	_, st, err := common.openStore(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer st.Close()

	var p *store.Partner
	err = st.WithTx(ctx, func(tx store.Tx) error {
		old, err := tx.GetPartner(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p = &store.Partner{ID: id}
		case err != nil:
			return err
		default:
			p = old
		}
		// Adding is additive: given IDs and keys join the existing ones.
		if *name != "" {
			p.Name = *name
		}
		p.X12IDs = appendNew(p.X12IDs, ids...)
		p.SSHKeys = appendNewKeys(p.SSHKeys, keys...)
		if p.Source == "config" {
			fmt.Fprintf(stderr, "note: partner %s is declared in the config file; the file's entry replaces this at the next 'wharf serve' start\n", id)
		}
		p.Source = "cli"
		if err := tx.UpsertPartner(ctx, p); err != nil {
			return err
		}
		return as2PartnerFlags(ctx, tx, id, *as2ID, as2Certs)
	})
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "partner %s saved (%d X12 IDs, %d SSH keys) in %s\n", p.ID, len(p.X12IDs), len(p.SSHKeys), st.Describe())
	return 0
}

func appendNew(have []store.X12ID, add ...store.X12ID) []store.X12ID {
	for _, a := range add {
		dup := false
		for _, h := range have {
			dup = dup || h == a
		}
		if !dup {
			have = append(have, a)
		}
	}
	return have
}

func appendNewKeys(have []string, add ...string) []string {
	seen := map[string]bool{}
	for _, h := range have {
		if fp, _, err := store.ParseSSHKey(h); err == nil {
			seen[fp] = true
		}
	}
	for _, a := range add {
		fp, _, _ := store.ParseSSHKey(a)
		if !seen[fp] {
			seen[fp] = true
			have = append(have, a)
		}
	}
	return have
}

func partnerList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("partner list", stderr)
	asJSON := fs.Bool("json", false, "JSON Lines output, one partner per line")
	if _, code, ok := parseCmd(fs, args, 0, stderr); !ok {
		return code
	}
	_, st, err := common.openStore(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer st.Close()
	ps, err := st.ListPartners(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, p := range ps {
			out := partnerJSON{ID: p.ID, Name: p.Name, X12IDs: []string{}, SSHKeys: []string{}, Source: p.Source, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
			for _, x := range p.X12IDs {
				out.X12IDs = append(out.X12IDs, x.String())
			}
			for _, k := range p.SSHKeys {
				fp, _, _ := store.ParseSSHKey(k)
				out.SSHKeys = append(out.SSHKeys, fp)
			}
			if err := enc.Encode(out); err != nil {
				return fail(stderr, err)
			}
		}
		return 0
	}
	if len(ps) == 0 {
		fmt.Fprintln(stdout, "no partners yet: add one with 'wharf partner add ID' or in the config file")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tX12 IDS\tSSH KEYS\tSOURCE\tUPDATED")
	for _, p := range ps {
		var xs []string
		for _, x := range p.X12IDs {
			xs = append(xs, x.String())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", p.ID, dash(p.Name), dash(strings.Join(xs, " ")), len(p.SSHKeys), p.Source, p.UpdatedAt.Local().Format("2006-01-02 15:04"))
	}
	tw.Flush()
	return 0
}

type partnerJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	X12IDs    []string  `json:"x12_ids"`
	SSHKeys   []string  `json:"ssh_key_fingerprints"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
