package mapping

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/iobuf"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// Options configure mapping one input file to canonical documents.
type Options struct {
	// Profile is the partner's dialect; nil means DefaultProfile().
	Profile *Profile
	// Emit receives each good document in input order. An error from Emit
	// stops mapping and is returned.
	Emit func(canonical.Document) error
	// OnError, if set, receives every mapping error as it is found.
	OnError func(*Error)
	// MaxQuarantined bounds Outcome.Quarantined (default 1000); the count
	// in Outcome.Errors keeps growing.
	MaxQuarantined int
	// ProfileFor, if set, picks the profile of each X12 interchange from
	// its sender (ISA05, ISA06); nil from it keeps Profile.
	ProfileFor func(qualifier, id string) *Profile
}

func (o *Options) profile() *Profile {
	if o.Profile == nil {
		o.Profile = DefaultProfile()
	}
	return o.Profile
}

// inMaps are the sets FromX12 maps (ST01 → constructor), from the
// families' set tables.
var inMaps = func() map[string]func() setIn {
	m := map[string]func() setIn{}
	for _, s := range setTables() {
		if s.in != nil {
			m[s.id] = s.in
		}
	}
	return m
}()

// setMap is one X12 transaction set Wharf maps: how to read it into a
// canonical document and how to write one (nil when Wharf only reads it,
// or only writes it). Each family file (x12_transport.go, x12_warehouse.go,
// x12_retail.go) lists its sets in one table, so a new set is its map and
// one line in its family's table.
type setMap struct {
	id      string // ST01
	docType string // the canonical type written (out)
	group   string // GS01 functional identifier (out)
	in      func() setIn
	out     func(c *outCtx, d canonical.Document)
}

func setTables() []setMap {
	return slices.Concat(transportSets, warehouseSets, retailSets)
}

// InboundSets lists the X12 transaction sets FromX12 maps, sorted: the
// keys of the inbound maps.
func InboundSets() []string { return slices.Sorted(maps.Keys(inMaps)) }

// setIn maps the segments of one transaction set (between ST and SE).
type setIn interface {
	segment(c *inCtx, id string)
	finish(c *inCtx) canonical.Document
}

// inCtx is the state shared by set maps: the current segment, the
// profile, positions and the errors of the current document.
type inCtx struct {
	p    *Profile
	r    *x12.Reader
	seg  *x12.Segment
	src  canonical.Source
	doc  string
	errs []*Error
	cur  *canonical.Party // party the N2/N3/N4/G61/PER segments belong to
	// The current segment as one string and where its elements end, so a
	// segment costs one allocation however many elements are kept.
	str   string
	ends  []int
	names map[nameKey]string
}

type nameKey struct {
	format string
	i, j   int
}

// name returns fmt.Sprintf(format, i[, j]) for a field path, memoized:
// paths are built for every segment but needed only for errors, and
// indexes repeat, so after the first documents this allocates nothing.
func (c *inCtx) name(format string, i, j int) string {
	k := nameKey{format, i, j}
	if s, ok := c.names[k]; ok {
		return s
	}
	var s string
	if strings.Count(format, "%d") == 2 {
		s = fmt.Sprintf(format, i, j)
	} else {
		s = fmt.Sprintf(format, i)
	}
	if c.names == nil {
		c.names = map[nameKey]string{}
	}
	if len(c.names) < 4096 {
		c.names[k] = s
	}
	return s
}

// load converts the current segment to a string once.
func (c *inCtx) load() {
	c.str = string(c.seg.Bytes())
	c.ends = c.ends[:0]
	sep := c.seg.Delimiters().Element
	for i := 0; i < len(c.str); i++ {
		if c.str[i] == sep {
			c.ends = append(c.ends, i)
		}
	}
	c.ends = append(c.ends, len(c.str))
}

func (c *inCtx) pos(elem int) Position {
	ic, gs, st := c.r.Control()
	p := Position{Interchange: ic, Group: gs, Set: st, SetID: c.src.SetID, Element: elem}
	if c.seg != nil {
		p.Segment = c.r.SegmentIndex()
		p.SetPosition = c.r.SetPosition()
		p.SegmentID = string(c.seg.ID())
		p.Offset = c.seg.Offset
	}
	return p
}

func (c *inCtx) fail(field string, elem int, err error) {
	c.errs = append(c.errs, &Error{Partner: c.p.Partner, Document: c.doc, Field: field, Pos: c.pos(elem), Err: err})
}

// s returns element i of the current segment as a string, spaces trimmed.
func (c *inCtx) s(i int) string {
	if c.seg == nil {
		return ""
	}
	if c.ends == nil || c.str == "" {
		c.load()
	}
	if i < 0 || i >= len(c.ends) {
		return ""
	}
	st := 0
	if i > 0 {
		st = c.ends[i-1] + 1
	}
	return strings.TrimSpace(c.str[st:c.ends[i]])
}

func (c *inCtx) dec(i int, field string) canonical.Decimal {
	v := c.s(i)
	if v == "" {
		return ""
	}
	d, err := canonical.ParseDecimal(v)
	if err != nil {
		c.fail(field, i, fmt.Errorf("%w: %w", ErrBadValue, err))
	}
	return d
}

// decSub is dec with the field path field+sub, built only on error.
func (c *inCtx) decSub(i int, field, sub string) canonical.Decimal {
	v := c.s(i)
	if v == "" {
		return ""
	}
	d, err := canonical.ParseDecimal(v)
	if err != nil {
		c.fail(field+sub, i, fmt.Errorf("%w: %w", ErrBadValue, err))
	}
	return d
}

func (c *inCtx) implied(i, n int, field string) canonical.Decimal {
	d, err := canonical.FromImplied(c.s(i), n)
	if err != nil {
		c.fail(field, i, fmt.Errorf("%w: %w", ErrBadValue, err))
	}
	return d
}

func (c *inCtx) code(tbl string, i int) string {
	if c.seg == nil {
		return ""
	}
	if v, ok := c.p.tables[tbl].in[string(c.seg.Element(i))]; ok {
		return v // no allocation for known codes
	}
	v := c.s(i)
	if v == "" {
		return ""
	}
	out, _ := c.p.In(tbl, v)
	return out
}

// ref builds a reference from a qualifier and a value.
func (c *inCtx) ref(qual, value, desc string) canonical.Reference {
	t, ok := c.p.In(TableReferences, qual)
	r := canonical.Reference{Type: t, Value: value, Description: desc}
	if !ok {
		r.Type, r.Qualifier = canonical.RefOther, qual
	}
	return r
}

// date builds a typed date from a qualifier table.
func (c *inCtx) date(tbl, qual string, t canonical.Time) canonical.Date {
	typ, ok := c.p.In(tbl, qual)
	d := canonical.Date{Type: typ, Time: t}
	if !ok {
		d.Type, d.Qualifier = "other", qual
	}
	return d
}

// when reads a date (CCYYMMDD or YYMMDD) with an optional time (HHMM,
// HHMMSS) and X12 time code, resolving local times in the partner's zone.
func (c *inCtx) when(di, ti, zi int, field string) *canonical.Time {
	ds := c.s(di)
	if ds == "" {
		return nil
	}
	ts, zs := "", ""
	if ti > 0 {
		ts = c.s(ti)
	}
	if zi > 0 {
		zs = c.s(zi)
	}
	t, err := parseX12Time(ds, ts, zs, c.p.Location)
	if err != nil {
		c.fail(field, di, fmt.Errorf("%w: %w", ErrBadValue, err))
		return nil
	}
	return &t
}

func parseX12Time(ds, ts, zs string, local *time.Location) (canonical.Time, error) {
	if len(ds) == 6 {
		ds = "20" + ds
	}
	if len(ds) != 8 || !digits(ds) {
		return canonical.Time{}, fmt.Errorf("date %q is not CCYYMMDD", ds)
	}
	y, m, d := atoi(ds[:4]), atoi(ds[4:6]), atoi(ds[6:8])
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return canonical.Time{}, fmt.Errorf("date %q out of range", ds)
	}
	if ts == "" {
		return canonical.NewDate(y, time.Month(m), d), nil
	}
	if (len(ts) != 4 && len(ts) != 6 && len(ts) != 8) || !digits(ts) {
		return canonical.Time{}, fmt.Errorf("time %q is not HHMM or HHMMSS", ts)
	}
	hh, mm, ss := atoi(ts[:2]), atoi(ts[2:4]), 0
	if len(ts) >= 6 {
		ss = atoi(ts[4:6])
	}
	if hh > 23 || mm > 59 || ss > 59 {
		return canonical.Time{}, fmt.Errorf("time %q out of range", ts)
	}
	loc, err := zoneOf(zs, local)
	if err != nil {
		return canonical.Time{}, err
	}
	return canonical.At(time.Date(y, time.Month(m), d, hh, mm, ss, 0, loc)), nil
}

var (
	zoneMu    sync.Mutex
	zoneCache = map[string]*time.Location{}
	zoneNames = map[string]string{"ET": "America/New_York", "CT": "America/Chicago", "MT": "America/Denver",
		"PT": "America/Los_Angeles", "AT": "America/Halifax", "HT": "Pacific/Honolulu", "AK": "America/Anchorage"}
	zoneFixed = map[string]int{"ES": -5, "ED": -4, "CS": -6, "CD": -5, "MS": -7, "MD": -6, "PS": -8, "PD": -7,
		"AS": -4, "AD": -3, "UT": 0, "GM": 0}
)

// zoneOf resolves an X12 time code (element 623).
func zoneOf(code string, local *time.Location) (*time.Location, error) {
	switch code {
	case "", "LT":
		return local, nil
	case "UT", "GM", "UTC", "Z":
		return time.UTC, nil
	}
	if h, ok := zoneFixed[code]; ok {
		return time.FixedZone(code, h*3600), nil
	}
	name, ok := zoneNames[code]
	if !ok {
		return nil, fmt.Errorf("time code %q is not known", code)
	}
	zoneMu.Lock()
	defer zoneMu.Unlock()
	if l, ok := zoneCache[name]; ok {
		return l, nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time code %q: %v", code, err)
	}
	zoneCache[name] = l
	return l, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// party handles the N1 loop segments (N1, N2, N3, N4, G61, PER) into dst;
// it reports whether the segment was one of them.
func (c *inCtx) party(id string, dst *[]canonical.Party) bool {
	switch id {
	case "N1":
		role, ok := c.p.In(TableParties, c.s(1))
		pt := canonical.Party{Role: role, Name: c.s(2), IDQualifier: c.s(3), ID: c.s(4)}
		if !ok {
			pt.Role, pt.Qualifier = "other", c.s(1)
		}
		*dst = append(*dst, pt)
		c.cur = &(*dst)[len(*dst)-1]
	case "N2":
		if c.cur != nil {
			c.cur.Name = strings.TrimSpace(c.cur.Name + " " + c.s(1) + " " + c.s(2))
		}
	case "N3":
		if c.cur != nil {
			a := c.addr()
			for _, l := range []string{c.s(1), c.s(2)} {
				if l != "" {
					a.Lines = append(a.Lines, l)
				}
			}
		}
	case "N4":
		if c.cur != nil {
			a := c.addr()
			a.City, a.State, a.PostalCode, a.Country = c.s(1), c.s(2), c.s(3), c.s(4)
		}
	case "G61", "PER":
		if c.cur != nil {
			ct := canonical.Contact{Role: c.s(1), Name: c.s(2)}
			for i := 3; i+1 <= 8; i += 2 {
				switch c.s(i) {
				case "TE", "PH":
					ct.Phone = c.s(i + 1)
				case "EM":
					ct.Email = c.s(i + 1)
				}
			}
			c.cur.Contacts = append(c.cur.Contacts, ct)
		}
	default:
		return false
	}
	return true
}

func (c *inCtx) addr() *canonical.Address {
	if c.cur.Address == nil {
		c.cur.Address = &canonical.Address{}
	}
	return c.cur.Address
}

// FromX12 reads X12 from in and maps every transaction set to a canonical
// document, handing good documents to o.Emit in input order. A set that
// cannot be mapped is quarantined (or, with the Reject policy, rejects the
// file and stops mapping); the Outcome says which. The error is non-nil
// only when reading or Emit failed, or ctx was cancelled.
//
// Memory is bounded by the largest transaction set, not by the file.
// Envelopes are not checked here: run x12.Checker first (the processing
// job does) so that an interchange it rejects is never mapped.
func FromX12(ctx context.Context, in io.Reader, o Options) (*Outcome, error) {
	p := o.profile()
	if o.MaxQuarantined <= 0 {
		o.MaxQuarantined = 1000
	}
	out := &Outcome{Partner: p.Partner, Policy: p.Policy.String()}
	br := iobuf.NewReader(in, 4096, 64<<10) // bareDelimiters peeks 4096
	r := x12.NewReader(br)
	if d, ok := bareDelimiters(br.Reader); ok {
		r.Delimiters = d
	}
	c := &inCtx{p: p, r: r}
	var (
		set   setIn
		inSet bool
		n     int
	)
	closeSet := func() error {
		inSet = false
		c.seg = nil // errors found at the end point at the set, not at its SE
		doc := set.finish(c)
		if len(c.errs) == 0 && doc != nil {
			h := doc.Head()
			src := c.src
			h.Source = &src
			applyDefaults(c.p, doc)
			out.Documents++
			if o.Emit != nil {
				return o.Emit(doc)
			}
			return nil
		}
		return quarantine(c, out, &o)
	}
	for {
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		seg, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *x12.ParseError
			if !errors.As(err, &pe) {
				return out, fmt.Errorf("mapping: read x12: %w", err)
			}
			c.seg = nil
			doc := c.doc
			if !inSet {
				doc = "file"
			}
			e := &Error{Partner: c.p.Partner, Document: doc, Pos: Position{Interchange: pe.Interchange, Group: pe.Group,
				Set: pe.Set, Segment: pe.Segment, SetPosition: pe.Position, SegmentID: pe.SegmentID, Element: pe.Element,
				Offset: pe.Offset}, Err: fmt.Errorf("%w: %w", ErrInput, pe.Err)}
			if errors.Is(err, x12.ErrNoISA) || errors.Is(err, x12.ErrBadDelimiters) {
				out.Errors++
				out.Rejected = true
				if o.OnError != nil {
					o.OnError(e)
				}
				return out, nil
			}
			if inSet {
				c.errs = append(c.errs, e)
				continue
			}
			out.Errors++
			if o.OnError != nil {
				o.OnError(e)
			}
			if c.p.Policy == Reject {
				out.Rejected = true
				return out, nil
			}
			continue
		}
		c.seg, c.str = seg, ""
		id := seg.ID()
		switch string(id) {
		case "ISA":
			if o.ProfileFor != nil {
				c.p = p
				if ip := o.ProfileFor(strings.TrimSpace(string(seg.Element(5))), strings.TrimSpace(string(seg.Element(6)))); ip != nil {
					c.p = ip
				}
				if out.Partner == "" {
					out.Partner, out.Policy = c.p.Partner, c.p.Policy.String()
				}
			}
			c.src = canonical.Source{Format: "x12", Partner: c.p.Partner,
				Sender:      strings.TrimSpace(string(seg.Element(5))) + ":" + strings.TrimSpace(string(seg.Element(6))),
				Receiver:    strings.TrimSpace(string(seg.Element(7))) + ":" + strings.TrimSpace(string(seg.Element(8))),
				Interchange: strings.TrimSpace(string(seg.Element(13)))}
			if strings.TrimSpace(string(seg.Element(15))) == "T" {
				c.src.Usage = "T" // production stays unmarked
			}
			continue
		case "GS":
			c.src.Group, c.src.Version = string(seg.Element(6)), string(seg.Element(8))
			continue
		case "GE", "IEA", "TA1":
			continue
		case "ST":
			if inSet {
				c.fail("", 0, fmt.Errorf("%w: ST before the SE of set %s", ErrInput, c.src.Set))
				if err := closeSet(); err != nil || out.Rejected {
					return out, err
				}
			}
			c.src.SetID, c.src.Set, c.src.Offset = string(seg.Element(1)), string(seg.Element(2)), seg.Offset
			c.doc = c.src.SetID + " " + c.src.Set
			c.errs, c.cur = c.errs[:0], nil
			inSet = true
			if mk, ok := inMaps[c.src.SetID]; ok {
				set = mk()
			} else {
				set = &unsupported{}
				c.fail("", 1, fmt.Errorf("%w: transaction set %s (maps exist for %s)", ErrUnsupported, c.src.SetID, strings.Join(InboundSets(), ", ")))
			}
			continue
		case "SE":
			if !inSet {
				continue
			}
			if err := closeSet(); err != nil || out.Rejected {
				return out, err
			}
			continue
		}
		if inSet {
			set.segment(c, string(id))
		}
	}
	if inSet {
		c.seg = nil
		c.fail("", 0, fmt.Errorf("%w: set %s has no SE", ErrInput, c.src.Set))
		if err := closeSet(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// bareDelimiters detects a transaction set sent without ISA/GS envelopes
// ("ST*204*0001~..."): the element separator follows "ST", the segment
// terminator is '~' when the input has one, otherwise a line break.
func bareDelimiters(br *bufio.Reader) (x12.Delimiters, bool) {
	b, _ := br.Peek(4096)
	b = bytes.TrimLeft(b, " \t\r\n\ufeff")
	if len(b) < 4 || b[0] != 'S' || b[1] != 'T' || isAlnum(b[2]) {
		return x12.Delimiters{}, false
	}
	d := x12.Delimiters{Element: b[2], Component: '>', Segment: '\n'}
	if bytes.IndexByte(b, '~') >= 0 && b[2] != '~' {
		d.Segment = '~'
	}
	return d, true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

func quarantine(c *inCtx, out *Outcome, o *Options) error {
	out.Errors += len(c.errs)
	if o.OnError != nil {
		for _, e := range c.errs {
			o.OnError(e)
		}
	}
	if len(out.Quarantined) < o.MaxQuarantined {
		pos := Position{Interchange: c.src.Interchange, Group: c.src.Group, Set: c.src.Set, SetID: c.src.SetID, Offset: c.src.Offset}
		out.Quarantined = append(out.Quarantined, Quarantined{Document: c.doc, Pos: pos, Errors: append([]*Error(nil), c.errs...)})
	}
	if c.p.Policy == Reject {
		out.Rejected = true
	}
	return nil
}

type unsupported struct{}

func (unsupported) segment(*inCtx, string)           {}
func (unsupported) finish(*inCtx) canonical.Document { return nil }
