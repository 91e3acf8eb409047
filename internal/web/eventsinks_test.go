package web

import (
	"testing"
	"time"
)

func TestEventSinkLagText(t *testing.T) {
	for _, c := range []struct {
		s    EventSink
		want string
	}{
		{EventSink{}, "caught up"},
		{EventSink{Pending: 3, Lag: 1500 * time.Millisecond}, "1.5 s"},
		{EventSink{Pending: 3, Lag: 7 * time.Minute}, "7 min"},
		{EventSink{Pending: 1, Lag: 5 * time.Hour}, "5 h"},
	} {
		if got := c.s.LagText(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.s, got, c.want)
		}
	}
}
