package web

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	wsync "github.com/wharfedi/wharf/sync"
)

// Throughput is one partner and transport's traffic in a window.
type Throughput struct {
	Partner   string  `json:"partner"`
	Transport string  `json:"transport"`
	In        int64   `json:"in"`
	Out       int64   `json:"out"`
	Errors    int64   `json:"errors"`
	Bytes     int64   `json:"bytes"`
	ErrorRate float64 `json:"error_rate"` // errors / (in + out)
}

// Window is the traffic of a time window.
type Window struct {
	Name   string       `json:"name"` // 24h, 7d
	Since  time.Time    `json:"since"`
	Total  Throughput   `json:"total"`
	Groups []Throughput `json:"groups"`
}

// Day is one day's traffic (UTC), for the 7-day chart.
type Day struct {
	Day      time.Time `json:"day"`
	Messages int64     `json:"messages"`
	Errors   int64     `json:"errors"`
}

// Daily returns the messages and errors of each of the last 7 days (UTC),
// oldest first: counts since each midnight, differenced.
func (s *Server) Daily(ctx context.Context) ([]Day, error) {
	today := s.now().Truncate(24 * time.Hour)
	since := make([][2]int64, 8) // messages, errors since day i (i = 0: 6 days ago ... 6: today; 7: none)
	for i := 0; i < 7; i++ {
		stats, err := s.st.MessageStats(ctx, today.AddDate(0, 0, i-6))
		if err != nil {
			return nil, err
		}
		for _, m := range stats {
			since[i][0] += m.Count
			if m.Status.IsError() {
				since[i][1] += m.Count
			}
		}
	}
	out := make([]Day, 7)
	for i := range out {
		out[i] = Day{Day: today.AddDate(0, 0, i-6), Messages: since[i][0] - since[i+1][0], Errors: since[i][1] - since[i+1][1]}
	}
	return out, nil
}

// Overview is the traffic of the last 24 hours and 7 days.
func (s *Server) Overview(ctx context.Context) ([]Window, error) {
	now := s.now()
	var out []Window
	for _, w := range []struct {
		name string
		d    time.Duration
	}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}} {
		stats, err := s.st.MessageStats(ctx, now.Add(-w.d))
		if err != nil {
			return nil, err
		}
		win := Window{Name: w.name, Since: now.Add(-w.d), Total: Throughput{Partner: "all", Transport: "all"}}
		idx := map[[2]string]int{}
		for _, m := range stats {
			k := [2]string{m.PartnerID, m.Transport}
			i, ok := idx[k]
			if !ok {
				i = len(win.Groups)
				idx[k] = i
				win.Groups = append(win.Groups, Throughput{Partner: m.PartnerID, Transport: m.Transport})
			}
			for _, g := range []*Throughput{&win.Groups[i], &win.Total} {
				if m.Direction == store.Inbound {
					g.In += m.Count
				} else {
					g.Out += m.Count
				}
				if m.Status.IsError() {
					g.Errors += m.Count
				}
				g.Bytes += m.Bytes
			}
		}
		for _, g := range append([]*Throughput{&win.Total}, ptrs(win.Groups)...) {
			if n := g.In + g.Out; n > 0 {
				g.ErrorRate = float64(g.Errors) / float64(n)
			}
		}
		out = append(out, win)
	}
	return out, nil
}

func ptrs(ts []Throughput) []*Throughput {
	out := make([]*Throughput, len(ts))
	for i := range ts {
		out[i] = &ts[i]
	}
	return out
}

// Stuck stages.
const (
	StageNotMapped    = "received, not mapped"
	StageNotDelivered = "mapped, not delivered"
	StageNotAcked     = "delivered, not acknowledged"
)

// StuckDoc is a document that stopped moving.
type StuckDoc struct {
	Stage     string    `json:"stage"`
	MessageID string    `json:"message_id"`
	Partner   string    `json:"partner"`
	Transport string    `json:"transport"`
	Direction string    `json:"direction"`
	Filename  string    `json:"filename"`
	Status    string    `json:"status"`
	Since     time.Time `json:"since"`
	Reason    string    `json:"reason"`
	Action    string    `json:"action"` // what an operator can do
}

// Stuck lists documents of the last 7 days that stopped at a step:
// inbound ones not processed after StuckAfter or processed without a
// result (unrecognized, rejected); outbound ones not delivered after
// StuckAfter or dead-lettered; sent X12 groups whose acknowledgment is
// overdue. Newest first within each stage. AS2 evidence is never a
// stuck document (see evidenceTransports).
func (s *Server) Stuck(ctx context.Context) ([]StuckDoc, error) {
	now := s.now()
	since := now.Add(-7 * 24 * time.Hour)
	old := now.Add(-s.o.StuckAfter)
	var out []StuckDoc
	add := func(stage string, m *store.Message, reason, action string) {
		out = append(out, StuckDoc{Stage: stage, MessageID: m.ID, Partner: m.PartnerID, Transport: m.Transport,
			Direction: string(m.Direction), Filename: m.RemoteName, Status: string(m.Status), Since: m.ReceivedAt, Reason: reason, Action: action})
	}
	in, err := s.searchDocuments(ctx, store.MessageFilter{Direction: store.Inbound, Since: since,
		Statuses: []lifecycle.Status{lifecycle.StatusReceived, lifecycle.StatusUnrecognized, lifecycle.StatusRejected}}, 500)
	if err != nil {
		return nil, err
	}
	for _, m := range in {
		switch lifecycle.Status(m.Status) {
		case lifecycle.StatusReceived:
			if m.ReceivedAt.Before(old) {
				add(StageNotMapped, m, fmt.Sprintf("received %s ago and not processed yet", now.Sub(m.ReceivedAt).Round(time.Minute)),
					"check the jobs page for a failing processing job; replay re-runs processing")
			}
		case lifecycle.StatusUnrecognized:
			add(StageNotMapped, m, "not a format Wharf reads: "+s.whyRejected(ctx, m, "no ISA segment at the start, no layout"),
				"ask the partner for X12, or add a CSV/flat layout; then replay")
		case lifecycle.StatusRejected:
			add(StageNotMapped, m, "rejected: "+s.whyRejected(ctx, m, "its history (the validated or mapped event) and its exception say why"),
				"fix with the partner and have them resend, or replay after a config change")
		}
	}
	// An AS2 request the endpoint refused is the one piece of evidence
	// someone acts on: its payload never came in.
	refused, err := s.st.SearchMessages(ctx, store.MessageFilter{Direction: store.Inbound, Transport: "as2-raw", Since: since,
		Statuses: []lifecycle.Status{lifecycle.StatusRejected}, Limit: 500})
	if err != nil {
		return nil, err
	}
	for _, m := range refused {
		add(StageNotMapped, m, "the AS2 endpoint refused this request (its MDN told the partner why; the failed event in its history says it too)",
			"fix the partner's or Wharf's AS2 settings (certificates, signing, encryption), then have the partner resend")
	}
	outb, err := s.searchDocuments(ctx, store.MessageFilter{Direction: store.Outbound, Since: since,
		Statuses: []lifecycle.Status{lifecycle.StatusReceived, lifecycle.StatusWaiting, lifecycle.StatusDeadLetter}}, 500)
	if err != nil {
		return nil, err
	}
	for _, m := range outb {
		switch status := lifecycle.Status(m.Status); {
		case status == lifecycle.StatusDeadLetter:
			add(StageNotDelivered, m, "delivery gave up (dead letter); the history says why", "fix the route or the partner's endpoint, then replay")
		case m.ReceivedAt.Before(old) && status == lifecycle.StatusWaiting:
			add(StageNotDelivered, m, fmt.Sprintf("waiting %s for the partner to fetch it", now.Sub(m.ReceivedAt).Round(time.Minute)), "ask the partner to fetch their outbound folder")
		case m.ReceivedAt.Before(old):
			add(StageNotDelivered, m, fmt.Sprintf("not delivered %s after it was archived", now.Sub(m.ReceivedAt).Round(time.Minute)), "check the jobs page for the delivery job; replay re-sends")
		}
	}
	groups, err := s.st.UnacknowledgedSentGroups(ctx, now)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, g := range groups {
		if seen[g.MessageID] || g.SentAt.Before(since) {
			continue
		}
		seen[g.MessageID] = true
		m, err := s.st.GetMessage(ctx, g.MessageID)
		if err != nil {
			continue
		}
		add(StageNotAcked, m, fmt.Sprintf("functional group %s (%s) has no 997/999 since %s", g.GS06, g.FunctionalID, g.DueAt.Format("2006-01-02 15:04 MST")),
			"ask the partner for the acknowledgment, or replay to send again")
	}
	return out, nil
}

// fileExceptionReasons are the exceptions processing raises about a whole
// inbound file (package process): X12 validation or mapping rejected it,
// Wharf does not read its format.
var fileExceptionReasons = []string{"x12_rejected", "rejected", "unrecognized"}

// whyRejected is the first reason processing gave for rejecting m (or not
// recognizing it), from the latest exception event of its history that
// names a file exception, else otherwise.
func (s *Server) whyRejected(ctx context.Context, m *store.Message, otherwise string) string {
	evs, err := s.st.Events(ctx, m.ID)
	if err != nil {
		return otherwise
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind != lifecycle.EventException {
			continue
		}
		reason, rest, ok := strings.Cut(evs[i].Detail, " (exception ")
		if !ok || !slices.Contains(fileExceptionReasons, reason) {
			continue
		}
		if _, why, ok := strings.Cut(rest, "): "); ok {
			return strings.TrimPrefix(why, "error: ")
		}
	}
	return otherwise
}

// evidenceTransports are the transports of AS2 evidence (named as in
// transports/as2, which this package does not import; the tests check the
// names): raw requests (as2-raw), the MDNs Wharf returned synchronously
// (as2-mdn) and those partners returned for what Wharf sent (as2-mdn-in).
// The AS2 code settles evidence (package lifecycle); no job processes or
// delivers it, so evidence is not stuck as a document is, even when it
// stayed received (archived before it was settled). A refused request is
// listed on its own (Stuck). An async MDN Wharf owes a partner
// (as2-mdn-async) is delivered like any outbound document, and stuck when
// it is not.
var evidenceTransports = map[string]bool{"as2-raw": true, "as2-mdn": true, "as2-mdn-in": true}

// searchDocuments returns up to limit messages of f, newest first,
// leaving out AS2 evidence in the store's query.
func (s *Server) searchDocuments(ctx context.Context, f store.MessageFilter, limit int) ([]*store.Message, error) {
	f.NotTransports = slices.Sorted(maps.Keys(evidenceTransports))
	f.Limit = limit
	return s.st.SearchMessages(ctx, f)
}

// MessageDetail is a message with its keys and history.
type MessageDetail struct {
	Entry  *archive.Entry
	Keys   []store.Key
	Events []*store.Event
}

// Detail returns a message with its keys and events.
func (s *Server) Detail(ctx context.Context, id string) (*MessageDetail, error) {
	e, err := s.o.Archive.Entry(ctx, id)
	if err != nil {
		return nil, err
	}
	keys, err := s.st.MessageKeys(ctx, id)
	if err != nil {
		return nil, err
	}
	evs, err := s.o.Archive.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	return &MessageDetail{Entry: e, Keys: keys, Events: evs}, nil
}

// Trace is everything Wharf knows about a business key (wsync.Trace: the
// business objects it names and one hop further, the messages that carried
// it or were sent for those objects, their exceptions), as one timeline.
func (s *Server) Trace(ctx context.Context, key string) (*wsync.TraceResult, error) {
	if key == "" {
		return nil, badRequest("trace: the key is empty", "give a PO, BOL, PRO, shipment ID, invoice number or control number")
	}
	tr, err := wsync.TraceWith(ctx, s.st, key, wsync.TraceOptions{Documents: s.o.TraceDocuments})
	if err != nil {
		return nil, err
	}
	// Lists are lists in the answer, also when empty (the OpenAPI
	// document says array, not null).
	tr.Objects, tr.Messages, tr.Exceptions = nonNil(tr.Objects), nonNil(tr.Messages), nonNil(tr.Exceptions)
	tr.Timeline, tr.Systems = nonNil(tr.Timeline), nonNil(tr.Systems)
	for _, o := range tr.Objects {
		o.Refs, o.Events, o.Timers = nonNil(o.Refs), nonNil(o.Events), nonNil(o.Timers)
	}
	for _, m := range tr.Messages {
		m.Keys, m.Events, m.DocTypes = nonNil(m.Keys), nonNil(m.Events), nonNil(m.DocTypes)
	}
	return tr, nil
}

// Cert is a certificate and when it expires.
type Cert struct {
	Owner     string    `json:"owner"` // "wharf" or the partner ID
	Use       string    `json:"use"`   // as2
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	DaysLeft  int       `json:"days_left"`
	State     string    `json:"state"` // ok, expiring (30 days), expired
}

func (s *Server) cert(owner string, c *x509.Certificate) Cert {
	left := int(c.NotAfter.Sub(s.now()).Hours() / 24)
	state := "ok"
	switch {
	case !s.now().Before(c.NotAfter):
		state = "expired"
	case left < 30:
		state = "expiring"
	}
	return Cert{Owner: owner, Use: "as2", Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.String(),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), DaysLeft: left, State: state}
}

// Certificates lists Wharf's own AS2 certificates and every partner's,
// soonest expiry first.
func (s *Server) Certificates(ctx context.Context) ([]Cert, error) {
	var out []Cert
	if s.o.HeldCerts != nil {
		held, err := s.o.HeldCerts(ctx)
		if err != nil {
			return nil, err
		}
		for _, h := range held {
			owner := h.Owner
			if owner == "" {
				owner = "wharf"
			}
			out = append(out, s.cert(owner, h.Cert))
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].NotAfter.Before(out[j].NotAfter) })
		return out, nil
	}
	ps, err := s.st.ListPartners(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		a, err := s.st.GetPartnerAS2(ctx, p.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, blk := range a.CertsPEM {
			rest := []byte(blk)
			for {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				if c, err := x509.ParseCertificate(b.Bytes); err == nil {
					out = append(out, s.cert(p.ID, c))
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NotAfter.Before(out[j].NotAfter) })
	return out, nil
}

// ScheduleInfo is a schedule with its last and next run.
type ScheduleInfo struct {
	Name    string     `json:"name"`
	Task    string     `json:"task"`
	LastRun *time.Time `json:"last_run" nullable:"true" doc:"null before its first run; a slot skipped while paused counts"`
	NextRun time.Time  `json:"next_run" doc:"its next slot (skipped while paused)"`
	// PausedAt is when an operator paused it (every instance skips its
	// slots); null: running.
	PausedAt *time.Time `json:"paused_at" nullable:"true" doc:"null: running; else since when every instance skips its slots"`
	PausedBy string     `json:"paused_by,omitempty" doc:"who paused it, as audit events name actors"`
}

// Schedules lists the server's schedules.
func (s *Server) Schedules(ctx context.Context) ([]ScheduleInfo, error) {
	if s.o.Jobs == nil {
		return nil, nil
	}
	pauses, err := s.st.SchedulePauses(ctx)
	if err != nil {
		return nil, err
	}
	var out []ScheduleInfo
	for _, sc := range s.o.Jobs.Schedules() {
		si := ScheduleInfo{Name: sc.Name, Task: sc.Task, NextRun: sc.Schedule.Next(s.now()).UTC()}
		if p, ok := pauses[sc.Name]; ok {
			at := p.At.UTC()
			si.PausedAt, si.PausedBy = &at, p.By
		}
		last, ok, err := s.st.ScheduleLastRun(ctx, sc.Name)
		if err != nil {
			return nil, err
		}
		if ok {
			l := last.UTC()
			si.LastRun = &l
		}
		out = append(out, si)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// JobInfo is one job of the runtime.
type JobInfo struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	State       string     `json:"state"`
	Attempt     int        `json:"attempt"`
	MaxAttempts int        `json:"max_attempts"`
	CreatedAt   time.Time  `json:"created_at"`
	ScheduledAt time.Time  `json:"scheduled_at"`
	FinalizedAt *time.Time `json:"finalized_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Args        string     `json:"args"`
	MessageID   string     `json:"message_id,omitempty"` // the message a processing or delivery job works on
	Schedule    string     `json:"schedule,omitempty"`   // the schedule that inserted it
}

// Jobs lists recent jobs, newest first, optionally of some states.
func (s *Server) Jobs(ctx context.Context, states []string, limit int) ([]JobInfo, error) {
	var st []rivertype.JobState
	for _, x := range states {
		if !slices.Contains(rivertype.JobStates(), rivertype.JobState(x)) {
			return nil, &httpError{400, fmt.Sprintf("state %q is not a job state", x), "use " + strings.Join(jobStateNames(), ", ")}
		}
		st = append(st, rivertype.JobState(x))
	}
	if s.o.Jobs == nil {
		return nil, &httpError{503, "the job runtime is not running in this process", "ask the server that runs 'wharf serve'"}
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	p := river.NewJobListParams().First(limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if len(st) > 0 {
		p = p.States(st...)
	}
	rows, err := s.o.Jobs.List(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []JobInfo
	for _, j := range rows {
		ji := JobInfo{ID: j.ID, Kind: j.Kind, State: string(j.State), Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
			CreatedAt: j.CreatedAt.UTC(), ScheduledAt: j.ScheduledAt.UTC(), FinalizedAt: j.FinalizedAt, Args: string(j.EncodedArgs)}
		if n := len(j.Errors); n > 0 {
			ji.LastError = j.Errors[n-1].Error
		}
		var a struct {
			MessageID string `json:"message_id"`
			Schedule  string `json:"schedule"`
		}
		if json.Unmarshal(j.EncodedArgs, &a) == nil {
			ji.MessageID, ji.Schedule = a.MessageID, a.Schedule
		}
		out = append(out, ji)
	}
	return out, nil
}

// Replay runs a message again (delivery.ReplayWith): re-runs processing of
// an inbound one or a dead letter's delivery, re-sends any other outbound
// one as a new message. The open exceptions about it record the replay with
// o's actor.
func (s *Server) Replay(ctx context.Context, id string, o delivery.ReplayOptions) (*delivery.Replayed, error) {
	if s.o.Jobs == nil {
		return nil, &httpError{503, "replay needs the job runtime, which is not running in this process", "use 'wharf replay ID'"}
	}
	return delivery.ReplayWith(ctx, s.o.Archive, s.o.Jobs, id, o)
}

// messageOut is a message as the API shows it (the fields of `wharf
// archive search --json`).
type messageOut struct {
	ID            string          `json:"id"`
	Partner       string          `json:"partner" doc:"partner ID"`
	Direction     store.Direction `json:"direction"`
	ReceivedAt    time.Time       `json:"received_at"`
	Size          int64           `json:"size"`
	SHA256        string          `json:"sha256" doc:"hex sha256 of the original bytes"`
	Filename      string          `json:"filename" doc:"the file name as the remote side named it"`
	Status        string          `json:"status" doc:"a message status, or purged for an entry whose bytes retention removed"`
	Transport     string          `json:"transport"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Format        string          `json:"format,omitempty" doc:"x12, csv, flat, json or unknown, once processed"`
	DocTypes      []string        `json:"doc_types,omitempty"`
	ParentID      string          `json:"parent_id,omitempty" doc:"the message this one replays or derives from"`
	DuplicateOf   string          `json:"duplicate_of,omitempty"`
	PurgedAt      string          `json:"purged_at,omitempty"`
	Test          bool            `json:"test,omitempty" doc:"test traffic (ISA15 T, a partner or route marked test): changed no business object"`
}

// markTest sets Test on the messages of a page found with filter f that
// are test traffic: one more search, for the test messages the same
// filter and page bounds find (every test message of the page is among
// them), instead of the keys of each message.
func (s *Server) markTest(ctx context.Context, f store.MessageFilter, out []*messageOut) error {
	if len(out) == 0 || f.Traffic == store.TrafficProduction {
		return nil
	}
	f.Traffic = store.TrafficTest
	tests, err := s.st.SearchMessages(ctx, f)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, m := range tests {
		ids[m.ID] = true
	}
	for _, o := range out {
		o.Test = ids[o.ID]
	}
	return nil
}

// testEntry is a message's detail as the console shows it, marked test
// when its keys say so.
func testEntry(d *MessageDetail) *messageOut {
	o := entryJSON(d.Entry)
	o.Test = store.IsTest(d.Keys)
	return o
}

func entryJSON(e *archive.Entry) *messageOut {
	o := &messageOut{ID: e.ID, Partner: e.PartnerID, Direction: e.Direction, ReceivedAt: e.ReceivedAt, Size: e.Size,
		SHA256: e.SHA256, Filename: e.RemoteName, Status: string(e.Status), Transport: e.Transport, CorrelationID: e.CorrelationID,
		Format: e.Format, DocTypes: e.DocTypes, ParentID: e.ParentID, DuplicateOf: e.DuplicateOf}
	if !e.PurgedAt.IsZero() {
		o.PurgedAt = e.PurgedAt.Format(time.RFC3339Nano)
		o.Status = "purged" // not a lifecycle.Status: the entry is a tombstone
	}
	return o
}

// jobStateNames are River's job states, for hints.
func jobStateNames() []string {
	var out []string
	for _, s := range rivertype.JobStates() {
		out = append(out, string(s))
	}
	return out
}

// EventSink is an event subscription as the overview shows it: how far it
// published, its lag and its failures.
type EventSink struct {
	Name      string
	Publisher string // the instance holding its lease, "" for none
	Published int64
	Pending   int64     // events written after its cursor
	Oldest    time.Time // the oldest event it has not published
	Lag       time.Duration
	Failures  int64
	LastError string
	LastAt    time.Time // of LastError
}

// LagText is the lag for a person: "caught up", or how old the oldest
// unpublished event is.
func (e EventSink) LagText() string {
	if e.Pending == 0 {
		return "caught up"
	}
	if e.Lag < time.Minute {
		return fmt.Sprintf("%.1f s", e.Lag.Seconds())
	}
	return strings.TrimSuffix(ago(e.Lag), " ago")
}
