// Package x12 reads, checks, acknowledges and writes ASC X12 interchanges:
// a streaming [Reader] shaped like encoding/csv, an envelope and syntax
// [Checker], TA1/997/999 generation ([WriteAcks]) and reading ([ReadAcks]),
// a [Writer] with envelopes, and transaction set schemas kept as data.
//
// It follows the X12 interchange control structures of versions 00401 and
// 00501 (ISA/IEA, GS/GE, ST/SE; TA1 note codes I18 001-031; 997 per
// 004010 and 005010X230; 999 per 005010X231A1); the same envelope layout is
// read for control versions 00200 through 00899. Embedded schemas cover
// 004010 and 005010 of 204, 210, 214, 846, 850, 856, 810, 940, 943, 944,
// 945, 947, 990, 997 and 999.
//
// Delimiters come from each ISA: the element separator is the byte after
// "ISA", the component separator is ISA16, the repetition separator is
// ISA11 from control version 00402 on when it is not alphanumeric, and the
// segment terminator is the byte after ISA16 (CR with LF after it reads as
// CRLF). Control characters are valid delimiters.
//
// Where real partner files break the standard, the package is lenient, and
// reports each leniency as a warning:
//
//   - The ISA is parsed by counting element separators, not by fixed
//     offsets: unpadded or over-long ISA fields are read (ErrISANotPadded).
//   - An ISA that ends "*~" + line break while the following segments end
//     with "~" is read as having no ISA16 and '~' as terminator
//     (ErrISA16Missing).
//   - CR and LF that are not delimiters are dropped anywhere, even inside an
//     element (files wrapped at 80 columns, terminators followed by line breaks).
//   - A UTF-8 byte order mark is skipped; text before the first ISA and after
//     an IEA is skipped (ErrTextBeforeISA, ErrTextAfterIEA).
//   - The last segment may lack its terminator (ErrNoTerminator); empty
//     segments are skipped (ErrEmptySegment).
//   - ISA13 with fewer than 9 digits, and ISA11 other than U before 00402
//     (TA1 note 016, interchange accepted with errors) are accepted.
//   - Length, character, date, time and closed code-list problems are
//     warnings (AK5/IK5 E with AK3/AK4) unless Checker.Strict.
//   - Segment order, loop and maximum-use problems (AK304 codes 4, 5, 6 and
//     7) are warnings without AK3 unless Checker.Strict, because the embedded
//     schemas encode the standards' tables only as far as known; a missing
//     mandatory segment or loop (code 3) is always an error.
//   - Sets without a schema get envelope checks only (and a warning).
//   - An ST02/SE02 of 1 to 3 characters (X12 asks for 4 to 9; seen in real
//     carrier 214s) is a warning (AK5/IK5 E, code 7) unless Checker.Strict;
//     an empty or over-long one is always rejected.
//
// Envelope errors are never lenient: a control number or count mismatch, a
// missing trailer or a repeated ISA13 from the same sender rejects the
// interchange (TA1 R), group (AK9 R) or set (AK5 R) concerned.
//
// A Reader streams in constant memory: segments are views into its buffer,
// valid until the next Read, and reading does not allocate per segment or
// element. A segment longer than Reader.MaxSegmentSize is an error, not a
// reason to grow without bound.
package x12
