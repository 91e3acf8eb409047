package x12

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Status is the disposition of an interchange, group or transaction set,
// using the X12 codes of TA104, AK501/IK501 and AK901.
type Status byte

const (
	Accepted           Status = 'A' // no error
	AcceptedWithErrors Status = 'E' // accepted, errors noted (warnings)
	Partial            Status = 'P' // group only: some sets rejected
	Rejected           Status = 'R'
)

func (s Status) String() string {
	switch s {
	case Accepted:
		return "accepted"
	case AcceptedWithErrors:
		return "accepted with errors"
	case Partial:
		return "partially accepted"
	case Rejected:
		return "rejected"
	}
	return "unknown"
}

// MarshalText writes the status as its X12 code.
func (s Status) MarshalText() ([]byte, error) { return []byte{byte(s)}, nil }

// An Issue is one problem found, with its position. Warning issues do not
// change a disposition to rejected.
type Issue struct {
	Warning bool
	Code    string // the X12 code reported for it (TA105, AK905, AK502, AK304 or AK403), if any
	*ParseError
}

func (i Issue) String() string {
	lvl := "error"
	if i.Warning {
		lvl = "warning"
	}
	s := lvl + ": " + i.ParseError.Error()
	if i.Code != "" {
		s += " [code " + i.Code + "]"
	}
	return s
}

// Interchange is the result of checking one ISA..IEA envelope.
type Interchange struct {
	AuthQual, Auth, SecurityQual, Security string // ISA01-ISA04
	SenderQual, SenderID                   string // ISA05, ISA06 (trimmed)
	ReceiverQual, ReceiverID               string // ISA07, ISA08 (trimmed)
	Date, Time                             string // ISA09, ISA10
	Standards                              string // ISA11
	Version                                string // ISA12
	Control                                string // ISA13
	AckRequested                           bool   // ISA14 = 1
	Usage                                  string // ISA15
	Delimiters                             Delimiters
	Offset                                 int64

	Status     Status
	Notes      []string // TA1 note codes (I18); the first is sent in TA105
	Issues     []Issue
	Groups     []*Group // empty when Checker.Discard is set
	GroupCount int      // groups received
	Duplicate  bool     // ISA13 already seen from this sender (note 025)
}

// NeedsTA1 reports whether a receiver sends a TA1 for the interchange: when
// its envelope is in error or ISA14 asks for one.
func (ic *Interchange) NeedsTA1() bool { return ic.AckRequested || len(ic.Notes) > 0 }

// Group is the result of checking one GS..GE functional group.
type Group struct {
	Interchange  *Interchange
	FunctionalID string // GS01
	Sender       string // GS02
	Receiver     string // GS03
	Date, Time   string // GS04, GS05
	Control      string // GS06
	Agency       string // GS07
	Version      string // GS08
	Declared     int    // GE01, -1 without GE
	Received     int    // transaction sets counted
	AcceptedSets int    // sets accepted (with or without errors)

	Status Status
	Codes  []string // AK905.. error codes
	Issues []Issue
	Sets   []*Set // empty when Checker.Discard is set
}

// IsAck reports whether the group holds acknowledgments (GS01 FA), which
// are never acknowledged.
func (g *Group) IsAck() bool { return g.FunctionalID == "FA" }

// Set is the result of checking one ST..SE transaction set.
type Set struct {
	Group     *Group
	ID        string // ST01
	Control   string // ST02
	Reference string // ST03 implementation convention
	Segments  int    // segments counted, ST and SE included
	Offset    int64
	Schema    string // name of the schema used, "" when none
	Key       string // business key (e.g. the shipment ID in B204), when the schema names one
	KeyRef    string // where Key came from, e.g. "B204"

	Status Status
	Codes  []string // AK502.. codes
	Errors []SegmentError
	Issues []Issue
}

// SegmentError is one AK3/IK3 loop of a 997/999.
type SegmentError struct {
	ID       string         `json:"segment_id"`     // AK301 segment ID
	Position int            `json:"position"`       // AK302 position in the set (ST = 1)
	Loop     string         `json:"loop,omitempty"` // AK303 loop identifier
	Code     string         `json:"code"`           // AK304 (720/620)
	Elements []ElementError `json:"elements,omitempty"`
	Warning  bool           `json:"warning,omitempty"`
}

// Describe says what is wrong with the segment in words, with the AK304
// and AK403 codes, e.g. "segment has data element errors [code 8];
// element 16: too many data elements [code 3]", as `wharf x12 validate` and
// a rejected message's history show it.
func (e SegmentError) Describe() string {
	s := segmentCodeText[e.Code] + " [code " + e.Code + "]"
	for _, el := range e.Elements {
		s += fmt.Sprintf("; element %d", el.Position)
		if el.Ref != "" {
			s += " (" + el.Ref + ")"
		}
		s += ": " + elementCodeText[el.Code] + " [code " + el.Code + "]"
		if el.Copy != "" {
			s += fmt.Sprintf(" %q", el.Copy)
		}
	}
	return s
}

// Explain says where in the set a segment error is and what it is, as
// `wharf x12 validate` prints it: "error: interchange 000000001, group 1,
// set 0001 (940), segment W01 at position 13: segment has data element
// errors [code 8]; ...", "warning: ..." for one that does not reject.
func (s *Set) Explain(e SegmentError) string {
	sev := "error"
	if e.Warning {
		sev = "warning"
	}
	return fmt.Sprintf("%s: interchange %s, group %s, set %s (%s), segment %s at position %d: %s",
		sev, s.Group.Interchange.Control, s.Group.Control, s.Control, s.ID, e.ID, e.Position, e.Describe())
}

// The meaning of the segment (AK304/IK304) and element (AK403/IK403) error codes.
var (
	segmentCodeText = map[string]string{
		"1": "unrecognized segment ID", "2": "unexpected segment", "3": "mandatory segment missing",
		"4": "loop occurs over maximum times", "5": "segment exceeds maximum use", "6": "segment not in defined transaction set",
		"7": "segment not in proper sequence", "8": "segment has data element errors",
	}
	elementCodeText = map[string]string{
		"1": "mandatory data element missing", "2": "conditional required data element missing", "3": "too many data elements",
		"4": "data element too short", "5": "data element too long", "6": "invalid character in data element",
		"7": "invalid code value", "8": "invalid date", "9": "invalid time", "10": "exclusion condition violated",
		"12": "too many repetitions", "13": "too many components",
	}
)

// ElementError is one AK4/IK4.
type ElementError struct {
	Position   int    `json:"position"`             // AK401-1
	Component  int    `json:"component,omitempty"`  // AK401-2, 0 when not a composite
	Repetition int    `json:"repetition,omitempty"` // AK401-3, 0 when not repeated
	Ref        string `json:"ref,omitempty"`        // AK402 data element reference number
	Code       string `json:"code"`                 // AK403 (723/621)
	Copy       string `json:"copy,omitempty"`       // AK404 copy of the bad data
	Warning    bool   `json:"warning,omitempty"`
}

// Report is the result of checking a whole input.
type Report struct {
	Interchanges []*Interchange // empty when Checker.Discard is set
	Issues       []Issue        // problems outside any interchange
	Rejected     bool           // something in the input was rejected
	Warnings     bool           // something was accepted with warnings
	Count        struct{ Interchanges, Groups, Sets, Segments int64 }
}

// InterchangeSeen tells whether an interchange control number was already
// received from a sender. The store implements it; Checker calls it once
// per interchange. Implementations must be safe for concurrent use and
// should record the interchange as seen.
type InterchangeSeen interface {
	SeenInterchange(ctx context.Context, p *SeenInterchangeParams) (bool, error)
}

// SeenInterchangeParams identifies a received interchange for
// InterchangeSeen.SeenInterchange.
type SeenInterchangeParams struct {
	// SenderQual is the sender's interchange ID qualifier (ISA05).
	SenderQual string
	// SenderID is the sender's interchange ID (ISA06).
	SenderID string
	// Control is the interchange control number (ISA13).
	Control string
	// Within is the duplicate window (Checker.DuplicateWindow, 30 days by
	// default): the same interchange received longer ago is not a duplicate.
	Within time.Duration
}

// Checker checks envelopes and, with schemas, transaction set syntax.
// Set its fields before calling Check; a Checker may be reused but not
// concurrently.
type Checker struct {
	// Schemas used for transaction sets; nil means DefaultSchemas(). Sets
	// with no schema get envelope checks only (and a warning).
	Schemas *Schemas
	// Strict turns length, character and code-list warnings into errors,
	// and rejects a 1-3 character ST02 (AK5 7) that is otherwise a warning.
	Strict bool
	// Seen, if set, detects repeated ISA13 from the same sender within
	// DuplicateWindow (default 30 days).
	Seen            InterchangeSeen
	DuplicateWindow time.Duration
	// Discard drops sets, groups and interchanges from the results once
	// their callbacks ran, so memory stays constant on inputs of any size.
	// With Discard, the *Set given to OnSet is reused for the next set:
	// copy what you keep.
	Discard bool
	// Callbacks, run as each set, group and interchange closes.
	OnSet         func(*Set)
	OnGroup       func(*Group)
	OnInterchange func(*Interchange)
	// MaxIssues bounds the issues kept per set (default 100).
	MaxIssues int
}

type checkState struct {
	c      *Checker
	r      *Reader
	rep    *Report
	ic     *Interchange
	g      *Group
	st     *Set
	sv     *setValidator
	ctrls  ctrlSet
	seenIC map[string]bool
	gctl   map[string]bool

	svBuf           setValidator // reused for every set
	setBuf          Set          // reused for every set with Discard
	lastSetID       string       // ST01 of the last set, shared
	lastID, lastVer string       // cache of the last schema lookup
	lastSchema      *Schema
}

// Check reads r to the end and checks everything in it.
func (c *Checker) Check(ctx context.Context, r *Reader) (*Report, error) {
	s := &checkState{c: c, r: r, rep: &Report{}, seenIC: map[string]bool{}}
	if c.Schemas == nil {
		c.Schemas = DefaultSchemas()
	}
	prevWarn := r.OnWarning
	r.OnWarning = func(e *ParseError) {
		if prevWarn != nil {
			prevWarn(e)
		}
		s.issue(Issue{Warning: true, ParseError: e})
	}
	defer func() { r.OnWarning = prevWarn }()
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return s.rep, err
			}
		}
		seg, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				return s.rep, err
			}
			switch {
			case errors.Is(err, ErrSegmentTooLong) && s.st != nil:
				s.setErr(Issue{ParseError: pe, Code: "5"}, "5")
				continue
			case errors.Is(err, ErrBadISA), errors.Is(err, ErrBadDelimiters):
				s.closeInterchange(pe)
				code := "022"
				if errors.Is(err, ErrBadDelimiters) {
					code = "026"
				}
				s.rep.Issues = append(s.rep.Issues, Issue{ParseError: pe, Code: code})
				s.rep.Rejected = true
				continue
			default:
				s.issue(Issue{ParseError: pe})
				if errors.Is(err, ErrNoISA) {
					s.rep.Rejected = true
					break
				}
				continue
			}
			break
		}
		s.rep.Count.Segments++
		if st := s.st; st != nil && s.sv != nil && inSet(seg.ID()) {
			st.Segments++ // as segment does, without the call
			s.sv.segment(s, seg, st.Segments)
			continue
		}
		if err := s.segment(ctx, seg); err != nil {
			return s.rep, err
		}
	}
	s.closeInterchange(nil)
	return s.rep, nil
}

func (s *checkState) maxIssues() int {
	if s.c.MaxIssues > 0 {
		return s.c.MaxIssues
	}
	return 100
}

// issue files an issue at the innermost open level.
func (s *checkState) issue(is Issue) {
	switch {
	case s.st != nil:
		if len(s.st.Issues) < s.maxIssues() {
			s.st.Issues = append(s.st.Issues, is)
		}
	case s.g != nil:
		s.g.Issues = append(s.g.Issues, is)
	case s.ic != nil:
		s.ic.Issues = append(s.ic.Issues, is)
	default:
		s.rep.Issues = append(s.rep.Issues, is)
		if is.Warning {
			s.rep.Warnings = true
		}
	}
}

func (s *checkState) perr(elem int, err error) *ParseError { return s.r.Errorf(elem, err) }

// note records a TA1 note on the interchange; reject makes it rejected.
func (s *checkState) note(code string, reject bool, pe *ParseError) {
	ic := s.ic
	ic.Notes = append(ic.Notes, code)
	ic.Issues = append(ic.Issues, Issue{Code: code, ParseError: pe})
	if reject {
		ic.Status = Rejected
	} else if ic.Status == Accepted {
		ic.Status = AcceptedWithErrors
	}
}

func (s *checkState) groupErr(code string, pe *ParseError) {
	g := s.g
	g.Codes = appendCode(g.Codes, code)
	g.Issues = append(g.Issues, Issue{Code: code, ParseError: pe})
	g.Status = Rejected
}

func (s *checkState) setErr(is Issue, code string) {
	st := s.st
	st.Codes = appendCode(st.Codes, code)
	if len(st.Issues) < s.maxIssues() {
		st.Issues = append(st.Issues, is)
	}
	st.Status = Rejected
}

func appendCode(codes []string, c string) []string {
	for _, x := range codes {
		if x == c {
			return codes
		}
	}
	return append(codes, c)
}

func (s *checkState) segment(ctx context.Context, seg *Segment) error {
	id := seg.ID()
	// Fast path: a segment inside a set that is not an envelope segment.
	if s.st != nil && inSet(id) {
		s.st.Segments++
		if s.sv != nil {
			s.sv.segment(s, seg, s.st.Segments)
		}
		return nil
	}
	switch string(id) {
	case "ISA":
		if s.ic != nil {
			s.closeInterchange(s.perr(0, wrapf(ErrMissingTrailer, "IEA missing before next ISA")))
		}
		return s.openInterchange(ctx, seg)
	case "IEA":
		if s.ic == nil {
			s.issue(Issue{ParseError: s.perr(0, wrapf(ErrUnexpectedSegment, "IEA outside an interchange"))})
			s.rep.Rejected = true
			return nil
		}
		if s.g != nil {
			s.closeGroup(s.perr(0, wrapf(ErrMissingTrailer, "GE missing before IEA")))
		}
		ic := s.ic
		if n, ok := atoi(seg.Element(1)); !ok || n != ic.GroupCount {
			s.note("021", true, s.perr(1, wrapf(ErrCountMismatch, "IEA01 is %q, %d groups counted", seg.Element(1), ic.GroupCount)))
		}
		if string(trimSpace(seg.Element(2))) != ic.Control {
			s.note("001", true, s.perr(2, wrapf(ErrControlMismatch, "IEA02 %q does not match ISA13 %q", seg.Element(2), ic.Control)))
		}
		s.finishInterchange()
		return nil
	}
	if s.ic == nil {
		s.issue(Issue{ParseError: s.perr(0, wrapf(ErrUnexpectedSegment, "%s outside an interchange", id))})
		s.rep.Rejected = true
		return nil
	}
	switch string(id) {
	case "GS":
		if s.g != nil {
			s.closeGroup(s.perr(0, wrapf(ErrMissingTrailer, "GE missing before next GS")))
		}
		s.openGroup(seg)
		return nil
	case "GE":
		if s.g == nil {
			s.note("024", true, s.perr(0, wrapf(ErrUnexpectedSegment, "GE without GS")))
			return nil
		}
		if s.st != nil {
			s.closeSet(s.perr(0, wrapf(ErrMissingTrailer, "SE missing before GE")))
		}
		g := s.g
		n, ok := atoi(seg.Element(1))
		g.Declared = n
		if !ok || n != g.Received {
			s.groupErr("5", s.perr(1, wrapf(ErrCountMismatch, "GE01 is %q, %d transaction sets counted", seg.Element(1), g.Received)))
		}
		if string(trimSpace(seg.Element(2))) != g.Control {
			s.groupErr("4", s.perr(2, wrapf(ErrControlMismatch, "GE02 %q does not match GS06 %q", seg.Element(2), g.Control)))
		}
		s.finishGroup()
		return nil
	}
	if s.g == nil {
		s.note("024", true, s.perr(0, wrapf(ErrUnexpectedSegment, "%s outside a functional group", id)))
		return nil
	}
	switch string(id) {
	case "ST":
		if s.st != nil {
			s.closeSet(s.perr(0, wrapf(ErrMissingTrailer, "SE missing before next ST")))
		}
		s.openSet(seg)
		return nil
	case "SE":
		if s.st == nil {
			s.groupErr("", s.perr(0, wrapf(ErrUnexpectedSegment, "SE without ST")))
			return nil
		}
		st := s.st
		st.Segments++
		if n, ok := atoi(seg.Element(1)); !ok || n != st.Segments {
			s.setErr(Issue{Code: "4", ParseError: s.perr(1, wrapf(ErrCountMismatch, "SE01 is %q, %d segments counted", seg.Element(1), st.Segments))}, "4")
		}
		if string(seg.Element(2)) != st.Control {
			s.setErr(Issue{Code: "3", ParseError: s.perr(2, wrapf(ErrControlMismatch, "SE02 %q does not match ST02 %q", seg.Element(2), st.Control))}, "3")
		}
		if s.sv != nil {
			s.sv.finish(s, st.Segments)
		}
		s.finishSet()
		return nil
	}
	if s.st == nil {
		s.groupErr("", s.perr(0, wrapf(ErrUnexpectedSegment, "%s outside a transaction set", id)))
		return nil
	}
	s.st.Segments++
	if s.sv != nil {
		s.sv.segment(s, seg, s.st.Segments)
	}
	return nil
}

// inSet reports whether a segment with this ID, inside a transaction set,
// goes straight to the set's validator: it is not empty, not two
// characters G or S then E, S or T, and not three starting with I. The
// envelope segments (ISA, IEA, GS, GE, ST, SE) and a few others go through
// segment's envelope handling, which validates the others as well.
func inSet(id []byte) bool {
	return len(id) > 0 && (len(id) != 2 || id[0] != 'S' && id[0] != 'G' || id[1] != 'E' && id[1] != 'T' && id[1] != 'S') && !(len(id) == 3 && id[0] == 'I')
}

func (s *checkState) openInterchange(ctx context.Context, seg *Segment) error {
	str := func(i int) string { return string(trimSpace(seg.Element(i))) }
	ic := &Interchange{
		AuthQual: str(1), Auth: str(2), SecurityQual: str(3), Security: str(4),
		SenderQual: str(5), SenderID: str(6), ReceiverQual: str(7), ReceiverID: str(8),
		Date: str(9), Time: str(10), Standards: string(seg.Element(11)), Version: str(12),
		Control: str(13), AckRequested: str(14) == "1", Usage: str(15),
		Delimiters: seg.Delimiters(), Offset: seg.Offset, Status: Accepted,
	}
	s.ic = ic
	s.gctl = map[string]bool{}
	s.rep.Count.Interchanges++
	// Warnings the reader gave for this ISA arrived before s.ic existed.
	if n := len(s.rep.Issues); n > 0 {
		k := n
		for k > 0 && s.rep.Issues[k-1].Warning && s.rep.Issues[k-1].Offset == seg.Offset {
			k--
		}
		ic.Issues = append(ic.Issues, s.rep.Issues[k:]...)
		s.rep.Issues = s.rep.Issues[:k]
	}
	e := func(i int, code string, reject bool, format string, args ...any) {
		s.note(code, reject, s.perr(i, wrapf(ErrBadValue, format, args...)))
	}
	w := func(i int, format string, args ...any) {
		ic.Issues = append(ic.Issues, Issue{Warning: true, ParseError: s.perr(i, wrapf(ErrBadValue, format, args...))})
	}
	checkLen := func(i, n int, code string) {
		v := seg.Element(i)
		if len(v) > n {
			if len(trimSpace(v)) > n {
				w(i, "ISA%02d %q longer than %d", i, v, n)
			}
		}
		if code != "" && len(trimSpace(v)) == 0 && (i == 6 || i == 8) {
			e(i, code, true, "ISA%02d is empty", i)
		}
	}
	for i, n := range [...]int{0, 2, 10, 2, 10, 2, 15, 2, 15} {
		if i > 0 {
			codes := [...]string{"", "010", "011", "012", "013", "005", "006", "007", "008"}
			checkLen(i, n, codes[i])
		}
	}
	for _, q := range [...]struct {
		i    int
		code string
	}{{1, "010"}, {3, "012"}, {5, "005"}, {7, "007"}} {
		i, code := q.i, q.code
		if v := trimSpace(seg.Element(i)); len(v) != 2 || !isAlnum(v[0]) || !isAlnum(v[1]) {
			e(i, code, false, "ISA%02d qualifier %q is not 2 characters", i, v)
		}
	}
	if !validDate(seg.Element(9), false) {
		e(9, "014", false, "ISA09 date %q is not YYMMDD", seg.Element(9))
	}
	if !validTime(seg.Element(10)) {
		e(10, "015", false, "ISA10 time %q is not HHMM", seg.Element(10))
	}
	ver := ic.Version
	switch {
	case len(ver) != 5 || !allDigits([]byte(ver)):
		e(12, "017", true, "ISA12 version %q is not 5 digits", ver)
	case ver < "00200" || ver > "00899":
		e(12, "003", true, "control version %s is not supported", ver)
	}
	if ver < "00402" && ic.Standards != "U" {
		e(11, "016", false, "ISA11 %q must be U before version 00402", ic.Standards)
	}
	if c := seg.Element(13); len(c) != 9 || !allDigits(c) {
		if len(trimSpace(c)) > 0 && len(trimSpace(c)) <= 9 && allDigits(trimSpace(c)) {
			w(13, "ISA13 %q is not 9 digits", c)
		} else {
			e(13, "018", true, "ISA13 control number %q is not numeric", c)
		}
	}
	if v := str(14); v != "0" && v != "1" {
		e(14, "019", false, "ISA14 %q is not 0 or 1", v)
	}
	if v := str(15); v != "P" && v != "T" && v != "I" {
		e(15, "020", false, "ISA15 usage %q is not P or T", v)
	}
	key := ic.SenderQual + "\x00" + ic.SenderID + "\x00" + ic.Control
	dup := s.seenIC[key]
	s.seenIC[key] = true
	if !dup && s.c.Seen != nil {
		win := s.c.DuplicateWindow
		if win <= 0 {
			win = 30 * 24 * time.Hour
		}
		var err error
		dup, err = s.c.Seen.SeenInterchange(ctx, &SeenInterchangeParams{SenderQual: ic.SenderQual, SenderID: ic.SenderID, Control: ic.Control, Within: win})
		if err != nil {
			return fmt.Errorf("x12: duplicate check: %w", err)
		}
	}
	if dup {
		ic.Duplicate = true
		s.note("025", true, s.perr(13, wrapf(ErrDuplicateControl, "interchange %s from %s:%s already received", ic.Control, ic.SenderQual, ic.SenderID)))
	}
	return nil
}

func (s *checkState) openGroup(seg *Segment) {
	str := func(i int) string { return string(trimSpace(seg.Element(i))) }
	g := &Group{
		Interchange: s.ic, FunctionalID: str(1), Sender: str(2), Receiver: str(3),
		Date: str(4), Time: str(5), Control: str(6), Agency: str(7), Version: str(8),
		Declared: -1, Status: Accepted,
	}
	s.g = g
	s.ic.GroupCount++
	s.rep.Count.Groups++
	s.ctrls.reset()
	if c := seg.Element(6); len(c) == 0 || len(c) > 9 || !allDigits(c) {
		s.groupErr("6", s.perr(6, wrapf(ErrBadValue, "GS06 control number %q is not 1-9 digits", c)))
	}
	if s.gctl[g.Control] {
		s.note("024", false, s.perr(6, wrapf(ErrDuplicateControl, "group control number %s repeated in interchange", g.Control)))
	}
	s.gctl[g.Control] = true
	if len(g.FunctionalID) != 2 {
		s.note("024", false, s.perr(1, wrapf(ErrBadValue, "GS01 %q is not a functional identifier code", g.FunctionalID)))
	}
	if seg.Len() < 9 || len(g.Version) < 6 {
		s.note("024", false, s.perr(8, wrapf(ErrBadValue, "GS08 version %q", g.Version)))
	}
	if !validDate(seg.Element(4), true) {
		s.note("024", false, s.perr(4, wrapf(ErrBadValue, "GS04 date %q", seg.Element(4))))
	}
	if !validTime(seg.Element(5)) {
		s.note("024", false, s.perr(5, wrapf(ErrBadValue, "GS05 time %q", seg.Element(5))))
	}
}

func (s *checkState) openSet(seg *Segment) {
	g := s.g
	var st *Set
	if s.c.Discard {
		st = &s.setBuf
		*st = Set{Issues: st.Issues[:0], Errors: st.Errors[:0], Codes: st.Codes[:0]}
	} else {
		st = &Set{}
	}
	id := seg.Element(1)
	if string(id) != s.lastSetID {
		s.lastSetID = string(id)
	}
	st.Group, st.ID, st.Control, st.Segments, st.Offset, st.Status = g, s.lastSetID, string(seg.Element(2)), 1, seg.Offset, Accepted
	if ref := seg.Element(3); len(ref) > 0 {
		st.Reference = string(ref)
	}
	s.st = st
	g.Received++
	s.rep.Count.Sets++
	if len(st.ID) != 3 || !allDigits([]byte(st.ID)) {
		s.setErr(Issue{Code: "6", ParseError: s.perr(1, wrapf(ErrBadValue, "ST01 %q is not a transaction set identifier", st.ID))}, "6")
	}
	switch n := len(st.Control); {
	case n >= 1 && n < 4 && !s.c.Strict:
		// Real carriers send 3-character ST02s: a length problem, so a
		// warning unless strict, like element lengths (AK2 echoes it).
		st.Issues = append(st.Issues, Issue{Warning: true, Code: "7", ParseError: s.perr(2, wrapf(ErrBadValue, "ST02 %q is shorter than 4 characters", st.Control))})
	case n < 4 || n > 9:
		s.setErr(Issue{Code: "7", ParseError: s.perr(2, wrapf(ErrBadValue, "ST02 %q is not 4-9 characters", st.Control))}, "7")
	}
	if !s.ctrls.add(st.Control) {
		s.setErr(Issue{Code: "23", ParseError: s.perr(2, wrapf(ErrDuplicateControl, "ST02 %s repeated in group %s", st.Control, g.Control))}, "23")
		g.Codes = appendCode(g.Codes, "23")
	}
	s.sv = nil
	if s.lastID != st.ID || s.lastVer != g.Version {
		s.lastID, s.lastVer = st.ID, g.Version
		s.lastSchema = s.c.Schemas.Lookup(st.ID, g.Version)
	}
	if sc := s.lastSchema; sc != nil {
		st.Schema = sc.Name
		s.svBuf.reset(sc, s.c.Strict)
		s.sv = &s.svBuf
	} else {
		st.Issues = append(st.Issues, Issue{Warning: true, ParseError: s.perr(1, wrapf(ErrUnsupported, "no schema for %s version %s: envelope checked only", st.ID, g.Version))})
	}
}

func (s *checkState) closeSet(pe *ParseError) {
	if s.st == nil {
		return
	}
	pe.SegmentID = s.st.ID
	s.setErr(Issue{Code: "2", ParseError: pe}, "2")
	s.finishSet()
}

func (s *checkState) finishSet() {
	st := s.st
	for _, e := range st.Errors {
		if !e.Warning {
			st.Status = Rejected
			st.Codes = appendCode(st.Codes, "5")
			break
		}
	}
	if st.Status == Accepted {
		for _, is := range st.Issues {
			if is.Warning {
				st.Status = AcceptedWithErrors
				break
			}
		}
		if len(st.Errors) > 0 {
			st.Status = AcceptedWithErrors
		}
	}
	if st.Status != Rejected {
		s.g.AcceptedSets++
	}
	if st.Status == Rejected {
		s.rep.Rejected = true
	} else if st.Status == AcceptedWithErrors {
		s.rep.Warnings = true
	}
	if !s.c.Discard {
		s.g.Sets = append(s.g.Sets, st)
	}
	if s.c.OnSet != nil {
		s.c.OnSet(st)
	}
	s.st, s.sv = nil, nil
}

func (s *checkState) closeGroup(pe *ParseError) {
	if s.g == nil {
		return
	}
	if s.st != nil {
		s.closeSet(&ParseError{Offset: pe.Offset, Segment: pe.Segment, Interchange: pe.Interchange, Group: pe.Group, Set: s.r.ctl[2].String(), Err: wrapf(ErrMissingTrailer, "SE missing")})
	}
	s.groupErr("3", pe)
	s.finishGroup()
}

func (s *checkState) finishGroup() {
	g := s.g
	if g.Status != Rejected {
		switch {
		case g.AcceptedSets == 0 && g.Received > 0:
			g.Status = Rejected
		case g.AcceptedSets < g.Received:
			g.Status = Partial
		}
	}
	if g.Status == Accepted {
		for _, st := range g.Sets {
			if st.Status == AcceptedWithErrors {
				g.Status = AcceptedWithErrors
			}
		}
		if len(g.Issues) > 0 {
			g.Status = AcceptedWithErrors
		}
	}
	if g.Status == Rejected || g.Status == Partial {
		s.rep.Rejected = true
	} else if g.Status == AcceptedWithErrors {
		s.rep.Warnings = true
	}
	if !s.c.Discard {
		s.ic.Groups = append(s.ic.Groups, g)
	}
	if s.c.OnGroup != nil {
		s.c.OnGroup(g)
	}
	s.g = nil
}

// closeInterchange ends an interchange that has no IEA (pe nil at end of input).
func (s *checkState) closeInterchange(pe *ParseError) {
	if s.ic == nil {
		return
	}
	if pe == nil {
		pe = &ParseError{Offset: s.r.InputOffset(), Segment: s.r.nseg, Interchange: s.ic.Control, Err: wrapf(ErrMissingTrailer, "IEA missing at end of input")}
	}
	s.closeGroup(&ParseError{Offset: pe.Offset, Segment: pe.Segment, Interchange: s.ic.Control, Group: s.r.ctl[1].String(), Err: wrapf(ErrMissingTrailer, "GE missing")})
	s.note("023", true, pe)
	s.finishInterchange()
}

func (s *checkState) finishInterchange() {
	ic := s.ic
	if ic.Status == Accepted {
		for _, is := range ic.Issues {
			if is.Warning {
				ic.Status = AcceptedWithErrors
			}
		}
	}
	if ic.Status == Rejected {
		s.rep.Rejected = true
	} else if ic.Status == AcceptedWithErrors {
		s.rep.Warnings = true
	}
	if !s.c.Discard {
		s.rep.Interchanges = append(s.rep.Interchanges, ic)
	}
	if s.c.OnInterchange != nil {
		s.c.OnInterchange(ic)
	}
	s.ic = nil
}

// ctrlSet detects repeated ST02 values in a group using 8 bytes per
// control number while senders count up (one comparison each), and a map
// once they do not.
type ctrlSet struct {
	nums []uint64
	seen map[uint64]struct{}
	str  map[string]struct{}
}

func (c *ctrlSet) reset() {
	c.nums = c.nums[:0]
	c.seen, c.str = nil, nil
}

func (c *ctrlSet) add(v string) bool {
	n, err := strconv.ParseUint(v, 10, 56)
	if err != nil {
		if c.str == nil {
			c.str = map[string]struct{}{}
		}
		if _, ok := c.str[v]; ok {
			return false
		}
		c.str[v] = struct{}{}
		return true
	}
	k := uint64(len(v))<<56 | n // "0001" and "1" are different numbers
	if c.seen == nil {
		if len(c.nums) == 0 || k > c.nums[len(c.nums)-1] {
			c.nums = append(c.nums, k)
			return true
		}
		c.seen = make(map[uint64]struct{}, len(c.nums))
		for _, x := range c.nums {
			c.seen[x] = struct{}{}
		}
	}
	if _, ok := c.seen[k]; ok {
		return false
	}
	c.seen[k] = struct{}{}
	return true
}

func atoi(b []byte) (int, bool) {
	b = trimSpace(b)
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// validDate accepts YYMMDD, and CCYYMMDD when long is allowed.
func validDate(b []byte, long bool) bool {
	if !allDigits(b) || !(len(b) == 6 || long && len(b) == 8) {
		return false
	}
	m, d := b[len(b)-4:len(b)-2], b[len(b)-2:]
	mm := int(m[0]-'0')*10 + int(m[1]-'0')
	dd := int(d[0]-'0')*10 + int(d[1]-'0')
	return mm >= 1 && mm <= 12 && dd >= 1 && dd <= 31
}

// validTime accepts HHMM, HHMMSS and HHMMSSD..D.
func validTime(b []byte) bool {
	if !allDigits(b) || len(b) < 4 || len(b) == 5 || len(b) > 8 {
		return false
	}
	hh := int(b[0]-'0')*10 + int(b[1]-'0')
	mm := int(b[2]-'0')*10 + int(b[3]-'0')
	if hh > 23 || mm > 59 {
		return false
	}
	if len(b) >= 6 {
		ss := int(b[4]-'0')*10 + int(b[5]-'0')
		return ss <= 59
	}
	return true
}
