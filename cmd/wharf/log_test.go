package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// JSON logs carry durations in milliseconds under a key that says so;
// text logs keep Go's readable form.
func TestLogDurations(t *testing.T) {
	var j, x bytes.Buffer
	newLogger(&j, "json", "info").Info("shutting down", "budget", 30*time.Second, "took", 1500*time.Microsecond)
	if s := j.String(); !strings.Contains(s, `"budget_ms":30000`) || !strings.Contains(s, `"took_ms":1.5`) {
		t.Errorf("json: %s", s)
	}
	newLogger(&x, "text", "info").Info("shutting down", "budget", 30*time.Second)
	if s := x.String(); !strings.Contains(s, "budget=30s") {
		t.Errorf("text: %s", s)
	}
}
