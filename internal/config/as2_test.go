package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAS2Sections(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "acme.pem"), []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o600)
	good := `as2: {id: WHARF, public_url: "https://edi.example.com/as2"}
partners:
  - id: acme
    as2:
      id: ACME AS2
      url: https://as2.acme.example/as2
      cert_files: [acme.pem]
      sign: false
      encrypt: aes128-gcm
      key_wrap: rsa-oaep-sha256
      compress: true
      transfer_encoding: base64
      mdn: async
      signed_mdn: false
      mdn_timeout: 30m
`
	path := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(path, []byte(good), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(jobs); err != nil {
		t.Fatal(err)
	}
	a := c.Partners[0].AS2
	if a.URL == "" || *a.Sign || a.Encrypt != "aes128-gcm" || !a.Compress || a.TransferEncoding != "base64" || a.MDN != "async" || *a.SignedMDN || a.MDNTimeoutDuration() != 30*time.Minute {
		t.Fatalf("decoded %+v", a)
	}
	if d := (PartnerAS2{}).MDNTimeoutDuration(); d != 2*time.Hour {
		t.Fatalf("default mdn_timeout %v", d)
	}
	if n := (AS2{}).MaxBodyBytes(); n != 512<<20 {
		t.Fatalf("default max_body_mb is %d bytes, want 512 MiB", n)
	}
	if n := (AS2{MaxBodyMB: 10}).MaxBodyBytes(); n != 10<<20 {
		t.Fatalf("max_body_mb 10 is %d bytes", n)
	}

	cases := []struct{ name, body, want string }{
		{"url", "partners:\n  - id: a\n    as2:\n      id: A\n      url: ftp://x\n", `wharf.yaml:5: partners[0].as2.url: "ftp://x" is not an http(s) URL`},
		{"cipher", "partners:\n  - id: a\n    as2:\n      id: A\n      encrypt: des\n", `partners[0].as2.encrypt: "des": use aes256-cbc`},
		{"key wrap", "partners:\n  - id: a\n    as2:\n      id: A\n      key_wrap: rsa-oaep-sha1\n", `partners[0].as2.key_wrap: "rsa-oaep-sha1"`},
		{"transfer encoding", "partners:\n  - id: a\n    as2:\n      id: A\n      transfer_encoding: quoted-printable\n", `partners[0].as2.transfer_encoding: "quoted-printable": use binary or base64`},
		{"mdn mode", "partners:\n  - id: a\n    as2:\n      id: A\n      mdn: later\n", `partners[0].as2.mdn: "later": use sync, async or none`},
		{"async without public url", "partners:\n  - id: a\n    as2:\n      id: A\n      mdn: async\n", `partners[0].as2.mdn: async MDNs need as2.public_url`},
		{"mdn timeout", "as2: {public_url: \"http://h/as2\"}\npartners:\n  - id: a\n    as2:\n      id: A\n      mdn: async\n      mdn_timeout: soon\n", `partners[0].as2.mdn_timeout`},
		{"cert warn days", "as2: {cert_warn_days: -1}\n", `wharf.yaml:1: as2.cert_warn_days: -1: use 1 to 3650 days`},
		{"max body", "as2: {max_body_mb: -5}\n", `wharf.yaml:1: as2.max_body_mb: -5: use 1 to 1048576 MiB (default 512)`},
		{"partner max body", "partners:\n  - id: a\n    as2:\n      id: A\n      max_body_mb: -1\n", `partners[0].as2.max_body_mb: -1: use 1 to 1048576 MiB (default as2.max_body_mb, 512)`},
		{"partner max decompressed", "partners:\n  - id: a\n    as2:\n      id: A\n      max_decompressed_mb: 2000000\n", `partners[0].as2.max_decompressed_mb: 2000000: use 1 to 1048576 MiB (default 256)`},
		{"partner max expansion", "partners:\n  - id: a\n    as2:\n      id: A\n      max_expansion: -3\n", `partners[0].as2.max_expansion: -3: use a ratio from 1 to 100000 (default 100, i.e. 100:1)`},
		{"cert file", "partners:\n  - id: a\n    as2:\n      id: A\n      cert_files: [missing.pem]\n", `partners[0].as2.cert_files[0]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.body)
			c, err := Load(p)
			if err == nil {
				err = c.Validate(jobs)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if msg := strings.ReplaceAll(err.Error(), p, "wharf.yaml"); !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", msg, tc.want)
			}
		})
	}
}

// TestAS2ReceivingLimits: partners[].as2's receiving limits decode, and
// their defaults are the documented ones (max_body_mb from as2's, 512 MiB;
// 256 MiB decompressed; 100:1; unsigned compressed content refused).
func TestAS2ReceivingLimits(t *testing.T) {
	p := write(t, `as2: {max_body_mb: 1024}
partners:
  - id: acme
    as2: {id: ACME, max_body_mb: 64, max_decompressed_mb: 32, max_expansion: 20, allow_unsigned_compressed: true}
  - id: bolt
    as2: {id: BOLT}
`)
	c, err := Load(p)
	if err == nil {
		err = c.Validate(jobs)
	}
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Partners[0].AS2, c.Partners[1].AS2
	if a.MaxBodyBytes(c.AS2) != 64<<20 || a.MaxDecompressedBytes() != 32<<20 || a.MaxExpansionRatio() != 20 || !a.AllowUnsignedCompressed {
		t.Fatalf("acme: %+v", a)
	}
	if b.MaxBodyBytes(c.AS2) != 1024<<20 || b.MaxDecompressedBytes() != 256<<20 || b.MaxExpansionRatio() != 100 || b.AllowUnsignedCompressed {
		t.Fatalf("bolt's defaults: body %d, decompressed %d, ratio %d, unsigned compressed %v", b.MaxBodyBytes(c.AS2), b.MaxDecompressedBytes(), b.MaxExpansionRatio(), b.AllowUnsignedCompressed)
	}
	if n := b.MaxBodyBytes(AS2{}); n != 512<<20 {
		t.Fatalf("default body limit %d", n)
	}
}
