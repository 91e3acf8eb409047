package sftp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
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
