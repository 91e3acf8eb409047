package iobuf

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestSize(t *testing.T) {
	for _, c := range []struct {
		n     int64
		limit int
		want  int
	}{
		{0, 64, 16}, {10, 64, 16}, {40, 64, 40}, {63, 64, 63}, {64, 64, 64}, {1 << 40, 64, 64},
	} {
		if got := Size(c.n, c.limit); got != c.want {
			t.Errorf("Size(%d, %d) = %d, want %d", c.n, c.limit, got, c.want)
		}
	}
}

func TestNewReader(t *testing.T) {
	in := strings.Repeat("x", 1000)
	for _, c := range []struct {
		name string
		r    io.Reader
		want int
	}{
		{"known", strings.NewReader(in), 1001},
		{"known, peeked", bytes.NewReader([]byte(in[:100])), 512},
		{"unknown", io.MultiReader(strings.NewReader(in)), 4096},
		{"known, large", bytes.NewBufferString(strings.Repeat(in, 10)), 4096},
	} {
		br := NewReader(c.r, 512, 4096)
		if br.Size() != c.want {
			t.Errorf("%s: buffer of %d bytes, want %d", c.name, br.Size(), c.want)
		}
		// However sized, the reader reads everything.
		b, err := io.ReadAll(br)
		if err != nil || len(b)%100 != 0 || len(b) == 0 {
			t.Errorf("%s: read %d bytes, %v", c.name, len(b), err)
		}
	}
	br := bufio.NewReaderSize(strings.NewReader(in), 600)
	if NewReader(br, 512, 4096).Reader != br {
		t.Error("a bufio.Reader large enough is not used as it is")
	}
	if NewReader(br, 4096, 4096).Reader == br {
		t.Error("a bufio.Reader too small for least is used as it is")
	}
	if _, ok := Len(NewReader(br, 512, 4096)); ok {
		t.Error("Len of a Reader over a bufio.Reader is known")
	}
	ir := NewReader(strings.NewReader(in), 16, 4096)
	if NewReader(ir, 16, 4096) != ir {
		t.Error("a Reader large enough is not used as it is")
	}
}

// Len of a Reader counts what it buffered and what its source holds.
func TestLenThroughReader(t *testing.T) {
	in := strings.Repeat("x", 1000)
	r := NewReader(strings.NewReader(in), 64, 4096)
	for _, step := range []int{0, 10, 300, 690, 0} {
		if _, err := r.Discard(step); err != nil {
			t.Fatal(err)
		}
		in = in[step:]
		if n, ok := Len(r); !ok || n != int64(len(in)) {
			t.Fatalf("Len = %d, %v; want %d", n, ok, len(in))
		}
		if _, err := r.Peek(min(len(in), 64)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := Len(NewReader(struct{ io.Reader }{strings.NewReader(in)}, 16, 64)); ok {
		t.Error("Len of a Reader over a reader of unknown length is known")
	}
}
