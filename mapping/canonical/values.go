package canonical

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Time is a point in time with its zone, or a calendar date when only the
// date is known. JSON: RFC 3339 with offset ("2026-01-05T08:00:00-05:00")
// or a date ("2026-01-05"). A time without a zone is not accepted.
type Time struct {
	time.Time
	DateOnly bool
}

// NewDate returns the date of t as a date-only Time.
func NewDate(y int, m time.Month, d int) Time {
	return Time{Time: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), DateOnly: true}
}

// At returns a Time for t.
func At(t time.Time) Time { return Time{Time: t} }

// String returns the JSON text without quotes.
func (t Time) String() string {
	if t.DateOnly {
		return t.Time.Format(time.DateOnly)
	}
	return t.Time.Format(time.RFC3339)
}

// MarshalJSON writes the date or the RFC 3339 time.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// ErrBadTime is returned for a time that is neither RFC 3339 with a zone nor a date.
var ErrBadTime = errors.New("not an RFC 3339 time with zone or a YYYY-MM-DD date")

// ParseTime parses an RFC 3339 time with zone or a YYYY-MM-DD date.
func ParseTime(s string) (Time, error) {
	if len(s) == 10 {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return Time{}, fmt.Errorf("%q: %w", s, ErrBadTime)
		}
		return Time{Time: d, DateOnly: true}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return Time{}, fmt.Errorf("%q: %w", s, ErrBadTime)
	}
	return Time{Time: t}, nil
}

// UnmarshalJSON reads a date or an RFC 3339 time with zone.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Decimal is a decimal number as text: optional minus, digits, optional
// fraction ("1250.00", "-3.5", "12"). Money uses two fraction digits.
// The empty Decimal means "not given".
type Decimal string

// ErrBadDecimal is returned for text that is not a Decimal.
var ErrBadDecimal = errors.New("not a decimal number")

// ParseDecimal checks s (a leading '+' and surrounding spaces are dropped).
func ParseDecimal(s string) (Decimal, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	if !validDecimal(s) {
		return "", fmt.Errorf("%q: %w", s, ErrBadDecimal)
	}
	return Decimal(s), nil
}

func validDecimal(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// Valid reports whether d is empty or a decimal number.
func (d Decimal) Valid() bool { return d == "" || validDecimal(string(d)) }

// UnmarshalJSON accepts a JSON string holding a decimal (a JSON number is
// accepted too and kept as written).
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '"' {
		if string(b) == "null" {
			*d = ""
			return nil
		}
		v, err := ParseDecimal(string(b))
		*d = v
		return err
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		*d = ""
		return nil
	}
	v, err := ParseDecimal(s)
	*d = v
	return err
}

// Scaled returns d with exactly n fraction digits (rounding half away from
// zero), for example Decimal("12.5").Scaled(2) = "12.50".
func (d Decimal) Scaled(n int) (Decimal, error) {
	if d == "" {
		return "", nil
	}
	if !validDecimal(string(d)) {
		return "", fmt.Errorf("%q: %w", string(d), ErrBadDecimal)
	}
	s := string(d)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	if ip == "" {
		ip = "0"
	}
	round := false
	if len(fp) > n {
		round = fp[n] >= '5'
		fp = fp[:n]
	}
	for len(fp) < n {
		fp += "0"
	}
	digits := []byte(ip + fp)
	if round {
		i := len(digits) - 1
		for ; i >= 0; i-- {
			if digits[i] == '9' {
				digits[i] = '0'
				continue
			}
			digits[i]++
			break
		}
		if i < 0 {
			digits = append([]byte{'1'}, digits...)
		}
	}
	ip, fp = string(digits[:len(digits)-n]), string(digits[len(digits)-n:])
	ip = strings.TrimLeft(ip, "0")
	if ip == "" {
		ip = "0"
	}
	out := ip
	if n > 0 {
		out += "." + fp
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return Decimal(out), nil
}

// Implied returns d as an X12 implied-decimal number with n fraction
// digits ("1250.00", 2 → "125000").
func (d Decimal) Implied(n int) (string, error) {
	s, err := d.Scaled(n)
	if err != nil || s == "" {
		return "", err
	}
	v := strings.Replace(string(s), ".", "", 1)
	neg := strings.HasPrefix(v, "-")
	v = strings.TrimLeft(strings.TrimPrefix(v, "-"), "0")
	if v == "" {
		v = "0"
	}
	if neg {
		v = "-" + v
	}
	return v, nil
}

// FromImplied reads an X12 implied-decimal number with n fraction digits
// ("125000", 2 → "1250.00").
func FromImplied(s string, n int) (Decimal, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", fmt.Errorf("%q: %w (implied decimal)", s, ErrBadDecimal)
		}
	}
	if s == "" {
		return "", fmt.Errorf("%q: %w", s, ErrBadDecimal)
	}
	for len(s) <= n {
		s = "0" + s
	}
	out := s[:len(s)-n]
	out = strings.TrimLeft(out, "0")
	if out == "" {
		out = "0"
	}
	if n > 0 {
		out += "." + s[len(s)-n:]
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return Decimal(out), nil
}
