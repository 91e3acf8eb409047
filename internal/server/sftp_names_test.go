package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// OpenSSH's sftp: an upload to a name starting with "." is refused at once
// (before, CLOSE answered OK and the file was dropped at logout), and so is
// a rename to such a name; a dot-prefixed temporary name renamed to its
// final name is archived under that name.
func TestSFTPOpenSSHDotNames(t *testing.T) {
	r := newOpenSSHRig(t)
	os.WriteFile(filepath.Join(r.dir, "up.edi"), []byte("ISA*payload"), 0o600)
	out, err := r.sftp([]string{
		"-put up.edi inbound/.hidden.edi",
		"put up.edi inbound/.up.edi.part",
		"-rename inbound/.up.edi.part inbound/.up.edi",
		"rename inbound/.up.edi.part inbound/up.edi",
		"ls -a inbound",
	})
	r.srv.Close() // waits for the session's end, where unrenamed uploads are dropped
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	for _, want := range []string{`"/inbound/.hidden.edi": Permission denied`, `rename "/inbound/.up.edi.part" to "/inbound/.up.edi": Permission denied`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sftp output lacks %q:\n%s", want, out)
		}
	}
	r.rc.mu.Lock()
	defer r.rc.mu.Unlock()
	if len(r.rc.got) != 1 || string(r.rc.got["inbound/up.edi"]) != "ISA*payload" {
		names := []string{}
		for n := range r.rc.got {
			names = append(names, n)
		}
		t.Fatalf("archived %v, want only inbound/up.edi\n%s", names, out)
	}
}
