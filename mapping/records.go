package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wharfedi/wharf/edi/csv"
	"github.com/wharfedi/wharf/edi/flat"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// LayoutSpec declares a CSV or fixed-width layout as data (the
// configuration's layouts[i], converted by the caller).
type LayoutSpec struct {
	Name, Format, Document string // format csv or flat; document a canonical type
	Encoding               string
	Delimiter              string // csv: one character or "tab"
	Header                 bool   // csv: a title line
	DecimalSeparator       string
	DateFormat, TimeFormat string // tokens YYYY YY MM DD HH mm ss
	TimeZone               string
	GroupBy                string
	Records                []RecordSpec
}

// RecordSpec is one kind of line.
type RecordSpec struct {
	Kind, Tag                      string
	TagColumn, TagStart, TagLength int
	Fields                         []FieldSpec
}

// FieldSpec maps a column or position to a canonical field path:
//
//	order_number                 a field of the document
//	parties[ship_to].address.city  the element of a typed list with role (parties) or type (others) ship_to
//	references[po]               shorthand for references[po].value (dates[x] for dates[x].time)
//	lines[].quantity.value       a new list element per detail row (or per row when grouping)
//	notes[]                      a list of strings
type FieldSpec struct {
	Path    string
	Column  int    // csv
	Header  string // csv title
	Start   int    // flat
	Length  int
	Type    string // string, decimal, int, date, time
	Format  string
	Scale   int
	Align   string
	Pad     string
	Default string
	Value   string // constant written on render, ignored on read

	steps []step
	table string // the partner's code table for the field's values (recordTable)
}

type step struct {
	name string
	list bool   // name[] or name[key]
	key  string // "" for name[]
}

// RecordLayout is a checked LayoutSpec ready to read and write.
type RecordLayout struct {
	spec     LayoutSpec
	csv      *csv.Layout
	flat     *flat.Layout
	loc      *time.Location
	listPath string // the path prefix "lines[]" that makes detail rows
}

func goLayout(tokens, def string) string {
	if tokens == "" {
		tokens = def
	}
	r := strings.NewReplacer("YYYY", "2006", "YY", "06", "MM", "01", "DD", "02", "HH", "15", "mm", "04", "ss", "05")
	return r.Replace(tokens)
}

func parsePath(p string) ([]step, error) {
	var out []step
	for _, part := range strings.Split(p, ".") {
		st := step{name: part}
		if i := strings.IndexByte(part, '['); i >= 0 {
			if !strings.HasSuffix(part, "]") || i == 0 {
				return nil, fmt.Errorf("path %q: bad list step %q", p, part)
			}
			st = step{name: part[:i], list: true, key: part[i+1 : len(part)-1]}
		}
		if st.name == "" {
			return nil, fmt.Errorf("path %q: empty step", p)
		}
		out = append(out, st)
	}
	return out, nil
}

// recordTable returns the code table that translates the values of a
// field of a document of type doc, the table the X12 maps use for the same
// canonical field ("" for fields without one): a CSV or fixed-width value
// the partner's table (or the built-in one) names is read as its canonical
// value and written back as the code, like an X12 qualifier; other values
// are taken as they are.
func recordTable(doc string, steps []step) string {
	leaf := steps[len(steps)-1]
	if leaf.list {
		return "" // a typed list or notes: the key is the layout's, not the data's
	}
	parent := ""
	if len(steps) > 1 {
		parent = steps[len(steps)-2].name
	}
	transport := doc == canonical.TypeShipment || doc == canonical.TypeShipmentStatus || doc == canonical.TypeFreightInvoice
	switch leaf.name {
	case "unit", "piece_unit":
		return TableUnits
	case "weight_unit":
		if transport {
			return TableWeight
		}
		return TableUnits
	case "volume_unit":
		if transport {
			return TableVolume
		}
		return TableUnits
	case "status":
		if doc == canonical.TypeShipmentStatus && parent == "events" {
			return TableStatus
		}
	case "reason":
		if doc == canonical.TypeShipmentStatus && parent == "events" {
			return TableReasons
		}
		if doc == canonical.TypeShipment && parent == "stops" {
			return TableStops
		}
	case "type":
		if doc == canonical.TypeShipment && parent == "equipment" {
			return TableEquipment
		}
	case "payment_method":
		return TablePayment
	case "mode":
		return TableMode
	case "purpose":
		if len(steps) == 1 {
			if doc == canonical.TypeWarehouseOrder {
				return TableW05
			}
			return TablePurpose
		}
	case "action":
		if doc == canonical.TypeTenderResponse && len(steps) == 1 {
			return TableAction
		}
	case "level":
		if doc == canonical.TypeShipNotice && parent == "levels" {
			return TableLevels
		}
	case "order_type":
		return TableOrderType
	}
	return ""
}

// NewRecordLayout checks a layout and prepares it.
func NewRecordLayout(s LayoutSpec, p *Profile) (*RecordLayout, error) {
	l := &RecordLayout{spec: s, loc: time.UTC}
	if p != nil && p.Location != nil {
		l.loc = p.Location
	}
	if s.TimeZone != "" {
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("mapping: layout %s: time zone %q: %v", s.Name, s.TimeZone, err)
		}
		l.loc = loc
	}
	if canonical.New(s.Document) == nil {
		return nil, fmt.Errorf("mapping: layout %s: %w %q", s.Name, canonical.ErrUnknownType, s.Document)
	}
	if len(s.Records) == 0 || len(s.Records) > 2 {
		return nil, fmt.Errorf("mapping: layout %s: one record, or a header and a detail record", s.Name)
	}
	for i := range l.spec.Records {
		r := &l.spec.Records[i]
		r.Fields = append([]FieldSpec(nil), r.Fields...)
		for j := range r.Fields {
			f := &r.Fields[j]
			if f.Path == "" {
				continue
			}
			st, err := parsePath(f.Path)
			if err != nil {
				return nil, fmt.Errorf("mapping: layout %s: %v", s.Name, err)
			}
			f.steps = st
			f.table = recordTable(s.Document, st)
			for k, x := range st {
				if x.list && x.key == "" {
					prefix := strings.Join(strings.Split(f.Path, ".")[:k+1], ".")
					if l.listPath != "" && l.listPath != prefix {
						return nil, fmt.Errorf("mapping: layout %s: rows can repeat one list only (%s and %s)", s.Name, l.listPath, prefix)
					}
					l.listPath = prefix
				}
			}
		}
	}
	switch s.Format {
	case "csv":
		cl := &csv.Layout{Header: s.Header, Encoding: s.Encoding, Comma: ','}
		if s.Delimiter == "tab" {
			cl.Comma = '\t'
		} else if s.Delimiter != "" {
			cl.Comma = []rune(s.Delimiter)[0]
		}
		for _, r := range l.spec.Records {
			cr := csv.Record{Kind: r.Kind, Tag: r.Tag, TagColumn: r.TagColumn}
			for _, f := range r.Fields {
				cr.Columns = append(cr.Columns, f.Column)
				t := f.Header
				if t == "" {
					t = f.Path
				}
				cr.Titles = append(cr.Titles, t)
			}
			cl.Records = append(cl.Records, cr)
		}
		l.csv = cl
	case "flat":
		fl := &flat.Layout{Encoding: s.Encoding}
		for _, r := range l.spec.Records {
			fr := flat.Record{Kind: r.Kind, Tag: r.Tag, TagStart: r.TagStart, TagLength: r.TagLength}
			for _, f := range r.Fields {
				right := f.Align == "right" || (f.Align == "" && (f.Type == "decimal" || f.Type == "int"))
				var pad rune
				if f.Pad != "" {
					pad = []rune(f.Pad)[0]
				}
				// A line may end inside a text field (hosts trim trailing
				// spaces), never inside a number, date or time: cut, it
				// would read as another value.
				whole := f.Type == "decimal" || f.Type == "int" || f.Type == "date" || f.Type == "time"
				fr.Fields = append(fr.Fields, flat.Field{Start: f.Start, Length: f.Length, Right: right, Pad: pad, Whole: whole})
			}
			fl.Records = append(fl.Records, fr)
		}
		l.flat = fl
	default:
		return nil, fmt.Errorf("mapping: layout %s: format %q: use csv or flat", s.Name, s.Format)
	}
	return l, nil
}

// Name returns the layout's name.
func (l *RecordLayout) Name() string { return l.spec.Name }

// Document returns the canonical type the layout carries.
func (l *RecordLayout) Document() string { return l.spec.Document }

type recordReader interface {
	read() (rec int, vals []string, line int, err error)
}

type csvRecords struct {
	r *csv.Reader
	l *csv.Layout
}

func (c csvRecords) read() (int, []string, int, error) {
	def, v, line, err := c.r.Read()
	if err != nil {
		return 0, nil, line, err
	}
	return indexOf(c.l.Records, def), v, line, nil
}

type flatRecords struct {
	r *flat.Reader
	l *flat.Layout
}

// read returns, for a line that ends inside a field that cannot be cut,
// the record with the *flat.ParseError (flat.ErrShortLine).
func (c flatRecords) read() (int, []string, int, error) {
	def, v, line, err := c.r.Read()
	if def == nil {
		return 0, nil, line, err
	}
	return indexOf(c.l.Records, def), v, line, err
}

func indexOf[T any](s []T, p *T) int {
	for i := range s {
		if &s[i] == p {
			return i
		}
	}
	return -1
}

// recDoc is a document being assembled from rows.
type recDoc struct {
	m     map[string]any
	line  int
	key   string
	errs  []*Error
	fresh map[string]bool
}

// FromRecords reads a CSV or fixed-width file of layout l and hands each
// document to o.Emit. Documents are assembled from consecutive rows: a
// header row and its detail rows, or rows sharing the layout's group_by
// value, or one row each. A row with a bad value quarantines its document
// (or rejects the file, per the partner's policy).
//
// A line that cannot be read (a CSV quote that never closes, see edi/csv)
// or that matches no record of the layout (a trailer, a record type the
// layout does not declare) is set aside on its own, as a quarantined entry
// "file" at its line, and the documents before and after it are mapped as
// usual; unless the document being assembled goes on after it (the next
// line is a detail line of the same header, or has the same group_by
// value, or the line is known to carry that value): then the line is
// taken as one of the document's and the document is quarantined with it,
// so a document is never delivered without one of its lines.
func FromRecords(ctx context.Context, in io.Reader, l *RecordLayout, o Options) (*Outcome, error) {
	p := o.profile()
	if o.MaxQuarantined <= 0 {
		o.MaxQuarantined = 1000
	}
	out := &Outcome{Partner: p.Partner, Policy: p.Policy.String()}
	var rr recordReader
	if l.csv != nil {
		r, err := csv.NewReader(in, l.csv)
		if err != nil {
			return nil, err
		}
		rr = csvRecords{r, l.csv}
	} else {
		r, err := flat.NewReader(in, l.flat)
		if err != nil {
			return nil, err
		}
		rr = flatRecords{r, l.flat}
	}
	var cur *recDoc
	flush := func() error {
		if cur == nil {
			return nil
		}
		d := cur
		cur = nil
		docName := fmt.Sprintf("%s at line %d", l.spec.Document, d.line)
		var doc canonical.Document
		if len(d.errs) == 0 {
			d.m["type"], d.m["version"] = l.spec.Document, canonical.Version
			b, err := json.Marshal(d.m)
			if err == nil {
				doc, err = canonical.Decode(b)
			}
			if err != nil {
				d.errs = append(d.errs, &Error{Partner: p.Partner, Document: docName, Pos: Position{Line: d.line}, Err: fmt.Errorf("%w: %w", ErrBadValue, err)})
			}
		}
		if len(d.errs) > 0 {
			for _, e := range d.errs {
				e.Document = docName
			}
			c := &inCtx{p: p, doc: docName, errs: d.errs, src: canonical.Source{Layout: l.spec.Name}}
			out.Errors += len(d.errs)
			if o.OnError != nil {
				for _, e := range d.errs {
					o.OnError(e)
				}
			}
			if len(out.Quarantined) < o.MaxQuarantined {
				out.Quarantined = append(out.Quarantined, Quarantined{Document: docName, Pos: Position{Line: d.line}, Errors: d.errs})
			}
			if c.p.Policy == Reject {
				out.Rejected = true
			}
			return nil
		}
		doc.Head().Source = &canonical.Source{Format: l.spec.Format, Partner: p.Partner, Layout: l.spec.Name, Line: d.line}
		applyDefaults(p, doc)
		out.Documents++
		if o.Emit != nil {
			return o.Emit(doc)
		}
		return nil
	}
	// pending: errors of lines that could not be read or match no record,
	// not yet known to belong to a document; next: those that belong to the
	// document the next line starts; own: those set aside on their own once
	// the document before them is flushed.
	var pending, next, own []lineError
	// assign settles the pending line errors at the end of cur (nextKey: the
	// group_by value of the line that follows, nil at the end): a line known
	// to carry cur's or the next document's group_by value goes with that
	// document, any other is set aside on its own.
	assign := func(cur *recDoc, nextKey *string) {
		for _, pe := range pending {
			switch {
			case pe.key != nil && cur != nil && *pe.key == cur.key:
				cur.errs = append(cur.errs, pe.err)
			case pe.key != nil && nextKey != nil && *pe.key == *nextKey:
				next = append(next, pe)
			default:
				own = append(own, pe)
			}
		}
		pending = pending[:0]
	}
	setAside := func() {
		for _, pe := range own {
			out.Errors++
			if o.OnError != nil {
				o.OnError(pe.err)
			}
			if len(out.Quarantined) < o.MaxQuarantined {
				out.Quarantined = append(out.Quarantined, Quarantined{Document: pe.err.Document, Pos: pe.err.Pos, Errors: []*Error{pe.err}})
			}
			if p.Policy == Reject {
				out.Rejected = true
			}
		}
		own = own[:0]
	}
	twoRecords := len(l.spec.Records) == 2
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return out, err
			}
		}
		ri, vals, line, err := rr.read()
		if err == io.EOF {
			break
		}
		var short *flat.ParseError // a line ending inside a field: the record is read
		if err != nil && (vals == nil || !errors.As(err, &short)) {
			var ce *csv.ParseError
			var fe *flat.ParseError
			if !errors.As(err, &ce) && !errors.As(err, &fe) {
				return out, fmt.Errorf("mapping: read %s: %w", l.spec.Format, err)
			}
			pe := lineError{err: &Error{Partner: p.Partner, Document: "file", Pos: Position{Line: line}, Err: fmt.Errorf("%w: %w", ErrInput, err)}}
			if ce != nil {
				pe.err.Pos.Column = l.csvColumn(ce.Column)
				if c := l.groupColumn(); c > 0 && c <= len(ce.Fields) {
					key := ce.Fields[c-1]
					pe.key = &key
				}
			}
			pending = append(pending, pe)
			if p.Policy == Reject {
				// The file is rejected: no document of it is delivered.
				assign(nil, nil)
				setAside()
				return out, nil
			}
			continue
		}
		rec := &l.spec.Records[ri]
		key := ""
		if l.spec.GroupBy != "" {
			for i, f := range rec.Fields {
				if f.Path == l.spec.GroupBy {
					key = vals[i]
				}
			}
		}
		// Does this line go on with the document being assembled?
		goesOn := false
		switch {
		case twoRecords:
			goesOn = rec.Kind != "header"
		case l.spec.GroupBy != "":
			goesOn = cur != nil && key == cur.key
		}
		if goesOn && cur != nil {
			// Lines amid a document's lines are taken as its own.
			cur.errs = append(cur.errs, errsOf(pending)...)
			pending = pending[:0]
		} else {
			assign(cur, &key)
			if err := flush(); err != nil {
				return out, err
			}
			setAside()
			cur = &recDoc{m: map[string]any{}, line: line, key: key}
			if twoRecords && rec.Kind != "header" {
				cur.errs = append(cur.errs, &Error{Partner: p.Partner, Document: "file", Pos: Position{Line: line}, Err: fmt.Errorf("%w: a detail line before any header line", ErrInput)})
			}
			cur.errs = append(cur.errs, errsOf(next)...)
			next = next[:0]
		}
		cur.fresh = map[string]bool{}
		for i, f := range rec.Fields {
			if f.steps == nil {
				continue
			}
			col := f.Path
			if f.Column > 0 {
				col = fmt.Sprintf("%d (%s)", f.Column, f.Path)
			} else if f.Start > 0 {
				col = fmt.Sprintf("%d-%d (%s)", f.Start, f.Start+f.Length-1, f.Path)
			}
			if short != nil && short.Field == i+1 {
				// Cut: what the line holds of the field is not its value.
				cur.errs = append(cur.errs, &Error{Partner: p.Partner, Field: f.Path, Pos: Position{Line: line, Column: col}, Err: fmt.Errorf("%w: %w", ErrInput, short.Err)})
				continue
			}
			v, err := l.in(f, vals[i])
			if err != nil {
				cur.errs = append(cur.errs, &Error{Partner: p.Partner, Field: f.Path, Pos: Position{Line: line, Column: col}, Err: fmt.Errorf("%w: %w", ErrBadValue, err)})
				continue
			}
			if v == nil {
				continue
			}
			if sv, ok := v.(string); ok && f.table != "" {
				v, _ = p.In(f.table, sv)
			}
			setPath(cur, cur.m, f.steps, "", v)
		}
		if p.Policy == Reject && len(cur.errs) > 0 {
			if err := flush(); err != nil {
				return out, err
			}
			return out, nil
		}
	}
	assign(cur, nil)
	if err := flush(); err != nil {
		return out, err
	}
	setAside()
	return out, nil
}

// lineError is an error of a line that could not be read or matches no
// record, with the group_by value it is known to carry (CSV: the columns
// before a quote error are read).
type lineError struct {
	err *Error
	key *string
}

func errsOf(l []lineError) []*Error {
	var out []*Error
	for _, e := range l {
		out = append(out, e.err)
	}
	return out
}

// csvColumn names CSV column c for an error position: "13
// (lines[].item.description)" when a field of the layout reads it.
func (l *RecordLayout) csvColumn(c int) string {
	if c <= 0 {
		return ""
	}
	for _, r := range l.spec.Records {
		for _, f := range r.Fields {
			if f.Column == c && f.Path != "" {
				return fmt.Sprintf("%d (%s)", c, f.Path)
			}
		}
	}
	return strconv.Itoa(c)
}

// groupColumn is the CSV column of the group_by field, 0 if none.
func (l *RecordLayout) groupColumn() int {
	if l.spec.GroupBy == "" || len(l.spec.Records) != 1 {
		return 0
	}
	for _, f := range l.spec.Records[0].Fields {
		if f.Path == l.spec.GroupBy {
			return f.Column
		}
	}
	return 0
}

func keyField(list string) string {
	if list == "parties" {
		return "role"
	}
	return "type"
}

func leafField(list string) string {
	if list == "dates" {
		return "time"
	}
	return "value"
}

// setPath sets v at steps under m, creating objects and list elements.
func setPath(d *recDoc, m map[string]any, steps []step, prefix string, v any) {
	st := steps[0]
	last := len(steps) == 1
	path := prefix + "." + st.name
	if !st.list {
		if last {
			m[st.name] = v
			return
		}
		child, _ := m[st.name].(map[string]any)
		if child == nil {
			child = map[string]any{}
			m[st.name] = child
		}
		setPath(d, child, steps[1:], path, v)
		return
	}
	list, _ := m[st.name].([]any)
	if st.key == "" {
		if last {
			m[st.name] = append(list, v)
			return
		}
		if !d.fresh[path] || len(list) == 0 {
			d.fresh[path] = true
			list = append(list, map[string]any{})
			m[st.name] = list
		}
		setPath(d, list[len(list)-1].(map[string]any), steps[1:], path, v)
		return
	}
	kf := keyField(st.name)
	var elem map[string]any
	for _, e := range list {
		if em, ok := e.(map[string]any); ok && em[kf] == st.key {
			elem = em
		}
	}
	if elem == nil {
		elem = map[string]any{kf: st.key}
		m[st.name] = append(list, elem)
	}
	if last {
		elem[leafField(st.name)] = v
		return
	}
	setPath(d, elem, steps[1:], path+"["+st.key+"]", v)
}

// in converts a read value to its JSON form (nil: not given).
func (l *RecordLayout) in(f FieldSpec, v string) (any, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		v = f.Default
	}
	if v == "" {
		return nil, nil
	}
	switch f.Type {
	case "decimal":
		s := v
		if l.spec.DecimalSeparator == "," {
			s = strings.ReplaceAll(strings.ReplaceAll(s, ".", ""), ",", ".")
		} else {
			s = strings.ReplaceAll(s, ",", "")
		}
		s = strings.ReplaceAll(s, " ", "")
		var d canonical.Decimal
		var err error
		if f.Scale > 0 {
			d, err = canonical.FromImplied(s, f.Scale)
		} else {
			d, err = canonical.ParseDecimal(s)
		}
		if errors.Is(err, canonical.ErrBadDecimal) {
			// Quote the value as the file has it, not after separators were converted.
			if f.Scale > 0 {
				return nil, fmt.Errorf("%q: %w (implied decimal)", v, canonical.ErrBadDecimal)
			}
			return nil, fmt.Errorf("%q: %w", v, canonical.ErrBadDecimal)
		}
		if err != nil {
			return nil, err
		}
		return string(d), nil
	case "int":
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", v)
		}
		return n, nil
	case "date":
		format := goLayout(f.Format, firstNonEmpty(l.spec.DateFormat, "YYYY-MM-DD"))
		t, err := time.Parse(format, v)
		if err != nil {
			return nil, fmt.Errorf("%q does not match the date format %q", v, firstNonEmpty(f.Format, l.spec.DateFormat, "YYYY-MM-DD"))
		}
		return t.Format(time.DateOnly), nil
	case "time":
		format := goLayout(f.Format, firstNonEmpty(l.spec.TimeFormat, "YYYY-MM-DD HH:mm"))
		t, err := time.ParseInLocation(format, v, l.loc)
		if err != nil {
			return nil, fmt.Errorf("%q does not match the time format %q", v, firstNonEmpty(f.Format, l.spec.TimeFormat, "YYYY-MM-DD HH:mm"))
		}
		return t.Format(time.RFC3339), nil
	}
	return v, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// RecordRenderer writes canonical documents as CSV or fixed-width rows.
type RecordRenderer struct {
	l    *RecordLayout
	p    *Profile
	csv  *csv.Writer
	flat *flat.Writer
	n    int
	Outcome
}

// NewRecordRenderer returns a renderer writing to w.
func NewRecordRenderer(w io.Writer, l *RecordLayout, p *Profile) (*RecordRenderer, error) {
	if p == nil {
		p = DefaultProfile()
	}
	r := &RecordRenderer{l: l, p: p}
	r.Outcome.Partner, r.Outcome.Policy = p.Partner, p.Policy.String()
	var err error
	if l.csv != nil {
		r.csv, err = csv.NewWriter(w, l.csv)
	} else {
		r.flat, err = flat.NewWriter(w, l.flat)
	}
	return r, err
}

type row struct {
	rec  int
	vals []string
}

// Render writes one document's rows. A document with errors writes nothing.
func (r *RecordRenderer) Render(ctx context.Context, d canonical.Document) ([]*Error, error) {
	r.n++
	h := d.Head()
	docName := fmt.Sprintf("%s #%d", h.Type, r.n)
	fail := func(errs []*Error) ([]*Error, error) {
		r.Errors += len(errs)
		r.Quarantined = append(r.Quarantined, Quarantined{Document: docName, Errors: errs})
		if r.p.Policy == Reject {
			r.Rejected = true
		}
		return errs, nil
	}
	if h.Type != r.l.spec.Document {
		return fail([]*Error{{Partner: r.p.Partner, Document: docName, Field: "type",
			Err: fmt.Errorf("%w: layout %s takes %s documents, got %q", ErrBadValue, r.l.spec.Name, r.l.spec.Document, h.Type)}})
	}
	applyDefaults(r.p, d)
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	var rows []row
	var errs []*Error
	count := 1
	if r.l.listPath != "" {
		steps, _ := parsePath(r.l.listPath)
		count = len(lookupList(m, steps))
	}
	mk := func(ri, idx int) {
		rec := r.l.spec.Records[ri]
		vals := make([]string, len(rec.Fields))
		for i, f := range rec.Fields {
			if f.Value != "" || f.steps == nil {
				vals[i] = f.Value
				continue
			}
			cv := lookup(m, f.steps, idx)
			if sv, ok := cv.(string); ok && f.table != "" && sv != "" {
				cv, _ = r.p.Out(f.table, sv)
			}
			v, err := r.l.out(f, cv)
			if err != nil {
				errs = append(errs, &Error{Partner: r.p.Partner, Document: docName, Field: f.Path, Err: fmt.Errorf("%w: %w", ErrBadValue, err)})
			}
			vals[i] = v
		}
		rows = append(rows, row{ri, vals})
	}
	if len(r.l.spec.Records) == 2 {
		mk(0, 0)
		for i := 0; i < count; i++ {
			mk(1, i)
		}
	} else {
		if count == 0 {
			count = 1
		}
		for i := 0; i < count; i++ {
			mk(0, i)
		}
	}
	if len(errs) > 0 {
		return fail(errs)
	}
	for _, rw := range rows {
		if r.csv != nil {
			err = r.csv.Write(&r.l.csv.Records[rw.rec], rw.vals)
		} else {
			err = r.flat.Write(&r.l.flat.Records[rw.rec], rw.vals)
		}
		if err != nil {
			var fe *flat.ParseError
			if errors.As(err, &fe) {
				f := r.l.spec.Records[rw.rec].Fields[fe.Field-1]
				return fail([]*Error{{Partner: r.p.Partner, Document: docName, Field: f.Path, Err: fmt.Errorf("%w: %w", ErrBadValue, fe.Err)}})
			}
			return nil, err
		}
	}
	r.Documents++
	return nil, nil
}

// Close flushes the output.
func (r *RecordRenderer) Close() error {
	if r.csv != nil {
		return r.csv.Flush()
	}
	return r.flat.Flush()
}

func lookupList(m map[string]any, steps []step) []any {
	var cur any = m
	for i, st := range steps {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if i == len(steps)-1 {
			l, _ := mm[st.name].([]any)
			return l
		}
		cur = mm[st.name]
	}
	return nil
}

// lookup returns the value at steps, using element idx of the row list.
func lookup(m map[string]any, steps []step, idx int) any {
	var cur any = m
	for i, st := range steps {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		v := mm[st.name]
		if !st.list {
			cur = v
			continue
		}
		list, _ := v.([]any)
		if st.key == "" {
			if i == len(steps)-1 {
				return strings.Join(toStrings(list), " ")
			}
			if idx >= len(list) {
				return nil
			}
			cur = list[idx]
			continue
		}
		kf := keyField(st.name)
		cur = nil
		for _, e := range list {
			if em, ok := e.(map[string]any); ok && em[kf] == st.key {
				cur = em
				break
			}
		}
		if i == len(steps)-1 {
			if em, ok := cur.(map[string]any); ok {
				return em[leafField(st.name)]
			}
			return nil
		}
	}
	return cur
}

func toStrings(l []any) []string {
	var out []string
	for _, v := range l {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// out formats a canonical value for a field.
func (l *RecordLayout) out(f FieldSpec, v any) (string, error) {
	if v == nil {
		return "", nil
	}
	s := fmt.Sprint(v)
	if s == "" {
		return "", nil
	}
	switch f.Type {
	case "decimal":
		if f.Scale > 0 {
			return canonical.Decimal(s).Implied(f.Scale)
		}
		if l.spec.DecimalSeparator == "," {
			s = strings.Replace(s, ".", ",", 1)
		}
	case "date", "time":
		t, err := canonical.ParseTime(s)
		if err != nil {
			return "", err
		}
		if f.Type == "date" {
			return t.Format(goLayout(f.Format, firstNonEmpty(l.spec.DateFormat, "YYYY-MM-DD"))), nil
		}
		return t.In(l.loc).Format(goLayout(f.Format, firstNonEmpty(l.spec.TimeFormat, "YYYY-MM-DD HH:mm"))), nil
	}
	return s, nil
}
