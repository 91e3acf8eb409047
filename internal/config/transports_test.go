package config

import (
	"strings"
	"testing"
)

func TestTransportSections(t *testing.T) {
	good := `partners:
  - id: erp
    folder:
      inbound: /srv/erp/out
      pattern: "*.csv"
      stable: false
      after: move
      outbound: /srv/erp/in
    s3_remote:
      endpoint: 127.0.0.1:7070
      plain_http: true
      bucket: drops
      access_key_env: ERP_S3_KEY
      secret_key_env: ERP_S3_SECRET
      pull: {prefix: in, after: tag, tag: "state=done", schedule: "@every 1m"}
      push: {prefix: out}
    http:
      token_env: ERP_TOKEN
      webhook: {url: "https://erp.example/hook", secret_env: ERP_HOOK_SECRET, timeout: 10s}
`
	c, err := Load(write(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(jobs); err != nil {
		t.Fatal(err)
	}
	p := c.Partners[0]
	if p.Folder.IsStable() || p.S3Remote.Pull.Tags()["state"] != "done" || p.HTTP.Webhook.TimeoutDuration().Seconds() != 10 {
		t.Fatalf("decoded %+v %+v %+v", p.Folder, p.S3Remote.Pull, p.HTTP.Webhook)
	}
	if pr, er := p.Folder.Folders(); pr != "processed" || er != "error" {
		t.Fatalf("folder defaults %s %s", pr, er)
	}

	cases := []struct{ name, body, want string }{
		{"folder empty", "partners:\n  - id: a\n    folder: {pattern: x}\n", `wharf.yaml:3: partners[0].folder: set inbound, outbound or both`},
		{"folder after", "partners:\n  - id: a\n    folder:\n      inbound: /x\n      after: tag\n", `wharf.yaml:5: partners[0].folder.after: "tag": use move, delete or keep`},
		{"folder rescan", "partners:\n  - id: a\n    folder:\n      inbound: /x\n      rescan: 10ms\n", `wharf.yaml:5: partners[0].folder.rescan`},
		{"folder escape", "partners:\n  - id: a\n    folder:\n      inbound: /x\n      processed: ../done\n", `wharf.yaml:5: partners[0].folder.processed`},
		{"s3 scheme", "partners:\n  - id: a\n    s3_remote:\n      endpoint: http://h:1\n      bucket: bbb\n      push: {prefix: x}\n", `wharf.yaml:4: partners[0].s3_remote.endpoint: "http://h:1": host:port without a scheme`},
		{"s3 half creds", "partners:\n  - id: a\n    s3_remote:\n      endpoint: h:1\n      bucket: bbb\n      access_key_env: K\n      push: {}\n", `partners[0].s3_remote: set both access_key_env and secret_key_env`},
		{"s3 move", "partners:\n  - id: a\n    s3_remote:\n      endpoint: h:1\n      bucket: bbb\n      pull:\n        after: move\n        schedule: \"@hourly\"\n", `partners[0].s3_remote.pull.move_to: is required with after: move`},
		{"s3 schedule", "partners:\n  - id: a\n    s3_remote:\n      endpoint: h:1\n      bucket: bbb\n      pull:\n        schedule: \"99 * * * *\"\n", `wharf.yaml:7: partners[0].s3_remote.pull.schedule`},
		{"http token sha", "partners:\n  - id: a\n    http:\n      token_sha256: abc\n", `wharf.yaml:4: partners[0].http.token_sha256: 64 hex digits`},
		{"webhook url", "partners:\n  - id: a\n    http:\n      webhook:\n        url: ftp://x\n        secret_env: S\n", `wharf.yaml:5: partners[0].http.webhook.url: "ftp://x" is not an http(s) URL`},
		{"webhook secret", "partners:\n  - id: a\n    http:\n      webhook:\n        url: https://x/\n", `partners[0].http.webhook.secret_env: is required`},
		{"unknown key", "partners:\n  - id: a\n    folder:\n      inbox: /x\n", `wharf.yaml:4: partners[0].folder.inbox: unknown key "inbox"`},
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
