package canonical

import (
	"encoding/json"
	"errors"
	"fmt"
)

// New returns an empty document of type typ with its header set, or nil
// for an unknown type.
func New(typ string) Document {
	for _, t := range documentTypes {
		if t.typ == typ {
			d := t.new()
			h := d.Head()
			h.Type, h.Version = typ, Version
			return d
		}
	}
	return nil
}

// ErrUnknownType and ErrVersion are returned by Decode.
var (
	ErrUnknownType = errors.New("unknown document type")
	ErrVersion     = errors.New("unsupported document version")
)

// Decode reads one JSON document (one line of JSON Lines). Unknown fields
// are ignored; the type must be known and the version "1" (or absent).
func Decode(b []byte) (Document, error) {
	var h struct {
		Type    string `json:"type"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("canonical: %w", err)
	}
	d := New(h.Type)
	if d == nil {
		return nil, fmt.Errorf("canonical: %w %q", ErrUnknownType, h.Type)
	}
	if h.Version != "" && h.Version != Version {
		return nil, fmt.Errorf("canonical: %w %q (this build reads %q)", ErrVersion, h.Version, Version)
	}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("canonical: %s: %w", h.Type, err)
	}
	d.Head().Version = Version
	return d, nil
}
