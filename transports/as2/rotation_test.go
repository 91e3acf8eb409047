package as2_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports/as2"
)

// Rotating Wharf's own certificate: a partner that already encrypts to the
// next certificate (handed out by PrepareRotation) is decrypted once the
// server holds the rotation keys, and one that still encrypts to the old
// certificate after ActivateRotation is decrypted with the previous key;
// the MDNs are signed with whichever key is current (OpenSSL checks them).
func TestRotationOverlap(t *testing.T) {
	ssl := testenv.OpenSSL(t)
	f := newFixture(t)
	d := t.TempDir()
	cur, err := as2.LoadOrCreateIdentity(d, "wharf")
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Identity, f.wharf.id = cur, cur
	f.wharf.certFile, f.wharf.keyFile = filepath.Join(d, as2.IdentityCertFile), filepath.Join(d, as2.IdentityKeyFile)
	oldCert := &party{id: cur, certFile: f.wharf.certFile + ".old"}
	b, _ := os.ReadFile(f.wharf.certFile)
	write(t, oldCert.certFile, b)

	next, err := as2.PrepareRotation(d, "wharf", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := as2.PrepareRotation(d, "wharf", 24*time.Hour); err != nil || !again.Cert.Equal(next.Cert) {
		t.Fatalf("a second prepare made another key: %v", err)
	}
	toNext := &party{id: next, certFile: filepath.Join(d, as2.NextCertFile)}
	post := func(name string, recip *party) string {
		t.Helper()
		_, body, ctype := f.build(t, ssl, opensslMsg{recip: recip})
		m := f.mdnOf(t, ssl, f.post(t, "ACME", "<rot-"+name+"@acme>", ctype, body, nil))
		return m.Modifier
	}
	if got := post("before", toNext); got != as2.ErrDecryptionFailed {
		t.Fatalf("encrypted to the next certificate without the rotation keys: %q, want decryption-failed", got)
	}
	rot, err := as2.RotationKeys(d, "wharf")
	if err != nil || len(rot) != 1 || !rot[0].Cert.Equal(next.Cert) {
		t.Fatalf("rotation keys after prepare: %d %v", len(rot), err)
	}
	f.srv.RotationKeys = rot
	if got := post("next", toNext); got != "" {
		t.Fatalf("encrypted to the next certificate: %q", got)
	}
	if got := post("current", oldCert); got != "" {
		t.Fatalf("encrypted to the current certificate during the overlap: %q", got)
	}

	if err := as2.ActivateRotation(d, f.wharf.certFile, f.wharf.keyFile); err != nil {
		t.Fatal(err)
	}
	now, err := as2.LoadIdentity("wharf", f.wharf.certFile, f.wharf.keyFile)
	if err != nil || !now.Cert.Equal(next.Cert) {
		t.Fatalf("after activation the current certificate is not the next one: %v", err)
	}
	rot, err = as2.RotationKeys(d, "wharf")
	if err != nil || len(rot) != 1 || !rot[0].Cert.Equal(cur.Cert) {
		t.Fatalf("rotation keys after activation: %d %v; want the previous one", len(rot), err)
	}
	f.srv.Identity, f.srv.RotationKeys, f.wharf.id = now, rot, now // what a restart loads; MDNs verify against the new certificate
	if got := post("late", oldCert); got != "" {
		t.Fatalf("encrypted to the retired certificate after activation: %q", got)
	}
	if _, err := os.Stat(filepath.Join(d, as2.NextKeyFile)); !os.IsNotExist(err) {
		t.Errorf("the next key file is still there after activation: %v", err)
	}
	if pb, _ := os.ReadFile(filepath.Join(d, as2.PrevCertFile)); !bytes.Equal(pb, b) {
		t.Error("the previous certificate file is not the retired one")
	}
}
