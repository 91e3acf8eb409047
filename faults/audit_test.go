package faults

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// report is what one scenario measured, for the test log and for
// docs/reliability.md.
type report struct {
	Documents  int            // acknowledged by Wharf
	Archived   int            // inbound messages of the load (retries flagged duplicate included)
	Duplicates int            // inbound copies rejected as repeats (a retry of an upload whose OK was lost)
	Acks       int            // 997s, one per document
	Refusals   map[door]int   // errors the senders saw and retried
	PeakRSSMB  int64          // the largest resident set of any run of wharf serve
	Runs       int            // how many times wharf serve started
	Settled    time.Duration  // from the last acknowledgment to the last 997
	Problems   []string       // what the audit found wrong (the test fails on any)
	ByDoor     map[door]int   // acknowledged documents per door
	extra      map[string]any // scenario-specific figures
}

func (r *report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d documents acknowledged %v; %d archived (%d retries rejected as duplicates); %d 997s; "+
		"senders saw %v refusals (retried); peak RSS %d MB over %d runs; settled %s after the last acknowledgment",
		r.Documents, r.ByDoor, r.Archived, r.Duplicates, r.Acks, r.Refusals, r.PeakRSSMB, r.Runs, r.Settled.Round(10*time.Millisecond))
	keys := make([]string, 0, len(r.extra))
	for k := range r.extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "; %s %v", k, r.extra[k])
	}
	return b.String()
}

func (r *report) set(k string, v any) {
	if r.extra == nil {
		r.extra = map[string]any{}
	}
	r.extra[k] = v
}

// audit waits (up to settle) for the load's documents to be processed by
// the running server, then checks what a partner and an auditor see:
//
//   - every acknowledged document archived, and processed exactly once: one
//     inbound message processed, any other copy of it (a retry whose first
//     acknowledgment was lost) rejected as a duplicate, never processed;
//   - exactly one 997 per document, none for a duplicate; for the folder
//     partner, exactly one 997 file in its outbound folder, and nothing left
//     in its inbound folder;
//   - no interchange control number drawn twice for one partner's 997s;
//   - no message of the load left "received" (stuck);
//   - `wharf archive verify`: every blob and the hash chain intact.
//
// The test fails with every problem found.
func (s *site) audit(l *load, dsn string, settle time.Duration) *report {
	s.t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		s.t.Fatalf("audit: open the store: %v", err)
	}
	defer st.Close()

	l.mu.Lock()
	acked := make(map[int]door, len(l.acked))
	var lastAck time.Time
	for k, v := range l.acked {
		acked[k] = v
		if l.ackedAt[k].After(lastAck) {
			lastAck = l.ackedAt[k]
		}
	}
	l.mu.Unlock()

	var v *view
	deadline := time.Now().Add(settle)
	for {
		if v, err = s.look(ctx, st); err != nil {
			s.t.Fatalf("audit: %v", err)
		}
		if v.complete(acked, s) {
			break
		}
		if time.Now().After(deadline) {
			break // the checks below say what is missing
		}
		time.Sleep(250 * time.Millisecond)
	}
	settled := time.Since(lastAck)

	r := &report{Documents: len(acked), Refusals: l.errors(), ByDoor: map[door]int{}, Settled: settled}
	s.mu.Lock()
	r.PeakRSSMB, r.Runs = s.peakRSS/1024, s.runs
	s.mu.Unlock()
	problem := func(format string, a ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, a...)) }

	for ctl, d := range acked {
		r.ByDoor[d]++
		copies := v.inbound[partnerOf[d]][ctl]
		if len(copies) == 0 {
			problem("%s %s: acknowledged but not archived", d, fileName(ctl))
			continue
		}
		processed := 0
		for _, m := range copies {
			acks := len(v.acks[m.ID])
			switch m.Status {
			case lifecycle.StatusProcessed:
				processed++
				if acks != 1 {
					problem("%s %s (message %s): %d 997s, want 1", d, fileName(ctl), m.ID, acks)
				}
			case lifecycle.StatusRejected:
				r.Duplicates++
				if acks != 0 {
					problem("%s %s (message %s): rejected copy has %d 997s", d, fileName(ctl), m.ID, acks)
				}
			default:
				problem("%s %s (message %s): status %s", d, fileName(ctl), m.ID, m.Status)
			}
		}
		if processed != 1 {
			problem("%s %s: processed %d times (%d copies archived), want once", d, fileName(ctl), processed, len(copies))
		}
		if d == doorHTTP && len(copies) != 1 {
			problem("http %s: %d copies archived despite one Idempotency-Key", fileName(ctl), len(copies))
		}
		if d == doorFolder && len(copies) != 1 {
			problem("folder %s: archived %d times, want once", fileName(ctl), len(copies))
		}
	}
	for _, byCtl := range v.inbound {
		for _, copies := range byCtl {
			r.Archived += len(copies)
		}
	}
	for _, ids := range v.acks {
		r.Acks += len(ids)
	}

	// The folder partner's outbound folder: one 997 file per document.
	files, _ := filepath.Glob(filepath.Join(s.out, "997_*"))
	perDoc := map[int]int{}
	for _, f := range files {
		if ctl, ok := ctlOf(strings.TrimPrefix(filepath.Base(f), "997_")); ok {
			perDoc[ctl]++
		}
	}
	for ctl, d := range acked {
		if d == doorFolder && perDoc[ctl] != 1 {
			problem("folder %s: %d 997 files in the outbound folder, want 1", fileName(ctl), perDoc[ctl])
		}
	}
	if left, _ := filepath.Glob(filepath.Join(s.in, "doc*")); len(left) > 0 {
		problem("%d files still in the watched folder (first %s)", len(left), filepath.Base(left[0]))
	}

	// Control numbers: read every 997 from the archive.
	arch, err := s.openArchive(st)
	if err != nil {
		s.t.Fatalf("audit: open the archive: %v", err)
	}
	seen := map[string]string{}
	for parent, ids := range v.acks {
		for _, id := range ids {
			rc, _, err := arch.Get(ctx, id)
			if err != nil {
				problem("997 %s (of %s): %v", id, parent, err)
				continue
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				problem("997 %s: %v", id, err)
				continue
			}
			k := v.partnerOf[id] + "/" + isa13(b)
			if other, dup := seen[k]; dup {
				problem("997s %s and %s share the interchange control number %s", other, id, k)
			}
			seen[k] = id
		}
	}
	for _, m := range v.stuck {
		problem("message %s (%s %s) still %s", m.ID, m.PartnerID, m.RemoteName, m.Status)
	}

	if out, err := s.cli("archive", "verify"); err != nil {
		problem("wharf archive verify: %v\n%s", err, out)
	}
	return r
}

// check fails the test with the audit's problems and logs the report.
func (r *report) check(t interface {
	Helper()
	Errorf(string, ...any)
	Logf(string, ...any)
}) {
	t.Helper()
	const show = 20
	for i, p := range r.Problems {
		if i == show {
			t.Errorf("... and %d more problems", len(r.Problems)-show)
			break
		}
		t.Errorf("audit: %s", p)
	}
	t.Logf("report: %s", r)
}

// view is the store's picture of the load.
type view struct {
	inbound   map[string]map[int][]*store.Message // partner -> control number -> archived copies
	acks      map[string][]string                 // inbound message -> its 997 messages
	partnerOf map[string]string                   // 997 message -> partner
	stuck     []*store.Message                    // inbound messages still received
}

func (s *site) look(ctx context.Context, st store.Store) (*view, error) {
	v := &view{inbound: map[string]map[int][]*store.Message{}, acks: map[string][]string{}, partnerOf: map[string]string{}}
	for _, p := range []string{"erp", "acme", "tms"} {
		v.inbound[p] = map[int][]*store.Message{}
		f := store.MessageFilter{PartnerID: p, Limit: 1000}
		for {
			page, err := st.SearchMessages(ctx, f)
			if err != nil {
				return nil, fmt.Errorf("search %s's messages: %w", p, err)
			}
			for _, m := range page {
				base := filepath.Base(m.RemoteName)
				switch m.Direction {
				case store.Inbound:
					ctl, ok := ctlOf(base)
					if !ok {
						continue
					}
					v.inbound[p][ctl] = append(v.inbound[p][ctl], m)
					if m.Status == lifecycle.StatusReceived {
						v.stuck = append(v.stuck, m)
					}
				case store.Outbound:
					if strings.HasPrefix(base, "997_") && m.ParentID != "" {
						v.acks[m.ParentID] = append(v.acks[m.ParentID], m.ID)
						v.partnerOf[m.ID] = p
					}
				}
			}
			if len(page) < f.Limit {
				break
			}
			f.Before, f.BeforeID = page[len(page)-1].ReceivedAt, page[len(page)-1].ID
		}
	}
	return v, nil
}

// complete reports whether everything acknowledged has been processed and
// answered, and the folder partner's 997s are all in its folder.
func (v *view) complete(acked map[int]door, s *site) bool {
	if len(v.stuck) > 0 {
		return false
	}
	files, _ := filepath.Glob(filepath.Join(s.out, "997_*"))
	folderDocs := 0
	for ctl, d := range acked {
		copies := v.inbound[partnerOf[d]][ctl]
		answered := false
		for _, m := range copies {
			if m.Status == lifecycle.StatusProcessed && len(v.acks[m.ID]) > 0 {
				answered = true
			}
		}
		if !answered {
			return false
		}
		if d == doorFolder {
			folderDocs++
		}
	}
	return len(files) >= folderDocs
}

// ctlOf reads the control number from a load file name (doc000042.edi,
// or doc000042.0a1b2c3d.edi for a repeated name).
func ctlOf(name string) (int, bool) {
	if !strings.HasPrefix(name, "doc") || len(name) < len("doc000000") {
		return 0, false
	}
	n, err := strconv.Atoi(name[3:9])
	return n, err == nil
}

// openArchive opens the site's archive for reading (the folder in the data
// folder unless the site names another).
func (s *site) openArchive(st store.Store) (*archive.Archive, error) {
	url := filepath.Join(s.data, "archive")
	for _, e := range s.env {
		if v, ok := strings.CutPrefix(e, "WHARF_ARCHIVE_URL="); ok {
			url = v
		}
	}
	getenv := func(k string) string {
		for _, e := range s.env {
			if v, ok := strings.CutPrefix(e, k+"="); ok {
				return v
			}
		}
		return os.Getenv(k)
	}
	blobs, spool, err := archive.OpenBlobs(url, filepath.Join(s.data, "archive-spool"), getenv)
	if err != nil {
		return nil, err
	}
	return archive.New(st, archive.Options{Blobs: blobs, Spool: spool})
}

// dsn is the store the site's server uses.
func (s *site) dsn() string {
	for _, e := range s.env {
		if v, ok := strings.CutPrefix(e, "WHARF_DATABASE_URL="); ok {
			return v
		}
	}
	return filepath.Join(s.data, "wharf.db")
}
