package sftp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pkg/sftp"
)

// An upload's sha256 is computed while it is written, whatever the order
// of the writes, or left to the archive ("") when the bytes were not all
// hashed as they stand in the file.
func TestUploadHashedWhileWritten(t *testing.T) {
	data := make([]byte, 10*1000)
	rand.Read(data)
	want := sha256.Sum256(data)
	at := func(i int) int64 { return int64(i * 1000) }
	chunk := func(i int) []byte { return data[i*1000 : (i+1)*1000] }
	for _, tc := range []struct {
		name   string
		writes func(u *upload)
		hashed bool
	}{
		{"in order", func(u *upload) {
			for i := range 10 {
				u.WriteAt(chunk(i), at(i))
			}
		}, true},
		{"reordered in flight", func(u *upload) {
			for _, i := range []int{1, 0, 3, 4, 2, 6, 5, 9, 8, 7} {
				u.WriteAt(chunk(i), at(i))
			}
		}, true},
		{"overlapping ranges ahead", func(u *upload) {
			u.WriteAt(data[5000:8000], 5000)
			u.WriteAt(data[2000:6000], 2000)
			u.WriteAt(data[8000:], 8000)
			u.WriteAt(data[:2000], 0)
		}, true},
		{"backwards", func(u *upload) {
			for i := 9; i >= 0; i-- {
				u.WriteAt(chunk(i), at(i))
			}
		}, true},
		{"hashed bytes written again", func(u *upload) {
			for i := range 10 {
				u.WriteAt(chunk(i), at(i))
			}
			u.WriteAt(chunk(3), at(3))
		}, false},
		{"a hole", func(u *upload) {
			for i := range 10 {
				if i != 4 {
					u.WriteAt(chunk(i), at(i))
				}
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "staged"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			u := &upload{s: NewSession(ServerOptions{}), f: f, h: sha256.New()}
			tc.writes(u)
			got := u.sum(u.size)
			switch {
			case tc.hashed && got != hex.EncodeToString(want[:]):
				t.Fatalf("sum %q, want %x", got, want)
			case !tc.hashed && got != "":
				t.Fatalf("sum %q for bytes not all hashed as written", got)
			}
			if b, _ := os.ReadFile(f.Name()); tc.hashed && !bytes.Equal(b, data) {
				t.Fatal("staged bytes differ")
			}
		})
	}
}

// A Stat of inbound/NAME finds an archived upload and one staged under a
// temporary name, each with its size, and nothing else; the listing shows
// the same. The spool folder is created when the first upload needs it.
func TestInboundStat(t *testing.T) {
	rc := &keep{got: map[string]string{}}
	spool := filepath.Join(t.TempDir(), "not", "yet")
	c := sessionWith(t, ServerOptions{Partner: "acme", Receiver: rc, SpoolDir: spool})
	if err := put(c, "inbound/A.edi", "ISA*1"); err != nil {
		t.Fatal(err)
	}
	if err := put(c, "inbound/B.edi.part", "ISA*22"); err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int64{"A.edi": 5, "B.edi.part": 6} {
		fi, err := c.Stat("inbound/" + name)
		if err != nil || fi.Size() != size || fi.Name() != name {
			t.Fatalf("stat inbound/%s: %v, %v", name, fi, err)
		}
	}
	for _, name := range []string{"C.edi", "B.edi", "a.edi"} {
		if _, err := c.Stat("inbound/" + name); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("stat inbound/%s: %v, want not found", name, err)
		}
	}
	fis, err := c.ReadDir("inbound")
	if err != nil || len(fis) != 2 || fis[0].Name() != "A.edi" || fis[1].Name() != "B.edi.part" {
		t.Fatalf("listing: %v, %v", fis, err)
	}
}

// BenchmarkInboundStat: the Stat OpenSSH's sftp sends before each put,
// in a session that already uploaded 1,000 files.
func BenchmarkInboundStat(b *testing.B) {
	s := NewSession(ServerOptions{Partner: "acme"})
	for i := range 1000 {
		s.uploaded[fmt.Sprintf("f%05d.edi", i)] = 4096
	}
	r := sftp.NewRequest("Stat", "/inbound/f00500.edi")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Filelist(r); err != nil {
			b.Fatal(err)
		}
	}
}
