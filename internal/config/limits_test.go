package config

import (
	"strings"
	"testing"
)

func TestLimits(t *testing.T) {
	c, err := loadString(t, `
limits:
  api: {per_minute: 60}
  inbound: {per_minute: 30, burst: 5}
partners:
  - id: acme
    limits: {per_minute: 300}
  - id: beta
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Limits.API; got != (Rate{PerMinute: 60, Burst: 200}) {
		t.Fatalf("limits.api %+v: the default burst stays when only per_minute is set", got)
	}
	if got := c.PartnerInbound("acme"); got != (Rate{PerMinute: 300, Burst: 5}) {
		t.Fatalf("acme's inbound %+v, want its per_minute with limits.inbound.burst", got)
	}
	if got := c.PartnerInbound("beta"); got != (Rate{PerMinute: 30, Burst: 5}) {
		t.Fatalf("beta's inbound %+v, want limits.inbound", got)
	}
	if d := Default().Limits; d.API.PerMinute == 0 || d.Inbound.PerMinute == 0 {
		t.Fatalf("limits are on by default: %+v", d)
	}
}

func TestLimitsErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"limits:\n  api: {per_minute: -1}\n", `:2: limits.api.per_minute: -1 is out of range`},
		{"limits:\n  inbound:\n    per_minute: 10\n    burst: 0\n", `limits.inbound.burst: must be at least 1`},
		{"limits:\n  api: {per_minute: many}\n", `limits.api.per_minute: expected a whole number`},
		{"limits:\n  sftp: {per_minute: 1}\n", `limits.sftp: unknown key "sftp"`},
		{"partners:\n  - id: acme\n    limits:\n      burst: -3\n", `:4: partners[0].limits.burst: -3 is out of range`},
	} {
		_, err := loadString(t, tc.body)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.body, err, tc.want)
		}
	}
}
