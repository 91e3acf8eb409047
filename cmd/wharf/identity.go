package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/server"
	"github.com/wharfedi/wharf/transports/as2"
)

// runIdentity is `wharf identity show|init`: what partners pin (the SSH
// host key, the AS2 certificate), where it comes from, and the one-time
// creation of a cluster's shared identity (docs/cluster.md).
func runIdentity(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch args[0] {
	case "show":
		return identityShow(args[1:], stdout, stderr)
	case "init":
		return identityInit(args[1:], stdout, stderr)
	case "rotate":
		return identityRotate(args[1:], stdout, stderr)
	}
	return usageError(stderr, "identity", "unknown subcommand %q", args[0])
}

// identityFacts is what `identity show --json` prints.
type identityFacts struct {
	SSH struct {
		Source      string `json:"source"` // the file, or "" when not created yet
		Type        string `json:"type,omitempty"`
		Fingerprint string `json:"fingerprint,omitempty"` // SHA256:... as ssh-keygen -l prints it
		PublicKey   string `json:"public_key,omitempty"`  // authorized_keys form, what partners pin
	} `json:"ssh"`
	AS2 struct {
		ID          string `json:"id"`
		Source      string `json:"source"`
		Subject     string `json:"subject,omitempty"`
		Serial      string `json:"serial,omitempty"`
		NotAfter    string `json:"not_after,omitempty"`
		Fingerprint string `json:"sha256_fingerprint,omitempty"`
	} `json:"as2"`
}

func identityShow(args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("identity show", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parseCmd(fs, args, 0, stderr); !ok {
		return code
	}
	c, err := common.loadConfig()
	if err != nil {
		return fail(stderr, err)
	}
	f, err := identityOf(c, c.AS2ID(c.Getenv))
	if err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(f)
		return 0
	}
	if f.SSH.Fingerprint == "" {
		fmt.Fprintf(stdout, "SSH host key: not created yet (wharf serve creates %s at its first start)\n", f.SSH.Source)
	} else {
		fmt.Fprintf(stdout, "SSH host key: %s %s\n  from %s\n  partners pin: %s\n", f.SSH.Type, f.SSH.Fingerprint, f.SSH.Source, f.SSH.PublicKey)
	}
	if f.AS2.Fingerprint == "" {
		fmt.Fprintf(stdout, "AS2 identity %s: not created yet (wharf serve or wharf as2 cert creates it in %s)\n", f.AS2.ID, f.AS2.Source)
	} else {
		fmt.Fprintf(stdout, "AS2 identity %s: certificate %q, serial %s, valid until %s, SHA-256 %s\n  from %s\n",
			f.AS2.ID, f.AS2.Subject, f.AS2.Serial, f.AS2.NotAfter, f.AS2.Fingerprint, f.AS2.Source)
	}
	return 0
}

// identityOf reads the identity the configuration resolves to, creating nothing.
func identityOf(c *config.Config, as2ID string) (*identityFacts, error) {
	f := &identityFacts{}
	var signer ssh.Signer
	if c.SFTP.HostKeyFile != "" {
		k, err := c.HostKey()
		if err != nil {
			return nil, fmt.Errorf("sftp.host_key_file: %w", err)
		}
		signer, f.SSH.Source = k, c.SFTP.HostKeyFile+" (sftp.host_key_file)"
	} else {
		path := filepath.Join(c.Data, server.HostKeyFile)
		f.SSH.Source = path
		if b, err := os.ReadFile(path); err == nil {
			if signer, err = ssh.ParsePrivateKey(b); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if signer != nil {
		pub := signer.PublicKey()
		f.SSH.Type, f.SSH.Fingerprint = pub.Type(), ssh.FingerprintSHA256(pub)
		f.SSH.PublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	}

	f.AS2.ID = as2ID
	certFile, keyFile, dir := app.AS2IdentityFiles(c)
	f.AS2.Source = certFile + " and " + keyFile + " (as2.cert_file, as2.key_file)"
	if c.AS2.CertFile == "" {
		f.AS2.Source = dir
		if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) {
			return f, nil
		}
	}
	id, err := as2.LoadIdentity(f.AS2.ID, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	f.AS2.Subject, f.AS2.Serial = id.Cert.Subject.String(), id.Cert.SerialNumber.Text(16)
	f.AS2.NotAfter, f.AS2.Fingerprint = id.Cert.NotAfter.UTC().Format("2006-01-02"), certFingerprint(id.Cert)
	return f, nil
}

// certFingerprint is a certificate's SHA-256 in upper-case hex, as partners' tools print it.
func certFingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func identityInit(args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("identity init", stderr)
	dir := fs.String("dir", "", "folder to create the identity in (required)")
	as2ID := fs.String("as2-id", "", "the AS2 name the certificate is made for (default: the configuration's as2.id, WHARF_AS2_ID, or wharf)")
	if _, code, ok := parseCmd(fs, args, 0, stderr); !ok {
		return code
	}
	if *dir == "" {
		return usageError(stderr, "identity init", "missing --dir DIR (the folder every instance will read the identity from)")
	}
	if *as2ID == "" {
		c, err := common.loadConfig()
		if err != nil {
			return fail(stderr, err)
		}
		*as2ID = c.AS2ID(c.Getenv)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fail(stderr, err)
	}
	// Both create once and keep what exists: running init again, or on
	// several instances at once, leaves one identity.
	if _, err := server.LoadOrCreateHostKey(*dir); err != nil {
		return fail(stderr, err)
	}
	if _, err := as2.LoadOrCreateIdentity(*dir, *as2ID); err != nil {
		return fail(stderr, err)
	}
	f, err := identityOf(&config.Config{Data: *dir}, *as2ID)
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, `identity in %s:
  SSH host key %s (%s)
  AS2 %s: certificate SHA-256 %s, valid until %s
give every instance the same files (docs/cluster.md):
  sftp:
    host_key_file: %s
  as2:
    id: %s
    cert_file: %s
    key_file: %s
`, *dir, f.SSH.Fingerprint, filepath.Join(*dir, server.HostKeyFile), *as2ID, f.AS2.Fingerprint, f.AS2.NotAfter,
		filepath.Join(*dir, server.HostKeyFile), *as2ID, filepath.Join(*dir, as2.IdentityCertFile), filepath.Join(*dir, as2.IdentityKeyFile))
	return 0
}

// identityRotate rotates Wharf's own AS2 certificate in two steps, with an
// overlap in which both keys decrypt (transports/as2: RotationKeys).
func identityRotate(args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("identity rotate", stderr)
	activate := fs.Bool("activate", false, "make the prepared certificate the current one (sign with it); the old key stays to decrypt")
	years := fs.Int("years", 5, "validity of the new certificate in years")
	if _, code, ok := parseCmd(fs, args, 0, stderr); !ok {
		return code
	}
	c, err := common.loadConfig()
	if err != nil {
		return fail(stderr, err)
	}
	certFile, keyFile, dir := app.AS2IdentityFiles(c)
	if _, err := os.Stat(keyFile); err != nil {
		return fail(stderr, fmt.Errorf("no current AS2 key to rotate (%s): %w; start wharf serve or run wharf identity init first", keyFile, err))
	}
	name := c.AS2ID(c.Getenv)
	if *activate {
		if err := as2.ActivateRotation(dir, certFile, keyFile); err != nil {
			return fail(stderr, err)
		}
		f, err := identityOf(c, name)
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "AS2 certificate %s (SHA-256 %s, valid until %s) is now the current one in %s; the previous key stays in %s to decrypt what partners still encrypt to the old certificate.\n"+
			"Restart every instance, one at a time, to sign with it.\n", f.AS2.Serial, f.AS2.Fingerprint, f.AS2.NotAfter, certFile, filepath.Join(dir, as2.PrevKeyFile))
		return 0
	}
	next, err := as2.PrepareRotation(dir, name, time.Duration(*years)*365*24*time.Hour)
	if err != nil {
		return fail(stderr, err)
	}
	_ = pem.Encode(stdout, &pem.Block{Type: "CERTIFICATE", Bytes: next.Cert.Raw})
	fmt.Fprintf(stderr, "next AS2 certificate (above) in %s, SHA-256 %s, valid until %s.\n"+
		"1. Restart every instance, one at a time: each then also decrypts with the new key.\n"+
		"2. Send the certificate to every partner; they add it and encrypt to it (Wharf still signs with the current one).\n"+
		"3. When all have it: wharf identity rotate --activate, then restart every instance again.\n",
		filepath.Join(dir, as2.NextCertFile), certFingerprint(next.Cert), next.Cert.NotAfter.UTC().Format("2006-01-02"))
	return 0
}
