package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Policy says what a document that cannot be mapped does to its file.
type Policy int

const (
	// Quarantine sets the bad document aside (Outcome.Quarantined) and maps
	// the rest of the file.
	Quarantine Policy = iota
	// Reject rejects the whole file at the first bad document: the caller
	// discards every document it received for the file.
	Reject
)

func (p Policy) String() string {
	if p == Reject {
		return "reject"
	}
	return "quarantine"
}

// Sentinels wrapped by mapping errors; test with errors.Is.
var (
	ErrMissing     = errors.New("required value missing")
	ErrBadValue    = errors.New("invalid value")
	ErrUnsupported = errors.New("no map for this document")
	ErrInput       = errors.New("input cannot be read") // a syntax error of the format under the document
)

// Position locates a problem in the source: X12 envelope control numbers
// and segment, or CSV/fixed-width line and column.
type Position struct {
	Interchange string `json:"interchange,omitempty"` // ISA13
	Group       string `json:"group,omitempty"`       // GS06
	Set         string `json:"set,omitempty"`         // ST02
	SetID       string `json:"set_id,omitempty"`      // ST01
	Segment     int64  `json:"segment,omitempty"`     // index of the segment in the file (1-based)
	SetPosition int    `json:"set_position,omitempty"`
	SegmentID   string `json:"segment_id,omitempty"`
	Element     int    `json:"element,omitempty"`
	Offset      int64  `json:"offset,omitempty"`
	Line        int    `json:"line,omitempty"`   // CSV and fixed-width
	Column      string `json:"column,omitempty"` // CSV column name or fixed-width field
}

func (p Position) String() string {
	var parts []string
	if p.Interchange != "" {
		parts = append(parts, "interchange "+p.Interchange)
	}
	if p.Group != "" {
		parts = append(parts, "group "+p.Group)
	}
	if p.Set != "" {
		parts = append(parts, "set "+p.SetID+" "+p.Set)
	}
	if p.SegmentID != "" {
		s := "segment " + p.SegmentID // Segment is 0 for segments not yet written (rendering)
		if p.Segment > 0 {
			s = fmt.Sprintf("segment %d %s", p.Segment, p.SegmentID)
		}
		if p.SetPosition > 0 {
			s += fmt.Sprintf(" (position %d)", p.SetPosition)
		}
		if p.Element > 0 {
			s += fmt.Sprintf(" element %02d", p.Element)
		}
		parts = append(parts, s)
	}
	if p.Line > 0 {
		parts = append(parts, fmt.Sprintf("line %d", p.Line))
	}
	if p.Column != "" {
		parts = append(parts, "column "+p.Column)
	}
	if p.Offset > 0 {
		parts = append(parts, fmt.Sprintf("offset %d", p.Offset))
	}
	return strings.Join(parts, ", ")
}

// Error is one mapping problem: which partner, which document, which
// canonical field and where in the source.
type Error struct {
	Partner  string   `json:"partner,omitempty"`
	Document string   `json:"document"` // e.g. "204 0001" or "shipment SHP1"
	Field    string   `json:"field,omitempty"`
	Pos      Position `json:"position"`
	Err      error    `json:"-"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("mapping: ")
	if e.Partner != "" {
		b.WriteString("partner " + e.Partner + ": ")
	}
	b.WriteString(e.Document)
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	if p := e.Pos.String(); p != "" {
		b.WriteString(" at " + p)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// MarshalJSON-friendly message.
func (e *Error) Message() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

// Quarantined is a document set aside: where it is and why.
type Quarantined struct {
	Document string   `json:"document"`
	Pos      Position `json:"position"`
	Errors   []*Error `json:"errors"`
}

// Outcome is what mapping a file came to, for the caller to act on: the
// processing job records an exception per quarantined document and, when
// Rejected, discards the documents of the file.
type Outcome struct {
	Partner     string        `json:"partner,omitempty"`
	Policy      string        `json:"policy"`
	Documents   int           `json:"documents"` // documents delivered
	Quarantined []Quarantined `json:"quarantined,omitempty"`
	Rejected    bool          `json:"rejected"`
	Errors      int           `json:"errors"`
}

// MarshalJSON writes the error with its message, for exception records.
func (e *Error) MarshalJSON() ([]byte, error) {
	type plain Error
	return json.Marshal(struct {
		*plain
		Message string `json:"message"`
	}{(*plain)(e), e.Message()})
}
