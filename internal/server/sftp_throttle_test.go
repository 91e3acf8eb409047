package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// OpenSSH's sftp over the partner's rate limit: the upload fails at open
// with SSH_FX_FAILURE (OpenSSH shows the code only; the message is checked
// in transports/sftp), the ones within it are archived.
func TestSFTPOpenSSHThrottledUpload(t *testing.T) {
	asked := 0
	r := newOpenSSHRig(t, func(o *SFTPOptions) {
		o.Throttle = func(_ context.Context, partner string) (int, string) {
			asked++
			if partner != "acme" || asked > 2 {
				return 5, "rate limit of partner " + partner + " at sftp: 2 files per minute (burst 2); retry in 5 s"
			}
			return 0, ""
		}
	})
	os.WriteFile(filepath.Join(r.dir, "up.edi"), []byte("ISA*payload"), 0o600)
	out, err := r.sftp([]string{
		"put up.edi inbound/a.edi",
		"put up.edi inbound/b.edi",
		"-put up.edi inbound/c.edi",
		"-put up.edi inbound/d.edi",
	})
	r.srv.Close()
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	for _, want := range []string{`dest open "/inbound/c.edi": Failure`, `dest open "/inbound/d.edi": Failure`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sftp output lacks %q:\n%s", want, out)
		}
	}
	r.rc.mu.Lock()
	defer r.rc.mu.Unlock()
	if len(r.rc.got) != 2 || r.rc.got["inbound/a.edi"] == nil || r.rc.got["inbound/b.edi"] == nil {
		t.Fatalf("archived %d files, want a.edi and b.edi only\n%s", len(r.rc.got), out)
	}
}
