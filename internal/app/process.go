package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
	"github.com/wharfedi/wharf/process"
)

// sendAcksInline has processing deliver the acknowledgments of files
// received from a folder with the file's outcome (delivery.Engine.SendNow):
// a local file written where the partner's files came from needs no job of
// its own, which costs an insert, a fetch and two completions per file.
// Other transports (network peers that may be slow or down) keep theirs.
func sendAcksInline(p *process.Processor, d *delivery.Engine, rt *jobs.Runtime) {
	p.SendNow = d.SendNow
	p.Inline = func(transport string) bool { return transport == "folder" }
	p.Enqueue = func(ctx context.Context, tx store.Tx, id string) error {
		_, err := rt.InsertTx(ctx, tx, jobs.DeliverArgs{MessageID: id}, nil)
		return err
	}
}

// newProcessor returns the processing stage with the partners' X12 policies.
func NewProcessor(c *config.Config, st store.Store, a *archive.Archive, emit func(ctx context.Context, m *store.Message, seq int, d canonical.Document) error, now func() time.Time, log *slog.Logger) *process.Processor {
	return &process.Processor{
		Archive: a, Store: st, Logger: log, Emit: emit, Now: now,
		Test: func(partner string) bool {
			p, ok := c.PartnerByID(partner)
			return ok && p.Test
		},
		Policy: func(partner string) process.Policy {
			p, _ := c.PartnerByID(partner)
			return process.Policy{Ack: p.X12.Ack, Strict: p.X12.Strict, AckTimeout: p.X12.AckTimeoutDuration()}
		},
		Profile: cachedProfiles(func(partner string) *mapping.Profile {
			var cp *config.Partner
			if p, ok := c.PartnerByID(partner); ok {
				cp = &p
			}
			prof, err := Profile(partner, cp)
			if err != nil {
				log.Error("mapping profile unusable; using the default dialect", "partner", partner, "err", err)
				return nil
			}
			return prof
		}),
		Layout: cachedLayouts(func(partner string) *mapping.RecordLayout {
			p, ok := c.PartnerByID(partner)
			if !ok || p.Mapping == nil || p.Mapping.Layout == "" {
				return nil
			}
			prof, err := Profile(partner, &p)
			if err == nil {
				var l *mapping.RecordLayout
				if l, err = Layout(c, p.Mapping.Layout, prof); err == nil {
					return l
				}
			}
			log.Error("partner's layout unusable; its files are kept unmapped", "partner", partner, "layout", p.Mapping.Layout, "err", err)
			return nil
		}),
	}
}

// cachedLayouts builds each partner's record layout once.
func cachedLayouts(build func(string) *mapping.RecordLayout) func(string) *mapping.RecordLayout {
	var mu sync.Mutex
	cache := map[string]*mapping.RecordLayout{}
	return func(partner string) *mapping.RecordLayout {
		mu.Lock()
		defer mu.Unlock()
		if l, ok := cache[partner]; ok {
			return l
		}
		l := build(partner)
		cache[partner] = l
		return l
	}
}

// cachedProfiles builds each partner's mapping profile once (the config does
// not change while the server runs).
func cachedProfiles(build func(string) *mapping.Profile) func(string) *mapping.Profile {
	var mu sync.Mutex
	cache := map[string]*mapping.Profile{}
	return func(partner string) *mapping.Profile {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := cache[partner]; ok {
			return p
		}
		p := build(partner)
		cache[partner] = p
		return p
	}
}

// ackOverdueSchedule checks for overdue acknowledgments every 5 minutes when
// a partner expects them and no configured schedule runs the check already.
func ackOverdueSchedule(c *config.Config, rt *jobs.Runtime) {
	if rt.HasTaskScheduled("x12.ack_overdue") {
		return
	}
	for _, p := range c.Partners {
		if p.X12.AckTimeout != "" {
			every, _ := config.Schedule{Cron: "@every 5m"}.Parse()
			rt.AddSchedules(jobs.Schedule{Name: "x12-ack-overdue", Schedule: every, Task: "x12.ack_overdue"})
			return
		}
	}
}

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
