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
// schemas/FORMAT.md in the package source for the format). A Schemas is
// read-only once loaded and safe for concurrent use.
type Schemas struct {
	sets  map[string]*Schema // "204/004010"
	segs  map[string]*SegmentDef
	codes map[string]*CodeList
	once  sync.Once
	ids   idTable
	defs  []*SegmentDef // by interned ID
}

// idTable interns segment IDs (2-3 characters A-Z, 0-9) to small numbers
// so that validation finds a segment's definition by array index.
type idTable struct {
	slot [37 * 37 * 37]uint16 // by packed ID; 0 = unknown
	n    int
}

// idCode maps A-Z to 1-26 and 0-9 to 27-36, other bytes to 0.
var idCode = func() (t [256]uint8) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = uint8(c-'A') + 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c-'0') + 27
	}
	return t
}()

// packID numbers an ID of 2 or 3 characters A-Z, 0-9 in base 37 (its
// digits are never 0, so 2- and 3-character IDs do not collide); -1 for
// anything else.
func packID(id []byte) int {
	switch len(id) {
	case 2:
		a, b := idCode[id[0]], idCode[id[1]]
		if a == 0 || b == 0 {
			return -1
		}
		return int(a)*37 + int(b)
	case 3:
		a, b, c := idCode[id[0]], idCode[id[1]], idCode[id[2]]
		if a == 0 || b == 0 || c == 0 {
			return -1
		}
		return (int(a)*37+int(b))*37 + int(c)
	}
	return -1
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

// Schema describes one transaction set in one version: its segments in
// document order, grouped in loops, with requirement and maximum use.
type Schema struct {
	Name    string // e.g. "204/004010"
	ID      string // ST01
	Group   string // GS01 functional identifier
	Version string // 6-character version/release, e.g. 004010
	Title   string
	Root    *Node // the set's top level (a loop without trigger): ST first, SE last
	// KeySegment and KeyElement name the element holding the set's
	// business key (for example B2 element 4, the shipment ID of a 204);
	// empty when none is defined.
	KeySegment string
	KeyElement int
	keyRef     string // e.g. "B204"

	known []bool // by interned segment ID: appears somewhere in the set
	s     *Schemas
}

// Node is a segment or a loop in a Schema. A loop's first child is the
// segment that starts it.
type Node struct {
	Segment  string  // segment ID; "" for a loop
	Loop     string  // loop identifier (AK303), for loops
	Required bool    // mandatory (for a loop: the loop must occur)
	Max      int     // maximum use (for a loop: repetitions); 0 = not limited
	Children []*Node // for loops
	idx      int     // interned segment ID (segments) or of the trigger (loops)
	nextReq  []int   // loops: nextReq[i] = first required child at or after i (len(Children) if none)
	kidIdx   []int32 // loops: kidIdx[i] = Children[i].idx, searched per segment
	// occ[idx], for loops of at most 64 children, has bit i set when
	// Children[i] is segment idx or starts with it.
	occ []uint64
}

// IsLoop reports whether n is a loop.
func (n *Node) IsLoop() bool { return n.Segment == "" }

// Segments lists the IDs of the segments a schema holds, in document order,
// each once.
func (sch *Schema) Segments() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(n *Node)
	walk = func(n *Node) {
		if !n.IsLoop() {
			if !seen[n.Segment] {
				seen[n.Segment] = true
				out = append(out, n.Segment)
			}
			return
		}
		for _, k := range n.Children {
			walk(k)
		}
	}
	walk(sch.Root)
	return out
}

// SegmentDef describes a segment's elements.
type SegmentDef struct {
	ID          string
	MaxElements int // 0: not known, not checked
	Elements    []ElementDef

	checks  []elemCheck // by element, precomputed from Elements
	lastReq int         // 1 + index of the last mandatory element, 0 if none
}

// elemCheck is what validation looks at for every element, kept small
// and next to each other.
type elemCheck struct {
	min  uint32
	span uint32 // Max-Min; with no Max, the largest uint32 - Min (len-min <= span then tests both)
	req  bool   // Req == 'M'
	fast bool   // a length check is all there is to it (AN, or ID without a closed list)
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
	var stack []*Node // open loops of the set being read
	bad := func(msg string) error { return fmt.Errorf("x12: schema %s:%d: %s", name, line, msg) }
	closeSet := func() error {
		if cur != nil && len(stack) != 1 {
			return bad("unclosed loop in set " + cur[0].ID)
		}
		cur, stack = nil, nil
		return nil
	}
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
		indented := text[0] == ' ' || text[0] == '\t'
		if indented {
			if cur == nil {
				return bad("segment list outside a set")
			}
			for _, tok := range f {
				if err := s.token(cur, &stack, tok); err != nil {
					return bad(err.Error())
				}
			}
			continue
		}
		if err := closeSet(); err != nil {
			return err
		}
		switch f[0] {
		case "set": // set ID GROUP VERSIONS TITLE...
			if len(f) < 4 {
				return bad("want: set ID GROUP VERSION[,VERSION] TITLE")
			}
			root := &Node{Loop: "", Required: true, Max: 1}
			for _, v := range strings.Split(f[3], ",") {
				sch := &Schema{Name: f[1] + "/" + v, ID: f[1], Group: f[2], Version: v,
					Title: strings.Join(f[4:], " "), Root: root, s: s}
				if s.sets[sch.Name] != nil {
					return bad("schema " + sch.Name + " defined twice")
				}
				s.sets[sch.Name] = sch
				cur = append(cur, sch)
			}
			stack = []*Node{root}
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
	if err := closeSet(); err != nil {
		return err
	}
	return sc.Err()
}

// token reads one token of a set's structure: "ID", "ID!", "ID*5",
// "[NAME" (with the same suffixes) opening a loop, "]" closing it, or
// "key:SEG.N" naming the business key element.
func (s *Schemas) token(cur []*Schema, stack *[]*Node, tok string) error {
	top := (*stack)[len(*stack)-1]
	switch {
	case tok == "]":
		if len(*stack) == 1 {
			return fmt.Errorf("unbalanced ]")
		}
		if len(top.Children) == 0 || top.Children[0].IsLoop() {
			return fmt.Errorf("loop %s does not start with a segment", top.Loop)
		}
		*stack = (*stack)[:len(*stack)-1]
		return nil
	case strings.HasPrefix(tok, "key:"):
		seg, el, ok := strings.Cut(tok[4:], ".")
		n, err := strconv.Atoi(el)
		if !ok || err != nil {
			return fmt.Errorf("bad %s: want key:SEG.N", tok)
		}
		for _, sch := range cur {
			sch.KeySegment, sch.KeyElement = seg, n
			sch.keyRef = fmt.Sprintf("%s%02d", seg, n)
		}
		return nil
	}
	loop := strings.HasPrefix(tok, "[")
	name := strings.TrimPrefix(tok, "[")
	n := &Node{}
	if i := strings.IndexByte(name, '*'); i >= 0 {
		m, err := strconv.Atoi(name[i+1:])
		if err != nil {
			return fmt.Errorf("bad maximum in %s", tok)
		}
		n.Max = m
		name = name[:i]
	}
	if strings.HasSuffix(name, "!") {
		n.Required = true
		name = strings.TrimSuffix(name, "!")
	}
	if name == "" {
		return fmt.Errorf("bad token %q", tok)
	}
	if loop {
		n.Loop = name
	} else {
		n.Segment = name
	}
	top.Children = append(top.Children, n)
	if loop {
		*stack = append(*stack, n)
	}
	return nil
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

// index interns segment IDs and precomputes what validation looks up per
// segment. It runs once, on first use.
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
		d.checks = make([]elemCheck, len(d.Elements))
		d.lastReq = 0
		for i := range d.Elements {
			e := &d.Elements[i]
			c := &d.checks[i]
			c.req = e.Req == 'M'
			if c.req {
				d.lastReq = i + 1
			}
			c.fast = e.kind == 'A' || e.kind == 'I' && e.codes == nil
			switch {
			case e.Min < 0 || e.Min > 1<<30 || e.Max > 1<<30 || e.Max != 0 && e.Max < e.Min:
				c.fast = false // odd limits: leave them to checkValue
			case e.Max == 0:
				c.min, c.span = uint32(e.Min), ^uint32(0)-uint32(e.Min)
			default:
				c.min, c.span = uint32(e.Min), uint32(e.Max-e.Min)
			}
		}
	}
	var walk func(n *Node)
	walk = func(n *Node) {
		if !n.IsLoop() {
			n.idx = s.ids.intern(n.Segment)
			return
		}
		for _, k := range n.Children {
			walk(k)
		}
		if len(n.Children) > 0 {
			n.idx = n.Children[0].idx
		}
		n.kidIdx = make([]int32, len(n.Children))
		for i, k := range n.Children {
			n.kidIdx[i] = int32(k.idx)
		}
		n.nextReq = make([]int, len(n.Children)+1)
		n.nextReq[len(n.Children)] = len(n.Children)
		for i := len(n.Children) - 1; i >= 0; i-- {
			n.nextReq[i] = n.nextReq[i+1]
			if n.Children[i].Required {
				n.nextReq[i] = i
			}
		}
	}
	done := map[*Node]bool{}
	for _, sch := range s.sets {
		if !done[sch.Root] {
			walk(sch.Root)
			done[sch.Root] = true
		}
	}
	s.defs = make([]*SegmentDef, s.ids.n+1)
	for id, d := range s.segs {
		s.defs[s.ids.intern(id)] = d
	}
	var occ func(n *Node)
	occ = func(n *Node) {
		if !n.IsLoop() || n.occ != nil {
			return
		}
		if len(n.Children) <= 64 {
			n.occ = make([]uint64, s.ids.n+1)
			for i, k := range n.Children {
				n.occ[k.idx] |= 1 << i
			}
		}
		for _, k := range n.Children {
			occ(k)
		}
	}
	for _, sch := range s.sets {
		occ(sch.Root)
	}
	for _, sch := range s.sets {
		sch.known = make([]bool, s.ids.n+1)
		for _, id := range sch.Segments() {
			sch.known[s.ids.intern(id)] = true
		}
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

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
