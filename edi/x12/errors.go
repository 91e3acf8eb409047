package x12

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Errors returned by [Reader.Read] and issues reported by
// [Checker] wrap one of these in a [*ParseError]; test them with errors.Is.
//
// Errors marked "warning" are reported through [Reader.OnWarning] (and as
// warnings in a [Checker] result) and never stop reading.
var (
	// ErrNoISA: the input holds no ISA segment and no delimiters were set.
	ErrNoISA = errors.New("no ISA segment found")
	// ErrBadISA: an ISA segment is malformed beyond recovery (fewer than 16 elements, or no terminator).
	ErrBadISA = errors.New("malformed ISA segment")
	// ErrBadDelimiters: delimiters from the ISA are alphanumeric or not distinct.
	ErrBadDelimiters = errors.New("invalid delimiters")
	// ErrSegmentTooLong: a segment exceeds Reader.MaxSegmentSize; Read skips to the next terminator.
	ErrSegmentTooLong = errors.New("segment too long")

	// ErrTextBeforeISA (warning): text before the first ISA was skipped.
	ErrTextBeforeISA = errors.New("text before ISA skipped")
	// ErrTextAfterIEA (warning): text after an IEA (and before any next ISA) was skipped.
	ErrTextAfterIEA = errors.New("text after IEA skipped")
	// ErrISANotPadded (warning): the ISA is not the fixed-width 106-byte form.
	ErrISANotPadded = errors.New("ISA is not fixed-width (elements not padded)")
	// ErrISA16Missing (warning): the ISA has no component separator; the byte
	// that follows ISA15 is used as the segment terminator.
	ErrISA16Missing = errors.New("ISA16 component separator missing")
	// ErrNoTerminator (warning): the last segment of the input has no terminator.
	ErrNoTerminator = errors.New("last segment has no terminator")
	// ErrEmptySegment (warning): an empty segment (two terminators in a row) was skipped.
	ErrEmptySegment = errors.New("empty segment skipped")

	// Envelope and syntax problems reported by Checker.
	ErrMissingTrailer    = errors.New("missing trailer")         // IEA, GE or SE missing
	ErrControlMismatch   = errors.New("control number mismatch") // header and trailer control numbers differ
	ErrCountMismatch     = errors.New("count mismatch")          // IEA01, GE01 or SE01 differs from the actual count
	ErrDuplicateControl  = errors.New("duplicate control number")
	ErrUnexpectedSegment = errors.New("unexpected segment")
	ErrBadValue          = errors.New("invalid value")
	ErrUnsupported       = errors.New("not supported")
	ErrSyntax            = errors.New("syntax error") // segment or element error against the schema
)

// A ParseError locates a problem in the input. Fields that do not apply are
// zero. It is like encoding/csv's ParseError, with X12's envelope context.
type ParseError struct {
	Offset      int64  // byte offset in the input of the segment (or byte) concerned
	Segment     int64  // 1-based index of the segment in the input (0: before any segment)
	Position    int    // 1-based position of the segment in its transaction set (ST = 1), 0 outside a set
	Element     int    // 1-based element position, 0 for the whole segment
	SegmentID   string // segment ID, when known
	Interchange string // ISA13 of the enclosing interchange
	Group       string // GS06 of the enclosing group
	Set         string // ST02 of the enclosing transaction set
	Err         error  // the problem; wraps a sentinel
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("x12: ")
	sep := ""
	add := func(k, v string) {
		b.WriteString(sep)
		b.WriteString(k)
		b.WriteString(" ")
		b.WriteString(v)
		sep = ", "
	}
	if e.Interchange != "" {
		add("interchange", e.Interchange)
	}
	if e.Group != "" {
		add("group", e.Group)
	}
	if e.Set != "" {
		add("set", e.Set)
	}
	if e.Segment > 0 {
		s := strconv.FormatInt(e.Segment, 10)
		if e.SegmentID != "" {
			s += " (" + e.SegmentID
			if e.Position > 0 {
				s += " at set position " + strconv.Itoa(e.Position)
			}
			s += ")"
		}
		add("segment", s)
	}
	if e.Element > 0 {
		add("element", strconv.Itoa(e.Element))
	}
	add("offset", strconv.FormatInt(e.Offset, 10))
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// wrapf wraps sentinel with a detail message so errors.Is still matches.
func wrapf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
