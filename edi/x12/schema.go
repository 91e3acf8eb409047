package x12

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed schemas/*.txt
var schemaFS embed.FS

// Schemas is a set of transaction set schemas, read from text (see
// schemas/README.txt in the package source for the format).
type Schemas struct {
	sets  map[string]*Schema // "204/004010"
	segs  map[string]*SegmentDef
	codes map[string]*CodeList
	once  sync.Once
	ids   idTable
}

// idTable interns segment IDs (2-3 characters A-Z, 0-9) to small numbers
// so that validation finds a segment's definition by array index.
type idTable struct {
	slot [37 * 37 * 37 * 37]uint16 // by packed ID; 0 = unknown
	n    int
}

func packID(id []byte) int {
	if len(id) < 2 || len(id) > 3 {
		return -1
	}
	k := 0
	for _, c := range id {
		var v int
		switch {
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 1
		case c >= '0' && c <= '9':
			v = int(c-'0') + 27
		default:
			return -1
		}
		k = k*37 + v
	}
	return k
}

func (t *idTable) intern(id string) int {
	k := packID([]byte(id))
	if k < 0 {
		return 0
	}
	if t.slot[k] == 0 {
		t.n++
		t.slot[k] = uint16(t.n)
	}
	return int(t.slot[k])
}

func (t *idTable) lookup(id []byte) int {
	k := packID(id)
	if k < 0 {
		return 0
	}
	return int(t.slot[k])
}

// Schema describes one transaction set in one version.
type Schema struct {
	Name      string // e.g. "204/004010"
	ID        string // ST01
	Group     string // GS01 functional identifier
	Version   string // 6-character version/release, e.g. 004010
	Title     string
	Segments  []string // segment IDs allowed in the set, in document order
	Mandatory []string // segment IDs that must appear
	allowed   map[string]bool
	info      []segInfo // by interned segment ID
	s         *Schemas
}

// SegmentDef describes a segment's elements.
type SegmentDef struct {
	ID          string
	MaxElements int // 0: not known, not checked
	Elements    []ElementDef
}

// ElementDef describes one simple element.
type ElementDef struct {
	Ref      string // data element reference number
	Type     string // AN, ID, Nn, R, DT, TM, C (composite, not checked), B
	Min, Max int
	Req      byte // 'M' mandatory, 'O' optional, 'X' conditional

	kind  byte      // precomputed from Type: 'N', 'R', 'D', 'T', 'I', 'A', 'C'
	codes *CodeList // closed code list checked, nil if none
}

// CodeList is the code values of one data element. Mapping uses Codes'
// descriptions; validation checks values only of closed lists.
type CodeList struct {
	Ref    string
	Closed bool
	Codes  map[string]string
}

var (
	defaultOnce    sync.Once
	defaultSchemas *Schemas
	defaultErr     error
)

// DefaultSchemas returns the schemas embedded in the package (004010 and
// 005010 of 204, 210, 214, 846, 850, 856, 810, 940, 943, 944, 945, 947,
// 990, 997 and 999). It panics if they do not parse (a build defect).
func DefaultSchemas() *Schemas {
	defaultOnce.Do(func() {
		defaultSchemas, defaultErr = LoadSchemas(schemaFS)
	})
	if defaultErr != nil {
		panic(defaultErr)
	}
	return defaultSchemas
}

// LoadSchemas reads every *.txt file under schemas/ in fsys.
func LoadSchemas(fsys fs.FS) (*Schemas, error) {
	s := &Schemas{sets: map[string]*Schema{}, segs: map[string]*SegmentDef{}, codes: map[string]*CodeList{}}
	files, err := fs.Glob(fsys, "schemas/*.txt")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		if err := s.parse(f, b); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Schemas) parse(name string, b []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	var cur []*Schema
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.Index(text, "#"); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		bad := func(msg string) error { return fmt.Errorf("x12: schema %s:%d: %s", name, line, msg) }
		indented := text[0] == ' ' || text[0] == '\t'
		if indented {
			if cur == nil {
				return bad("segment list outside a set")
			}
			for _, id := range f {
				m := strings.HasPrefix(id, "!")
				id = strings.TrimPrefix(id, "!")
				for _, sch := range cur {
					sch.Segments = append(sch.Segments, id)
					sch.allowed[id] = true
					if m {
						sch.Mandatory = append(sch.Mandatory, id)
					}
				}
			}
			continue
		}
		cur = nil
		switch f[0] {
		case "set": // set ID GROUP VERSIONS TITLE...
			if len(f) < 4 {
				return bad("want: set ID GROUP VERSION[,VERSION] TITLE")
			}
			for _, v := range strings.Split(f[3], ",") {
				sch := &Schema{Name: f[1] + "/" + v, ID: f[1], Group: f[2], Version: v,
					Title: strings.Join(f[4:], " "), allowed: map[string]bool{}, s: s}
				s.sets[sch.Name] = sch
				cur = append(cur, sch)
			}
		case "seg": // seg ID MAX ELEMENT...
			if len(f) < 3 {
				return bad("want: seg ID MAX ELEMENT...")
			}
			max, err := strconv.Atoi(f[2])
			if err != nil {
				return bad("bad MAX")
			}
			d := &SegmentDef{ID: f[1], MaxElements: max}
			for _, e := range f[3:] {
				p := strings.Split(e, ":")
				if len(p) != 5 {
					return bad("element " + e + ": want REF:TYPE:MIN:MAX:REQ")
				}
				mn, err1 := strconv.Atoi(p[2])
				mx, err2 := strconv.Atoi(p[3])
				if err1 != nil || err2 != nil || len(p[4]) != 1 {
					return bad("element " + e)
				}
				d.Elements = append(d.Elements, ElementDef{Ref: p[0], Type: p[1], Min: mn, Max: mx, Req: p[4][0]})
			}
			s.segs[d.ID] = d
		case "codes": // codes REF open|closed CODE[=Description]...
			if len(f) < 3 || f[2] != "open" && f[2] != "closed" {
				return bad("want: codes REF open|closed CODE...")
			}
			cl := s.codes[f[1]]
			if cl == nil {
				cl = &CodeList{Ref: f[1], Codes: map[string]string{}}
				s.codes[f[1]] = cl
			}
			cl.Closed = f[2] == "closed"
			for _, c := range f[3:] {
				k, v, _ := strings.Cut(c, "=")
				cl.Codes[k] = strings.ReplaceAll(v, "_", " ")
			}
		default:
			return bad("unknown directive " + f[0])
		}
	}
	return sc.Err()
}

// Lookup returns the schema for transaction set id in the version of
// GS08 (its first 6 characters), or nil.
func (s *Schemas) Lookup(id, version string) *Schema {
	if len(version) > 6 {
		version = version[:6]
	}
	return s.sets[id+"/"+version]
}

// Segment returns the definition of a segment, or nil.
func (s *Schemas) Segment(id string) *SegmentDef { return s.segs[id] }

// Codes returns the code list of a data element, or nil.
func (s *Schemas) Codes(ref string) *CodeList { return s.codes[ref] }

// Names lists the schemas loaded, sorted.
func (s *Schemas) Names() []string {
	var n []string
	for k := range s.sets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// segInfo is what validation needs per segment ID of a set, found by
// array index.
type segInfo struct {
	def   *SegmentDef
	mand  int // index in Mandatory, -1 if optional
	known bool
}

type setValidator struct {
	sch    *Schema
	strict bool
	seen   []bool // by index in Mandatory
}

// reset reuses v for a new set of schema sch.
func (v *setValidator) reset(sch *Schema, strict bool) {
	if sch.info == nil {
		sch.s.once.Do(sch.s.index)
	}
	v.sch, v.strict = sch, strict
	if cap(v.seen) >= len(sch.Mandatory) {
		v.seen = v.seen[:len(sch.Mandatory)]
		clear(v.seen)
	} else {
		v.seen = make([]bool, len(sch.Mandatory))
	}
}

func (s *Schemas) index() {
	for _, d := range s.segs {
		s.ids.intern(d.ID)
		for i := range d.Elements {
			e := &d.Elements[i]
			switch {
			case e.Type == "R":
				e.kind = 'R'
			case e.Type[0] == 'N':
				e.kind = 'N'
			case e.Type == "DT":
				e.kind = 'D'
			case e.Type == "TM":
				e.kind = 'T'
			case e.Type == "ID":
				e.kind = 'I'
				if cl := s.codes[e.Ref]; cl != nil && cl.Closed {
					e.codes = cl
				}
			case e.Type == "C" || e.Type == "B":
				e.kind = 'C'
			default:
				e.kind = 'A'
			}
		}
	}
	for _, sch := range s.sets {
		for _, id := range sch.Segments {
			s.ids.intern(id)
		}
	}
	for _, sch := range s.sets {
		sch.info = make([]segInfo, s.ids.n+1)
		for _, id := range sch.Segments {
			sch.info[s.ids.intern(id)] = segInfo{def: s.segs[id], mand: -1, known: true}
		}
		for i, id := range sch.Mandatory {
			sch.info[s.ids.intern(id)].mand = i
		}
	}
}

const maxSegmentErrors = 100

func (v *setValidator) add(s *checkState, e SegmentError) {
	if len(s.st.Errors) < maxSegmentErrors {
		s.st.Errors = append(s.st.Errors, e)
	}
}

func validID(id []byte) bool {
	if len(id) < 2 || len(id) > 3 || id[0] < 'A' || id[0] > 'Z' {
		return false
	}
	for _, c := range id[1:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (v *setValidator) segment(s *checkState, seg *Segment, pos int) {
	id := seg.ID()
	if !validID(id) {
		v.add(s, SegmentError{ID: clip(string(id), 3), Position: pos, Code: "1"})
		return
	}
	sch := v.sch
	si := sch.info[sch.s.ids.lookup(id)]
	if !si.known {
		// The schemas list the segments of each set as far as known; an
		// unknown one is a warning unless strict (see the package doc).
		if v.strict {
			v.add(s, SegmentError{ID: string(id), Position: pos, Code: "2"})
		} else if len(s.st.Issues) < s.maxIssues() {
			s.st.Issues = append(s.st.Issues, Issue{Warning: true, Code: "2", ParseError: s.perr(0, wrapf(ErrUnexpectedSegment, "%s is not in schema %s", id, sch.Name))})
		}
		si.def = sch.s.segs[string(id)]
	} else if si.mand >= 0 {
		v.seen[si.mand] = true
	}
	d := si.def
	if d == nil {
		return
	}
	var errs []ElementError
	n := seg.Len() - 1
	if d.MaxElements > 0 && n > d.MaxElements {
		errs = append(errs, ElementError{Position: d.MaxElements + 1, Code: "3", Copy: clip(string(seg.Element(d.MaxElements+1)), 99)})
	}
	raw, ends := seg.raw, seg.ends
	for i := range d.Elements {
		ed := &d.Elements[i]
		var val []byte
		if i+1 < len(ends) {
			val = raw[ends[i]+1 : ends[i+1]]
		}
		if len(val) == 0 {
			if ed.Req == 'M' {
				errs = append(errs, ElementError{Position: i + 1, Ref: ed.Ref, Code: "1"})
			}
			continue
		}
		if code := v.checkValue(ed, val, seg); code != "" {
			errs = append(errs, ElementError{Position: i + 1, Ref: ed.Ref, Code: code, Copy: clip(string(val), 99), Warning: !v.strict})
		}
	}
	if errs != nil {
		w := true
		for _, e := range errs {
			w = w && e.Warning
		}
		v.add(s, SegmentError{ID: string(id), Position: pos, Code: "8", Elements: errs, Warning: w})
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// checkValue returns the AK403 code for a bad value, or "".
func (v *setValidator) checkValue(ed *ElementDef, val []byte, seg *Segment) string {
	d := seg.d
	if ed.kind == 'C' || seg.nested && (d.Component != 0 && bytes.IndexByte(val, d.Component) >= 0 || d.Repetition != 0 && bytes.IndexByte(val, d.Repetition) >= 0) {
		return ""
	}
	n := len(val)
	switch ed.kind {
	case 'R', 'N':
		digits, dots := 0, 0
		for i, c := range val {
			switch {
			case c >= '0' && c <= '9':
				digits++
			case c == '-' && i == 0:
			case c == '.' && ed.kind == 'R':
				dots++
			default:
				return "6"
			}
		}
		if digits == 0 || dots > 1 {
			return "6"
		}
		n = digits
	case 'D':
		if !validDate(val, true) || n != ed.Min && n != ed.Max {
			return "8"
		}
	case 'T':
		if !validTime(val) {
			return "9"
		}
	case 'I':
		if ed.codes != nil {
			if _, ok := ed.codes.Codes[string(val)]; !ok {
				return "7"
			}
		}
	}
	if n < ed.Min {
		return "4"
	}
	if ed.Max > 0 && n > ed.Max {
		return "5"
	}
	return ""
}

func (v *setValidator) finish(s *checkState, sePos int) {
	for i, m := range v.sch.Mandatory {
		if m == "ST" || m == "SE" {
			continue
		}
		if !v.seen[i] {
			v.add(s, SegmentError{ID: m, Position: sePos, Code: "3"})
		}
	}
}
