package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var jobs = ValidateOptions{Jobs: []string{"db.maintenance"}}

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wharf.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsValidate(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(jobs); err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:8080" || c.SFTP.Addr != "127.0.0.1:2222" || c.Data != "wharf-data" {
		t.Fatalf("defaults changed: %+v", c)
	}
	if u, _ := c.DatabaseURL(); u != "" {
		t.Fatalf("default database is not SQLite: %q", u)
	}
}

func TestFullFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "acme.pub")
	os.WriteFile(keyFile, []byte("# acme's key\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC9zzgc16E+9TDf6d0Y+6VZ4t3dgMWQpniUXbQs1DdqW test-a\n"), 0o600)
	p := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(p, []byte(`
data: /var/lib/wharf
log: {format: json, level: debug}
http: {addr: "0.0.0.0:8080"}
partners:
  - id: acme
    name: ACME Freight
    x12_ids: ["zz:ACME", "01:123456789"]
    ssh_key_files: [acme.pub]
schedules:
  - name: nightly
    cron: "0 3 * * *"
    timezone: America/Chicago
    job: db.maintenance
`), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(jobs); err != nil {
		t.Fatal(err)
	}
	ps, err := c.StorePartners()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].X12IDs[0].Qualifier != "ZZ" || len(ps[0].SSHKeys) != 1 || ps[0].Source != "config" {
		t.Fatalf("partners %+v", ps[0])
	}
	s, _ := c.Schedules[0].Parse()
	from := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	if got := s.Next(from); !got.Equal(time.Date(2026, 7, 2, 8, 0, 0, 0, time.UTC)) { // 03:00 CDT = 08:00 UTC
		t.Fatalf("next run in America/Chicago: %v", got.UTC())
	}
}

func TestErrorsNameFileLineAndField(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"unknown key", "http:\n  adr: x\n", `wharf.yaml:2: http.adr: unknown key "adr"`},
		{"unknown top key", "data: x\nflows: []\n", `wharf.yaml:2: flows: unknown key "flows"`},
		{"bad cron", "schedules:\n  - name: a\n    job: db.maintenance\n    cron: \"61 * * * *\"\n", `wharf.yaml:4: schedules[0].cron: bad cron expression "61 * * * *"`},
		{"bad tz", "schedules:\n  - name: a\n    job: db.maintenance\n    cron: \"@daily\"\n    timezone: Mars/Olympus\n", `wharf.yaml:5: schedules[0].timezone: unknown time zone "Mars/Olympus"`},
		{"unknown job", "schedules:\n  - name: a\n    cron: \"@daily\"\n    job: nope\n", `wharf.yaml:4: schedules[0].job: unknown job "nope"`},
		{"dup partner", "partners:\n  - id: a\n  - id: a\n", `wharf.yaml:3: partners[1].id: partner "a" is declared twice`},
		{"bad partner id", "partners:\n  - id: ../etc\n", `wharf.yaml:2: partners[0].id: partner id "../etc"`},
		{"bad x12 id", "partners:\n  - id: a\n    x12_ids: [ACME]\n", `wharf.yaml:3: partners[0].x12_ids[0]: "ACME": expected QUALIFIER:ID`},
		{"bad key", "partners:\n  - id: a\n    ssh_keys: [\"ssh-rsa nope\"]\n", `wharf.yaml:3: partners[0].ssh_keys[0]: not an authorized_keys line`},
		{"password in file", "database:\n  url: postgres://u:hunter2@db/wharf\n", `wharf.yaml:2: database.url: holds a password`},
		{"bad addr", "sftp:\n  addr: 2222\n", `wharf.yaml:2: sftp.addr: "2222" is not HOST:PORT`},
		{"wrong shape", "partners:\n  id: a\n", `wharf.yaml:2: partners: expected a list`},
		{"bad retention", "archive:\n  retention:\n    - keep: 7 years\n", `wharf.yaml:3: archive.retention[0].keep: "7 years" is not a duration`},
		{"dup retention", "archive:\n  retention:\n    - keep: 7y\n    - delete: 1y\n", `wharf.yaml:4: archive.retention[1].partner: a second rule for ""`},
		{"bad cipher", "sftp:\n  ciphers: [aes128-gcm@openssh.com, arcfour]\n", `wharf.yaml:2: sftp.ciphers[1]: "arcfour" is not a cipher Wharf offers`},
		{"bad int", "jobs:\n  workers: many\n", `wharf.yaml:2: jobs.workers: expected a whole number`},
		{"inline too large", "archive:\n  inline_kb: 300\n", `wharf.yaml:2: archive.inline_kb: 300: use 0 (every file in the folder) to 256 KiB`},
		{"inline on s3", "archive:\n  url: s3://b/p?endpoint=s3:9000\n  inline_kb: 8\n", `wharf.yaml:3: archive.inline_kb: 8: an S3 archive keeps every file in its bucket`},
		{"delete 0", "archive:\n  retention:\n    - delete: 0h\n", `wharf.yaml:3: archive.retention[0].delete: "0h" would purge entries at once`},
		{"delete before keep", "archive:\n  retention:\n    - {keep: 2h, delete: 1h}\n", `wharf.yaml:3: archive.retention[0].delete: "1h" is shorter than keep "2h"`},
		{"secret from a device", "metrics:\n  token_file: /dev/zero\n", `wharf.yaml:2: metrics.token_file: cannot read /dev/zero: not a regular file`},
		{"metrics token missing", "metrics:\n  token_file: nope.txt\n", `wharf.yaml:2: metrics.token_file: cannot read nope.txt`},
		{"failover too short", "jobs:\n  failover_after: 5s\n", `wharf.yaml:2: jobs.failover_after: "5s" is not a duration of at least 15s`},
		{"syntax", "http: [\n", `wharf.yaml:1: did not find expected node content`},
		{"dup key", "data: a\ndata: b\n", `wharf.yaml:2: data: key given twice`},
		{"ownership shape", "sync:\n  ownership:\n    order: erp\n", `wharf.yaml:3: sync.ownership.order: expected a list`},
		{"ownership dup", "sync:\n  ownership:\n    order: [erp]\n    order: [wms]\n", `wharf.yaml:4: sync.ownership.order: key given twice`},
		{"route to unknown", "partners:\n  - id: erp\nsync:\n  routes:\n    - {name: t, on: order.created, to: acme, send: json}\n", `wharf.yaml:5: sync.routes[0].to: "acme" is not a partner`},
		{"sla within", "sync:\n  slas:\n    - {name: s, after: shipment.delivered, expect: invoice.approved, within: soon}\n", `wharf.yaml:3: sync.slas[0].within: "soon" is not a duration`},
		{"batch cron", "partners:\n  - id: erp\nsync:\n  routes:\n    - {name: n, on: invoice.approved, to: erp, send: json, batch: \"every night\"}\n", `wharf.yaml:5: sync.routes[0].batch: bad cron expression`},
		{"timezone without batch", "partners:\n  - id: erp\nsync:\n  routes:\n    - {name: n, on: invoice.approved, to: erp, send: json, timezone: UTC}\n", `sync.routes[0].timezone: only a batch route`},
		{"master data policy", "sync:\n  master_data:\n    item: block\n", `wharf.yaml:3: sync.master_data.item: "block" is not a policy: use warn, hold or reject`},
		{"master data owner", "sync:\n  master_data:\n    owner: erp\n", `wharf.yaml:3: sync.master_data.owner: "erp" is not an owner`},
		{"digest to unknown", "sync:\n  digest: {to: ops, cron: \"0 7 * * *\"}\n", `wharf.yaml:2: sync.digest.to: "ops" is not a partner`},
		{"bad role", "partners:\n  - id: a\n    role: forklift\n", `wharf.yaml:3: partners[0].role: "forklift" is not a role`},
		{"tls half", "http:\n  tls_cert_file: c.pem\n", `wharf.yaml:2: http.tls_cert_file: set both http.tls_cert_file and http.tls_key_file, or neither`},
		{"tls missing", "http:\n  tls_cert_file: c.pem\n  tls_key_file: k.pem\n", `wharf.yaml:2: http.tls_cert_file: with http.tls_key_file: open `},
		{"events to", "events:\n  - {name: tms, to: \"kafka://k:9092\"}\n", `wharf.yaml:2: events[0].to: "kafka://k:9092": use nats://HOST:PORT`},
		{"events password", "events:\n  - {name: tms, to: \"amqp://guest:hunter2@mq:5672/\"}\n", `wharf.yaml:2: events[0].to: holds a password`},
		{"events type prefix", "events:\n  - {name: tms, to: \"nats://n:4222\", types: [wharf.shipment.delivered]}\n", `events[0].types[0]: "wharf.shipment.delivered": give the type without the wharf. prefix`},
		{"events dup", "events:\n  - {name: a, to: \"nats://n:4222\"}\n  - {name: a, to: \"nats://n:4222\"}\n", `wharf.yaml:3: events[1].name: event subscription "a" is declared twice`},
		{"events filter", "events:\n  - {name: a, to: \"nats://n:4222\", filter: {partner: acme}}\n", `events[0].filter.partner: "acme" is not a partner`},
		{"events role", "events:\n  - {name: a, to: \"nats://n:4222\", filter: {role: forklift}}\n", `events[0].filter.role: "forklift" is not a role`},
		{"events mixed", "events:\n  - {name: a, to: \"nats://n:4222\", exchange: x}\n", `events[0].exchange: exchange and queue are RabbitMQ settings`},
		{"events webhook secret", "events:\n  - {name: a, to: \"https://hooks.example/w\"}\n", `events[0].secret_env: is required`},
		{"events webhook partner", "events:\n  - {name: a, to: \"https://hooks.example/w\", secret_env: S}\n", `events[0].partner: is required`},
		{"events webhook mode", "events:\n  - {name: a, to: \"https://hooks.example/w\", secret_env: S, mode: batch}\n", `events[0].mode: "batch": use structured`},
		{"events webhook stream", "events:\n  - {name: a, to: \"https://hooks.example/w\", secret_env: S, stream: X}\n", `events[0].to: prefix, stream, exchange, queue and password_env are broker settings`},
		{"events in from", "events_in:\n  - {name: a, from: \"kafka://k:9092\"}\n", `wharf.yaml:2: events_in[0].from: "kafka://k:9092": use nats://HOST:PORT`},
		{"events in partner", "events_in:\n  - {name: a, from: \"nats://n:4222\"}\n", `events_in[0].partner: is required`},
		{"events in stream", "partners:\n  - {id: wms}\nevents_in:\n  - {name: a, from: \"nats://n:4222\", partner: wms, subject: wms.>}\n", `events_in[0].stream: is required`},
		{"events in queue", "partners:\n  - {id: wms}\nevents_in:\n  - {name: a, from: \"amqp://u@mq:5672/\", partner: wms}\n", `events_in[0].queue: is required`},
		{"events in mixed", "partners:\n  - {id: wms}\nevents_in:\n  - {name: a, from: \"amqp://u@mq:5672/\", partner: wms, queue: q, subject: x}\n", `events_in[0].stream: stream and subject are NATS settings`},
		{"events in password", "events_in:\n  - {name: a, from: \"amqp://u:pw@mq:5672/\"}\n", `events_in[0].from: holds a password`},
		{"events nats secret", "events:\n  - {name: a, to: \"nats://n:4222\", secret_env: S}\n", `events[0].secret_env: secret_env, mode and partner are webhook settings`},
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
			msg := strings.ReplaceAll(err.Error(), p, "wharf.yaml")
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", msg, tc.want)
			}
			if strings.Contains(msg, "hunter2") {
				t.Fatalf("error leaks the secret: %q", msg)
			}
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	p := write(t, "http: {addr: \"127.0.0.1:9\"}\n")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WHARF_HTTP_ADDR": "127.0.0.1:18080", "WHARF_DATABASE_URL": "postgres://u:pw@127.0.0.1/db", "WHARF_DATA": "/tmp/d"}
	c.ApplyEnv(func(k string) string { return env[k] })
	if err := c.Validate(jobs); err != nil {
		t.Fatalf("a password in WHARF_DATABASE_URL is allowed: %v", err)
	}
	if c.HTTP.Addr != "127.0.0.1:18080" || c.Data != "/tmp/d" {
		t.Fatalf("%+v", c)
	}
	env["WHARF_SFTP_ADDR"] = "nope"
	c.ApplyEnv(func(k string) string { return env[k] })
	if err := c.Validate(jobs); err == nil || !strings.HasPrefix(err.Error(), "environment: sftp.addr") {
		t.Fatalf("env error does not say environment: %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("data: x\npartners:\n  - id: a\n    x12_ids: [ZZ:A]\n")
	f.Add("schedules: [{name: a, cron: '@daily', job: db.maintenance}]")
	f.Fuzz(func(t *testing.T, body string) {
		c := Default()
		if _, err := c.decode("f.yaml", []byte(body)); err != nil {
			return
		}
		_ = c.Validate(jobs)
	})
}

// The environment given to ApplyEnv is the one secrets are read from.
func TestGetenvIsTheAppliedEnvironment(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONFIG_TEST_GETENV", "from the process")
	if got := c.Getenv("CONFIG_TEST_GETENV"); got != "from the process" {
		t.Fatalf("before ApplyEnv: %q", got)
	}
	c.ApplyEnv(func(name string) string { return map[string]string{"HOOK_SECRET": "s3cret"}[name] })
	if got := c.Getenv("HOOK_SECRET"); got != "s3cret" {
		t.Fatalf("after ApplyEnv: %q", got)
	}
	if got := c.Getenv("CONFIG_TEST_GETENV"); got != "" {
		t.Fatalf("the process's environment leaked past the applied one: %q", got)
	}
}

// Every problem at once: the file's structure (Load) and its values
// (Validate), in the order of the file's lines, each on its own line.
func TestEveryErrorAtOnce(t *testing.T) {
	p := write(t, `http:
  adr: x
log: {format: yaml}
partners:
  - id: acme
    x12_ids: [ACME]
    sftp: {allow_delete: perhaps}
  - id: acme
schedules:
  - {name: a, cron: "61 * * * *", job: db.maintenance}
  - {name: b, cron: "@daily", job: nope}
jobs: {workers: many}
`)
	c, lerr := Load(p)
	if c == nil || lerr == nil {
		t.Fatalf("Load: %v %v; want the decoded configuration and its problems", c, lerr)
	}
	c.ApplyEnv(func(k string) string { return map[string]string{"WHARF_SFTP_ADDR": "nope"}[k] })
	err := Join(lerr, c.Validate(jobs))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("%T %v; want Errors", err, err)
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), p, "wharf.yaml"), "\n")
	want := []string{
		`wharf.yaml:2: http.adr: unknown key "adr"`,
		`wharf.yaml:3: log.format: "yaml" is not a log format`,
		`wharf.yaml:6: partners[0].x12_ids[0]: "ACME": expected QUALIFIER:ID`,
		`wharf.yaml:7: partners[0].sftp.allow_delete: expected true or false, got "perhaps"`,
		`wharf.yaml:8: partners[1].id: partner "acme" is declared twice`,
		`wharf.yaml:10: schedules[0].cron: bad cron expression "61 * * * *"`,
		`wharf.yaml:11: schedules[1].job: unknown job "nope"`,
		`wharf.yaml:12: jobs.workers: expected a whole number, got "many"`,
		`environment: sftp.addr: "nope" is not HOST:PORT`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d: %q\nwant it to begin %q", i+1, got[i], want[i])
		}
	}
	// A file that does not parse has no configuration to validate.
	if c, err := Load(write(t, "http: [\n")); c != nil || err == nil {
		t.Fatalf("syntax error: %v %v", c, err)
	}
}

// A key indented wrongly is reported on its own line, not on the line
// where the block around it starts (as the YAML parser does).
func TestIndentationErrorLine(t *testing.T) {
	for _, tc := range []struct {
		body string
		line int
	}{
		{"partners:\n  - id: acme\n    name: ACME\n   x12_ids: [ZZ:ACME]\n", 4},
		{"http:\n  addr: x\n sftp:\n  addr: y\n", 3},
		{"data: x\nhttp:\n  addr: a\n    port: 3\n", 4},
		{"partners:\n  - id: acme\n    name: ACME\n      role: erp\nschedules: []\n", 4},
		{"partners:\n  - id: a\n  name: b\n", 3},
		{"log:\n  format: json\n   level: debug\n", 3},
		{"# comment\n\nsftp:\n  addr: x\n\n  max_sessions: 3\n   ciphers: []\n", 7},
	} {
		_, err := Load(write(t, tc.body))
		var e *Error
		if !errors.As(err, &e) || e.Line != tc.line {
			t.Errorf("%q: %v; want line %d", tc.body, err, tc.line)
		}
	}
}
