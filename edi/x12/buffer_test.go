package x12

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// lyingLen says it holds n bytes however many it has: Len is a hint only.
type lyingLen struct {
	io.Reader
	n int
}

func (l lyingLen) Len() int { return l.n }

// bufferInput is an interchange of segments of every length around the
// Reader's buffer sizes, one with thousands of elements, one of exactly
// maxSeg bytes and one a byte longer; want holds the segments (without
// terminator, "" for the one too long) and their offsets.
func bufferInput(maxSeg int) (in string, want []string, offs []int64) {
	add := func(s string) {
		if len(s) > maxSeg {
			return
		}
		offs = append(offs, int64(len(in)))
		want = append(want, s)
		in += s + "~"
	}
	add("ISA*00*          *00*          *ZZ*S              *ZZ*R              *260101*1200*^*00501*000000001*0*P*:~"[:105])
	add("GS*SM*S*R*20260101*1200*1*X*005010")
	add("ST*204*0001")
	// As many element ends as bytes, around the sizes scanFast's
	// element ends grow through.
	for _, n := range []int{63, 64, 127, 128, 255, 256, 1023, 1024, 4095} {
		add(strings.Repeat("*", n))
	}
	for i := 1; i < 300; i++ {
		add(fmt.Sprintf("N9*%03d*%s", i, strings.Repeat("x", i*7%251)))
		if i%50 == 0 {
			add("L11" + strings.Repeat("*1", 2000)) // 2001 elements, within scanFast's window
			add("L5" + strings.Repeat("*2", 3000))  // longer than the window
			add("NTE*" + strings.Repeat("y:z", 900) + "*A^B")
		}
		if i == 123 {
			add("NTE*" + strings.Repeat("m", maxSeg-4))
			long := "NTE*" + strings.Repeat("n", maxSeg-3)
			offs = append(offs, int64(len(in)))
			want = append(want, "")
			in += long + "~"
		}
	}
	add("SE*999*0001")
	add("GE*1*1")
	add("IEA*1*000000001")
	return in, want, offs
}

// TestReaderBuffer reads inputs through every kind of source: sized from
// its length, from a wrong length, of unknown length read whole or a byte
// at a time. The buffer starts small and grows; segments spanning the
// growth, of many elements and of the longest size allowed must read the
// same.
func TestReaderBuffer(t *testing.T) {
	sources := map[string]func(string) io.Reader{
		"bytes":    func(s string) io.Reader { return bytes.NewReader([]byte(s)) },
		"unknown":  func(s string) io.Reader { return struct{ io.Reader }{strings.NewReader(s)} },
		"too-long": func(s string) io.Reader { return lyingLen{struct{ io.Reader }{strings.NewReader(s)}, 10 << 20} },
		"too-short": func(s string) io.Reader {
			return lyingLen{struct{ io.Reader }{strings.NewReader(s)}, 10}
		},
		"one-byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"half":     func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
		"bufio":    func(s string) io.Reader { return bufio.NewReaderSize(strings.NewReader(s), 16) },
	}
	for _, maxSeg := range []int{0, 300, 5000, minBuffer + 1000} {
		ms := maxSeg
		if ms == 0 {
			ms = defaultMaxSegment
		}
		in, want, offs := bufferInput(ms)
		for name, src := range sources {
			if name == "one-byte" && maxSeg == 0 {
				continue // 2 MB a byte at a time: slow, and the same as 5000
			}
			t.Run(fmt.Sprintf("%d/%s", maxSeg, name), func(t *testing.T) {
				r := NewReader(src(in))
				r.MaxSegmentSize = maxSeg
				var warn error
				r.OnWarning = func(e *ParseError) { warn = e }
				for i := 0; ; i++ {
					s, err := r.Read()
					if err == io.EOF {
						if i != len(want) {
							t.Fatalf("EOF after %d segments, want %d", i, len(want))
						}
						break
					}
					if i >= len(want) {
						t.Fatalf("segment %d past the end: %v, %v", i, s, err)
					}
					if want[i] == "" {
						var pe *ParseError
						if !errors.As(err, &pe) || !errors.Is(err, ErrSegmentTooLong) || pe.Offset != offs[i] {
							t.Fatalf("segment %d: %v, want ErrSegmentTooLong at %d", i, err, offs[i])
						}
						continue
					}
					if err != nil {
						t.Fatalf("segment %d at %d: %v", i, offs[i], err)
					}
					if s.String() != want[i] || s.Offset != offs[i] {
						t.Fatalf("segment %d: %.40q at %d, want %.40q at %d", i, s.String(), s.Offset, want[i], offs[i])
					}
					parts := strings.Split(want[i], "*")
					if s.Len() != len(parts) {
						t.Fatalf("segment %d (%.20q): %d elements, want %d", i, want[i], s.Len(), len(parts))
					}
					for j, p := range parts {
						if string(s.Element(j)) != p {
							t.Fatalf("segment %d (%.20q): element %d = %.20q, want %.20q", i, want[i], j, s.Element(j), p)
						}
					}
					if got := r.InputOffset(); got != offs[i]+int64(len(want[i]))+1 {
						t.Fatalf("segment %d: input offset %d, want %d", i, got, offs[i]+int64(len(want[i]))+1)
					}
				}
				if warn != nil {
					t.Errorf("warning: %v", warn)
				}
				if len(r.buf) > max(minBuffer, ms+isaMax) {
					t.Errorf("buffer of %d bytes, more than %d", len(r.buf), max(minBuffer, ms+isaMax))
				}
			})
		}
	}
}

// TestReaderSmallInput: a small input costs buffers of its size, not of
// the largest input's; an input of unknown length that reads fill grows
// the buffer to minBuffer.
func TestReaderSmallInput(t *testing.T) {
	in, err := os.ReadFile(corpusDir + "/004010/204.edi")
	if err != nil {
		t.Fatal(err)
	}
	readAll := func(src io.Reader) (*Reader, int) {
		r := NewReader(src)
		n := 0
		for {
			_, err := r.Read()
			if err == io.EOF {
				return r, n
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	r, n := readAll(bytes.NewReader(in))
	if n != bytes.Count(in, []byte("~")) {
		t.Errorf("%d segments, want %d", n, bytes.Count(in, []byte("~")))
	}
	if len(r.buf) > len(in)+64 || len(r.masks) > len(r.buf)>>6 || len(r.fastEnds) > 256 {
		t.Errorf("%d bytes read with a buffer of %d, %d masks, %d element ends", len(in), len(r.buf), len(r.masks), len(r.fastEnds))
	}
	r, _ = readAll(struct{ io.Reader }{bytes.NewReader(in)})
	if len(r.buf) != startBuffer {
		t.Errorf("input of unknown length: buffer of %d bytes, want %d", len(r.buf), startBuffer)
	}
	big, _, _ := bufferInput(5000)
	r, _ = readAll(struct{ io.Reader }{strings.NewReader(strings.Repeat(big[:strings.Index(big, "NTE*mmm")], 20))})
	if len(r.buf) < minBuffer {
		t.Errorf("long input of unknown length: buffer of %d bytes, want at least %d", len(r.buf), minBuffer)
	}
}

// FuzzReaderSources: how the buffer starts and grows must not show. The
// input (repeated to cross the sizes the buffer grows through) reads the
// same from a source of known length as from one of unknown length.
func FuzzReaderSources(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		for len(in) < 20000 {
			in = append(in, in...)
		}
		read := func(src io.Reader) []string {
			r := NewReader(src)
			r.MaxSegmentSize = 5000
			var out []string
			r.OnWarning = func(e *ParseError) { out = append(out, "warning: "+e.Error()) }
			for i := 0; i < 1000000; i++ {
				s, err := r.Read()
				if err == io.EOF {
					return out
				}
				if err != nil {
					out = append(out, "error: "+err.Error())
					if errors.Is(err, ErrNoISA) {
						return out
					}
					continue
				}
				out = append(out, fmt.Sprintf("%d %d %q", s.Offset, s.Len(), s.Bytes()))
			}
			t.Fatal("no progress")
			return nil
		}
		want := read(bytes.NewReader(in))
		got := read(struct{ io.Reader }{bytes.NewReader(in)})
		for i := range max(len(want), len(got)) {
			if i >= len(want) || i >= len(got) || want[i] != got[i] {
				w, g := "(end)", "(end)"
				if i < len(want) {
					w = want[i]
				}
				if i < len(got) {
					g = got[i]
				}
				t.Fatalf("item %d: known length %.200s, unknown %.200s", i, w, g)
			}
		}
	})
}
