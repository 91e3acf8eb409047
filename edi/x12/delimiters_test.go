package x12

import (
	"strings"
	"testing"
)

func TestParseDelimiters(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Delimiters
		err  string
	}{
		{"*:^~", DefaultDelimiters, ""},
		{"|>-~", Delimiters{Element: '|', Component: '>'}, ""},
		{`*>^\n`, Delimiters{Element: '*', Component: '>', Repetition: '^', Segment: '\n'}, ""},
		{"*:~", Delimiters{}, "write four characters"},
		{"*::~", Delimiters{}, "must differ"},
		{"*A^~", Delimiters{}, "must not be letters"},
	} {
		got, err := ParseDelimiters(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if tc.want.Segment == 0 {
			tc.want.Segment = '~'
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}
