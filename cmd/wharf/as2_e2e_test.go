package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// TestAS2SendEndToEnd runs two `wharf serve` processes, A and B, that know
// each other as AS2 partners. A sends over its delivery engine: to B with
// a sync MDN (AES-256-CBC), to B with an async MDN (AES-256-GCM,
// compressed) that B's deliverer posts back to A's /as2, and to a silent
// partner whose async MDN never comes: its wait is kept in A's database
// across a restart, then the overdue check fails the message with an
// exception. A runs on SQLite and on PostgreSQL.
func TestAS2SendEndToEnd(t *testing.T) {
	for _, db := range []string{"SQLite", "Postgres"} {
		t.Run(db, func(t *testing.T) {
			var env []string
			if db == "Postgres" {
				env = append(env, "WHARF_DATABASE_URL="+testenv.Postgres(t))
			}
			testAS2SendEndToEnd(t, env)
		})
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func testAS2SendEndToEnd(t *testing.T, envA []string) {
	dir := t.TempDir()
	dirA, dirB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.MkdirAll(dirA, 0o755)
	os.MkdirAll(dirB, 0o755)
	// Each side's certificate, generated on first use, handed to the other.
	certA, code := runCLI(t, dirA, append(envA, "WHARF_AS2_ID=WHARF-A"), "as2", "cert", "--data", filepath.Join(dirA, "data"))
	if code != 0 {
		t.Fatalf("as2 cert A: %s", certA)
	}
	certB, code := runCLI(t, dirB, []string{"WHARF_AS2_ID=WHARF-B"}, "as2", "cert", "--data", filepath.Join(dirB, "data"))
	if code != 0 {
		t.Fatalf("as2 cert B: %s", certB)
	}
	pem := func(out string) []byte {
		return []byte(out[strings.Index(out, "-----BEGIN"):strings.LastIndex(out, "-----END CERTIFICATE-----")+25] + "\n")
	}
	os.WriteFile(filepath.Join(dirA, "b.pem"), pem(certB), 0o644)
	os.WriteFile(filepath.Join(dirB, "a.pem"), pem(certA), 0o644)

	var silentPosts atomic.Int32
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		silentPosts.Add(1) // accepts, and never sends the async MDN
	}))
	defer silent.Close()

	portA, portB := freePort(t), freePort(t)
	cfgB := `data: data
as2: {id: WHARF-B}
partners:
  - id: a
    as2: {id: WHARF-A, cert_files: [a.pem], require_signed: true, require_encrypted: true}
`
	cfgA := func(overdueEverySecond bool) string {
		s := fmt.Sprintf(`data: data
as2: {id: WHARF-A, public_url: "http://127.0.0.1:%d/as2"}
partners:
  - id: b
    as2: {id: WHARF-B, url: "http://127.0.0.1:%d/as2", cert_files: [b.pem], mdn: async, encrypt: aes256-gcm, compress: true}
  - id: bsync
    as2: {id: WHARF-B, url: "http://127.0.0.1:%d/as2", cert_files: [b.pem]}
  - id: bplain
    as2: {id: WHARF-B, url: "http://127.0.0.1:%d/as2", cert_files: [b.pem], encrypt: none}
  - id: quiet
    as2: {id: QUIET, url: %q, cert_files: [b.pem], mdn: async, mdn_timeout: 1s}
`, portA, portB, portB, portB, silent.URL)
		if overdueEverySecond {
			s += "schedules:\n  - {name: as2-overdue-fast, cron: \"@every 1s\", job: as2.mdn_overdue}\n"
		}
		return s
	}
	os.WriteFile(filepath.Join(dirB, "wharf.yaml"), []byte(cfgB), 0o600)
	// b and bsync are both B (AS2 name WHARF-B), with async and sync MDNs;
	// B's async MDNs come back from WHARF-B, which A maps to b, the first.
	os.WriteFile(filepath.Join(dirA, "wharf.yaml"), []byte(cfgA(false)), 0o600)

	srvB := startServer(t, dirB, []string{"WHARF_HTTP_ADDR=127.0.0.1:" + fmt.Sprint(portB)}, "--config", "wharf.yaml")
	defer srvB.stop(t)
	srvA := startServer(t, dirA, append(envA, "WHARF_HTTP_ADDR=127.0.0.1:"+fmt.Sprint(portA)), "--config", "wharf.yaml")
	stopped := false
	defer func() {
		if t.Failed() {
			t.Logf("A's log:\n%s\nB's log:\n%s", srvA.logs, srvB.logs)
		}
		if !stopped {
			srvA.stop(t)
		}
	}()

	payload := strings.Repeat("ISA*00*          *00*          *ZZ*WHARFA         *ZZ*WHARFB         *260101*1200*U*00401*000000001*0*P*>~\n", 40)
	file := filepath.Join(dir, "load.edi")
	os.WriteFile(file, []byte(payload), 0o644)
	sent := map[string]string{}
	for _, p := range []string{"b", "bsync", "bplain", "quiet"} {
		out, code := runCLI(t, dirA, envA, "archive", "put", "--config", "wharf.yaml", "--json", "--partner", p, "--direction", "out", "--transport", "as2", file)
		if code != 0 {
			t.Fatalf("archive put for %s: %s", p, out)
		}
		sent[p] = jsonField(t, out, "id")
	}
	status := func(p string) string {
		for _, a := range searchIn(t, dirA, envA, "--config", "wharf.yaml", "--partner", p, "--direction", "out") {
			if a.ID == sent[p] {
				return a.Status
			}
		}
		return ""
	}
	waitFor(t, "A's sync send to B delivered", func() bool { return status("bsync") == "delivered" })
	waitFor(t, "A's async send to B delivered by B's async MDN", func() bool { return status("b") == "delivered" })
	waitFor(t, "A's send to the quiet partner awaiting its MDN", func() bool { return status("quiet") == "awaiting_mdn" })
	// B requires encryption: its MDN refuses the unencrypted message, which fails with the reason.
	waitFor(t, "A's unencrypted send refused by B's MDN", func() bool { return status("bplain") == "failed" })
	if evs, _ := runCLI(t, dirA, envA, "archive", "events", "--config", "wharf.yaml", sent["bplain"]); !strings.Contains(evs, "insufficient-message-security") ||
		!strings.Contains(evs, "partner bplain") || !strings.Contains(evs, "exception") {
		t.Fatalf("refused send's history:\n%s", evs)
	}

	for _, p := range []string{"b", "bsync"} {
		evs, _ := runCLI(t, dirA, envA, "archive", "events", "--config", "wharf.yaml", sent[p])
		if !strings.Contains(evs, "MDN signature verified") || !strings.Contains(evs, "MIC matches") {
			t.Fatalf("%s: history does not show a verified MDN:\n%s", p, evs)
		}
	}
	// B archived both payloads, byte for byte, and A archived both MDNs.
	h := sha256.Sum256([]byte(payload))
	sum := hex.EncodeToString(h[:])
	var got int
	for _, a := range searchIn(t, dirB, nil, "--config", "wharf.yaml", "--partner", "a", "--direction", "in") {
		if a.Transport == "as2" && a.SHA256 == sum {
			got++
		}
	}
	if got != 2 {
		t.Fatalf("B archived %d payloads from A, want 2", got)
	}
	mdns := 0
	for _, a := range searchIn(t, dirA, envA, "--config", "wharf.yaml", "--partner", "b") {
		if a.Transport == "as2-mdn-in" {
			mdns++
		}
	}
	for _, a := range searchIn(t, dirA, envA, "--config", "wharf.yaml", "--partner", "bsync") {
		if a.Transport == "as2-mdn-in" {
			mdns++
		}
	}
	if mdns != 2 {
		t.Fatalf("A archived %d MDNs, want 2", mdns)
	}

	// The quiet partner's wait survives a restart: it is in A's database.
	srvA.stop(t)
	stopped = true
	withStoreEnv(t, filepath.Join(dirA, "data"), envA, func(st store.Store) {
		p, err := st.GetAS2PendingMDN(t.Context(), "quiet", "<wharf-"+sent["quiet"]+"@WHARF-A>")
		if err != nil || p.MessageID != sent["quiet"] || !p.SignedMDN {
			t.Fatalf("pending MDN after stop: %+v %v", p, err)
		}
	})
	os.WriteFile(filepath.Join(dirA, "wharf.yaml"), []byte(cfgA(true)), 0o600)
	srvA = startServer(t, dirA, append(envA, "WHARF_HTTP_ADDR=127.0.0.1:"+fmt.Sprint(portA)), "--config", "wharf.yaml")
	stopped = false
	waitFor(t, "the quiet partner's message failed as overdue", func() bool { return status("quiet") == "failed" })
	evs, _ := runCLI(t, dirA, envA, "archive", "events", "--config", "wharf.yaml", sent["quiet"])
	for _, want := range []string{"exception", "mdn_overdue", "partner quiet", "wharf replay " + sent["quiet"]} {
		if !strings.Contains(evs, want) {
			t.Fatalf("overdue history lacks %q:\n%s", want, evs)
		}
	}
	srvA.stop(t)
	stopped = true
	withStoreEnv(t, filepath.Join(dirA, "data"), envA, func(st store.Store) {
		xs, err := st.ListExceptions(t.Context(), store.ExceptionFilter{MessageID: sent["quiet"]})
		if err != nil || len(xs) != 1 || xs[0].Reason != "mdn_overdue" || xs[0].PartnerID != "quiet" || xs[0].Status != store.ExceptionOpen {
			t.Fatalf("exceptions for the overdue message: %+v %v", xs, err)
		}
		xs, err = st.ListExceptions(t.Context(), store.ExceptionFilter{MessageID: sent["bplain"]})
		if err != nil || len(xs) != 1 || xs[0].Reason != "as2_mdn" || !strings.Contains(xs[0].Detail, "insufficient-message-security") {
			t.Fatalf("exceptions for the refused message: %+v %v", xs, err)
		}
	})
	if silentPosts.Load() != 1 {
		t.Fatalf("the quiet partner got %d posts, want 1", silentPosts.Load())
	}
}

func withStoreEnv(t *testing.T, data string, env []string, f func(st store.Store)) {
	t.Helper()
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "WHARF_DATABASE_URL="); ok {
			t.Setenv("WHARF_DATABASE_URL", v)
		}
	}
	withStore(t, data, f)
}

func jsonField(t *testing.T, out, field string) string {
	t.Helper()
	i := strings.Index(out, `"`+field+`":"`)
	if i < 0 {
		t.Fatalf("no %s in %s", field, out)
	}
	rest := out[i+len(field)+4:]
	return rest[:strings.IndexByte(rest, '"')]
}
