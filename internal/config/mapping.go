package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// PartnerMapping is a partner's dialect (partners[i].mapping): code
// translations, time zone, defaults, the policy on bad documents and the
// outbound X12 envelope. It is data for package mapping; cmd/wharf turns it
// into a mapping.Profile.
type PartnerMapping struct {
	TimeZone string `yaml:"timezone"` // IANA name for times without a zone; default UTC
	Policy   string `yaml:"policy"`   // quarantine (default): set bad documents aside; reject: reject the file
	// Codes override the built-in code tables, one "CODE=canonical" per entry.
	Codes CodeTables `yaml:"codes"`
	// Defaults fill empty canonical fields: "TYPE.FIELD=VALUE", e.g. "shipment.carrier=ABCD".
	Defaults []string    `yaml:"defaults"`
	X12      X12Envelope `yaml:"x12"`
	// Layout names the layouts[] entry that reads the CSV or fixed-width
	// files this partner sends (an ERP's order export, say); without it
	// only X12 and canonical JSON Lines are mapped.
	Layout string `yaml:"layout"`
}

// CodeTables are the per-partner code translations; each entry is
// "CODE=canonical" (for example references: ["DJ=load_id"]). The yaml names
// are mapping's table names.
type CodeTables struct {
	References []string `yaml:"references"`    // L11, N9, REF qualifiers (X12 element 128) → reference type
	Parties    []string `yaml:"parties"`       // N1 entity codes (98) → party role
	Dates      []string `yaml:"dates"`         // G62 date qualifiers (432) → date type
	DTM        []string `yaml:"dtm"`           // DTM qualifiers (374) → date type
	Status     []string `yaml:"status"`        // AT7 shipment status codes (1650) → milestone
	Reasons    []string `yaml:"reasons"`       // AT7 status reason codes (1651)
	Units      []string `yaml:"units"`         // units of measure (355)
	Weight     []string `yaml:"weight_units"`  // weight units
	Volume     []string `yaml:"volume_units"`  // volume units
	Equipment  []string `yaml:"equipment"`     // N7 equipment description codes (40)
	Payment    []string `yaml:"payment"`       // shipment method of payment (146)
	Mode       []string `yaml:"mode"`          // transportation method (91)
	Stops      []string `yaml:"stop_reasons"`  // stop reason codes
	Purpose    []string `yaml:"purpose"`       // transaction set purpose (353)
	W05        []string `yaml:"w05_status"`    // 940 order status (473)
	Action     []string `yaml:"tender_action"` // 990 tender action codes
	Items      []string `yaml:"item_ids"`      // product ID qualifiers (235)
	Levels     []string `yaml:"hl_levels"`     // HL hierarchical level codes
	Quantities []string `yaml:"quantities"`    // 846 QTY qualifiers (673)
	OrderTypes []string `yaml:"order_types"`   // order type codes
}

// Tables returns the code tables by their yaml name, each as code → value.
func (t CodeTables) Tables() map[string]map[string]string {
	out := map[string]map[string]string{}
	v := reflect.ValueOf(t)
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		entries := v.Field(i).Interface().([]string)
		if len(entries) == 0 {
			continue
		}
		m := map[string]string{}
		for _, e := range entries {
			k, val, _ := strings.Cut(e, "=")
			m[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
		out[name] = m
	}
	return out
}

// X12Envelope is the outbound interchange header for a partner.
type X12Envelope struct {
	Sender           string `yaml:"sender"`             // Wharf's QUALIFIER:ID; default ZZ:WHARF
	Receiver         string `yaml:"receiver"`           // the partner's QUALIFIER:ID; default its first x12_ids
	GSSender         string `yaml:"gs_sender"`          // GS02; default the ISA sender's ID
	GSReceiver       string `yaml:"gs_receiver"`        // GS03; default the ISA receiver's ID
	Version          string `yaml:"version"`            // GS08: 004010 (default) or 005010
	Usage            string `yaml:"usage"`              // ISA15: P (default) or T
	AckRequested     bool   `yaml:"ack_requested"`      // ISA14: ask for a TA1
	G62TimeQualifier string `yaml:"g62_time_qualifier"` // G6203, written when a time is given; default Z
	Newline          bool   `yaml:"newline"`            // a line break after each segment
	// Delimiters pins the partner's delimiters, element, component,
	// repetition and segment terminator, e.g. "*>^~" ("-" for no repetition
	// separator, \n for a line feed): a value holding one of them is then an
	// error naming the field. Empty: Wharf picks, per interchange, the first
	// set of its list that occurs in no value (docs/mapping.md).
	Delimiters string `yaml:"delimiters"`
}

// Layout declares a CSV or fixed-width file format (layouts[i]).
type Layout struct {
	Name             string `yaml:"name"`              // what partners[].mapping.layout, sync routes (csv:NAME) and --from name
	Format           string `yaml:"format"`            // csv or flat
	Document         string `yaml:"document"`          // canonical document type, e.g. order
	Encoding         string `yaml:"encoding"`          // utf-8 (default), utf-8-bom, windows-1252
	Delimiter        string `yaml:"delimiter"`         // CSV: default ","; "tab" for a tab
	Header           bool   `yaml:"header"`            // CSV: the first line names the columns (skipped on read, written on render)
	DecimalSeparator string `yaml:"decimal_separator"` // "." (default) or ","
	DateFormat       string `yaml:"date_format"`       // tokens YYYY YY MM DD HH mm ss; default YYYY-MM-DD
	TimeFormat       string `yaml:"time_format"`       // default YYYY-MM-DD HH:mm
	TimeZone         string `yaml:"timezone"`          // for times; default the partner's, else UTC
	// GroupBy names the field path that ties consecutive rows to one
	// document (one record per line layouts with repeated header values).
	GroupBy string   `yaml:"group_by"`
	Records []Record `yaml:"records"`
}

// Record is one kind of line: with one record the file is one record per
// line; with a header and a detail record, Tag tells them apart.
type Record struct {
	Kind string `yaml:"kind"` // header, detail, or empty for the single record of the layout
	Tag  string `yaml:"tag"`  // value of the tag field (csv: tag_column; flat: tag_start/tag_length)
	// Where the tag is: CSV column (1-based) or fixed-width start and length.
	TagColumn int     `yaml:"tag_column"`
	TagStart  int     `yaml:"tag_start"`  // fixed-width: the tag's 1-based first position
	TagLength int     `yaml:"tag_length"` // fixed-width: the tag's width
	Fields    []Field `yaml:"fields"`
}

// Field maps one column or position to a canonical field path.
type Field struct {
	Path    string `yaml:"path"`    // e.g. order_number, lines[].quantity.value, references[po], parties[ship_to].name
	Column  int    `yaml:"column"`  // CSV: 1-based column
	Header  string `yaml:"header"`  // CSV: column title written on render (default the path)
	Start   int    `yaml:"start"`   // fixed-width: 1-based first position
	Length  int    `yaml:"length"`  // fixed-width: width
	Type    string `yaml:"type"`    // string (default), decimal, int, date, time
	Format  string `yaml:"format"`  // date or time format for this field
	Scale   int    `yaml:"scale"`   // decimal: implied fraction digits (fixed-width money as 000012500)
	Align   string `yaml:"align"`   // fixed-width: left (default for strings) or right (default for numbers)
	Pad     string `yaml:"pad"`     // fixed-width: pad character, default space ("0" for zero-filled numbers)
	Default string `yaml:"default"` // value when the column is empty
	Value   string `yaml:"value"`   // a constant written on render and ignored on read (filler, record codes)
}

var (
	layoutFormats   = map[string]bool{"csv": true, "flat": true}
	layoutEncodings = map[string]bool{"": true, "utf-8": true, "utf-8-bom": true, "windows-1252": true}
	fieldTypes      = map[string]bool{"": true, "string": true, "decimal": true, "int": true, "date": true, "time": true}
	// DocumentTypes are the canonical document types a layout may carry.
	DocumentTypes = canonical.Types
)

func (c *Config) validateMapping() error {
	names := map[string]bool{}
	for i, l := range c.Layouts {
		f := fmt.Sprintf("layouts[%d]", i)
		if l.Name == "" || strings.ContainsAny(l.Name, ": /") {
			return c.errAt(f+".name", "%q: a layout needs a name without spaces, ':' or '/'", l.Name)
		}
		if names[l.Name] {
			return c.errAt(f+".name", "layout %q is declared twice", l.Name)
		}
		names[l.Name] = true
		if !layoutFormats[l.Format] {
			return c.errAt(f+".format", "%q: use csv or flat", l.Format)
		}
		if !contains(DocumentTypes, l.Document) {
			return c.errAt(f+".document", "%q is not a canonical document type (%s)", l.Document, strings.Join(DocumentTypes, ", "))
		}
		if !layoutEncodings[strings.ToLower(l.Encoding)] {
			return c.errAt(f+".encoding", "%q: use utf-8, utf-8-bom or windows-1252", l.Encoding)
		}
		if l.Format == "csv" && l.Delimiter != "" && l.Delimiter != "tab" && len([]rune(l.Delimiter)) != 1 {
			return c.errAt(f+".delimiter", "%q: one character, or tab", l.Delimiter)
		}
		if l.DecimalSeparator != "" && l.DecimalSeparator != "." && l.DecimalSeparator != "," {
			return c.errAt(f+".decimal_separator", "%q: use . or ,", l.DecimalSeparator)
		}
		if l.TimeZone != "" {
			if _, err := time.LoadLocation(l.TimeZone); err != nil {
				return c.errAt(f+".timezone", "unknown time zone %q (use an IANA name such as Europe/Berlin)", l.TimeZone)
			}
		}
		if len(l.Records) == 0 {
			return c.errAt(f+".records", "a layout needs at least one record")
		}
		if len(l.Records) > 2 {
			return c.errAt(f+".records", "at most two records (a header and a detail)")
		}
		for j, r := range l.Records {
			rf := fmt.Sprintf("%s.records[%d]", f, j)
			switch {
			case len(l.Records) == 1 && r.Kind != "":
				return c.errAt(rf+".kind", "a layout with one record leaves kind empty")
			case len(l.Records) == 2 && r.Kind != []string{"header", "detail"}[j]:
				return c.errAt(rf+".kind", "%q: with two records, the first is kind: header and the second kind: detail", r.Kind)
			}
			if len(l.Records) == 2 {
				if r.Tag == "" {
					return c.errAt(rf+".tag", "header and detail records need a tag")
				}
				if l.Format == "csv" && r.TagColumn < 1 {
					return c.errAt(rf+".tag_column", "the CSV column (1-based) holding the tag")
				}
				if l.Format == "flat" && (r.TagStart < 1 || r.TagLength != len(r.Tag)) {
					return c.errAt(rf+".tag_start", "tag_start (1-based) and tag_length (%d, the tag's length) are required", len(r.Tag))
				}
			}
			if len(r.Fields) == 0 {
				return c.errAt(rf+".fields", "a record needs fields")
			}
			for k, fd := range r.Fields {
				ff := fmt.Sprintf("%s.fields[%d]", rf, k)
				if fd.Path == "" && fd.Value == "" {
					return c.errAt(ff+".path", "a field needs a path (or a constant value)")
				}
				if !fieldTypes[fd.Type] {
					return c.errAt(ff+".type", "%q: use string, decimal, int, date or time", fd.Type)
				}
				if l.Format == "csv" && fd.Column < 1 {
					return c.errAt(ff+".column", "the CSV column (1-based) is required")
				}
				if l.Format == "flat" && (fd.Start < 1 || fd.Length < 1) {
					return c.errAt(ff+".start", "start (1-based) and length are required for fixed-width fields")
				}
				if fd.Align != "" && fd.Align != "left" && fd.Align != "right" {
					return c.errAt(ff+".align", "%q: use left or right", fd.Align)
				}
				if len([]rune(fd.Pad)) > 1 {
					return c.errAt(ff+".pad", "%q: one character", fd.Pad)
				}
				if fd.Scale < 0 || fd.Scale > 6 {
					return c.errAt(ff+".scale", "%d is out of range 0..6", fd.Scale)
				}
			}
		}
	}
	for i, p := range c.Partners {
		m := p.Mapping
		if m == nil {
			continue
		}
		f := fmt.Sprintf("partners[%d].mapping", i)
		if m.TimeZone != "" {
			if _, err := time.LoadLocation(m.TimeZone); err != nil {
				return c.errAt(f+".timezone", "unknown time zone %q (use an IANA name such as America/Chicago)", m.TimeZone)
			}
		}
		if m.Policy != "" && m.Policy != "quarantine" && m.Policy != "reject" {
			return c.errAt(f+".policy", "%q: use quarantine or reject", m.Policy)
		}
		if m.Layout != "" && !names[m.Layout] {
			return c.errAt(f+".layout", "%q is not a layout declared under layouts", m.Layout)
		}
		v := reflect.ValueOf(m.Codes)
		for t := 0; t < v.NumField(); t++ {
			name, _, _ := strings.Cut(v.Type().Field(t).Tag.Get("yaml"), ",")
			for j, e := range v.Field(t).Interface().([]string) {
				if k, val, ok := strings.Cut(e, "="); !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(val) == "" {
					return c.errAt(fmt.Sprintf("%s.codes.%s[%d]", f, name, j), "%q: expected CODE=canonical, e.g. DJ=load_id", e)
				}
			}
		}
		for j, d := range m.Defaults {
			k, val, ok := strings.Cut(d, "=")
			typ, _, dotted := strings.Cut(k, ".")
			if !ok || !dotted || val == "" || !contains(DocumentTypes, strings.TrimSpace(typ)) {
				return c.errAt(fmt.Sprintf("%s.defaults[%d]", f, j), "%q: expected TYPE.FIELD=VALUE, e.g. shipment.carrier=ABCD", d)
			}
		}
		for field, id := range map[string]string{"x12.sender": m.X12.Sender, "x12.receiver": m.X12.Receiver} {
			if id != "" {
				if _, err := ParseX12ID(id); err != nil {
					return c.errAt(f+"."+field, "%v", err)
				}
			}
		}
		if v := m.X12.Version; v != "" && v != "004010" && v != "005010" {
			return c.errAt(f+".x12.version", "%q: use 004010 or 005010", v)
		}
		if u := m.X12.Usage; u != "" && u != "P" && u != "T" {
			return c.errAt(f+".x12.usage", "%q: use P (production) or T (test)", u)
		}
		if d := m.X12.Delimiters; d != "" {
			if _, err := x12.ParseDelimiters(d); err != nil {
				return c.errAt(f+".x12.delimiters", "%v", err)
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Layout returns the layout with the given name, or nil.
func (c *Config) Layout(name string) *Layout {
	for i := range c.Layouts {
		if c.Layouts[i].Name == name {
			return &c.Layouts[i]
		}
	}
	return nil
}

// Partner returns the declared partner with the given ID, or nil.
func (c *Config) Partner(id string) *Partner {
	for i := range c.Partners {
		if c.Partners[i].ID == id {
			return &c.Partners[i]
		}
	}
	return nil
}
