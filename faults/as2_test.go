package faults

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/transports/as2"
)

// Scenario 6 at the AS2 door: hostile messages posted to POST /as2 by a
// known partner (trader, AS2 name TRADER), an impostor and a stranger while
// the partners' steady load runs. Each gets the answer docs/as2.md
// documents: a negative MDN naming the disposition (HTTP 200, signed, as
// AS2 answers), or an HTTP refusal before the body is read; what was
// accepted is archived as the raw request (never the expansion of a bomb),
// the server stays up with bounded memory, and the load's audit passes.
func TestHostileAS2(t *testing.T) {
	const maxBodyMB, maxDecompMB, maxExpansion = 4, 2, 20
	const bombSize = 64 << 20   // what a bomb expands to: 32 times the limit
	depth := scale(5000, 10000) // nesting of the deep MIME messages

	peer := startAS2Peer(t, false)
	dir := t.TempDir()
	trader := as2Party(t, dir, "trader", "TRADER")
	impostor := as2Party(t, dir, "impostor", "TRADER") // TRADER's name, another key
	stranger := as2Party(t, dir, "stranger", "STRANGER")
	extra := fmt.Sprintf(`  - id: trader
    as2: {id: TRADER, url: %q, cert_files: [%s], mdn: none, max_body_mb: %d, max_decompressed_mb: %d, max_expansion: %d}
as2: {id: WHARF}
`, peer.url(), filepath.Join(dir, "trader.crt"), maxBodyMB, maxDecompMB, maxExpansion)
	s := newSite(t, siteOptions{ExtraYAML: extra})
	s.start()
	wharfCert := siteAS2Cert(t, s)
	l := startLoad(s, scale(300, 2000), 50)

	// Every case posts from its own loopback address, away from the
	// partners' 127.0.0.1.
	c := &as2Caller{s: s, wharf: wharfCert, from: "127.0.0.9"}
	var cases []as2Case
	record := func(k as2Case) as2Case { cases = append(cases, k); return k }
	bomb := func(n int64) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(strings.NewReader("ISA*00*"), io.LimitReader(zeros{}, n-7))), nil
		}
	}

	t.Run("bomb, unsigned", func(t *testing.T) {
		b := c.build(t, trader, as2.Outgoing{MessageID: "bomb-unsigned-" + randHex(4), Name: "bomb.edi", Open: bomb(bombSize), Size: bombSize}, true, false)
		k := record(c.postBuilt(t, "decompression bomb, unsigned", b))
		k.wantMDN(t, as2.ErrInsufficientSecurity, "no verified signature covers", "allow_unsigned_compressed")
	})
	t.Run("bomb, compressed then signed", func(t *testing.T) {
		b := c.build(t, trader, as2.Outgoing{MessageID: "bomb-c-s-" + randHex(4), Name: "bomb.edi", Open: bomb(bombSize), Size: bombSize}, true, true)
		k := record(c.postBuilt(t, "decompression bomb, compressed then signed by the partner", b))
		k.wantMDN(t, as2.ErrDecompressionFailed, "max_decompressed_mb", fmt.Sprintf("%d MiB", maxDecompMB))
	})
	t.Run("bomb, signed then compressed", func(t *testing.T) {
		b := c.build(t, trader, as2.Outgoing{MessageID: "bomb-s-c-" + randHex(4), Name: "bomb.edi", Open: bomb(bombSize), Size: bombSize}, false, true)
		var signed bytes.Buffer
		signed.WriteString("Content-Type: " + b.Header.Get("Content-Type") + "\r\n\r\n")
		if err := b.WriteBody(&signed); err != nil {
			t.Fatal(err)
		}
		cd, err := as2.Compress(signed.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		h := b.Header.Clone()
		h.Set("Content-Type", "application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z")
		h.Set("Content-Transfer-Encoding", "binary")
		k := record(c.post(t, "decompression bomb, signed then compressed by the partner", h, bytes.NewReader(cd), int64(len(cd))))
		k.wantMDN(t, as2.ErrDecompressionFailed, "max_expansion", fmt.Sprintf("more than %d times", maxExpansion))
	})
	t.Run("nested multipart/signed", func(t *testing.T) {
		ct, body := nestedMIME(depth, "multipart/signed")
		b := c.build(t, trader, as2.Outgoing{MessageID: "nested-signed-" + randHex(4), ContentType: ct, Payload: body}, false, true)
		k := record(c.postBuilt(t, fmt.Sprintf("multipart/signed nested %d deep, signed by the partner", depth), b))
		k.wantMDN(t, as2.ErrUnexpectedProcessing, "signed twice")
	})
	var mixedID string
	t.Run("nested multipart/mixed", func(t *testing.T) {
		ct, body := nestedMIME(depth, "multipart/mixed")
		b := c.build(t, trader, as2.Outgoing{MessageID: "nested-mixed-" + randHex(4), Name: "nested.bin", ContentType: ct, Payload: body}, false, true)
		mixedID = b.AS2MessageID
		k := record(c.postBuilt(t, fmt.Sprintf("multipart/mixed nested %d deep, signed by the partner", depth), b))
		k.wantMDN(t, "", "received")
	})
	t.Run("nested multipart/report", func(t *testing.T) {
		ct, body := nestedMIME(depth, "multipart/report")
		h := as2Headers("TRADER", "WHARF", "<nested-report-"+randHex(4)+"@TRADER>")
		h.Set("Content-Type", ct)
		k := record(c.post(t, fmt.Sprintf("multipart/report nested %d deep (posing as an MDN)", depth), h, bytes.NewReader(body), int64(len(body))))
		k.wantStatus(t, http.StatusBadRequest, "not an MDN")
		if bytes.Contains(k.body, []byte("as2: as2:")) {
			t.Errorf("the refusal repeats its prefix: %s", k.body)
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		b := c.build(t, trader, as2.Outgoing{MessageID: "altered-" + randHex(4), Name: "altered.edi", Payload: doc("TRADER", 990001)}, false, true)
		var body bytes.Buffer
		if err := b.WriteBody(&body); err != nil {
			t.Fatal(err)
		}
		altered := bytes.Replace(body.Bytes(), []byte("LOAD990001"), []byte("LOAD990002"), 1)
		if bytes.Equal(altered, body.Bytes()) {
			t.Fatal("nothing to alter")
		}
		k := record(c.post(t, "payload altered after signing", b.Header, bytes.NewReader(altered), int64(len(altered))))
		k.wantMDN(t, as2.ErrIntegrityCheckFailed, "altered")
	})
	t.Run("certificate mismatch", func(t *testing.T) {
		b := c.build(t, impostor, as2.Outgoing{MessageID: "impostor-" + randHex(4), Name: "impostor.edi", Payload: doc("TRADER", 990003)}, false, true)
		k := record(c.postBuilt(t, "signed with a key whose certificate is not the partner's", b))
		k.wantMDN(t, as2.ErrAuthenticationFailed, "does not verify against partner trader's certificates", "wharf partner add trader --as2-cert")
	})
	var replayID string
	t.Run("replayed Message-ID", func(t *testing.T) {
		o := as2.Outgoing{MessageID: "replay-" + randHex(4), Name: "replay.edi", Payload: doc("TRADER", 990004)}
		first := c.postBuilt(t, "a message (signed, encrypted)", c.buildEncrypted(t, trader, o))
		first.wantMDN(t, "", "received")
		again := record(c.postBuilt(t, "the same Message-ID posted again", c.buildEncrypted(t, trader, o)))
		again.wantMDN(t, "", "received")
		replayID = first.msgID
		if !bytes.Equal(first.body, again.body) {
			t.Errorf("the repeat's MDN differs from the first's:\n%s\n---\n%s", first.body, again.body)
		}
	})
	t.Run("unknown AS2-From", func(t *testing.T) {
		b := c.build(t, stranger, as2.Outgoing{MessageID: "stranger-" + randHex(4), Name: "x.edi", Payload: bytes.Repeat([]byte("x"), 1<<20)}, false, true)
		var body bytes.Buffer
		b.WriteBody(&body)
		read := &countingReader{r: &body}
		k := record(c.post(t, "from an unknown AS2-From (Expect: 100-continue)", b.Header, read, int64(body.Len())))
		k.wantStatus(t, http.StatusForbidden, "unknown-trading-relationship")
		if n := read.n.Load(); n != 0 {
			t.Errorf("the server read %d bytes of a stranger's body before refusing", n)
		}
	})
	t.Run("over max_body_mb", func(t *testing.T) {
		size := int64(maxBodyMB+1) << 20
		h := as2Headers("TRADER", "WHARF", "<big-"+randHex(4)+"@TRADER>")
		h.Set("Content-Type", "application/edi-x12")
		read := &countingReader{r: io.LimitReader(zeros{}, size)}
		k := record(c.post(t, fmt.Sprintf("%d MiB body, Content-Length, limit %d MiB", maxBodyMB+1, maxBodyMB), h, read, size))
		k.wantStatus(t, http.StatusRequestEntityTooLarge, "partner trader's limit")
		if n := read.n.Load(); n != 0 {
			t.Errorf("the server read %d bytes of a body whose Content-Length is over the limit", n)
		}
		h.Set("Message-Id", "<big-chunked-"+randHex(4)+"@TRADER>")
		k = record(c.post(t, fmt.Sprintf("%d MiB body, chunked (no Content-Length)", maxBodyMB+1), h, io.LimitReader(zeros{}, size), -1))
		if k.err == nil { // a reset mid-body is a refusal too
			k.wantStatus(t, http.StatusRequestEntityTooLarge, "partner trader's limit")
		}
	})

	duringAttacks := l.ackedCount()
	l.wait(5 * time.Minute)
	if !s.running() {
		t.Fatal("wharf serve exited under hostile AS2 input")
	}
	r := s.audit(l, s.dsn(), 2*time.Minute)
	problem := func(format string, a ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, a...)) }

	ctx := context.Background()
	st, err := store.Open(ctx, s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The bookkeeping of each case: refusals with an MDN have their raw
	// request archived and no payload; those refused by HTTP status left
	// nothing.
	for _, k := range cases {
		rec, err := st.GetAS2Message(ctx, "trader", k.msgID, store.Inbound)
		switch {
		case k.status != http.StatusOK:
			if err == nil {
				problem("%s: answered %d, yet recorded (raw %s)", k.name, k.status, rec.RawID)
			}
		case err != nil:
			problem("%s: no AS2 record: %v", k.name, err)
		case rec.RawID == "":
			problem("%s: the raw request is not archived", k.name)
		case k.modifier != "" && (rec.MessageID != "" || rec.Disposition != k.modifier):
			problem("%s: recorded payload %q, disposition %q; want no payload, %s", k.name, rec.MessageID, rec.Disposition, k.modifier)
		}
	}
	// Nothing of a bomb's expansion is in the archive: each bomb's
	// evidence is its raw request (66 KB), and the archive folder stays
	// small.
	for _, k := range cases {
		if !strings.HasPrefix(k.msgID, "<wharf-bomb-") {
			continue
		}
		if rec, err := st.GetAS2Message(ctx, "trader", k.msgID, store.Inbound); err == nil {
			if m, err := st.GetMessage(ctx, rec.RawID); err != nil || m.Size > 1<<20 {
				problem("%s: the raw request archived is %v (%v); the bomb was 66 KB compressed", k.name, m, err)
			}
		}
	}
	var traderBytes, rawN int64
	for _, m := range inboundOf(t, st, "trader") {
		traderBytes += m.Size
		if m.Transport == as2.TransportRaw {
			rawN++
		}
	}
	// One raw request per message answered with an MDN (a repeat archives
	// nothing new); none for a request refused by its HTTP status.
	wantRaw := 0
	for _, k := range cases {
		if k.status == http.StatusOK {
			wantRaw++
		}
	}
	if rawN != int64(wantRaw) {
		problem("%d raw requests archived for trader, want %d", rawN, wantRaw)
	}
	archiveBytes := dirSize(t, filepath.Join(s.data, "archive"))
	if archiveBytes > 8<<20 {
		problem("the archive folder holds %d bytes after bombs expanding to %d", archiveBytes, bombSize)
	}
	if left := dirSize(t, filepath.Join(s.data, "as2-spool")); left != 0 {
		problem("%d bytes left in the AS2 spool", left)
	}
	// The replayed message: one payload, processed once, its repeat in its
	// history, one 997 sent back (over AS2, to trader's URL).
	var payloads []*store.Message
	for _, m := range inboundOf(t, st, "trader") {
		if m.Transport == as2.TransportAS2 && strings.HasPrefix(m.RemoteName, "replay.edi") {
			payloads = append(payloads, m)
		}
	}
	if rec, err := st.GetAS2Message(ctx, "trader", replayID, store.Inbound); err != nil || rec.MessageID == "" {
		problem("the replayed message has no payload recorded: %v", err)
	} else if m, err := st.GetMessage(ctx, rec.MessageID); err != nil || m.Status != lifecycle.StatusProcessed {
		problem("the replayed message's payload: %v %v, want processed", m, err)
	} else if evs, _ := st.Events(ctx, m.ID); !hasEvent(evs, lifecycle.EventDuplicate, "not processed again") {
		problem("the replayed message's history does not note the repeat")
	}
	if len(payloads) != 1 {
		problem("%d payloads archived for the replayed Message-ID, want 1", len(payloads))
	}
	waitFor(t, 30*time.Second, "the 997 of the replayed message posted to trader", func() bool { return peer.count() >= 1 })
	// The deep multipart/mixed was a payload for the gateway: archived,
	// then refused with its reason.
	if rec, err := st.GetAS2Message(ctx, "trader", mixedID, store.Inbound); err != nil || rec.MessageID == "" {
		problem("the nested multipart/mixed payload is not recorded: %v", err)
	} else if m, err := st.GetMessage(ctx, rec.MessageID); err != nil || (m.Status != lifecycle.StatusUnrecognized && m.Status != lifecycle.StatusRejected) {
		problem("the nested multipart/mixed payload: %+v %v, want unrecognized or rejected", m, err)
	}
	// An exception tells the operator of each limit and policy refusal.
	xs, err := st.ListExceptions(ctx, store.ExceptionFilter{PartnerID: "trader"})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, x := range xs {
		reasons[x.Reason]++
	}
	if reasons["as2_limit"] != 1 || reasons["as2_policy"] != 1 {
		problem("exceptions for trader %v, want one as2_limit and one as2_policy (repeats noted on them)", reasons)
	}
	if n := peer.count(); n != 1 {
		problem("trader's AS2 endpoint got %d posts (997s), want 1: the repeat was processed again", n)
	}
	const rssLimitMB = 100
	if r.PeakRSSMB > rssLimitMB {
		problem("peak RSS %d MB (limit %d MB)", r.PeakRSSMB, rssLimitMB)
	}

	for _, k := range cases {
		t.Logf("AS2 %s: HTTP %d %s (%s)", k.name, k.status, k.answer(), k.took.Round(time.Millisecond))
	}
	r.set("AS2 cases", len(cases))
	r.set("load documents acknowledged when the attacks ended", duringAttacks)
	r.set("trader's archived bytes (raw requests, payloads)", fmt.Sprintf("%d in %d raw requests and payloads", traderBytes, rawN))
	r.set("archive folder bytes", archiveBytes)
	r.set("bomb expands to (bytes)", bombSize)
	r.check(t)
	s.stop()
}

// Scenario 5 for AS2: a partner (silent) whose endpoint accepts every post
// with 200 and never sends the async MDN it was asked for, next to the
// steady load. Every send completes at once (the wait is a row in the
// database, not a worker), each message waits awaiting_mdn until its
// mdn_timeout, then the overdue check fails it with an mdn_overdue
// exception; the load's audit passes unaffected.
func TestAS2AsyncMDNNeverComes(t *testing.T) {
	const mdnTimeout = 3 * time.Second // partners[].as2.mdn_timeout
	const overdueEvery = time.Second   // the schedule running as2.mdn_overdue
	docs := scale(10, 100)
	total, rate := scale(300, 3000), 30

	peer := startAS2Peer(t, true)
	dir := t.TempDir()
	as2Party(t, dir, "silent", "SILENT")
	// The site's HTTP address is chosen by newSite; public_url only has to
	// be set for async MDNs to be asked (the silent partner never uses it).
	extra := fmt.Sprintf(`  - id: silent
    as2: {id: SILENT, url: %q, cert_files: [%s], mdn: async, mdn_timeout: %s}
as2: {id: WHARF, public_url: "http://127.0.0.1:1/as2"}
schedules:
  - {name: as2-overdue-fast, cron: "@every %s", job: as2.mdn_overdue}
`, peer.url(), filepath.Join(dir, "silent.crt"), mdnTimeout, overdueEvery)
	s := newSite(t, siteOptions{ExtraYAML: extra})
	s.start()

	began := time.Now()
	l := startLoad(s, total, rate)
	waitFor(t, time.Minute, "a third of the load acknowledged", func() bool { return l.ackedCount() >= total/3 })

	ctx := context.Background()
	st, err := store.Open(ctx, s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Outbound documents to the silent partner, as an operator or a route
	// puts them: each queues its delivery over AS2.
	sentAt := time.Now()
	for i := 1; i <= docs; i++ {
		f := filepath.Join(dir, fileName(970000+i))
		if err := os.WriteFile(f, doc("WHARF", 970000+i), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := s.cli("archive", "put", "--partner", "silent", "--direction", "out", "--transport", "as2", f); err != nil {
			t.Fatalf("wharf archive put: %v\n%s", err, out)
		}
	}
	statuses := func() map[lifecycle.Status]int {
		m := map[lifecycle.Status]int{}
		for _, msg := range outbound(t, st, "silent") {
			m[msg.Status]++
		}
		return m
	}
	// Every send completes: the endpoint has them, and they wait.
	waitFor(t, 30*time.Second, fmt.Sprintf("%d posts to the silent partner, each awaiting its MDN or already overdue", docs), func() bool {
		st := statuses()
		return peer.count() >= docs && st[lifecycle.StatusAwaitingMDN]+st[lifecycle.StatusFailed] == docs
	})
	allSent := time.Since(sentAt)
	// Then each becomes overdue: failed, with an exception, within its
	// timeout and two runs of the check.
	waitFor(t, mdnTimeout+allSent+2*overdueEvery+10*time.Second, "every message to the silent partner failed as overdue", func() bool {
		return statuses()[lifecycle.StatusFailed] == docs
	})
	allOverdue := time.Since(sentAt)

	l.wait(time.Duration(total/rate)*time.Second + time.Minute - time.Since(began))
	r := s.audit(l, s.dsn(), time.Minute)
	problem := func(format string, a ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, a...)) }

	var early, late, lag, posted time.Duration
	for _, m := range outbound(t, st, "silent") {
		evs, err := st.Events(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		var awaiting, overdue time.Time
		for _, e := range evs {
			switch e.Kind {
			case lifecycle.EventAwaitingMDN:
				awaiting = e.At
			case lifecycle.EventMDNOverdue:
				overdue = e.At
				if !strings.Contains(e.Detail, "exception") || !strings.Contains(e.Detail, "wharf replay "+m.ID) {
					problem("%s's overdue event does not name its exception and the fix: %s", m.ID, e.Detail)
				}
			case lifecycle.EventAttemptFailed:
				problem("%s: a failed attempt to a partner that accepted every post: %s", m.ID, e.Detail)
			}
		}
		if awaiting.IsZero() || overdue.IsZero() {
			problem("%s (%s): awaiting_mdn at %v, overdue at %v", m.ID, m.Status, awaiting, overdue)
			continue
		}
		// The deadline is mdn_timeout from the send's start; the verdict
		// comes at the first run of the check past it.
		rec, err := st.GetAS2Message(ctx, "silent", as2.AS2MessageIDFor(m.ID, "WHARF"), store.Outbound)
		if err != nil {
			problem("%s: no AS2 record: %v", m.ID, err)
			continue
		}
		if rec.Status != "mdn_overdue" {
			problem("%s: AS2 record status %q, want mdn_overdue", m.ID, rec.Status)
		}
		if d := rec.Deadline.Sub(awaiting); d < mdnTimeout-time.Second || d > mdnTimeout {
			problem("%s: deadline %s after it started waiting, want its mdn_timeout %s", m.ID, d, mdnTimeout)
		}
		past := overdue.Sub(rec.Deadline)
		if past < 0 {
			problem("%s failed as overdue %s before its deadline", m.ID, -past)
		}
		lag = max(lag, past)
		posted = max(posted, awaiting.Sub(m.ReceivedAt))
		wait := overdue.Sub(awaiting)
		if early == 0 || wait < early {
			early = wait
		}
		late = max(late, wait)
		xs, err := st.ListExceptions(ctx, store.ExceptionFilter{MessageID: m.ID})
		if err != nil || len(xs) != 1 || xs[0].Reason != "mdn_overdue" || xs[0].Owner != store.OwnerIT {
			problem("%s: exceptions %+v %v, want one mdn_overdue for it", m.ID, xs, err)
		}
	}
	if lag > 2*overdueEvery+2*time.Second {
		problem("a message was found overdue %s after its deadline (the check runs every %s)", lag, overdueEvery)
	}
	if n := peer.count(); n != docs {
		problem("the silent partner got %d posts, want %d (one per message: nothing resent)", n, docs)
	}
	if !s.running() {
		problem("wharf serve exited")
	}
	// The other partners' latency (upload to 997 archived), before and
	// after the silent partner's messages were sent.
	latency, slow := latencyAround(t, st, sentAt)
	if slow != "" {
		problem("upload-to-997 latency %s while the silent partner's MDNs were awaited", slow)
	}
	r.set("latency p95 before/while awaited", latency)
	r.set("messages to the silent partner", docs)
	r.set("put to awaiting_mdn (max)", posted.Round(10*time.Millisecond))
	r.set("all posted after the first put", allSent.Round(10*time.Millisecond))
	r.set("all overdue after the first put", allOverdue.Round(10*time.Millisecond))
	r.set("awaiting to overdue (min/max)", fmt.Sprintf("%s/%s", early.Round(10*time.Millisecond), late.Round(10*time.Millisecond)))
	r.set("overdue verdict after the deadline (max)", lag.Round(10*time.Millisecond))
	r.check(t)
	s.stop()
}

// as2Party makes an AS2 identity with its PEM files in dir (name.crt,
// name.key), as a partner would hand over its certificate.
func as2Party(t *testing.T, dir, name, as2ID string) *as2.Identity {
	t.Helper()
	certPEM, keyPEM, err := as2.GenerateIdentity(as2ID, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cf, kf := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cf, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := as2.LoadIdentity(as2ID, cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// siteAS2Cert is Wharf's AS2 certificate, generated into the data folder
// at its first start (what `wharf as2 cert` prints).
func siteAS2Cert(t *testing.T, s *site) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.data, as2.IdentityCertFile))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := as2.ParseCertificates(b)
	if err != nil || len(cs) == 0 {
		t.Fatalf("Wharf's AS2 certificate: %v", err)
	}
	return cs[0]
}

// as2Caller posts AS2 messages to a site, as a partner's AS2 software.
type as2Caller struct {
	s     *site
	wharf *x509.Certificate
	from  string
	once  sync.Once
	http  *http.Client
}

// build makes a message from id to Wharf with the transports/as2 client's
// own builder (streamed: a bomb is never in memory), compressed and
// signed as asked, unencrypted, asking a signed sync MDN.
func (c *as2Caller) build(t *testing.T, id *as2.Identity, o as2.Outgoing, compress, sign bool) *as2.Built {
	t.Helper()
	p := &as2.Partner{ID: "wharf", AS2ID: "WHARF", Sign: sign, Compress: compress, MDN: as2.MDNSync, SignedMDN: true}
	b, err := as2.Build(id, p, o, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// buildEncrypted makes a signed message encrypted to Wharf's certificate.
func (c *as2Caller) buildEncrypted(t *testing.T, id *as2.Identity, o as2.Outgoing) *as2.Built {
	t.Helper()
	p := &as2.Partner{ID: "wharf", AS2ID: "WHARF", Certs: []*x509.Certificate{c.wharf}, Sign: true, Cipher: as2.AES256CBC, MDN: as2.MDNSync, SignedMDN: true}
	b, err := as2.Build(id, p, o, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// as2Case is one hostile message and Wharf's answer.
type as2Case struct {
	name     string
	msgID    string
	status   int
	body     []byte
	err      error // the post failed (a refusal that cut the connection)
	mdn      *as2.MDN
	mdnErr   error
	modifier string
	took     time.Duration
}

func (k *as2Case) answer() string {
	switch {
	case k.err != nil:
		return "connection cut: " + k.err.Error()
	case k.mdn != nil && k.mdn.Modifier != "":
		return fmt.Sprintf("negative MDN %q: %s", k.mdn.Disposition, k.mdn.Explanation)
	case k.mdn != nil:
		return fmt.Sprintf("MDN %q", k.mdn.Disposition)
	}
	return strings.TrimSpace(string(k.body))
}

// wantMDN checks a signed sync MDN with the disposition modifier (""
// for processed) whose explanation names each of words.
func (k *as2Case) wantMDN(t *testing.T, modifier string, words ...string) {
	t.Helper()
	if k.err != nil || k.status != http.StatusOK {
		t.Fatalf("%s: %v HTTP %d %s, want an MDN", k.name, k.err, k.status, k.body)
	}
	if k.mdnErr != nil {
		t.Fatalf("%s: the answer is not a signed MDN: %v\n%s", k.name, k.mdnErr, k.body)
	}
	if !k.mdn.Signed || k.mdn.OriginalMessageID != k.msgID {
		t.Errorf("%s: MDN signed %v for %s, want signed for %s", k.name, k.mdn.Signed, k.mdn.OriginalMessageID, k.msgID)
	}
	if k.mdn.Modifier != modifier {
		t.Fatalf("%s: disposition %q (%s), want modifier %q", k.name, k.mdn.Disposition, k.mdn.Explanation, modifier)
	}
	for _, w := range words {
		if !strings.Contains(k.mdn.Explanation, w) {
			t.Errorf("%s: the MDN's explanation does not say %q: %s", k.name, w, k.mdn.Explanation)
		}
	}
}

// wantStatus checks an HTTP refusal whose text names want.
func (k *as2Case) wantStatus(t *testing.T, status int, want string) {
	t.Helper()
	if k.err != nil {
		t.Fatalf("%s: %v, want HTTP %d", k.name, k.err, status)
	}
	if k.status != status || !strings.Contains(string(k.body), want) {
		t.Fatalf("%s: HTTP %d %s, want %d naming %q", k.name, k.status, k.body, status, want)
	}
}

func (c *as2Caller) postBuilt(t *testing.T, name string, b *as2.Built) as2Case {
	t.Helper()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(b.WriteBody(pw)) }()
	defer pr.Close()
	return c.post(t, name, b.Header, pr, b.Size)
}

// post sends one AS2 request (size -1: chunked) and reads the answer,
// and a sync MDN in it, verified against Wharf's certificate.
func (c *as2Caller) post(t *testing.T, name string, h http.Header, body io.Reader, size int64) as2Case {
	t.Helper()
	c.once.Do(func() {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.from)}, Timeout: 5 * time.Second}
		c.http = &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: d.DialContext, ExpectContinueTimeout: 10 * time.Second}}
	})
	k := as2Case{name: name, msgID: h.Get("Message-Id")}
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.s.httpAddr+"/as2", body)
	req.Header = h.Clone()
	req.Header.Set("Expect", "100-continue")
	req.ContentLength = size
	if size < 0 {
		req.ContentLength = -1
	}
	began := time.Now()
	res, err := c.http.Do(req)
	k.took = time.Since(began)
	if err != nil {
		k.err = err
		return k
	}
	defer res.Body.Close()
	k.status = res.StatusCode
	k.body, _ = io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode == http.StatusOK && len(k.body) > 0 {
		e, err := as2.ParseEntity(append([]byte("Content-Type: "+res.Header.Get("Content-Type")+"\r\n\r\n"), k.body...))
		if err == nil {
			k.mdn, err = as2.ParseMDN(e, []*x509.Certificate{c.wharf}, time.Now())
		}
		k.mdnErr = err
		if k.mdn != nil {
			k.modifier = k.mdn.Modifier
		}
	}
	return k
}

// as2Headers are the AS2 headers of a hand-made request.
func as2Headers(from, to, msgID string) http.Header {
	h := http.Header{}
	h.Set("As2-Version", "1.2")
	h.Set("As2-From", from)
	h.Set("As2-To", to)
	h.Set("Message-Id", msgID)
	h.Set("Mime-Version", "1.0")
	return h
}

// nestedMIME is a multipart entity of type mt nested depth levels deep:
// each level's first part is the next level (the innermost a line of
// text); a multipart/signed level's second part is a signature that
// verifies nothing. It returns the outer Content-Type and body.
func nestedMIME(depth int, mt string) (string, []byte) {
	ct := func(i int) string {
		switch mt {
		case "multipart/signed":
			return fmt.Sprintf(`multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="n%06d"`, i)
		case "multipart/report":
			return fmt.Sprintf(`multipart/report; report-type=disposition-notification; boundary="n%06d"`, i)
		}
		return fmt.Sprintf(`%s; boundary="n%06d"`, mt, i)
	}
	var b bytes.Buffer
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "--n%06d\r\n", i)
		if i < depth {
			fmt.Fprintf(&b, "Content-Type: %s\r\n\r\n", ct(i+1))
		} else {
			b.WriteString("Content-Type: text/plain\r\n\r\nthe bottom")
		}
	}
	for i := depth; i >= 1; i-- {
		if mt == "multipart/signed" {
			fmt.Fprintf(&b, "\r\n--n%06d\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIBAA==", i)
		}
		fmt.Fprintf(&b, "\r\n--n%06d--\r\n", i)
	}
	return ct(1), b.Bytes()
}

// as2Peer is a partner's AS2 endpoint that accepts every post with 200
// and never sends an MDN: neither sync (trader's mdn: none) nor the async
// one it is asked for.
type as2Peer struct {
	srv *httptest.Server
	mu  sync.Mutex
	n   int
}

func startAS2Peer(t *testing.T, async bool) *as2Peer {
	t.Helper()
	p := &as2Peer{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if async && r.Header.Get("Receipt-Delivery-Option") == "" {
			http.Error(w, "no Receipt-Delivery-Option in an async request", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.n++
		p.mu.Unlock()
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *as2Peer) url() string { return p.srv.URL + "/as2" }

func (p *as2Peer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// countingReader counts what the server made the client send.
type countingReader struct {
	r io.Reader
	n counter
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func hasEvent(evs []*store.Event, kind lifecycle.EventKind, text string) bool {
	for _, e := range evs {
		if e.Kind == kind && strings.Contains(e.Detail, text) {
			return true
		}
	}
	return false
}

// dirSize is the bytes of the files under dir (0 when it does not exist).
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return n
}
