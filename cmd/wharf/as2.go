package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/transports/as2"
)

func runAS2(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if args[0] != "cert" {
		return usageError(stderr, "as2", "unknown subcommand %q", args[0])
	}
	fs, common := newFlags("as2 cert", stderr)
	if _, code, ok := parseCmd(fs, args[1:], 0, stderr); !ok {
		return code
	}
	c, err := common.loadConfig()
	if err != nil {
		return fail(stderr, err)
	}
	if err := app.PrepareData(c.Data); err != nil {
		return fail(stderr, err)
	}
	id, err := app.AS2Identity(c)
	if err != nil {
		return fail(stderr, err)
	}
	_ = pem.Encode(stdout, &pem.Block{Type: "CERTIFICATE", Bytes: id.Cert.Raw})
	fmt.Fprintf(stderr, "AS2 name %s; certificate %q valid until %s\n", id.AS2ID, id.Cert.Subject.CommonName, id.Cert.NotAfter.UTC().Format("2006-01-02"))
	return 0
}

// as2PartnerFlags applies `wharf partner add --as2-id/--as2-cert` inside
// the partner's transaction. Certificates are added to those held (a
// rotation keeps the old one until it is removed).
func as2PartnerFlags(ctx context.Context, tx store.Tx, partnerID, as2ID string, certFiles []string) error {
	if as2ID == "" && len(certFiles) == 0 {
		return nil
	}
	cur, err := tx.GetPartnerAS2(ctx, partnerID)
	if errors.Is(err, store.ErrNotFound) {
		cur = &store.PartnerAS2{PartnerID: partnerID}
	} else if err != nil {
		return err
	}
	if as2ID != "" {
		cur.AS2ID = as2ID
	}
	if cur.AS2ID == "" {
		return fmt.Errorf("--as2-cert needs --as2-id (the partner's AS2 name) the first time")
	}
	for _, f := range certFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("--as2-cert: %v", err)
		}
		certs, err := as2.ParseCertificates(b)
		if err != nil {
			return fmt.Errorf("--as2-cert %s: %v (give the partner's certificate in PEM, never a private key)", f, err)
		}
		for _, c := range certs {
			p := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
			if !containsString(cur.CertsPEM, p) {
				cur.CertsPEM = append(cur.CertsPEM, p)
			}
			if time.Now().After(c.NotAfter) {
				fmt.Fprintf(os.Stderr, "warning: --as2-cert %s: certificate %q expired on %s\n", f, c.Subject.CommonName, c.NotAfter.UTC().Format("2006-01-02"))
			}
		}
	}
	return tx.SetPartnerAS2(ctx, cur)
}

func containsString(have []string, s string) bool {
	for _, h := range have {
		if h == s {
			return true
		}
	}
	return false
}
