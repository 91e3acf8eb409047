package web

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// testCertPEM is a self-signed certificate valid until notAfter.
func testCertPEM(t *testing.T, cn string, notAfter time.Time) string {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: cn},
		NotBefore: notAfter.AddDate(-1, 0, 0), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func testSSHKey(t *testing.T) string {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " partner@host"
}

// Partners administration through the API: admins create and edit
// database partners (with SSH keys and AS2 certificates, whose expiry is
// shown), configuration partners are read-only (409), operators disable
// and enable, lower roles are refused, every change is audited.
func TestPartnersAdministration(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
		f.s.o.Now = func() time.Time { return now }
		f.s.o.ConfigPartner = func(id string) bool { return id == "acme" } // the fixture's partner stands for a config one
		f.s.o.ConfigFile = "/etc/wharf/wharf.yaml"
		ended := map[string]int{}
		f.s.o.EndSFTPSessions = func(p string) int { ended[p]++; return 1 }
		key := testSSHKey(t)
		cert := testCertPEM(t, "Bolt AS2", now.AddDate(0, 0, 20))
		body := func(v any) *strings.Reader { b, _ := json.Marshal(v); return strings.NewReader(string(b)) }
		decode := func(b []byte) partnerOut {
			t.Helper()
			var p partnerOut
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			return p
		}
		in := map[string]any{"id": "bolt", "name": "Bolt Logistics", "x12_ids": []string{"zz:BOLT"}, "ssh_keys": []string{key},
			"as2": map[string]any{"id": "BOLT AS2", "certificates": []string{cert}}}
		if resp, b := f.call("POST", "/api/v1/partners", store.RoleOperator, body(in)); resp.StatusCode != 403 {
			t.Fatalf("an operator created a partner: %d %s", resp.StatusCode, b)
		}
		resp, b := f.call("POST", "/api/v1/partners", store.RoleAdmin, body(in))
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
		p := decode(b)
		fp, _, _ := store.ParseSSHKey(key)
		if p.ID != "bolt" || p.Name != "Bolt Logistics" || p.Source != "api" || p.ReadOnly || p.DisabledAt != nil ||
			len(p.X12IDs) != 1 || p.X12IDs[0] != "ZZ:BOLT" || len(p.SSHKeys) != 1 || p.SSHKeys[0] != fp || p.AS2ID != "BOLT AS2" {
			t.Fatalf("created: %+v", p)
		}
		if len(p.Certificates) != 1 || p.Certificates[0].DaysLeft != 20 || p.Certificates[0].State != "expiring" || !p.Certificates[0].NotAfter.Equal(now.AddDate(0, 0, 20)) {
			t.Fatalf("the AS2 certificate's expiry: %+v", p.Certificates)
		}
		if resp, b := f.call("POST", "/api/v1/partners", store.RoleAdmin, body(in)); resp.StatusCode != 409 {
			t.Fatalf("created twice: %d %s", resp.StatusCode, b)
		}
		for _, bad := range []map[string]any{
			{"id": "../x"},
			{"id": "c1", "x12_ids": []string{"ACME"}},
			{"id": "c2", "ssh_keys": []string{"not a key"}},
			{"id": "c3", "as2": map[string]any{"id": "C3", "certificates": []string{"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}}},
			{"id": "c4", "as2": map[string]any{"id": "", "certificates": []string{cert}}},
			{"id": "c5", "colour": "red"},
		} {
			if resp, b := f.call("POST", "/api/v1/partners", store.RoleAdmin, body(bad)); resp.StatusCode != 400 || !strings.Contains(string(b), "hint") {
				t.Errorf("%v: %d %s, want 400 with a hint", bad, resp.StatusCode, b)
			}
		}
		// Edit: lists are replaced; AS2 left out stays.
		resp, b = f.call("PUT", "/api/v1/partners/bolt", store.RoleAdmin, body(map[string]any{"name": "Bolt", "x12_ids": []string{"ZZ:BOLT", "01:123456789"}}))
		if p = decode(b); resp.StatusCode != 200 || p.Name != "Bolt" || len(p.X12IDs) != 2 || len(p.SSHKeys) != 0 || p.AS2ID != "BOLT AS2" || len(p.Certificates) != 1 {
			t.Fatalf("edit: %d %+v", resp.StatusCode, p)
		}
		if resp, b := f.call("PUT", "/api/v1/partners/bolt", store.RoleAdmin, body(map[string]any{"id": "other"})); resp.StatusCode != 400 {
			t.Errorf("an ID change: %d %s", resp.StatusCode, b)
		}
		if resp, b := f.call("PUT", "/api/v1/partners/nope", store.RoleAdmin, body(map[string]any{"name": "x"})); resp.StatusCode != 404 {
			t.Errorf("edit of an unknown partner: %d %s", resp.StatusCode, b)
		}
		// The configuration's partner is read-only, but can be disabled.
		resp, b = f.call("PUT", "/api/v1/partners/acme", store.RoleAdmin, body(map[string]any{"name": "Hijacked"}))
		if resp.StatusCode != 409 || !strings.Contains(string(b), "/etc/wharf/wharf.yaml") {
			t.Fatalf("edit of a config partner: %d %s", resp.StatusCode, b)
		}
		if got, _ := st.GetPartner(ctx, "acme"); got.Name != "ACME" {
			t.Fatalf("the refused edit changed the partner: %+v", got)
		}
		if resp, b := f.call("GET", "/api/v1/partners/acme", store.RoleAuditor, nil); !decode(b).ReadOnly || resp.StatusCode != 200 {
			t.Fatalf("config partner not read-only: %s", b)
		}
		// Disable and enable: operators may, auditors may not.
		if resp, _ := f.call("POST", "/api/v1/partners/acme/disable", store.RoleAuditor, nil); resp.StatusCode != 403 {
			t.Fatalf("an auditor disabled a partner: %d", resp.StatusCode)
		}
		resp, b = f.call("POST", "/api/v1/partners/acme/disable", store.RoleOperator, nil)
		if p = decode(b); resp.StatusCode != 200 || p.DisabledAt == nil || ended["acme"] != 1 {
			t.Fatalf("disable: %d %+v, sessions ended %v", resp.StatusCode, p, ended)
		}
		if got, _ := st.GetPartner(ctx, "acme"); !got.Disabled() {
			t.Fatal("the store does not have acme disabled")
		}
		resp, b = f.call("POST", "/api/v1/partners/acme/enable", store.RoleOperator, nil)
		if p = decode(b); resp.StatusCode != 200 || p.DisabledAt != nil {
			t.Fatalf("enable: %d %+v", resp.StatusCode, p)
		}
		if resp, _ := f.call("POST", "/api/v1/partners/nope/disable", store.RoleOperator, nil); resp.StatusCode != 404 {
			t.Fatalf("disable an unknown partner: %d", resp.StatusCode)
		}
		evs, err := st.AuditEvents(ctx, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range evs {
			if strings.HasPrefix(e.Kind, "partner_") {
				kinds = append(kinds, e.Kind+": "+e.Detail)
			}
		}
		got := strings.Join(kinds, "\n")
		for _, want := range []string{"partner_created: partner bolt created", `AS2 name "BOLT AS2" with 1 certificates`, "partner_updated: partner bolt updated",
			"partner_disabled: partner acme", "1 live SFTP sessions ended", "partner_enabled: partner acme"} {
			if !strings.Contains(got, want) {
				t.Errorf("the audit log lacks %q:\n%s", want, got)
			}
		}
		if len(kinds) != 4 {
			t.Errorf("%d partner audit events, want 4 (refusals change nothing):\n%s", len(kinds), got)
		}
	})
}

// The live SFTP sessions: listed from the SFTP server of the process, or
// 503 when the process runs none.
func TestSFTPSessionsRoute(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		if resp, b := f.call("GET", "/api/v1/sftp/sessions", store.RoleAuditor, nil); resp.StatusCode != 503 || !strings.Contains(string(b), "does not run") {
			t.Fatalf("without an SFTP server: %d %s", resp.StatusCode, b)
		}
		since := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
		f.s.o.SFTPSessions = func() []SFTPSession {
			return []SFTPSession{{ID: "c1", Partner: "acme", Remote: "192.0.2.7:50022", Auth: "password", Since: since, Uploads: 3, UploadBytes: 300}}
		}
		resp, b := f.call("GET", "/api/v1/sftp/sessions", store.RoleAuditor, nil)
		var out sftpSessionsOut
		if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 || len(out.Sessions) != 1 || out.Sessions[0].Uploads != 3 || !out.Sessions[0].Since.Equal(since) {
			t.Fatalf("sessions: %d %s", resp.StatusCode, b)
		}
		if resp, _ := f.call("GET", "/api/v1/sftp/sessions", "", nil); resp.StatusCode != 401 {
			t.Fatalf("without a token: %d", resp.StatusCode)
		}
	})
}
