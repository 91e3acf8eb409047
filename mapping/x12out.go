package mapping

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// outMap describes one outbound transaction set: the canonical type it
// takes, its functional group and the function writing its segments.
type outMap struct {
	docType string
	group   string
	write   func(c *outCtx, d canonical.Document)
}

// outMaps are the sets ToX12 writes, from the families' set tables.
var outMaps = func() map[string]outMap {
	m := map[string]outMap{}
	for _, s := range setTables() {
		if s.out != nil {
			m[s.id] = outMap{docType: s.docType, group: s.group, write: s.out}
		}
	}
	return m
}()

// OutboundSets lists the X12 transaction sets ToX12 writes, sorted: the
// keys of the outbound maps, so a set added there is listed (and tested by
// the round-trip property test) without another edit.
func OutboundSets() []string { return slices.Sorted(maps.Keys(outMaps)) }

// SetFor returns the canonical document type an outbound set takes and
// its GS01 functional identifier.
func SetFor(set string) (docType, group string, ok bool) {
	m, ok := outMaps[set]
	return m.docType, m.group, ok
}

type outSeg struct {
	id string
	el []string
}

// outCtx collects the segments of one set before any is written, so a
// document with errors never leaves half a set in the output.
type outCtx struct {
	p    *Profile
	doc  string
	segs []outSeg
	errs []*Error
}

func (c *outCtx) fail(field string, err error) {
	c.errs = append(c.errs, &Error{Partner: c.p.Partner, Document: c.doc, Field: field, Err: err})
}

// seg queues a segment. Delimiters inside its values are looked for once
// the document is complete (delimPicker.check).
func (c *outCtx) seg(id string, el ...string) {
	c.segs = append(c.segs, outSeg{id, el})
}

func (c *outCtx) need(field, v string) {
	if v == "" {
		c.fail(field, ErrMissing)
	}
}

// code translates a canonical value to the partner's code for a code
// element. A value no table names is written as it is only when it is
// itself a code (what FromX12 keeps of a code it does not know, "ZZ"); any
// other (a canonical name such as "picked_up") is an error, never text in
// a code element. codeAt names the field in the error.
func (c *outCtx) code(tbl, canon string) string { return c.codeAt(tbl, canon, "") }

func (c *outCtx) codeAt(tbl, canon, field string) string {
	if canon == "" {
		return ""
	}
	v, ok := c.p.Out(tbl, canon)
	if !ok && !isCode(canon) {
		c.fail(field, fmt.Errorf("%w: %q has no X12 code in the %s table (give the partner's code for it: mapping.codes.%s: [\"CODE=%s\"])",
			ErrBadValue, canon, tbl, tbl, canon))
	}
	return v
}

// isCode tells whether s can be an X12 code value as it is: one to three
// upper-case letters or digits (the code elements mapped through tables
// are ID 1-3).
func isCode(s string) bool {
	if len(s) == 0 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !(b >= 'A' && b <= 'Z' || b >= '0' && b <= '9') {
			return false
		}
	}
	return true
}

func (c *outCtx) refQual(r canonical.Reference, field string) string {
	if r.Type == canonical.RefOther || r.Qualifier != "" {
		if r.Qualifier == "" {
			c.fail(field+".qualifier", fmt.Errorf("%w: a reference of type other needs its qualifier", ErrMissing))
		}
		return r.Qualifier
	}
	q, ok := c.p.Out(TableReferences, r.Type)
	if !ok {
		c.fail(field+".type", fmt.Errorf("%w: reference type %q has no qualifier (add it to the partner's references table)", ErrBadValue, r.Type))
	}
	return q
}

func (c *outCtx) dateQual(tbl string, d canonical.Date, field string) string {
	if d.Type == "other" || d.Qualifier != "" {
		if d.Qualifier == "" {
			c.fail(field+".qualifier", fmt.Errorf("%w: a date of type other needs its qualifier", ErrMissing))
		}
		return d.Qualifier
	}
	q, ok := c.p.Out(tbl, d.Type)
	if !ok {
		c.fail(field+".type", fmt.Errorf("%w: date type %q has no %s qualifier", ErrBadValue, d.Type, tbl))
	}
	return q
}

// when splits a time into X12 date, time and time code. A time whose
// offset is the partner's at that instant is written as local time (LT,
// or UT for a partner on UTC); one with a North American standard or
// daylight offset keeps it (ES, ED, CS, ...); any other is converted to the
// partner's local time. The instant is always kept.
func (c *outCtx) when(t *canonical.Time) (date, tm, code string) {
	if t == nil || t.IsZero() {
		return "", "", ""
	}
	if t.DateOnly {
		return t.Format("20060102"), "", ""
	}
	v := t.Time
	_, off := v.Zone()
	_, local := v.In(c.p.Location).Zone()
	switch zc, ok := offsetCodes[off]; {
	case off == local:
		code = "LT"
		if c.p.Location == time.UTC {
			code = "UT"
		}
	case ok:
		code = zc
	default:
		v, code = v.In(c.p.Location), "LT"
	}
	tm = v.Format("1504")
	if v.Second() != 0 {
		tm = v.Format("150405")
	}
	return v.Format("20060102"), tm, code
}

// whenLocal splits a time into X12 date and time for a segment without a
// time code (BIA, BSN): converted to the partner's local time, the zone in
// which FromX12 reads such times, so the instant survives the round trip.
func (c *outCtx) whenLocal(t *canonical.Time) (date, tm string) {
	if t == nil || t.IsZero() {
		return "", ""
	}
	if t.DateOnly {
		return t.Format("20060102"), ""
	}
	v := t.Time.In(c.p.Location)
	tm = v.Format("1504")
	if v.Second() != 0 {
		tm = v.Format("150405")
	}
	return v.Format("20060102"), tm
}

// offsetCodes are the X12 time codes (element 623) written for offsets.
var offsetCodes = map[int]string{0: "UT", -3 * 3600: "AD", -4 * 3600: "ED", -5 * 3600: "ES", -6 * 3600: "CS", -7 * 3600: "MS", -8 * 3600: "PS"}

func (c *outCtx) implied(d canonical.Decimal, n int, field string) string {
	v, err := d.Implied(n)
	if err != nil {
		c.fail(field, fmt.Errorf("%w: %w", ErrBadValue, err))
	}
	return v
}

func (c *outCtx) refs(seg string, refs []canonical.Reference, field string) {
	for i, r := range refs {
		f := fmt.Sprintf("%s[%d]", field, i)
		q := c.refQual(r, f)
		c.need(f+".value", r.Value)
		switch seg {
		case "L11":
			c.seg("L11", r.Value, q, r.Description)
		case "N9":
			c.seg("N9", q, r.Value, r.Description)
		case "REF":
			c.seg("REF", q, r.Value, r.Description)
		}
	}
}

func (c *outCtx) g62s(dates []canonical.Date, field string) {
	for i, d := range dates {
		f := fmt.Sprintf("%s[%d]", field, i)
		q := c.dateQual(TableDates, d, f)
		ds, ts, zs := c.when(&d.Time)
		c.need(f+".time", ds)
		tq := ""
		if ts != "" {
			tq = c.p.Envelope.G62TimeQualifier
		}
		c.seg("G62", q, ds, tq, ts, zs)
	}
}

func (c *outCtx) dtms(dates []canonical.Date, field string) {
	for i, d := range dates {
		f := fmt.Sprintf("%s[%d]", field, i)
		q := c.dateQual(TableDTM, d, f)
		ds, ts, zs := c.when(&d.Time)
		c.need(f+".time", ds)
		c.seg("DTM", q, ds, ts, zs)
	}
}

func (c *outCtx) partyCode(pt canonical.Party, field string) string {
	if pt.Role == "other" || pt.Qualifier != "" {
		if pt.Qualifier == "" {
			c.fail(field+".qualifier", fmt.Errorf("%w: a party of role other needs its entity code", ErrMissing))
		}
		return pt.Qualifier
	}
	q, ok := c.p.Out(TableParties, pt.Role)
	if !ok {
		c.fail(field+".role", fmt.Errorf("%w: party role %q has no entity code", ErrBadValue, pt.Role))
	}
	return q
}

// parties writes N1 loops; contact is "G61" or "PER".
func (c *outCtx) parties(ps []canonical.Party, contact, field string) {
	for i, pt := range ps {
		c.party(pt, contact, fmt.Sprintf("%s[%d]", field, i))
	}
}

func (c *outCtx) party(pt canonical.Party, contact, field string) {
	c.seg("N1", c.partyCode(pt, field), pt.Name, pt.IDQualifier, pt.ID)
	if a := pt.Address; a != nil {
		for i := 0; i < len(a.Lines); i += 2 {
			l2 := ""
			if i+1 < len(a.Lines) {
				l2 = a.Lines[i+1]
			}
			c.seg("N3", a.Lines[i], l2)
		}
		if a.City != "" || a.State != "" || a.PostalCode != "" || a.Country != "" {
			c.seg("N4", a.City, a.State, a.PostalCode, a.Country)
		}
	}
	for _, ct := range pt.Contacts {
		el := []string{ct.Role, ct.Name}
		if ct.Phone != "" {
			el = append(el, "TE", ct.Phone)
		}
		if ct.Email != "" {
			if contact == "G61" && ct.Phone != "" {
				c.seg(contact, el...)
				el = []string{ct.Role, ct.Name}
			}
			el = append(el, "EM", ct.Email)
		}
		c.seg(contact, el...)
	}
}

// RenderOptions configure writing canonical documents as X12.
type RenderOptions struct {
	Profile *Profile
	// Set is the transaction set to write (204, 214, ...).
	Set string
	// Numbers allocates ISA13, GS06 and ST02 for Partner (the store's
	// counters in production; x12.MemoryControlNumbers in tests).
	Numbers x12.ControlNumbers
	// Now gives the envelope date and time; nil means time.Now.
	Now func() time.Time
	// Newline writes a line break after each segment.
	Newline bool
	// Delimiters, when Element is set, pins the interchange's delimiters
	// (before the profile's Envelope.Delimiters and the writer's own). With
	// none pinned the renderer takes the first of DelimiterSets that occurs
	// in no value, and holds the documents until Close to know them all.
	Delimiters x12.Delimiters
}

// X12Renderer writes canonical documents of one type as one X12
// interchange with one functional group. With pinned delimiters the
// envelope opens with the first good document and each document is
// written as it is rendered; otherwise the documents are held (compactly)
// and written by Close, once the delimiters that fit all of them are known.
type X12Renderer struct {
	o    RenderOptions
	p    *Profile
	m    outMap
	w    *x12.Writer
	open bool
	n    int
	pick *delimPicker
	held *heldSegs // nil when the delimiters are pinned
	Outcome
}

// NewX12Renderer returns a renderer writing to w.
func NewX12Renderer(w *x12.Writer, o RenderOptions) (*X12Renderer, error) {
	m, ok := outMaps[o.Set]
	if !ok {
		return nil, fmt.Errorf("mapping: %w: no outbound map for X12 %s (maps exist for %s)", ErrUnsupported, o.Set, strings.Join(OutboundSets(), ", "))
	}
	if o.Profile == nil {
		o.Profile = DefaultProfile()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	env := o.Profile.Envelope
	by := ""
	switch {
	case o.Delimiters.Element != 0:
		w.Delimiters, by = o.Delimiters, "the render options"
	case env.Delimiters.Element != 0:
		w.Delimiters, by = env.Delimiters, "the partner profile"
	case w.Delimiters.Element != 0:
		by = "the X12 writer"
	}
	r := &X12Renderer{o: o, p: o.Profile, m: m, w: w}
	repetition := isaVersion(env.Version) >= "00402"
	if by != "" {
		if err := checkPinned(w.Delimiters); err != nil {
			return nil, fmt.Errorf("mapping: partner %s: %v", o.Profile.Partner, err)
		}
		r.pick = newDelimPicker([]x12.Delimiters{w.Delimiters}, repetition, by)
	} else {
		r.pick, r.held = newDelimPicker(delimiterSets[:], repetition, ""), &heldSegs{}
	}
	for _, f := range []struct{ name, v string }{{"ISA05", env.SenderQual}, {"ISA06", env.SenderID}, {"ISA07", env.ReceiverQual},
		{"ISA08", env.ReceiverID}, {"GS02", env.GSSender}, {"GS03", env.GSReceiver}, {"GS08", env.Version}, {"ISA15", env.Usage}} {
		kill := r.pick.mask(f.v)
		if r.pick.fit&^kill == 0 {
			return nil, &Error{Partner: o.Profile.Partner, Document: "envelope", Field: f.name, Err: r.pick.culprit(r.pick.fit, f.v)}
		}
		r.pick.fit &^= kill
	}
	w.Numbers, w.Partner, w.Newline = o.Numbers, o.Profile.Partner, o.Newline
	r.Outcome.Partner, r.Outcome.Policy = o.Profile.Partner, o.Profile.Policy.String()
	return r, nil
}

// Render maps one document. A document with errors is not written; its
// errors are returned (and counted in the Outcome), and with the Reject
// policy the caller must discard the whole output.
func (r *X12Renderer) Render(ctx context.Context, d canonical.Document) ([]*Error, error) {
	r.n++
	h := d.Head()
	c := &outCtx{p: r.p, doc: fmt.Sprintf("%s #%d", h.Type, r.n)}
	if h.Type != r.m.docType {
		c.fail("type", fmt.Errorf("%w: X12 %s takes %s documents, got %q", ErrBadValue, r.o.Set, r.m.docType, h.Type))
	} else {
		d = withDefaults(r.p, d)
		r.m.write(c, d)
		if len(c.errs) == 0 {
			r.pick.check(c, r.o.Set)
		}
	}
	if len(c.errs) > 0 {
		r.Errors += len(c.errs)
		r.Quarantined = append(r.Quarantined, Quarantined{Document: c.doc, Errors: c.errs})
		if r.p.Policy == Reject {
			r.Rejected = true
		}
		return c.errs, nil
	}
	if r.held != nil {
		r.held.add(c.segs)
	} else if err := r.write(ctx, c.segs); err != nil {
		return nil, err
	}
	r.Documents++
	return nil, nil
}

// write writes one set, opening the interchange and group first if needed.
func (r *X12Renderer) write(ctx context.Context, segs []outSeg) error {
	if !r.open {
		env := r.p.Envelope
		now := r.o.Now()
		if err := r.w.BeginInterchange(ctx, x12.ISAHeader{SenderQual: env.SenderQual, SenderID: env.SenderID,
			ReceiverQual: env.ReceiverQual, ReceiverID: env.ReceiverID, Version: isaVersion(env.Version),
			Usage: env.Usage, AckRequested: env.AckRequested, Time: now}); err != nil {
			return err
		}
		gs, gr := env.GSSender, env.GSReceiver
		if gs == "" {
			gs = env.SenderID
		}
		if gr == "" {
			gr = env.ReceiverID
		}
		if err := r.w.BeginGroup(ctx, x12.GSHeader{FunctionalID: r.m.group, Sender: gs, Receiver: gr, Version: env.Version, Time: now}); err != nil {
			return err
		}
		r.open = true
	}
	if err := r.w.BeginSet(ctx, r.o.Set, 0, ""); err != nil {
		return err
	}
	for _, s := range segs {
		if err := r.w.WriteSegment(s.id, s.el...); err != nil {
			return err
		}
	}
	return r.w.EndSet()
}

// Delimiters returns the delimiters the interchange is (or would now be)
// written with: the pinned ones, or the first set of DelimiterSets that
// fits every value rendered so far.
func (r *X12Renderer) Delimiters() x12.Delimiters { return r.pick.chosen() }

// Close writes the held documents (when the delimiters were not pinned),
// ends the group and interchange (if any document was written) and
// flushes.
func (r *X12Renderer) Close() error {
	if h := r.held; h != nil && h.sets > 0 {
		r.held = nil
		r.w.Delimiters = r.pick.chosen()
		ctx := context.Background()
		if err := h.each(func(segs []outSeg) error { return r.write(ctx, segs) }); err != nil {
			return err
		}
	}
	if !r.open {
		return r.w.Flush()
	}
	r.open = false
	if err := r.w.EndGroup(); err != nil {
		return err
	}
	return r.w.EndInterchange()
}

func isaVersion(gs08 string) string {
	if strings.HasPrefix(gs08, "005010") {
		return "00501"
	}
	return "00401"
}

// withDefaults returns d with the profile's defaults filled in.
func withDefaults(p *Profile, d canonical.Document) canonical.Document {
	applyDefaults(p, d)
	return d
}

// applyDefaults sets empty top-level string fields named by the profile's
// "TYPE.FIELD" defaults (for example "shipment.carrier").
func applyDefaults(p *Profile, d canonical.Document) {
	if len(p.Defaults) == 0 {
		return
	}
	typ := d.Head().Type
	v := reflect.ValueOf(d).Elem()
	for key, val := range p.Defaults {
		t, field, ok := strings.Cut(key, ".")
		if !ok || t != typ {
			continue
		}
		if f := fieldByJSON(v, field); f.IsValid() && f.CanSet() && f.Kind() == reflect.String && f.String() == "" {
			f.SetString(val)
		}
	}
}

// DefaultFields lists the "TYPE.FIELD" keys Profile.Defaults accepts.
func DefaultFields() []string {
	var out []string
	for _, typ := range canonical.Types {
		v := reflect.ValueOf(canonical.New(typ)).Elem()
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Type.Kind() == reflect.String && name != "" && name != "type" && name != "version" {
				out = append(out, typ+"."+name)
			}
		}
		out = append(out, typ+".purpose")
	}
	return out
}

func fieldByJSON(v reflect.Value, name string) reflect.Value {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			if r := fieldByJSON(v.Field(i), name); r.IsValid() {
				return r
			}
			continue
		}
		n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if n == name {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}
