package sftp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
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
		// Staged in a file from the start, in memory until the upload
		// outgrows 4,500 bytes (the writes then span the move into a
		// file), and in memory throughout.
		for _, inMemory := range []int64{0, 4500, int64(len(data))} {
			t.Run(fmt.Sprintf("%s/memory %d", tc.name, inMemory), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "staged")
				st := &stage{max: inMemory, open: func() (*os.File, error) { return os.Create(path) }}
				if inMemory == 0 {
					if err := st.spill(); err != nil {
						t.Fatal(err)
					}
				}
				defer st.discard()
				u := &upload{s: NewSession(ServerOptions{}), st: st, h: sha256.New()}
				tc.writes(u)
				got := u.sum(u.size)
				switch {
				case tc.hashed && got != hex.EncodeToString(want[:]):
					t.Fatalf("sum %q, want %x", got, want)
				case !tc.hashed && got != "":
					t.Fatalf("sum %q for bytes not all hashed as written", got)
				}
				staged := make([]byte, u.size)
				if _, err := st.ReadAt(staged, 0); err != nil && !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				if tc.hashed && !bytes.Equal(staged, data) {
					t.Fatal("staged bytes differ")
				}
				if f := st.file(); (f != nil) != (inMemory < int64(len(data))) {
					t.Fatalf("staged in a file: %v, with %d bytes in memory at most", f != nil, inMemory)
				} else if f != nil {
					if b, _ := os.ReadFile(path); tc.hashed && !bytes.Equal(b, data) {
						t.Fatal("the staging file's bytes differ")
					}
				}
			})
		}
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

// A small upload is staged in memory (no file in the spool folder); one
// that outgrows StageInMemory moves into a staging file, removed once
// archived; a temporary name staged in memory is archived on its rename.
func TestUploadStagedInMemory(t *testing.T) {
	rc := &keep{got: map[string]string{}}
	spool := filepath.Join(t.TempDir(), "spool")
	c := sessionWith(t, ServerOptions{Partner: "acme", Receiver: rc, SpoolDir: spool, StageInMemory: 64})
	small, large := strings.Repeat("s", 64), strings.Repeat("L", 65)
	if err := put(c, "inbound/small.edi", small); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spool); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the spool folder for an upload staged in memory: %v", err)
	}
	if err := put(c, "inbound/tmp.edi.part", small); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("inbound/tmp.edi.part", "inbound/tmp.edi"); err != nil {
		t.Fatal(err)
	}
	if err := put(c, "inbound/large.edi", large); err != nil {
		t.Fatal(err)
	}
	// A temporary name staged again replaces the first (discarded under
	// the session's lock, which the count of uploads in memory must not take).
	for range 2 {
		if err := put(c, "inbound/again.edi.part", small); err != nil {
			t.Fatal(err)
		}
	}
	if files, _ := os.ReadDir(spool); len(files) != 0 {
		t.Fatalf("staging files left: %v", files)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.got["inbound/small.edi"] != small || rc.got["inbound/tmp.edi"] != small || rc.got["inbound/large.edi"] != large {
		t.Fatalf("received %v", rc.got)
	}
	if len(rc.unawaited) > 0 {
		t.Fatalf("uploads handed over as if no client waited for them (Incoming.Awaited): %v", rc.unawaited)
	}
}

// A session holds at most maxInMemory uploads in memory at once; the
// others are staged in files.
func TestUploadsInMemoryBounded(t *testing.T) {
	s := NewSession(ServerOptions{Partner: "acme", SpoolDir: t.TempDir(), StageInMemory: 64, Log: slog.New(slog.DiscardHandler)})
	var ups []*upload
	for i := range maxInMemory + 2 {
		w, err := s.Filewrite(sftp.NewRequest("Put", fmt.Sprintf("/inbound/f%d.edi", i)))
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, w.(*upload))
	}
	files := 0
	for _, u := range ups {
		if u.st.file() != nil {
			files++
		}
	}
	if files != 2 || s.inMemory.Load() != maxInMemory {
		t.Fatalf("%d of %d uploads in files, %d in memory", files, len(ups), s.inMemory.Load())
	}
	ups[0].discard() // one in memory ends: its place is free again
	if s.inMemory.Load() != maxInMemory-1 {
		t.Fatalf("in memory after a discard: %d", s.inMemory.Load())
	}
	for _, u := range ups {
		u.discard()
	}
}

// A write at an offset that is no position in a file (pkg/sftp passes a
// packet's offset past 2^63 on as a negative int64, and one near it wraps
// the end) fails the upload; it must not index the bytes held in memory.
func TestUploadWriteAtBadOffset(t *testing.T) {
	for _, off := range []int64{-1, math.MinInt64, math.MaxInt64 - 2} {
		s := NewSession(ServerOptions{Partner: "acme", SpoolDir: t.TempDir(), StageInMemory: 64})
		w, err := s.Filewrite(sftp.NewRequest("Put", "/inbound/f.edi"))
		if err != nil {
			t.Fatal(err)
		}
		u := w.(*upload)
		if n, err := u.WriteAt([]byte("abcd"), off); err == nil || n != 0 || !strings.Contains(err.Error(), "not a position") {
			t.Fatalf("write at %d: %d, %v", off, n, err)
		}
		if n, err := u.st.WriteAt([]byte("abcd"), off); err == nil || n != 0 {
			t.Fatalf("stage write at %d: %d, %v", off, n, err)
		}
		u.discard()
	}
}
