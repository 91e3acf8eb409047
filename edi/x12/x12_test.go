package x12

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestReaderPositions: inputs carry a § marker where the reported problem is;
// the marker is removed and its byte offset is the expected ParseError.Offset.
func TestReaderPositions(t *testing.T) {
	isa := "ISA*00*          *00*          *ZZ*S              *ZZ*R              *260101*1200*^*00501*000000001*0*P*:~"
	tests := []struct {
		name string
		in   string
		err  error // returned by Read, or reported as warning
		warn bool
	}{
		{"text before ISA", "§hello\n" + isa, ErrTextBeforeISA, true},
		{"no ISA", "ST*204*0001~§", ErrNoISA, false},
		{"unpadded ISA", "§ISA*00**00**ZZ*S*ZZ*R*260101*1200*^*00501*000000001*0*P*:~", ErrISANotPadded, true},
		{"no terminator at end", isa + "GS*SM*S*R*20260101*1200*1*X*005010~§IEA*1*000000001", ErrNoTerminator, true},
		{"empty segment", isa + "§~IEA*0*000000001~", ErrEmptySegment, true},
		{"text after IEA", isa + "IEA*0*000000001~\n§junk", ErrTextAfterIEA, true},
		{"too long", isa + "§NTE*" + strings.Repeat("x", 300) + "~", ErrSegmentTooLong, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := int64(strings.Index(tt.in, "§"))
			in := strings.Replace(tt.in, "§", "", 1)
			r := NewReader(strings.NewReader(in))
			r.MaxSegmentSize = 200
			var got *ParseError
			r.OnWarning = func(e *ParseError) {
				if got == nil && errors.Is(e, tt.err) {
					got = e
				}
			}
			for {
				_, err := r.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					var pe *ParseError
					if errors.As(err, &pe) && errors.Is(err, tt.err) && got == nil {
						got = pe
					}
					if errors.Is(err, ErrNoISA) {
						break
					}
				}
			}
			if got == nil {
				t.Fatalf("no %v reported", tt.err)
			}
			if got.Offset != want {
				t.Errorf("offset %d, want %d (%v)", got.Offset, want, got)
			}
		})
	}
}

func TestDelimitersAndAccess(t *testing.T) {
	in := "\xEF\xBB\xBFISA|00|          |00|          |ZZ|S              |ZZ|R              |260101|1200|>|00501|000000001|0|P|!\r\n" +
		"GS|SM|S|R|20260101|1200|1|X|005010\r\nST|204|0001\r\nN9|PO|A!B>C!D|x\r\nSE|3|0001\r\nGE|1|1\r\nIEA|1|000000001\r\n"
	r := NewReader(strings.NewReader(in))
	var n9 *Segment
	for {
		s, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.Is("N9") {
			n9 = s.Clone()
		}
	}
	d := r.Delims()
	if d != (Delimiters{Element: '|', Component: '!', Repetition: '>', Segment: '\r'}) {
		t.Fatalf("delimiters %q", []byte{d.Element, d.Component, d.Repetition, d.Segment})
	}
	if got := string(n9.RepComponent(2, 1, 2)); got != "D" || n9.Repetitions(2) != 2 || string(n9.Component(2, 2)) != "B" {
		t.Errorf("access: %q reps=%d", got, n9.Repetitions(2))
	}
}

func TestWriterRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Delimiters = Delimiters{Element: 0x1E, Component: 0x1D, Repetition: 0x1F, Segment: '\n'}
	w.Numbers = &MemoryControlNumbers{}
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.BeginInterchange(ctx, ISAHeader{SenderID: "ME", ReceiverID: "YOU", Version: "00501", Time: at}))
	must(w.BeginGroup(ctx, GSHeader{FunctionalID: "QM", Sender: "ME", Receiver: "YOU", Version: "005010", Time: at}))
	must(w.BeginSet(ctx, "214", 0, ""))
	must(w.WriteSegment("B10", "PRO1", "SHP1", "ABCD"))
	must(w.EndSet())
	must(w.EndGroup())
	must(w.EndInterchange())
	if n := bytes.IndexByte(b.Bytes(), '\n'); n != 105 {
		t.Fatalf("ISA is %d bytes, want 105 + terminator", n)
	}
	rep, err := (&Checker{}).Check(ctx, NewReader(&b))
	if err != nil || rep.Rejected || rep.Warnings {
		t.Fatalf("round trip: %v %s", err, summary(rep))
	}
}

func TestDuplicateInterchange(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpusDir, "004010", "204-minimal.edi"))
	if err != nil {
		t.Fatal(err)
	}
	c := &Checker{Seen: seenAll{}}
	rep, err := c.Check(context.Background(), NewReader(bytes.NewReader(data)))
	if err != nil || summary(rep) != "I000000205:R:025 G205:A S204/0001:A" {
		t.Fatalf("%v %s", err, summary(rep))
	}
	// Twice in one file is a duplicate even without a store.
	rep, _ = (&Checker{}).Check(context.Background(), NewReader(bytes.NewReader(append(append([]byte{}, data...), data...))))
	if got := summary(rep); got != "I000000205:A G205:A S204/0001:A I000000205:R:025 G205:A S204/0001:A" {
		t.Fatal(got)
	}
}

type seenAll struct{}

func (seenAll) SeenInterchange(context.Context, *SeenInterchangeParams) (bool, error) {
	return true, nil
}

// TestAckGolden writes the 997 and 999 for chosen corpus files and compares
// them with testdata/*.golden (go test -update rewrites them).
func TestAckGolden(t *testing.T) {
	files := []string{
		"004010/204.edi",                    // accepted: AK5 A
		"errors/214-se01-count.edi",         // set rejected, AK5 R 4 (005010)
		"errors/940-too-many-elements.edi",  // AK3/AK4 with AK403 3, rejected
		"errors/850-element-length.edi",     // AK4 length warnings: AK5 E
		"errors/204-st02-repeated.edi",      // group partially accepted, AK905 23
		"errors/944-iea02-mismatch.edi",     // interchange rejected: TA1 only
		"syntax/ta1-requested-note-016.edi", // TA1 E 016, then the group's ack
		"syntax/short-st02.edi",             // 3-character ST02 echoed in AK202
	}
	for _, f := range files {
		for _, kind := range []string{"997", "999"} {
			t.Run(f+"/"+kind, func(t *testing.T) {
				rep := checkFile(t, filepath.Join(corpusDir, f))
				var b bytes.Buffer
				err := WriteAcks(context.Background(), &b, rep, AckOptions{Kind: kind, Newline: true,
					Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC) }})
				if err != nil {
					t.Fatal(err)
				}
				name := strings.ReplaceAll(strings.TrimSuffix(f, filepath.Ext(f)), "/", "_")
				golden := filepath.Join("testdata", name+"."+kind+".golden")
				if *update {
					os.WriteFile(golden, b.Bytes(), 0o644)
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b.Bytes(), want) {
					t.Errorf("ack differs from %s:\n%s", golden, b.String())
				}
				// Our own acks are valid X12 and read back.
				if _, err := ReadAcks(NewReader(bytes.NewReader(b.Bytes()))); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

func TestReadAcks(t *testing.T) {
	f, err := os.Open(filepath.Join(corpusDir, "005010", "999.edi"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	acks, err := ReadAcks(NewReader(f))
	if err != nil || len(acks.Groups) != 1 {
		t.Fatal(err)
	}
	g := acks.Groups[0]
	if g.Kind != "999" || g.FunctionalID != "SH" || g.Control != "41" || g.Status != Partial || g.Included != 2 || g.Accepted != 1 ||
		len(g.Sets) != 2 || g.Sets[0].Status != Accepted || g.Sets[1].Status != Rejected || g.Sets[1].Control != "0002" ||
		len(g.Sets[1].Errors) != 1 || g.Sets[1].Errors[0].ID != "TD1" || len(g.Sets[1].Errors[0].Elements) != 1 {
		t.Fatalf("%+v", g)
	}
	if e := g.Sets[1].Errors[0].Elements[0]; e.Position != 7 || e.Ref != "81" || e.Code != "6" {
		t.Fatalf("%+v", e)
	}
}

// TestShortST02: a 1-3 character ST02 (X12 says 4-9; some carriers send 3)
// is a warning under the default profile and rejects the set (AK5 7) when
// strict; empty or longer than 9 always rejects. The acknowledgment echoes
// ST02 as received.
func TestShortST02(t *testing.T) {
	in := func(ctl string) string {
		return isaT + "GS*GF*S*R*20260101*1200*1*X*004010~ST*990*" + ctl + "~B1*SCAC*SHP1*20260101*A~SE*3*" + ctl + "~GE*1*1~IEA*1*000000001~"
	}
	tests := []struct {
		name, ctl string
		strict    bool
		want, ak  string // summary; AK2 and AK5 of the 997
	}{
		{"3 chars lenient", "001", false, "I000000001:A G1:E S990/001:E", "AK2*990*001~AK5*A~AK9*A*1*1*1~"},
		{"3 chars strict", "001", true, "I000000001:A G1:R S990/001:R:7", "AK2*990*001~AK5*R*7~AK9*R*1*1*0~"},
		{"1 char lenient", "7", false, "I000000001:A G1:E S990/7:E", "AK2*990*7~AK5*A~AK9*A*1*1*1~"},
		{"4 chars strict", "0001", true, "I000000001:A G1:A S990/0001:A", "AK2*990*0001~AK5*A~AK9*A*1*1*1~"},
		{"10 chars lenient", "0000000001", false, "I000000001:A G1:R S990/0000000001:R:7", "AK2*990*0000000001~AK5*R*7~AK9*R*1*1*0~"},
		{"empty lenient", "", false, "I000000001:A G1:R S990/:R:7", "AK2*990~AK5*R*7~AK9*R*1*1*0~"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := (&Checker{Strict: tt.strict}).Check(context.Background(), NewReader(strings.NewReader(in(tt.ctl))))
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(rep); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			var b bytes.Buffer
			if err := WriteAcks(context.Background(), &b, rep, AckOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tt.ak) {
				t.Errorf("997 does not contain %s:\n%s", tt.ak, b.String())
			}
			acks, err := ReadAcks(NewReader(&b))
			if err != nil || len(acks.Groups) != 1 || len(acks.Groups[0].Sets) != 1 || acks.Groups[0].Sets[0].Control != tt.ctl {
				t.Fatalf("997 read back: %v %+v", err, acks)
			}
		})
	}
}

// addCorpusSeeds adds every file of the repository's X12 corpus as a seed.
func addCorpusSeeds(f *testing.F) {
	for _, p := range listFiles(f, corpusDir) {
		b, err := os.ReadFile(filepath.Join(corpusDir, p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzReader(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		r.MaxSegmentSize = 512
		for i := 0; i < 100000; i++ {
			s, err := r.Read()
			if err == io.EOF {
				return
			}
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error not a *ParseError: %v", err)
				}
				if errors.Is(err, ErrNoISA) {
					return
				}
				continue
			}
			// The SWAR split must agree with a plain split.
			parts := bytes.Split(s.Bytes(), []byte{s.Delimiters().Element})
			if len(parts) != s.Len() {
				t.Fatalf("%q: %d elements, want %d", s.Bytes(), s.Len(), len(parts))
			}
			for j, p := range parts {
				if !bytes.Equal(s.Element(j), p) {
					t.Fatalf("%q: element %d = %q, want %q", s.Bytes(), j, s.Element(j), p)
				}
				s.Component(j, 2)
				s.Repetition(j, 1)
			}
			if bytes.ContainsAny(s.Bytes(), "\r\n") && s.Delimiters().Segment != '\r' && s.Delimiters().Segment != '\n' {
				t.Fatalf("%q: CR/LF left in a segment", s.Bytes())
			}
		}
		t.Fatal("no progress")
	})
}

func FuzzCheck(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := (&Checker{}).Check(context.Background(), NewReader(bytes.NewReader(in)))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := WriteAcks(context.Background(), &b, rep, AckOptions{}); err != nil {
			return // e.g. partner IDs too long to echo into an ISA
		}
		if b.Len() > 0 {
			if _, err := ReadAcks(NewReader(&b)); err != nil {
				t.Fatalf("ack unreadable: %v", err)
			}
		}
	})
}

func FuzzWriteRead(f *testing.F) {
	f.Add("B10", "PRO1", "SHP*1", "ABCD")
	f.Add("N1", "SH", "ACME:CO", "")
	f.Fuzz(func(t *testing.T, id, e1, e2, e3 string) {
		var b bytes.Buffer
		w := NewWriter(&b)
		w.Numbers = &MemoryControlNumbers{}
		ctx := context.Background()
		if w.BeginInterchange(ctx, ISAHeader{SenderID: "A", ReceiverID: "B"}) != nil ||
			w.BeginGroup(ctx, GSHeader{FunctionalID: "QM", Sender: "A", Receiver: "B", Version: "004010"}) != nil ||
			w.BeginSet(ctx, "214", 0, "") != nil {
			t.Fatal("envelope")
		}
		if !validID([]byte(id)) || strings.ContainsAny(e1+e2+e3, "\r\n") {
			return
		}
		if err := w.WriteSegment(id, e1, e2, e3); err != nil {
			return // a delimiter inside an element is refused
		}
		w.EndSet()
		w.EndGroup()
		w.EndInterchange()
		r := NewReader(bytes.NewReader(b.Bytes()))
		for {
			s, err := r.Read()
			if err != nil {
				t.Fatalf("segment %s not read back: %v", id, err)
			}
			if string(s.ID()) == id && !s.Is("ST") {
				want := []string{e1, e2, e3}
				for len(want) > 0 && want[len(want)-1] == "" {
					want = want[:len(want)-1]
				}
				for i, v := range want {
					if string(s.Element(i+1)) != v {
						t.Fatalf("element %d = %q, want %q", i+1, s.Element(i+1), v)
					}
				}
				return
			}
		}
	})
}
