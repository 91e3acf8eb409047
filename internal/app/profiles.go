package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// profileFor turns the partner's configured dialect into a mapping profile.
func Profile(id string, p *config.Partner) (*mapping.Profile, error) {
	spec := mapping.ProfileSpec{Partner: id, Envelope: mapping.Envelope{SenderQual: "ZZ", SenderID: "WHARF"}}
	if p != nil && len(p.X12IDs) > 0 {
		if x, err := config.ParseX12ID(p.X12IDs[0]); err == nil {
			spec.Envelope.ReceiverQual, spec.Envelope.ReceiverID = x.Qualifier, x.ID
		}
	}
	if p != nil && p.Mapping != nil {
		m := p.Mapping
		spec.TimeZone, spec.Policy, spec.Codes = m.TimeZone, m.Policy, m.Codes.Tables()
		spec.Defaults = map[string]string{}
		for _, d := range m.Defaults {
			k, v, _ := strings.Cut(d, "=")
			spec.Defaults[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		env := &spec.Envelope
		if x, err := config.ParseX12ID(m.X12.Sender); err == nil {
			env.SenderQual, env.SenderID = x.Qualifier, x.ID
		}
		if x, err := config.ParseX12ID(m.X12.Receiver); err == nil {
			env.ReceiverQual, env.ReceiverID = x.Qualifier, x.ID
		}
		env.GSSender, env.GSReceiver, env.Version, env.Usage = m.X12.GSSender, m.X12.GSReceiver, m.X12.Version, m.X12.Usage
		env.AckRequested, env.G62TimeQualifier = m.X12.AckRequested, m.X12.G62TimeQualifier
		if m.X12.Delimiters != "" {
			d, err := x12.ParseDelimiters(m.X12.Delimiters)
			if err != nil {
				return nil, err // validated at load
			}
			env.Delimiters = d
		}
	}
	return mapping.NewProfile(spec)
}

// layoutFor converts a configured layout.
func Layout(c *config.Config, name string, p *mapping.Profile) (*mapping.RecordLayout, error) {
	l := c.Layout(name)
	if l == nil {
		var names []string
		for _, x := range c.Layouts {
			names = append(names, x.Name)
		}
		return nil, fmt.Errorf("no layout %q in the configuration (layouts: %s)", name, strings.Join(names, ", "))
	}
	spec := mapping.LayoutSpec{Name: l.Name, Format: l.Format, Document: l.Document, Encoding: l.Encoding, Delimiter: l.Delimiter,
		Header: l.Header, DecimalSeparator: l.DecimalSeparator, DateFormat: l.DateFormat, TimeFormat: l.TimeFormat,
		TimeZone: l.TimeZone, GroupBy: l.GroupBy}
	for _, r := range l.Records {
		rs := mapping.RecordSpec{Kind: r.Kind, Tag: r.Tag, TagColumn: r.TagColumn, TagStart: r.TagStart, TagLength: r.TagLength}
		for _, f := range r.Fields {
			rs.Fields = append(rs.Fields, mapping.FieldSpec{Path: f.Path, Column: f.Column, Header: f.Header, Start: f.Start,
				Length: f.Length, Type: f.Type, Format: f.Format, Scale: f.Scale, Align: f.Align, Pad: f.Pad, Default: f.Default, Value: f.Value})
		}
		spec.Records = append(spec.Records, rs)
	}
	return mapping.NewRecordLayout(spec, p)
}

// Renderer is what render needs of the X12 and record renderers.
type Renderer interface {
	Render(ctx context.Context, d canonical.Document) ([]*mapping.Error, error)
	Close() error
}
