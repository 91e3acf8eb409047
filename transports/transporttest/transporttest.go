// Package transporttest is the conformance suite every transport passes:
// put, list, open, remove, not-found errors, a large object, cancellation,
// and (for Renamers) rename. A transport's test calls Exercise with a
// function returning a Transport rooted at a fresh, empty folder.
package transporttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/transports"
)

// Exercise runs the suite.
func Exercise(t *testing.T, fresh func(t *testing.T) transports.Transport) {
	ctx := context.Background()

	t.Run("PutListOpenRemove", func(t *testing.T) {
		tr := fresh(t)
		defer tr.Close()
		if objs, err := tr.List(ctx, ""); err != nil || len(objs) != 0 {
			t.Fatalf("fresh root: %v %v", objs, err)
		}
		for _, n := range []string{"a.edi", "b.edi"} {
			if err := tr.Put(ctx, n, strings.NewReader("content of "+n)); err != nil {
				t.Fatal(err)
			}
		}
		// Overwrite replaces.
		if err := tr.Put(ctx, "a.edi", strings.NewReader("new a")); err != nil {
			t.Fatal(err)
		}
		objs, err := tr.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
		if len(objs) != 2 || objs[0].Name != "a.edi" || objs[0].Size != 5 || objs[1].Name != "b.edi" || objs[0].ModTime.IsZero() {
			t.Fatalf("list after put (temporary names must not show): %+v", objs)
		}
		rc, err := tr.Open(ctx, "b.edi")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(b) != "content of b.edi" {
			t.Fatalf("open: %q %v", b, err)
		}
		if err := tr.Remove(ctx, "a.edi"); err != nil {
			t.Fatal(err)
		}
		if objs, _ := tr.List(ctx, ""); len(objs) != 1 {
			t.Fatalf("after remove: %+v", objs)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		tr := fresh(t)
		defer tr.Close()
		if _, err := tr.Open(ctx, "missing.edi"); !errors.Is(err, transports.ErrNotFound) {
			t.Errorf("open missing: want ErrNotFound, got %v", err)
		}
		if err := tr.Remove(ctx, "missing.edi"); !errors.Is(err, transports.ErrNotFound) {
			t.Errorf("remove missing: want ErrNotFound, got %v", err)
		}
		if _, flat := tr.(transports.Flat); flat {
			if objs, err := tr.List(ctx, "no-such-folder"); err != nil || len(objs) != 0 {
				t.Errorf("list of an empty prefix on a flat store: want nothing, got %v %v", objs, err)
			}
		} else if _, err := tr.List(ctx, "no-such-folder"); !errors.Is(err, transports.ErrNotFound) {
			t.Errorf("list missing folder: want ErrNotFound, got %v", err)
		}
		if r, ok := tr.(transports.Renamer); ok {
			if err := r.Rename(ctx, "missing.edi", "x.edi"); !errors.Is(err, transports.ErrNotFound) {
				t.Errorf("rename missing: want ErrNotFound, got %v", err)
			}
		}
	})

	t.Run("LargeObject", func(t *testing.T) {
		tr := fresh(t)
		defer tr.Close()
		const size = 24 << 20
		h := sha256.New()
		if err := tr.Put(ctx, "big.bin", io.TeeReader(io.LimitReader(rand.Reader, size), h)); err != nil {
			t.Fatal(err)
		}
		want := h.Sum(nil)
		rc, err := tr.Open(ctx, "big.bin")
		if err != nil {
			t.Fatal(err)
		}
		h2 := sha256.New()
		n, err := io.Copy(h2, rc)
		rc.Close()
		if err != nil || n != size || !bytes.Equal(h2.Sum(nil), want) {
			t.Fatalf("large object round trip: %d bytes, %v, equal=%v", n, err, bytes.Equal(h2.Sum(nil), want))
		}
	})

	t.Run("Cancellation", func(t *testing.T) {
		tr := fresh(t)
		defer tr.Close()
		cctx, cancel := context.WithCancel(ctx)
		r := &cancelAfter{n: 1 << 20, cancel: cancel}
		err := tr.Put(cctx, "cancelled.bin", r)
		if err == nil {
			t.Fatal("a cancelled put succeeded")
		}
		objs, _ := tr.List(ctx, "")
		for _, o := range objs {
			if o.Name == "cancelled.bin" {
				t.Fatal("a cancelled put left the object under its final name")
			}
		}
		if _, err := tr.List(cctx, ""); err == nil {
			t.Error("list with a cancelled context succeeded")
		}
	})

	probe := fresh(t)
	_, renames := probe.(transports.Renamer)
	probe.Close()
	if renames {
		t.Run("Rename", func(t *testing.T) {
			tr := fresh(t)
			defer tr.Close()
			r := tr.(transports.Renamer)
			if err := tr.Put(ctx, "a.edi", strings.NewReader("a")); err != nil {
				t.Fatal(err)
			}
			if err := tr.Put(ctx, "b.edi", strings.NewReader("b")); err != nil {
				t.Fatal(err)
			}
			if err := r.Rename(ctx, "a.edi", "b.edi"); err != nil {
				t.Fatalf("rename over an existing name: %v", err)
			}
			rc, err := tr.Open(ctx, "b.edi")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != "a" {
				t.Fatalf("after rename: %q", b)
			}
		})
	}
}

// cancelAfter yields n random bytes, then cancels the context and blocks
// further reads with an error, as a client that goes away mid-upload.
type cancelAfter struct {
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
		return 0, context.Canceled
	}
	if len(p) > c.n {
		p = p[:c.n]
	}
	n, _ := rand.Read(p)
	c.n -= n
	return n, nil
}
