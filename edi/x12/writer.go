package x12

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// ControlNumbers allocates control numbers. The store implements it with
// persistent per-partner counters that are never reused and survive
// restarts; kind is "ISA", "GS" or "ST". Implementations must be safe for
// concurrent use and return numbers >= 1.
type ControlNumbers interface {
	Next(ctx context.Context, partnerID, kind string) (int64, error)
}

// MemoryControlNumbers is an in-memory ControlNumbers for tests, examples
// and one-shot CLI output. Numbers restart at 1 with each value: never use
// it for documents sent to partners.
type MemoryControlNumbers struct {
	mu sync.Mutex
	n  map[string]int64
}

// Next returns the next number for partnerID and kind, starting at 1.
func (m *MemoryControlNumbers) Next(_ context.Context, partnerID, kind string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]int64{}
	}
	m.n[partnerID+"\x00"+kind]++
	return m.n[partnerID+"\x00"+kind], nil
}

var _ ControlNumbers = (*MemoryControlNumbers)(nil)

// ISAHeader holds the fields of an outbound ISA. Empty fields get the
// customary defaults: qualifiers "00"/"ZZ", version 00401, usage P.
type ISAHeader struct {
	AuthQual, Auth           string
	SecurityQual, Security   string
	SenderQual, SenderID     string
	ReceiverQual, ReceiverID string
	Version                  string // ISA12, default "00401"
	Control                  int64  // ISA13; 0 allocates from Writer.Numbers
	AckRequested             bool   // ISA14
	Usage                    string // ISA15, default "P"
	Time                     time.Time
}

// GSHeader holds the fields of an outbound GS.
type GSHeader struct {
	FunctionalID     string // GS01
	Sender, Receiver string // GS02, GS03
	Control          int64  // GS06; 0 allocates from Writer.Numbers
	Agency           string // GS07, default "X"
	Version          string // GS08, e.g. "004010"
	Time             time.Time
}

// ErrWriterState is returned when envelope calls are out of order.
var ErrWriterState = errors.New("x12: writer: envelope out of order")

// A Writer writes X12 with envelopes, counting segments, sets and groups
// for the trailers. Set the exported fields before the first write. Call
// Flush (or EndInterchange, which flushes) when done.
type Writer struct {
	Delimiters Delimiters // default DefaultDelimiters
	Newline    bool       // write "\n" after each segment terminator
	// Numbers allocates control numbers left zero in headers, for Partner.
	Numbers ControlNumbers
	Partner string

	w       *bufio.Writer
	buf     []byte
	isa     string
	gs      string
	st      string
	inSet   bool
	inGroup bool
	inIC    bool
	segs    int
	sets    int
	groups  int
	checked bool
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriter(w)}
}

func (w *Writer) delims() Delimiters {
	if !w.checked {
		if w.Delimiters.Element == 0 {
			w.Delimiters = DefaultDelimiters
		}
		w.checked = true
	}
	return w.Delimiters
}

// WriteSegment writes one segment inside a transaction set (or a TA1
// between ISA and the first GS). Trailing empty elements are dropped.
// Elements may hold the component and repetition separators (to write
// composites) but never the element separator or segment terminator.
// Envelope segments are written by the Begin and End methods.
func (w *Writer) WriteSegment(id string, elems ...string) error {
	switch id {
	case "ISA", "IEA", "GS", "GE", "ST", "SE":
		return fmt.Errorf("%w: write %s with the Begin and End methods", ErrWriterState, id)
	case "TA1":
		if !w.inIC || w.inGroup {
			return fmt.Errorf("%w: TA1 outside an interchange", ErrWriterState)
		}
	default:
		if !w.inSet {
			return fmt.Errorf("%w: %s outside a transaction set", ErrWriterState, id)
		}
	}
	return w.segment(id, elems)
}

func (w *Writer) segment(id string, elems []string) error {
	for len(elems) > 0 && elems[len(elems)-1] == "" {
		elems = elems[:len(elems)-1]
	}
	return w.put(w.delims(), id, elems)
}

func (w *Writer) put(d Delimiters, id string, elems []string) error {
	b := append(w.buf[:0], id...)
	for _, e := range elems {
		if bytes.IndexByte([]byte(e), d.Element) >= 0 || bytes.IndexByte([]byte(e), d.Segment) >= 0 {
			return fmt.Errorf("x12: writer: %w: %s element %q holds a delimiter", ErrBadValue, id, e)
		}
		b = append(b, d.Element)
		b = append(b, e...)
	}
	b = append(b, d.Segment)
	if w.Newline && d.Segment != '\n' {
		b = append(b, '\n')
	}
	w.buf = b
	if w.inSet {
		w.segs++
	}
	_, err := w.w.Write(b)
	return err
}

func (w *Writer) next(ctx context.Context, n int64, kind string) (int64, error) {
	if n != 0 {
		return n, nil
	}
	if w.Numbers == nil {
		return 0, fmt.Errorf("x12: writer: no control number for %s and no Numbers set", kind)
	}
	return w.Numbers.Next(ctx, w.Partner, kind)
}

func pad(s string, n int) string {
	for len(s) < n {
		s += " "
	}
	return s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// BeginInterchange writes an ISA padded to its fixed width.
func (w *Writer) BeginInterchange(ctx context.Context, h ISAHeader) error {
	if w.inIC {
		return fmt.Errorf("%w: ISA inside an interchange", ErrWriterState)
	}
	d := w.delims()
	if !d.valid() || d.Component == 0 {
		return fmt.Errorf("x12: writer: %w", ErrBadDelimiters)
	}
	ctl, err := w.next(ctx, h.Control, "ISA")
	if err != nil {
		return err
	}
	if ctl < 1 || ctl > 999999999 {
		return fmt.Errorf("x12: writer: %w: ISA13 %d out of range", ErrBadValue, ctl)
	}
	ver := or(h.Version, "00401")
	std := "U"
	if ver >= "00402" && d.Repetition != 0 {
		std = string(d.Repetition)
	}
	t := h.Time
	if t.IsZero() {
		t = time.Now().UTC()
	}
	ack := "0"
	if h.AckRequested {
		ack = "1"
	}
	fields := []struct {
		v string
		n int
	}{
		{or(h.AuthQual, "00"), 2}, {h.Auth, 10}, {or(h.SecurityQual, "00"), 2}, {h.Security, 10},
		{or(h.SenderQual, "ZZ"), 2}, {h.SenderID, 15}, {or(h.ReceiverQual, "ZZ"), 2}, {h.ReceiverID, 15},
		{t.Format("060102"), 6}, {t.Format("1504"), 4}, {std, 1}, {ver, 5},
		{fmt.Sprintf("%09d", ctl), 9}, {ack, 1}, {or(h.Usage, "P"), 1}, {string(d.Component), 1},
	}
	elems := make([]string, len(fields))
	for i, f := range fields {
		if len(f.v) > f.n {
			return fmt.Errorf("x12: writer: %w: ISA%02d %q longer than %d", ErrBadValue, i+1, f.v, f.n)
		}
		elems[i] = pad(f.v, f.n)
	}
	if err := w.put(d, "ISA", elems); err != nil {
		return err
	}
	w.inIC, w.groups = true, 0
	w.isa = elems[12]
	return nil
}

// BeginGroup writes a GS.
func (w *Writer) BeginGroup(ctx context.Context, h GSHeader) error {
	if !w.inIC || w.inGroup {
		return fmt.Errorf("%w: GS", ErrWriterState)
	}
	ctl, err := w.next(ctx, h.Control, "GS")
	if err != nil {
		return err
	}
	t := h.Time
	if t.IsZero() {
		t = time.Now().UTC()
	}
	date := t.Format("20060102")
	if h.Version != "" && h.Version < "004010" {
		date = t.Format("060102")
	}
	w.gs = strconv.FormatInt(ctl, 10)
	if err := w.put(w.delims(), "GS", []string{h.FunctionalID, h.Sender, h.Receiver, date, t.Format("1504"), w.gs, or(h.Agency, "X"), h.Version}); err != nil {
		return err
	}
	w.inGroup, w.sets = true, 0
	w.groups++
	return nil
}

// BeginSet writes an ST; control 0 allocates one. ref is ST03 (may be empty).
func (w *Writer) BeginSet(ctx context.Context, id string, control int64, ref string) error {
	if !w.inGroup || w.inSet {
		return fmt.Errorf("%w: ST", ErrWriterState)
	}
	ctl, err := w.next(ctx, control, "ST")
	if err != nil {
		return err
	}
	w.st = fmt.Sprintf("%04d", ctl)
	w.inSet, w.segs = true, 0
	w.sets++
	return w.segment("ST", []string{id, w.st, ref})
}

// SetControl returns the ST02 of the open set.
func (w *Writer) SetControl() string { return w.st }

// EndSet writes the SE with the segment count.
func (w *Writer) EndSet() error {
	if !w.inSet {
		return fmt.Errorf("%w: SE", ErrWriterState)
	}
	err := w.segment("SE", []string{strconv.Itoa(w.segs + 1), w.st})
	w.inSet = false
	return err
}

// EndGroup writes the GE.
func (w *Writer) EndGroup() error {
	if !w.inGroup || w.inSet {
		return fmt.Errorf("%w: GE", ErrWriterState)
	}
	w.inGroup = false
	return w.put(w.delims(), "GE", []string{strconv.Itoa(w.sets), w.gs})
}

// EndInterchange writes the IEA and flushes.
func (w *Writer) EndInterchange() error {
	if !w.inIC || w.inGroup {
		return fmt.Errorf("%w: IEA", ErrWriterState)
	}
	w.inIC = false
	if err := w.put(w.delims(), "IEA", []string{strconv.Itoa(w.groups), w.isa}); err != nil {
		return err
	}
	return w.w.Flush()
}

// Flush writes buffered data to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }
