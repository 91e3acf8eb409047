package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
	"github.com/wharfedi/wharf/process"
	wsync "github.com/wharfedi/wharf/sync"
)

// syncRules turns the configuration's sync section and partner roles into
// the sync stage's rules. The error names the field (a *wsync.RuleError
// or a field of its own).
func syncRules(c *config.Config) (*wsync.Rules, error) {
	r := &wsync.Rules{Roles: map[string]string{}, Ownership: c.Sync.Ownership, BillingRequiresPOD: c.Sync.Billing.RequiresPOD(),
		TestPartners: map[string]bool{}, Master: c.Sync.MasterData.Policies(), MasterOwner: c.Sync.MasterData.Owner}
	tol := map[string]wsync.Tolerance{}
	for _, p := range c.Partners {
		if p.Role != "" {
			r.Roles[p.ID] = p.Role
		}
		if p.Test {
			r.TestPartners[p.ID] = true
		}
		if p.ChargeTolerance != "" {
			t, err := wsync.ParseTolerance(p.ChargeTolerance)
			if err != nil {
				return nil, &wsync.RuleError{Field: "partners[].charge_tolerance", Msg: err.Error()}
			}
			tol[p.ID] = t
		}
	}
	r.Tolerance = func(partner string) wsync.Tolerance { return tol[partner] }
	for i, rt := range c.Sync.Routes {
		docType, err := routeDocType(c, rt.Send)
		if err != nil {
			return nil, &wsync.RuleError{Field: fmt.Sprintf("sync.routes[%d].send", i), Msg: err.Error()}
		}
		r.Routes = append(r.Routes, wsync.Route{Name: rt.Name, On: rt.On, From: rt.From, To: rt.To, Send: rt.Send, DocType: docType, Batch: rt.Batch != "", Test: rt.Test})
	}
	for _, s := range c.Sync.SLAs {
		owner := s.Owner
		if owner == "" {
			owner = store.OwnerOperations
		}
		r.SLAs = append(r.SLAs, wsync.SLA{Name: s.Name, After: s.After, Expect: s.Expect, Within: s.WithinDuration(), Owner: owner})
	}
	return r, r.Validate()
}

// routeDocType is the canonical type a route's format carries.
func routeDocType(c *config.Config, send string) (string, error) {
	kind, target, _ := strings.Cut(send, ":")
	switch kind {
	case "json":
		return "", nil
	case "x12":
		t, _, ok := mapping.SetFor(target)
		if !ok {
			return "", fmt.Errorf("%q: no outbound map for X12 %q (maps exist for %s)", send, target, strings.Join(mapping.OutboundSets(), ", "))
		}
		return t, nil
	case "csv", "flat":
		l := c.Layout(target)
		if l == nil {
			return "", fmt.Errorf("%q: no layout %q under layouts", send, target)
		}
		if l.Format != kind {
			return "", fmt.Errorf("%q: layout %s is %s, not %s", send, target, l.Format, kind)
		}
		return l.Document, nil
	}
	return "", fmt.Errorf("%q: use x12:SET, csv:LAYOUT, flat:LAYOUT or json", send)
}

// ValidateSync is config.ValidateOptions.Sync.
func ValidateSync(c *config.Config) (string, error) {
	_, err := syncRules(c)
	var re *wsync.RuleError
	if errors.As(err, &re) {
		return re.Field, errors.New(re.Msg)
	}
	return "sync", err
}

func ValidateTolerance(s string) error { _, err := wsync.ParseTolerance(s); return err }

// syncSender renders a route's document in the partner's format and
// archives it as an outbound message; the archive's commit hook queues its
// delivery (or it waits in the partner's SFTP outbound/ folder).
type syncSender struct {
	c   *config.Config
	st  store.Store
	reg *registry        // picks each partner's outbound transport
	out *delivery.Engine // submits what routes send
	now func() time.Time
	// profiles caches each partner's mapping profile (building one loads
	// time zones and code tables: not per document).
	profiles func(partner string) *mapping.Profile
}

// newSyncSender returns the sender with its profile cache.
func newSyncSender(c *config.Config, st store.Store, out *delivery.Engine, reg *registry, now func() time.Time) *syncSender {
	return &syncSender{c: c, st: st, out: out, reg: reg, now: now, profiles: cachedProfiles(func(id string) *mapping.Profile {
		var cp *config.Partner
		if p, ok := c.PartnerByID(id); ok {
			cp = &p
		}
		prof, err := Profile(id, cp)
		if err != nil {
			return nil // renderFor builds it again and reports the error
		}
		return prof
	})}
}

// profile returns a copy of the partner's profile, safe to adjust.
func (s *syncSender) profile(partner string) *mapping.Profile {
	if s.profiles == nil {
		return nil
	}
	prof := s.profiles(partner)
	if prof == nil {
		return nil
	}
	cp := *prof
	return &cp
}

func (s *syncSender) Send(ctx context.Context, o *wsync.Outbound) (string, error) {
	var keys []store.Key
	for _, r := range o.Doc.Head().References {
		if r.Value != "" && r.Type != canonical.RefOther {
			keys = append(keys, store.Key{Kind: r.Type, Value: r.Value})
		}
	}
	keys = append(append(keys, store.Key{Kind: o.Kind, Value: o.Key}), o.Keys...)
	if o.Test {
		keys = append(keys, store.KeyTest)
	}
	return s.put(ctx, o.Route, safeName(o.Key), []canonical.Document{o.Doc}, keys, o.IdempotencyKey, o.Source,
		fmt.Sprintf("route %s: %s %s %s", o.Route.Name, o.Event, o.Kind, o.Key))
}

// SendBatch sends a batch route's documents as one file.
func (s *syncSender) SendBatch(ctx context.Context, rt wsync.Route, docs []canonical.Document, keys []store.Key, idem string) (string, error) {
	return s.put(ctx, rt, "batch", docs, keys, idem, nil, fmt.Sprintf("route %s: batch of %d documents", rt.Name, len(docs)))
}

func (s *syncSender) put(ctx context.Context, rt wsync.Route, what string, docs []canonical.Document, keys []store.Key, idem string, source *store.Message, note string) (string, error) {
	p, ok := s.c.PartnerByID(rt.To)
	if !ok {
		return "", fmt.Errorf("%w: route %s: partner %s is not configured", wsync.ErrUnsendable, rt.Name, rt.To)
	}
	o := delivery.Outbound{Partner: p.ID, Transport: s.reg.transportFor(p),
		Name:           fmt.Sprintf("%s_%s_%s%s", rt.Name, what, s.now().UTC().Format("20060102T150405"), extFor(rt.Send)),
		IdempotencyKey: idem, Keys: keys, Status: lifecycle.StatusWaiting, Note: note}
	if source != nil {
		o.CorrelationID, o.ParentID = source.CorrelationID, source.ID
	}
	return s.out.Submit(ctx, o, func() (io.Reader, error) {
		b, err := renderFor(ctx, s.c, s.st, &p, rt.Send, s.profile(p.ID), docs...)
		return bytes.NewReader(b), err
	})
}

// putFile archives a file for a partner and queues its delivery.
func (s *syncSender) putFile(ctx context.Context, partner, name string, body []byte, idem, note string) (string, error) {
	p, ok := s.c.PartnerByID(partner)
	if !ok {
		return "", fmt.Errorf("partner %s is not configured", partner)
	}
	return s.out.Submit(ctx, delivery.Outbound{Partner: p.ID, Transport: s.reg.transportFor(p), Name: name,
		IdempotencyKey: idem, Status: lifecycle.StatusWaiting, Note: note},
		func() (io.Reader, error) { return bytes.NewReader(body), nil })
}

// extFor is the file name extension of a route's format.
func extFor(send string) string {
	switch kind, _, _ := strings.Cut(send, ":"); kind {
	case "json":
		return ".json"
	case "x12":
		return ".x12"
	case "csv", "flat":
		return "." + kind
	}
	return ".txt"
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// renderFor writes one canonical document in the partner's format: X12
// with its envelope IDs and persistent control numbers, a CSV or
// fixed-width layout, or canonical JSON. A document the format cannot
// carry is wsync.ErrUnsendable.
func renderFor(ctx context.Context, c *config.Config, st store.Store, p *config.Partner, send string, prof *mapping.Profile, docs ...canonical.Document) ([]byte, error) {
	kind, target, _ := strings.Cut(send, ":")
	if prof == nil {
		var err error
		if prof, err = Profile(p.ID, p); err != nil {
			return nil, fmt.Errorf("%w: partner %s: mapping profile: %w", wsync.ErrUnsendable, p.ID, err)
		}
	}
	var buf bytes.Buffer
	var r Renderer
	switch kind {
	case "json":
		jl := mapping.NewJSONLines(&buf)
		for _, d := range docs {
			if err := jl.Emit(d); err != nil {
				return nil, err
			}
		}
		if err := jl.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case "x12":
		if prof.Envelope.ReceiverID == "" {
			if sp, err := st.GetPartner(ctx, p.ID); err == nil && len(sp.X12IDs) > 0 {
				prof.Envelope.ReceiverQual, prof.Envelope.ReceiverID = sp.X12IDs[0].Qualifier, sp.X12IDs[0].ID
			}
		}
		if prof.Envelope.ReceiverID == "" {
			return nil, fmt.Errorf("%w: partner %s has no X12 ID: add x12_ids to the partner or partners[].mapping.x12.receiver", wsync.ErrUnsendable, p.ID)
		}
		newline := p.Mapping != nil && p.Mapping.X12.Newline
		xr, err := mapping.NewX12Renderer(x12.NewWriter(&buf), mapping.RenderOptions{Profile: prof, Set: target, Numbers: process.NewCounters(st), Newline: newline})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", wsync.ErrUnsendable, err)
		}
		r = xr
	default:
		l, err := Layout(c, target, prof)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", wsync.ErrUnsendable, err)
		}
		rr, err := mapping.NewRecordRenderer(&buf, l, prof)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", wsync.ErrUnsendable, err)
		}
		r = rr
	}
	for _, d := range docs {
		errs, err := r.Render(ctx, d)
		if err != nil {
			return nil, err
		}
		if len(errs) > 0 {
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			return nil, fmt.Errorf("%w: %s", wsync.ErrUnsendable, strings.Join(msgs, "; "))
		}
	}
	if err := r.Close(); err != nil {
		return nil, fmt.Errorf("%w: %w", wsync.ErrUnsendable, err)
	}
	return buf.Bytes(), nil
}

// newSync builds the sync engine with its tasks and schedules: SLA timers
// every minute, reconciliation hourly, batch routes and expected files on
// their own cron, the exception digest. A schedule in the config running
// the same job replaces the default.
func (a *App) newSync(rt *jobs.Runtime, log *slog.Logger) *wsync.Engine {
	c, st := a.cfg, a.Store
	rules, _ := syncRules(c) // validated at load
	sender := newSyncSender(c, st, a.Delivery, a.reg, a.now)
	e := &wsync.Engine{Store: st, Rules: rules, Sender: sender, Logger: log, Now: a.now}
	rt.AddTask("sync.sla", func(ctx context.Context) error { _, err := e.CheckTimers(ctx); return err })
	rt.AddTask("sync.reconcile", func(ctx context.Context) error { _, err := e.Reconcile(ctx, c.Sync.ReconcileDuration()); return err })
	if !rt.HasTaskScheduled("sync.sla") && len(rules.SLAs) > 0 {
		every, _ := config.Schedule{Cron: "@every 1m"}.Parse()
		rt.AddSchedules(jobs.Schedule{Name: "sync-sla", Schedule: every, Task: "sync.sla"})
	}
	if !rt.HasTaskScheduled("sync.reconcile") && len(c.Sync.Routes) > 0 {
		hourly, _ := config.Schedule{Cron: "@hourly"}.Parse()
		rt.AddSchedules(jobs.Schedule{Name: "sync-reconcile", Schedule: hourly, Task: "sync.reconcile"})
	}
	for _, r := range c.Sync.Routes {
		if r.Batch == "" {
			continue
		}
		sched, _ := r.BatchSchedule()
		name, route := "sync.batch."+r.Name, r.Name
		rt.AddTask(name, func(ctx context.Context) error { _, err := e.RunBatch(ctx, route); return err })
		rt.AddSchedules(jobs.Schedule{Name: "batch-" + r.Name, Schedule: sched, Task: name})
	}
	rt.AddTask("sync.digest", func(ctx context.Context) error {
		dg := c.Sync.Digest
		if dg == nil {
			return errors.New("sync.digest: no recipient configured: set sync.digest.to (and cron) in the config")
		}
		now := a.now()
		txt, n, err := wsync.Digest(ctx, st, now)
		if err != nil || n == 0 {
			return err // nothing open: no report
		}
		_, err = sender.putFile(ctx, dg.To, fmt.Sprintf("exception-digest_%s.txt", now.UTC().Format("20060102T1504")), []byte(txt),
			"digest:"+now.UTC().Format("2006-01-02T15"), fmt.Sprintf("exception digest: %d open", n)) // a retry within the hour sends it once
		return err
	})
	if dg := c.Sync.Digest; dg != nil && !rt.HasTaskScheduled("sync.digest") {
		sched, _ := dg.Schedule()
		rt.AddSchedules(jobs.Schedule{Name: "sync-digest", Schedule: sched, Task: "sync.digest"})
	}
	for _, x := range c.Sync.Expect {
		sched, _ := x.Schedule()
		name := "sync.expect." + x.Name
		exp := wsync.Expectation{Name: x.Name, Partner: x.Partner, Window: x.WindowDuration(), Owner: x.Owner}
		rt.AddTask(name, func(ctx context.Context) error { _, err := e.CheckExpectation(ctx, exp); return err })
		rt.AddSchedules(jobs.Schedule{Name: "expect-" + x.Name, Schedule: sched, Task: name})
	}
	return e
}
